"""Data hyper-cleaning (Franceschi et al., ICML 2017; Mehra & Hamm, ACML 2021, Sec. 5): a bilevel
problem on MNIST with half of the training labels corrupted.

    leader    u in R^n_train: one logit per training example, weight sigma(u_i) in (0, 1)
    follower  v = (W, b), a multinomial logistic regression on the 784 pixels (scaled to [0, 1])
    g(u, v) = sum_i sigma(u_i) CE(v; x_i, y~_i) / n_train + (mu / 2) |W|^2     (noisy training set)
    f(u, v) = mean CE(v; validation set)                                       (clean validation set)

Data (deterministic for a seed): the first n_train MNIST training images with a `noise` share of
labels changed to a different, uniformly drawn class; the next n_val images as the clean validation
set; the 10,000 test images. Metrics: test accuracy of v; precision and recall of "corrupted" =
{i : sigma(u_i) < 1/2} against the truly corrupted examples; with refit_steps > 0, `refit_acc`, the
test accuracy of a fresh logistic regression (L-BFGS, ridge mu) fitted on the validation set plus
the training examples the leader keeps (sigma(u_i) >= 1/2): the cleaned data set judged by the
learner a user would train on it, on the same data as the baselines.

Baselines (Problem.baselines, for the `baseline` solver), as the hyper-cleaning literature sets
them: v fitted to convergence (L-BFGS, ridge mu) on the training set as given plus the validation
set (`noisy`), on the validation set alone (`val_only`), or on the validation set plus the
training examples whose labels were not changed (`oracle`); u = +-10 marks the training examples
each fit uses (all, none, the clean ones), so precision and recall say what the baseline knew and
a baseline's refit_acc is its test_acc.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gamebench.game import Problem
from gamebench.logistic import LBFGS_STEPS, accuracy, fit_logistic, per_example_ce
from gamebench.params import Param, at_least, within

CLASSES = 10
HYPERCLEANING_BASELINES = ("noisy", "val_only", "oracle")
BASELINE_LOGIT = 10.0  # sigma(10) ~ 1: the example is used; sigma(-10) ~ 0: dropped

# the config fields make_hypercleaning reads (gamebench.params)
PARAMS = {
    "n_train": Param(5000, "noisy training examples (the leader's weights)", at_least(1)),
    "n_val": Param(5000, "clean validation examples", at_least(1)),
    "noise": Param(0.5, "share of training labels changed to another class", within(0, 1)),
    "label_seed": Param(0, "which labels are corrupted, and how"),
    "mu": Param(1.0e-3, "the follower's ridge", at_least(0)),
    "refit_steps": Param(
        0,
        "L-BFGS steps of refit_acc's fresh learner at each log point (0: no refit_acc)",
        at_least(0),
    ),
}


def corrupt_labels(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(noisy labels, corrupted mask): a `share` of the examples gets a different random class."""
    rng = np.random.default_rng(seed)
    n = labels.size
    corrupted = np.zeros(n, bool)
    corrupted[rng.choice(n, int(round(share * n)), replace=False)] = True
    shift = rng.integers(1, CLASSES, n)  # 1..9: never the true class
    noisy = np.where(corrupted, (labels + shift) % CLASSES, labels).astype(np.int32)
    return noisy, corrupted


def hypercleaning_arrays(n_train: int, n_val: int, noise: float, seed: int, root=None) -> dict:
    from gamebench.data import mnist

    images, labels = mnist("train", root)
    test_x, test_y = mnist("test", root)
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    noisy, corrupted = corrupt_labels(labels[:n_train].astype(np.int32), noise, seed)
    return {
        "x_train": x[:n_train],
        "y_train": noisy,
        "y_train_clean": labels[:n_train].astype(np.int32),
        "corrupted": corrupted,
        "x_val": x[n_train : n_train + n_val],
        "y_val": labels[n_train : n_train + n_val].astype(np.int32),
        "x_test": test_x.reshape(len(test_x), -1).astype(np.float32) / 255.0,
        "y_test": test_y.astype(np.int32),
    }


def make_hypercleaning_from_arrays(arrays: dict, mu: float = 1e-3, refit_steps: int = 0) -> Problem:
    data = {k: jnp.asarray(v) for k, v in arrays.items()}
    n_train, dim = arrays["x_train"].shape

    def bind(data) -> Problem:
        def g(u, v, batch):
            del batch
            ce = per_example_ce(v, data["x_train"], data["y_train"])
            return jnp.mean(jax.nn.sigmoid(u) * ce) + 0.5 * mu * jnp.sum(v[0] ** 2)

        def f(u, v, batch):
            del u, batch
            return jnp.mean(per_example_ce(v, data["x_val"], data["y_val"]))

        def metrics(u, v, key):
            del key
            w, b = v
            test_acc = jnp.mean(
                jnp.argmax(data["x_test"] @ w + b[None, :], axis=1) == data["y_test"]
            )
            flagged = jax.nn.sigmoid(u) < 0.5
            corrupted = data["corrupted"]
            hits = jnp.sum(flagged & corrupted)
            values = {
                "test_acc": test_acc,
                "precision": hits / jnp.maximum(jnp.sum(flagged), 1),
                "recall": hits / jnp.maximum(jnp.sum(corrupted), 1),
            }
            if refit_steps:
                refit = fit_on(~flagged, steps=refit_steps)
                values["refit_acc"] = accuracy(refit, data["x_test"], data["y_test"])
            return values

        def fit_on(used: jax.Array, steps: int):
            """v fitted on the validation set plus the training examples marked `used`."""
            x = jnp.concatenate([data["x_val"], data["x_train"]])
            y = jnp.concatenate([data["y_val"], data["y_train"]])
            weights = jnp.concatenate([jnp.ones(data["x_val"].shape[0]), used.astype(jnp.float32)])
            return fit_logistic(x, y, CLASSES, l2=mu, weights=weights, steps=steps)

        def fitted(name: str):
            """(u, v) of a baseline: which training examples it uses, and v fitted on them and
            the validation set."""
            used = {
                "noisy": jnp.ones(n_train, bool),
                "val_only": jnp.zeros(n_train, bool),
                "oracle": ~data["corrupted"],
            }[name]

            def players(key):
                del key
                v = fit_on(used, LBFGS_STEPS)
                return jnp.where(used, BASELINE_LOGIT, -BASELINE_LOGIT), v

            return players

        return Problem(
            name="hypercleaning",
            f=f,
            g=g,
            init_u=lambda key: jnp.zeros((n_train,), jnp.float32),
            init_v=lambda key: (jnp.zeros((dim, CLASSES)), jnp.zeros((CLASSES,))),
            metrics=metrics,
            headline="test_acc",
            baselines={name: fitted(name) for name in HYPERCLEANING_BASELINES},
            data=data,
            bind=bind,
        )

    return bind(data)


def make_hypercleaning(
    n_train: int = 5000,
    n_val: int = 5000,
    noise: float = 0.5,
    label_seed: int = 0,
    mu: float = 1e-3,
    refit_steps: int = 0,
) -> Problem:
    arrays = hypercleaning_arrays(n_train, n_val, noise, label_seed)
    return make_hypercleaning_from_arrays(arrays, mu, refit_steps)
