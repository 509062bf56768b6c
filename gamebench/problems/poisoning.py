"""Training-data poisoning as a bilevel problem (Mehra & Hamm, "Penalty method for inversion-free deep
bilevel optimization", ACML 2021, Sec. 5.3; Munoz-Gonzalez et al., AISec 2017): the attacker adds
`n_poison` points with fixed (wrong) labels to the training set and moves their features to make
the learner trained on clean + poison data as bad as possible on clean validation data.

    leader    u in [0, 1]^(n_poison x 784): the poison points' pixels (projected onto the box)
    follower  v = (W, b), a multinomial logistic regression
    g(u, v) = mean CE(v; clean training set and the poison points) + (mu / 2) |W|^2
    f(u, v) = - mean CE(v; validation set)        (the leader minimises f: it maximises the loss)

Data (deterministic for a seed): the first n_train MNIST training images (pixels in [0, 1]) as the
clean training set, the next n_val as the validation set, the 10,000 test images. The poison points
start as copies of `n_poison = round(poison_share * n_train)` training images drawn by `poison_seed`,
each labelled with another class (label + 1 .. 9, mod 10, drawn by the same seed): the label-flip
attack the bilevel solvers then improve on.

Metrics: `test_acc` of the follower v; `refit_acc`, the test accuracy of a fresh logistic regression
(L-BFGS to convergence, ridge mu) trained on the clean training set plus the poison points as they
are now: the attack's effect on a learner that never saw the attacker's trajectory, the number the
poisoning literature reports. `val_loss` is the follower's validation loss (= -f).

Baselines (the `baseline` solver): `label_flip`, the poison points as initialised with v fitted on
clean + poison data; `clean`, v fitted on the clean training set alone (its test_acc is the accuracy
without poison; its refit_acc, like every job's, includes the initial poison points).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from gamebench.game import Problem
from gamebench.logistic import LBFGS_STEPS, accuracy, fit_logistic, per_example_ce
from gamebench.params import Param, at_least, within

CLASSES = 10
POISONING_BASELINES = ("label_flip", "clean")

# the config fields make_poisoning reads (gamebench.params)
PARAMS = {
    "n_train": Param(1000, "clean training examples", at_least(1)),
    "n_val": Param(1000, "clean validation examples (the leader's objective)", at_least(1)),
    "poison_share": Param(0.06, "poison points as a share of n_train", within(0, 1)),
    "poison_seed": Param(0, "which training images start the poison points, and their labels"),
    "mu": Param(1.0e-3, "the learner's ridge", at_least(0)),
    "refit_steps": Param(LBFGS_STEPS, "L-BFGS steps of refit_acc's fresh learner", at_least(1)),
}


def poison_count(n_train: int, share: float) -> int:
    return int(round(share * n_train))


def poisoning_arrays(
    n_train: int, n_val: int, poison_share: float, poison_seed: int, root=None
) -> dict:
    from gamebench.data import mnist

    images, labels = mnist("train", root)
    test_x, test_y = mnist("test", root)
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    y = labels.astype(np.int32)
    rng = np.random.default_rng(poison_seed)
    n_poison = poison_count(n_train, poison_share)
    sources = rng.choice(n_train, n_poison, replace=False)
    flipped = (y[sources] + rng.integers(1, CLASSES, n_poison)) % CLASSES
    return {
        "x_train": x[:n_train],
        "y_train": y[:n_train],
        "x_poison": x[sources],
        "y_poison": flipped.astype(np.int32),
        "x_val": x[n_train : n_train + n_val],
        "y_val": y[n_train : n_train + n_val],
        "x_test": test_x.reshape(len(test_x), -1).astype(np.float32) / 255.0,
        "y_test": test_y.astype(np.int32),
    }


def make_poisoning_from_arrays(
    arrays: dict, mu: float = 1e-3, refit_steps: int = LBFGS_STEPS
) -> Problem:
    data = {k: jnp.asarray(v) for k, v in arrays.items()}
    dim = arrays["x_train"].shape[1]

    def bind(data) -> Problem:
        def g(u, v, batch):
            del batch
            ce = jnp.concatenate(
                [
                    per_example_ce(v, data["x_train"], data["y_train"]),
                    per_example_ce(v, u, data["y_poison"]),
                ]
            )
            return jnp.mean(ce) + 0.5 * mu * jnp.sum(v[0] ** 2)

        def f(u, v, batch):
            del u, batch
            return -jnp.mean(per_example_ce(v, data["x_val"], data["y_val"]))

        def fit_with(u, steps: int):
            """A fresh learner on the clean training set plus the poison points u."""
            x = jnp.concatenate([data["x_train"], u])
            y = jnp.concatenate([data["y_train"], data["y_poison"]])
            return fit_logistic(x, y, CLASSES, l2=mu, steps=steps)

        def metrics(u, v, key):
            del key
            refit = fit_with(u, refit_steps)
            return {
                "test_acc": accuracy(v, data["x_test"], data["y_test"]),
                "refit_acc": accuracy(refit, data["x_test"], data["y_test"]),
                "val_loss": -f(u, v, None),
            }

        def label_flip(key):
            del key
            u = data["x_poison"]
            return u, fit_with(u, LBFGS_STEPS)

        def clean(key):
            del key
            v = fit_logistic(data["x_train"], data["y_train"], CLASSES, l2=mu)
            return data["x_poison"], v

        return Problem(
            name="poisoning",
            f=f,
            g=g,
            init_u=lambda key: data["x_poison"],
            init_v=lambda key: (jnp.zeros((dim, CLASSES)), jnp.zeros((CLASSES,))),
            project_u=lambda u: jnp.clip(u, 0.0, 1.0),
            metrics=metrics,
            headline="refit_acc",
            baselines={"label_flip": label_flip, "clean": clean},
            data=data,
            bind=bind,
        )

    return bind(data)


def same_run(problem: dict, solver: dict) -> tuple[dict, dict, list[str]]:
    """The clean baseline uses no poison point: the poison share and seed do not change it
    (config.effective_config)."""
    if solver["name"] != "baseline" or solver.get("baseline") != "clean":
        return problem, solver, []
    defaults = {k: PARAMS[k].default for k in ("poison_share", "poison_seed")}
    if all(problem[k] == v for k, v in defaults.items()):
        return problem, solver, []
    reason = "solver.baseline='clean' uses no poison point: problem.poison_share and poison_seed do not change it"
    return {**problem, **defaults}, solver, [reason]


def make_poisoning(
    n_train: int = 1000,
    n_val: int = 1000,
    poison_share: float = 0.06,
    poison_seed: int = 0,
    mu: float = 1e-3,
    refit_steps: int = LBFGS_STEPS,
) -> Problem:
    arrays = poisoning_arrays(n_train, n_val, poison_share, poison_seed)
    return make_poisoning_from_arrays(arrays, mu, refit_steps)
