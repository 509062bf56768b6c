"""Multinomial logistic regression fitted to convergence by L-BFGS inside jit: the fresh classifiers
of evaluation protocols (privacy filters) and the baselines of data hyper-cleaning."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

LBFGS_STEPS = 200


def per_example_ce(params, z: jax.Array, labels: jax.Array) -> jax.Array:
    """Cross-entropy of each example under the logistic regression params = (W, b)."""
    w, b = params
    log_p = jax.nn.log_softmax(z @ w + b[None, :])
    return -jnp.take_along_axis(log_p, labels[:, None], axis=1)[:, 0]


def fit_logistic(
    z: jax.Array,
    labels: jax.Array,
    classes: int,
    *,
    l2: float = 1e-4,
    weights: jax.Array | None = None,
    steps: int = LBFGS_STEPS,
):
    """(W, b) minimising the (example-weighted) mean cross-entropy + (l2 / 2) |W|^2 by `steps`
    L-BFGS iterations (optax.lbfgs with its zoom line search); pure and vmappable."""
    params = (jnp.zeros((z.shape[1], classes)), jnp.zeros((classes,)))
    weights = jnp.ones(z.shape[0]) if weights is None else weights

    def loss(params):
        w, _ = params
        nll = per_example_ce(params, z, labels)
        return jnp.sum(weights * nll) / jnp.sum(weights) + 0.5 * l2 * jnp.sum(w * w)

    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(loss)

    def step(carry, _):
        params, state = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = solver.update(grad, state, params, value=value, grad=grad, value_fn=loss)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, solver.init(params)), None, length=steps)
    return params


def accuracy(params, z: jax.Array, labels: jax.Array) -> jax.Array:
    w, b = params
    return jnp.mean(jnp.argmax(z @ w + b[None, :], axis=1) == labels)
