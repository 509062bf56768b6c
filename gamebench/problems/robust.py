"""Adversarial robustness on MNIST as games: robust training against per-example perturbations
(Madry et al., ICLR 2018; Zhang et al., "Revisiting and Advancing Fast Adversarial Training Through
the Lens of Bi-Level Optimization", ICML 2022) and the minimax defence against a learned attacker
(Hamm & Mehra, "Machine vs Machine: Minimax-Optimal Defense Against Adversarial Examples", 2017).

The classifier (the leader u, both problems) is an MLP 784 -> hidden -> hidden -> 10 with ReLUs: a
LeNet-sized CNN trains 5-10x slower on this project's 2-core CPU, and the MLP is enough to show the
gap between standard and adversarial training (near 0 against tens of points of PGD accuracy).
Pixels are in [0, 1]; a perturbed image is clip(x + delta, 0, 1) with |delta|_inf <= eps.

robust_classification: the follower v is one perturbation per example of the step's batch,
    v = delta in [-eps, eps]^(batch x 784), drawn uniformly in the ball by init_v (a random start);
    f(u, delta, (x, y)) = mean CE(u; clip(x + delta, 0, 1), y)            (the leader's loss)
    g(u, delta, (x, y)) = - sum CE(u; clip(x + delta, 0, 1), y)          (the attacker's loss)
  g has f's maximiser; it is the batch sum, as attacks are written, so an attack step acts on one
  example's gradient whatever the batch size. The batch is redrawn every step, so the follower is
  re-started every step by the solvers meant for it (adversarial_training, fast_bat).

mvm_defense: the follower is an attacker network v that maps an image to its perturbation,
    a_v(x) = eps tanh(MLP_v(x)),   f(u, v, (x, y)) = mean CE(u; clip(x + a_v(x), 0, 1), y),
  a zero-sum game over (classifier, attacker) for GDA, alternating GDA and K-beam (K attackers).

Metrics (at log points, on the first `eval_size` test images): `clean_acc`; `robust_acc`, the
accuracy under PGD (`pgd_steps` signed steps of 2.5 eps / pgd_steps from `pgd_restarts` random starts;
an example counts as robust only if every restart fails) at eps, and `robust_acc_large` at
`eps_large`; for mvm_defense also `attacker_acc`, the accuracy against the game's own attacker, and
`fresh_attacker_acc`, against a fresh attacker network of the same class trained for
`attacker_eval_steps` adam steps (lr 1e-3, the step's batch size) against the frozen classifier: the
defender's worst case over the attacker class, which is what the minimax defence optimises and what
a defence trained against one attacker can be far from.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gamebench.game import Problem
from gamebench.nn import mlp_apply, mlp_init
from gamebench.params import Param, above, at_least, within

CLASSES = 10
PIXELS = 784

PARAMS = {
    "eps": Param(0.3, "l_inf radius of the perturbations (training and robust_acc)", within(0, 1)),
    "eps_large": Param(0.4, "l_inf radius of robust_acc_large", within(0, 1)),
    "hidden": Param(256, "hidden units per layer of the classifier", at_least(1)),
    "batch": Param(128, "training examples per step", at_least(1)),
    "train_size": Param(60000, "MNIST training images drawn from", at_least(1)),
    "eval_size": Param(1000, "test images of the metrics", at_least(1)),
    "pgd_steps": Param(20, "steps of the evaluation attack (PGD-20)", at_least(1)),
    "pgd_restarts": Param(2, "random starts of the evaluation attack", at_least(1)),
}
MVM_PARAMS = PARAMS | {
    "attacker_hidden": Param(256, "hidden units of the attacker network", at_least(1)),
    "attacker_gain": Param(1.0, "orthogonal initialisation gain of the attacker", above(0)),
    "attacker_eval_steps": Param(
        300, "adam steps of fresh_attacker_acc's new attacker", at_least(1)
    ),
}


def mnist_arrays(train_size: int, eval_size: int, root=None) -> dict:
    from gamebench.data import mnist

    images, labels = mnist("train", root)
    test_x, test_y = mnist("test", root)
    flat = lambda a: a.reshape(len(a), -1).astype(np.float32) / 255.0  # noqa: E731
    return {
        "x_train": flat(images[:train_size]),
        "y_train": labels[:train_size].astype(np.int32),
        "x_test": flat(test_x[:eval_size]),
        "y_test": test_y[:eval_size].astype(np.int32),
    }


def classifier(u, x):
    return mlp_apply(u, x, jax.nn.relu)


def perturbed(x, delta):
    return jnp.clip(x + delta, 0.0, 1.0)


def per_example_ce(logits, y):
    log_p = jax.nn.log_softmax(logits)
    return -jnp.take_along_axis(log_p, y[:, None], axis=1)[:, 0]


def pgd_attack(u, x, y, eps, steps: int, key):
    """An l_inf PGD attack on the classifier from a random start: `steps` signed gradient steps of
    2.5 eps / steps on the cross-entropy (Madry et al. 2018), projected onto the ball and [0, 1].
    Returns the perturbation delta (same shape as x)."""
    step_size = 2.5 * eps / steps
    loss = lambda d: jnp.sum(per_example_ce(classifier(u, perturbed(x, d)), y))  # noqa: E731

    def ascend(delta, _):
        delta = delta + step_size * jnp.sign(jax.grad(loss)(delta))
        return jnp.clip(delta, -eps, eps), None

    start = jax.random.uniform(key, x.shape, minval=-eps, maxval=eps)
    delta, _ = jax.lax.scan(ascend, start, None, length=steps)
    return delta


def robust_accuracy(u, x, y, eps, steps: int, restarts: int, key) -> jax.Array:
    """Share of examples classified correctly under every one of `restarts` PGD attacks."""

    def correct(key):
        delta = pgd_attack(u, x, y, eps, steps, key)
        return jnp.argmax(classifier(u, perturbed(x, delta)), axis=1) == y

    return jnp.mean(jnp.all(jax.vmap(correct)(jax.random.split(key, restarts)), axis=0))


def _common(data, batch: int, hidden: int):
    """The pieces both problems share: classifier init, batch sampler, base metrics."""

    def init_u(key):
        return mlp_init(key, [PIXELS, hidden, hidden, CLASSES], math.sqrt(2.0))

    def sample_batch(key):
        index = jax.random.randint(key, (batch,), 0, data["x_train"].shape[0])
        return data["x_train"][index], data["y_train"][index]

    return init_u, sample_batch


def _metrics(data, eps, eps_large, pgd_steps, pgd_restarts):
    def metrics(u, key):
        key_eps, key_large = jax.random.split(key)
        x, y = data["x_test"], data["y_test"]
        return {
            "clean_acc": jnp.mean(jnp.argmax(classifier(u, x), axis=1) == y),
            "robust_acc": robust_accuracy(u, x, y, eps, pgd_steps, pgd_restarts, key_eps),
            "robust_acc_large": robust_accuracy(
                u, x, y, eps_large, pgd_steps, pgd_restarts, key_large
            ),
        }

    return metrics


def make_robust_classification_from_arrays(
    arrays: dict,
    eps: float = 0.3,
    eps_large: float = 0.4,
    hidden: int = 256,
    batch: int = 128,
    pgd_steps: int = 20,
    pgd_restarts: int = 2,
) -> Problem:
    def bind(data) -> Problem:
        init_u, sample_batch = _common(data, batch, hidden)
        base_metrics = _metrics(data, eps, eps_large, pgd_steps, pgd_restarts)

        def f(u, delta, data_batch):
            x, y = data_batch
            return jnp.mean(per_example_ce(classifier(u, perturbed(x, delta)), y))

        def g(u, delta, data_batch):
            x, y = data_batch
            return -jnp.sum(per_example_ce(classifier(u, perturbed(x, delta)), y))

        return Problem(
            name="robust_classification",
            f=f,
            g=g,
            init_u=init_u,
            init_v=lambda key: jax.random.uniform(key, (batch, PIXELS), minval=-eps, maxval=eps),
            project_v=lambda delta: jnp.clip(delta, -eps, eps),
            sample_batch=sample_batch,
            metrics=lambda u, v, key: base_metrics(u, key),
            headline="robust_acc",
            info={"eps": eps},
            data=data,
            bind=bind,
        )

    return bind({k: jnp.asarray(v) for k, v in arrays.items()})


def make_robust_classification(
    eps: float = 0.3,
    eps_large: float = 0.4,
    hidden: int = 256,
    batch: int = 128,
    train_size: int = 60000,
    eval_size: int = 1000,
    pgd_steps: int = 20,
    pgd_restarts: int = 2,
) -> Problem:
    arrays = mnist_arrays(train_size, eval_size)
    return make_robust_classification_from_arrays(
        arrays, eps, eps_large, hidden, batch, pgd_steps, pgd_restarts
    )


def make_mvm_defense_from_arrays(
    arrays: dict,
    eps: float = 0.3,
    eps_large: float = 0.4,
    hidden: int = 256,
    batch: int = 128,
    pgd_steps: int = 20,
    pgd_restarts: int = 2,
    attacker_hidden: int = 256,
    attacker_gain: float = 1.0,
    attacker_eval_steps: int = 300,
) -> Problem:
    def bind(data) -> Problem:
        init_u, sample_batch = _common(data, batch, hidden)
        base_metrics = _metrics(data, eps, eps_large, pgd_steps, pgd_restarts)

        def attack(v, x):
            return eps * jnp.tanh(mlp_apply(v, x, jax.nn.relu))

        def f(u, v, data_batch):
            x, y = data_batch
            return jnp.mean(per_example_ce(classifier(u, perturbed(x, attack(v, x))), y))

        def init_attacker(key):
            return mlp_init(key, [PIXELS, attacker_hidden, PIXELS], attacker_gain)

        def accuracy_against(u, v):
            x, y = data["x_test"], data["y_test"]
            return jnp.mean(jnp.argmax(classifier(u, perturbed(x, attack(v, x))), axis=1) == y)

        def fresh_attacker(u, key):
            """A new attacker trained against the frozen classifier u (ascent on f)."""
            optimizer = optax.adam(1e-3)
            key_init, key_batches = jax.random.split(key)
            v = init_attacker(key_init)

            def ascend(carry, key):
                v, state = carry
                grad = jax.grad(lambda v: -f(u, v, sample_batch(key)))(v)
                updates, state = optimizer.update(grad, state, v)
                return (optax.apply_updates(v, updates), state), None

            keys = jax.random.split(key_batches, attacker_eval_steps)
            (v, _), _ = jax.lax.scan(ascend, (v, optimizer.init(v)), keys)
            return v

        def metrics(u, v, key):
            key_pgd, key_fresh = jax.random.split(key)
            return base_metrics(u, key_pgd) | {
                "attacker_acc": accuracy_against(u, v),
                "fresh_attacker_acc": accuracy_against(u, fresh_attacker(u, key_fresh)),
            }

        return Problem(
            name="mvm_defense",
            f=f,
            init_u=init_u,
            init_v=lambda key: mlp_init(key, [PIXELS, attacker_hidden, PIXELS], attacker_gain),
            sample_batch=sample_batch,
            metrics=metrics,
            headline="robust_acc",
            info={"eps": eps},
            data=data,
            bind=bind,
        )

    return bind({k: jnp.asarray(v) for k, v in arrays.items()})


def make_mvm_defense(
    eps: float = 0.3,
    eps_large: float = 0.4,
    hidden: int = 256,
    batch: int = 128,
    train_size: int = 60000,
    eval_size: int = 1000,
    pgd_steps: int = 20,
    pgd_restarts: int = 2,
    attacker_hidden: int = 256,
    attacker_gain: float = 1.0,
    attacker_eval_steps: int = 300,
) -> Problem:
    arrays = mnist_arrays(train_size, eval_size)
    return make_mvm_defense_from_arrays(
        arrays,
        eps,
        eps_large,
        hidden,
        batch,
        pgd_steps,
        pgd_restarts,
        attacker_hidden,
        attacker_gain,
        attacker_eval_steps,
    )
