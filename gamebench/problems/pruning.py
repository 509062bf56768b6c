"""Bilevel pruning (BiP: Zhang, Zhang, Chen, Hong, Wang, Liu, "Advancing Model Pruning via Bi-level
Optimization", NeurIPS 2022) of an MNIST MLP 784-300-100-10 (LeNet-300-100), against iterative
magnitude pruning (IMP; Frankle & Carbin, ICLR 2019).

    leader    u = s: one score per weight (biases are never pruned), drawn in [0, 1]; not clipped
              to it (BiP's box), since only their order matters and clipping makes ties
    follower  v = theta: the network's weights and biases
    mask      M(s) = the k = (1 - sparsity) n largest scores over all layers (global pruning),
              binary in the forward pass; its gradient is passed straight through to s
    f(s, theta) = CE(M(s) . theta; batch)
    g(s, theta) = CE(M(s) . theta; batch) + (ridge / 2) |theta|^2

The upper level picks the mask for the weights the lower level trains under it; the `bip` solver
descends s along BiP's implicit gradient (the follower's Hessian taken as gamma I). Batches of
`batch` training images are drawn inside the compiled loop; metrics on the 10,000 test images:
`test_acc` of the sparse network M(s) . theta, `sparsity` (the share of weights the mask removes).

Baseline `imp` (Problem.baselines, run by `solver=baseline solver.baseline=imp`): IMP with weight
rewinding to the initialisation: train theta for imp_round_steps SGD steps (momentum 0.9, step
imp_lr, batch `batch`) under the current mask, drop the smallest-magnitude share of the remaining
weights so that after imp_rounds rounds the mask has the target sparsity (the same share each
round, 1 - (1 - sparsity)^(1 / imp_rounds)), rewind the kept weights to their initial values, and
after the last prune train once more: (imp_rounds + 1) * imp_round_steps gradients in all.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gamebench.game import Problem
from gamebench.params import Param, above, at_least, within

SIZES = (784, 300, 100, 10)
PRUNING_BASELINES = ("imp",)

PARAMS = {
    "sparsity": Param(0.9, "share of the weights the mask removes", within(0, 1, high_open=True)),
    "batch": Param(128, "training images per step", at_least(1)),
    "ridge": Param(1.0e-4, "the lower level's ridge on theta", at_least(0)),
    "train_size": Param(60000, "MNIST training images used", at_least(1)),
    "eval_size": Param(10000, "MNIST test images scored", at_least(1)),
    "imp_rounds": Param(0, "imp: prune rounds (0: drop 20 % of the rest per round)", at_least(0)),
    "imp_round_steps": Param(1000, "imp: SGD steps per round", at_least(1)),
    "imp_lr": Param(0.05, "imp: SGD step (momentum 0.9)", above(0)),
}


def same_run(problem: dict, solver: dict) -> tuple[dict, dict, list[str]]:
    """The imp_* fields only shape the `imp` baseline (config.effective_config)."""
    if solver.get("name") == "baseline" and solver.get("baseline") == "imp":
        return problem, solver, []
    reasons = []
    for name in ("imp_rounds", "imp_round_steps", "imp_lr"):
        if name in problem and problem[name] != PARAMS[name].default:
            reasons.append(f"problem.{name}={problem[name]} only shapes the imp baseline")
            problem = {**problem, name: PARAMS[name].default}
    return problem, solver, reasons


def keep_count(sparsity: float, n: int) -> int:
    return max(1, int(round((1.0 - sparsity) * n)))


def imp_rounds_for(sparsity: float) -> int:
    """Rounds that drop 20 % of the remaining weights each (the lottery-ticket schedule)."""
    return max(1, math.ceil(math.log(1.0 - sparsity) / math.log(0.8)))


def _flat(scores) -> jax.Array:
    return jnp.concatenate([jnp.ravel(s) for s in scores])


def _unflat(flat: jax.Array, like) -> list:
    out, start = [], 0
    for s in like:
        out.append(flat[start : start + s.size].reshape(s.shape))
        start += s.size
    return out


def top_k_mask(scores, k: int, iters: int = 40) -> list:
    """Binary masks (as floats) of the k largest scores over every layer together.

    The threshold is found by bisection on the count of scores above it (`iters` halvings of
    [min, max], float32's resolution): 6-21 ms for 266,200 scores here, where lax.top_k took
    16-89 ms (k = 5-50 %) and a sort 145 ms, paid several times per step. It keeps exactly k when
    the scores are distinct (continuous scores; IMP's 0/1 masks), fewer on a tie at the threshold.
    """
    flat = _flat(scores)

    def halve(_, bounds):
        low, high = bounds
        middle = 0.5 * (low + high)
        too_many = jnp.sum(flat > middle) > k
        return jnp.where(too_many, middle, low), jnp.where(too_many, high, middle)

    start = (jnp.min(flat) - 1.0, jnp.max(flat))
    _, threshold = jax.lax.fori_loop(0, iters, halve, start)
    return _unflat((flat > threshold).astype(flat.dtype), scores)


def straight_through_mask(scores, k: int) -> list:
    """The top-k mask in the forward pass, the identity's gradient to the scores backwards."""
    hard = top_k_mask(scores, k)
    return [h + s - jax.lax.stop_gradient(s) for h, s in zip(hard, scores)]


def masked_logits(theta, masks, x: jax.Array) -> jax.Array:
    h = x
    for i, ((w, b), m) in enumerate(zip(theta, masks)):
        h = h @ (m * w) + b[None, :]
        if i < len(theta) - 1:
            h = jax.nn.relu(h)
    return h


def cross_entropy(logits, labels) -> jax.Array:
    log_p = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=1))


def init_theta(key: jax.Array) -> list:
    """He-normal weights, zero biases."""
    keys = jax.random.split(key, len(SIZES) - 1)
    return [
        (
            jax.random.normal(k, (a, b), jnp.float32) * math.sqrt(2.0 / a),
            jnp.zeros((b,), jnp.float32),
        )
        for k, a, b in zip(keys, SIZES, SIZES[1:])
    ]


def pruning_arrays(train_size: int, eval_size: int, root=None) -> dict:
    from gamebench.data import mnist

    images, labels = mnist("train", root)
    test_x, test_y = mnist("test", root)
    return {
        "x_train": images[:train_size].reshape(-1, 784).astype(np.float32) / 255.0,
        "y_train": labels[:train_size].astype(np.int32),
        "x_test": test_x[:eval_size].reshape(-1, 784).astype(np.float32) / 255.0,
        "y_test": test_y[:eval_size].astype(np.int32),
    }


def make_pruning_from_arrays(
    arrays: dict,
    sparsity: float = 0.9,
    batch: int = 128,
    ridge: float = 1e-4,
    imp_rounds: int = 0,
    imp_round_steps: int = 1000,
    imp_lr: float = 0.05,
) -> Problem:
    data = {k: jnp.asarray(v) for k, v in arrays.items()}
    n_weights = sum(a * b for a, b in zip(SIZES, SIZES[1:]))
    k = keep_count(sparsity, n_weights)
    rounds = imp_rounds or imp_rounds_for(sparsity)

    def bind(data) -> Problem:
        n_train = data["x_train"].shape[0]

        def sample_batch(key):
            index = jax.random.randint(key, (batch,), 0, n_train)
            return data["x_train"][index], data["y_train"][index]

        def f(s, theta, batch_):
            x, y = batch_
            return cross_entropy(masked_logits(theta, straight_through_mask(s, k), x), y)

        def g(s, theta, batch_):
            decay = sum(jnp.sum(w**2) + jnp.sum(b**2) for w, b in theta)
            return f(s, theta, batch_) + 0.5 * ridge * decay

        def metrics(s, theta, key):
            del key
            masks = top_k_mask(s, k)
            logits = masked_logits(theta, masks, data["x_test"])
            kept = sum(jnp.sum(m) for m in masks)
            return {
                "test_acc": jnp.mean(jnp.argmax(logits, axis=1) == data["y_test"]),
                "sparsity": 1.0 - kept / n_weights,
            }

        def init_u(key):
            # random scores in [0, 1]: the first mask is a random one of the target sparsity
            keys = jax.random.split(key, len(SIZES) - 1)
            return [jax.random.uniform(kk, (a, b)) for kk, a, b in zip(keys, SIZES, SIZES[1:])]

        def imp(key):
            """IMP with rewinding (module docstring): (scores = the final binary mask, theta)."""
            key_init, key_train = jax.random.split(key)
            theta0 = init_theta(key_init)
            optimizer = optax.sgd(imp_lr, momentum=0.9)
            keep_share = (1.0 - sparsity) ** (1.0 / rounds)

            def train(theta, masks, key):
                def loss(theta, batch_):
                    x, y = batch_
                    return cross_entropy(masked_logits(theta, masks, x), y)

                def one(carry, key):
                    theta, state = carry
                    grads = jax.grad(loss)(theta, sample_batch(key))
                    updates, state = optimizer.update(grads, state, theta)
                    return (optax.apply_updates(theta, updates), state), None

                keys = jax.random.split(key, imp_round_steps)
                (theta, _), _ = jax.lax.scan(one, (theta, optimizer.init(theta)), keys)
                return theta

            masks = [jnp.ones((a, b)) for a, b in zip(SIZES, SIZES[1:])]
            theta = theta0
            for r in range(rounds):
                theta = train(theta, masks, jax.random.fold_in(key_train, r))
                kept = k if r == rounds - 1 else int(round(n_weights * keep_share ** (r + 1)))
                magnitude = [jnp.abs(w) * m for (w, _), m in zip(theta, masks)]
                masks = top_k_mask(magnitude, max(kept, k))
                theta = theta0  # rewind: the next round trains the kept weights from their start
            theta = train(theta, masks, jax.random.fold_in(key_train, rounds))
            return masks, theta

        return Problem(
            name="bilevel_pruning",
            f=f,
            g=g,
            init_u=init_u,
            init_v=init_theta,
            sample_batch=sample_batch,
            metrics=metrics,
            headline="test_acc",
            baselines={"imp": imp},
            info={"keep": k, "weights": n_weights, "imp_rounds": rounds},
            data=data,
            bind=bind,
        )

    return bind(data)


def make_bilevel_pruning(
    sparsity: float = 0.9,
    batch: int = 128,
    ridge: float = 1e-4,
    train_size: int = 60000,
    eval_size: int = 10000,
    imp_rounds: int = 0,
    imp_round_steps: int = 1000,
    imp_lr: float = 0.05,
) -> Problem:
    arrays = pruning_arrays(train_size, eval_size)
    return make_pruning_from_arrays(
        arrays, sparsity, batch, ridge, imp_rounds, imp_round_steps, imp_lr
    )
