"""Helpers the problem factories share (the interface itself is gamebench.game)."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from gamebench.game import Array, Params


def box_projection(bound: float) -> Callable[[Params], Params]:
    """Euclidean projection onto the box [-bound, bound]^n, leaf by leaf."""
    return lambda x: jax.tree.map(lambda a: jnp.clip(a, -bound, bound), x)


def uniform_init(shape: tuple[int, ...], radius: float) -> Callable[[Array], Array]:
    return lambda key: jax.random.uniform(key, shape, minval=-radius, maxval=radius)
