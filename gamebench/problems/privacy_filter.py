"""The minimax privacy filter (Hamm, "Minimax Filter: Learning to Preserve Privacy from Inference
Attacks", JMLR 2017).

A filter z = g(x; u_f) maps data x in R^D to R^d; a utility classifier w and an adversary v are
multinomial logistic regressions on z. The game, on the full training set,
    min over u = (u_f, w) of max over v of
        f(u, v) = rho * L_util(u_f, w) - L_priv(u_f, v) + (lambda / 2) |u_f|^2
(L = mean cross-entropy) keeps the utility label predictable and makes the best adversary as bad as
possible. Filters: `linear` (z = x U, U in R^{D x d}) or `nn` (z = tanh(x W1 + b1) W2 + b2, one
hidden layer). The leader's block `w` is marked as an inner block (Problem.inner_u), so the Danskin
solver fits it to near optimality together with v before each filter step; every other solver
treats u = (u_f, w) as one player.

Metrics at log points: test accuracy of the in-game w (utility_acc) and v (private_acc). The
paper's evaluation (fresh classifiers trained on the frozen filter) is `gamebench.privacy`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gamebench.game import Problem
from gamebench.nn import cross_entropy, orthogonal

FILTERS = ("linear", "nn")


def logistic_apply(params, z):
    w, b = params
    return z @ w + b[None, :]


def apply_filter(kind: str, params, x: jax.Array) -> jax.Array:
    if kind == "linear":
        return x @ params["U"]
    hidden = jnp.tanh(x @ params["W1"] + params["b1"][None, :])
    return hidden @ params["W2"] + params["b2"][None, :]


def init_filter(kind: str, key: jax.Array, dim_in: int, d: int, hidden: int):
    """Random orthonormal columns (scaled for the hidden layer's input), zero biases."""
    if kind == "linear":
        return {"U": orthogonal(key, (dim_in, d))}
    key_1, key_2 = jax.random.split(key)
    return {
        "W1": orthogonal(key_1, (dim_in, hidden)),
        "b1": jnp.zeros((hidden,), jnp.float32),
        "W2": orthogonal(key_2, (hidden, d)),
        "b2": jnp.zeros((d,), jnp.float32),
    }


def make_privacy_filter(
    data,
    *,
    filter: str = "linear",
    d: int = 10,
    rho: float = 10.0,
    weight_decay: float = 1e-3,
    hidden: int = 50,
) -> Problem:
    """The game on a `gamebench.data.privacy.PrivacyData` (or any object with its fields)."""
    if filter not in FILTERS:
        raise ValueError(f"unknown filter {filter!r}; allowed: {', '.join(FILTERS)}")
    dim_in = data.x_train.shape[1]
    arrays = {
        "x": jnp.asarray(data.x_train, jnp.float32),
        "y_util": jnp.asarray(data.utility_train, jnp.int32),
        "y_priv": jnp.asarray(data.private_train, jnp.int32),
        "x_test": jnp.asarray(data.x_test, jnp.float32),
        "y_util_test": jnp.asarray(data.utility_test, jnp.int32),
        "y_priv_test": jnp.asarray(data.private_test, jnp.int32),
    }
    c_util, c_priv = data.utility_classes, data.private_classes

    def bind(arrays) -> Problem:
        def f(u, v, batch):
            del batch
            z = apply_filter(filter, u["filter"], arrays["x"])
            utility = cross_entropy(logistic_apply(u["w"], z), arrays["y_util"])
            private = cross_entropy(logistic_apply(v, z), arrays["y_priv"])
            decay = sum(jnp.sum(jnp.square(p)) for p in jax.tree.leaves(u["filter"]))
            return rho * utility - private + 0.5 * weight_decay * decay

        def init_u(key):
            key_filter, _ = jax.random.split(key)  # w starts at zero: the inner solve fits it
            return {
                "filter": init_filter(filter, key_filter, dim_in, d, hidden),
                "w": (jnp.zeros((d, c_util), jnp.float32), jnp.zeros((c_util,), jnp.float32)),
            }

        def init_v(key):
            return (0.01 * jax.random.normal(key, (d, c_priv)), jnp.zeros((c_priv,), jnp.float32))

        def metrics(u, v, key):
            del key
            z = apply_filter(filter, u["filter"], arrays["x_test"])
            util = jnp.argmax(logistic_apply(u["w"], z), axis=1) == arrays["y_util_test"]
            priv = jnp.argmax(logistic_apply(v, z), axis=1) == arrays["y_priv_test"]
            return {"utility_acc": jnp.mean(util), "private_acc": jnp.mean(priv)}

        return Problem(
            name="privacy_filter",
            f=f,
            init_u=init_u,
            init_v=init_v,
            metrics=metrics,
            headline="private_acc",
            info={"dataset": data.name, "filter": filter, "d": d, "inner_u": ("w",)},
            data=arrays,
            bind=bind,
        )

    return bind(arrays)


def make_privacy_filter_from_dataset(dataset: str, **kwargs) -> Problem:
    from gamebench.data.privacy import privacy_dataset

    return make_privacy_filter(privacy_dataset(dataset), **kwargs)


def filter_output(problem: Problem, u, x: np.ndarray) -> jax.Array:
    """The learned filter applied to data x (for the evaluation protocol)."""
    return apply_filter(problem.info["filter"], u["filter"], jnp.asarray(x, jnp.float32))
