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

Metrics (at log points, on the first `eval_size` test images), for both problems: `clean_acc`;
`robust_acc`, the accuracy under PGD (`pgd_steps` signed steps of 2.5 eps / pgd_steps from
`pgd_restarts` random starts; an example counts as robust only if every restart fails) at eps, and
`robust_acc_large` at `eps_large`; `fresh_attacker_acc`, the accuracy against a new attacker network
of mvm_defense's class trained for `attacker_eval_steps` adam steps (lr 1e-3, batches of `batch`)
against the frozen classifier: the worst case over the attacker class, which the minimax defence
optimises and PGD training does not. mvm_defense also logs `attacker_acc`, against its own attacker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    "attacker_hidden": Param(256, "hidden units of an attacker network", at_least(1)),
    "attacker_gain": Param(1.0, "orthogonal initialisation gain of an attacker", above(0)),
    "attacker_eval_steps": Param(
        300, "adam steps of fresh_attacker_acc's new attacker", at_least(1)
    ),
}


@dataclass(frozen=True)
class Settings:
    """The problems' shared settings (PARAMS but train_size, which only picks the data)."""

    eps: float = 0.3
    eps_large: float = 0.4
    hidden: int = 256
    batch: int = 128
    eval_size: int = 1000
    pgd_steps: int = 20
    pgd_restarts: int = 2
    attacker_hidden: int = 256
    attacker_gain: float = 1.0
    attacker_eval_steps: int = 300


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


class Game:
    """What both problems are built from: the classifier, the batches, the attacker class and the
    metrics, for one dataset (`data`, traced inside the runner's program) and settings."""

    def __init__(self, data: dict, settings: Settings):
        self.data, self.s = data, settings

    def init_u(self, key):
        return mlp_init(key, [PIXELS, self.s.hidden, self.s.hidden, CLASSES], math.sqrt(2.0))

    def sample_batch(self, key):
        index = jax.random.randint(key, (self.s.batch,), 0, self.data["x_train"].shape[0])
        return self.data["x_train"][index], self.data["y_train"][index]

    def loss(self, u, delta, batch):
        x, y = batch
        return jnp.mean(per_example_ce(classifier(u, perturbed(x, delta)), y))

    def init_attacker(self, key):
        return mlp_init(key, [PIXELS, self.s.attacker_hidden, PIXELS], self.s.attacker_gain)

    def attack(self, v, x):
        """The attacker network's perturbation of x: eps tanh(MLP_v(x))."""
        return self.s.eps * jnp.tanh(mlp_apply(v, x, jax.nn.relu))

    def attacker_loss(self, u, v, batch):
        return self.loss(u, self.attack(v, batch[0]), batch)

    def accuracy_against(self, u, v):
        x, y = self.data["x_test"], self.data["y_test"]
        return jnp.mean(jnp.argmax(classifier(u, perturbed(x, self.attack(v, x))), axis=1) == y)

    def fresh_attacker(self, u, key):
        """A new attacker of the class, trained against the frozen classifier u (ascent on f)."""
        optimizer = optax.adam(1e-3)
        key_init, key_batches = jax.random.split(key)
        v = self.init_attacker(key_init)

        def ascend(carry, key):
            v, state = carry
            grad = jax.grad(lambda v: -self.attacker_loss(u, v, self.sample_batch(key)))(v)
            updates, state = optimizer.update(grad, state, v)
            return (optax.apply_updates(v, updates), state), None

        keys = jax.random.split(key_batches, self.s.attacker_eval_steps)
        (v, _), _ = jax.lax.scan(ascend, (v, optimizer.init(v)), keys)
        return v

    def metrics(self, u, key):
        key_eps, key_large, key_fresh = jax.random.split(key, 3)
        x, y, s = self.data["x_test"], self.data["y_test"], self.s
        return {
            "clean_acc": jnp.mean(jnp.argmax(classifier(u, x), axis=1) == y),
            "robust_acc": robust_accuracy(u, x, y, s.eps, s.pgd_steps, s.pgd_restarts, key_eps),
            "robust_acc_large": robust_accuracy(
                u, x, y, s.eps_large, s.pgd_steps, s.pgd_restarts, key_large
            ),
            "fresh_attacker_acc": self.accuracy_against(u, self.fresh_attacker(u, key_fresh)),
        }


def make_robust_classification_from_arrays(
    arrays: dict, settings: Settings = Settings()
) -> Problem:
    eps, batch = settings.eps, settings.batch

    def bind(data) -> Problem:
        game = Game(data, settings)

        def g(u, delta, data_batch):
            x, y = data_batch
            return -jnp.sum(per_example_ce(classifier(u, perturbed(x, delta)), y))

        return Problem(
            name="robust_classification",
            f=game.loss,
            g=g,
            init_u=game.init_u,
            init_v=lambda key: jax.random.uniform(key, (batch, PIXELS), minval=-eps, maxval=eps),
            project_v=lambda delta: jnp.clip(delta, -eps, eps),
            sample_batch=game.sample_batch,
            metrics=lambda u, v, key: game.metrics(u, key),
            headline="robust_acc",
            info={"eps": eps},
            data=data,
            bind=bind,
        )

    return bind({k: jnp.asarray(v) for k, v in arrays.items()})


def make_mvm_defense_from_arrays(arrays: dict, settings: Settings = Settings()) -> Problem:
    def bind(data) -> Problem:
        game = Game(data, settings)

        def metrics(u, v, key):
            return game.metrics(u, key) | {"attacker_acc": game.accuracy_against(u, v)}

        return Problem(
            name="mvm_defense",
            f=game.attacker_loss,
            init_u=game.init_u,
            init_v=game.init_attacker,
            sample_batch=game.sample_batch,
            metrics=metrics,
            headline="robust_acc",
            info={"eps": settings.eps},
            data=data,
            bind=bind,
        )

    return bind({k: jnp.asarray(v) for k, v in arrays.items()})


def make_robust_classification(train_size: int = 60000, **settings) -> Problem:
    """robust_classification on MNIST (see the module docstring); settings: Settings' fields."""
    config = Settings(**settings)
    return make_robust_classification_from_arrays(
        mnist_arrays(train_size, config.eval_size), config
    )


def make_mvm_defense(train_size: int = 60000, **settings) -> Problem:
    """mvm_defense on MNIST (see the module docstring); settings: Settings' fields."""
    config = Settings(**settings)
    return make_mvm_defense_from_arrays(mnist_arrays(train_size, config.eval_size), config)
