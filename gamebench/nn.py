"""Tiny neural networks on plain pytrees (lists of (W, b) pairs), so that K copies of a network
stack on a leading axis with `jax.vmap(init)` and every solver treats them like any parameter."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

Array = jax.Array
Layer = tuple[Array, Array]  # W (in, out), b (out,)


def orthogonal(key: Array, shape: tuple[int, int], gain: float = 1.0, iters: int = 40) -> Array:
    """A uniformly random matrix with orthonormal columns (or rows, if wide), times `gain`.

    The orthogonal polar factor of a Gaussian matrix is Haar-distributed; we compute it by the
    Newton-Schulz iteration X <- X (3 I - X'X) / 2 from X = A / |A|_F (matrix products only). We do
    not call jax.nn.initializers.orthogonal: with jax 0.10.2 on CPU, its LAPACK QR for a generator
    vmapped over trials and for discriminators vmapped over trials x candidates, in one program,
    never returned (each alone ran fine).
    """
    rows, cols = shape
    tall = (max(rows, cols), min(rows, cols))
    a = jax.random.normal(key, tall, jnp.float32)
    x = a / jnp.linalg.norm(a)

    def newton_schulz(_, x):
        return 1.5 * x - 0.5 * x @ (x.T @ x)

    q = jax.lax.fori_loop(0, iters, newton_schulz, x)
    return gain * (q if rows >= cols else q.T)


def mlp_init(key: Array, sizes: Sequence[int], gain: float = 1.0) -> list[Layer]:
    """Dense layers sizes[0] -> sizes[1] -> ... with orthogonal weights of the given gain (Saxe et
    al. 2014; the K-beam and unrolled-GAN code use gain 1.4) and zero biases."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        (orthogonal(k, (fan_in, fan_out), gain), jnp.zeros((fan_out,), jnp.float32))
        for k, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:])
    ]


def mlp_apply(
    params: list[Layer], x: Array, activation: Callable[[Array], Array] = jnp.tanh
) -> Array:
    """x (batch, sizes[0]) -> (batch, sizes[-1]); `activation` on every hidden layer, none on the output."""
    for w, b in params[:-1]:
        x = activation(x @ w + b[None, :])
    w, b = params[-1]
    return x @ w + b[None, :]


def parameter_count(params) -> int:
    return sum(leaf.size for leaf in jax.tree.leaves(params))
