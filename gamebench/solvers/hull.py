"""Minimum-norm element of the convex hull of a few vectors, solved inside jit.

min_{w in simplex, w_i = 0 where not active} || sum_i w_i g_i ||^2 is a small quadratic program over
the simplex. We solve it with accelerated projected gradient (FISTA, Beck & Teboulle 2009) for a
fixed number of iterations: fixed shapes and no data-dependent control flow, so it vmaps over trials
and compiles into the solver's step. Frank-Wolfe would also do, but converges as O(1/t) against
FISTA's O(1/t^2) on this problem.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def project_to_simplex(y: Array, active: Array) -> Array:
    """Euclidean projection of y onto {w >= 0, sum w = 1, w_i = 0 where not active}.

    The projection is max(y - tau, 0) with tau = max_r (s_1 + ... + s_r - 1) / r over the sorted
    entries s (Held, Wolfe & Crowder 1974; Condat 2016). We take that max over "r = number of active
    entries >= y_i" for each i: O(k^2) comparisons instead of a sort, which fuses into a few
    elementwise kernels and is much faster than a sort for the small k of a beam.
    `active` must have at least one True.
    """
    at_least = active[None, :] & (y[None, :] >= y[:, None])  # [i, j]: j active and y_j >= y_i
    count = jnp.sum(at_least, axis=1)
    candidate = (jnp.sum(jnp.where(at_least, y[None, :], 0.0), axis=1) - 1.0) / jnp.maximum(
        count, 1
    )
    threshold = jnp.max(jnp.where(active, candidate, -jnp.inf))
    return jnp.where(active, jnp.maximum(y - threshold, 0.0), 0.0)


def min_norm_weights(vectors: Array, active: Array, iters: int = 100) -> Array:
    """Simplex weights w (zero off `active`) minimising ||w @ vectors||; vectors is (k, n)."""
    gram = vectors @ vectors.T
    # step 1/L, L >= the largest eigenvalue of the Gram matrix (the Lipschitz constant of the
    # gradient): the Gershgorin row-sum bound, cheap and tight when the gradients are near parallel
    lipschitz = jnp.maximum(jnp.max(jnp.sum(jnp.abs(gram), axis=1)), 1e-12)
    w0 = active / jnp.sum(active)

    def fista(carry, _):
        w, z, t = carry
        w_next = project_to_simplex(z - gram @ z / lipschitz, active)
        t_next = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        z_next = w_next + ((t - 1.0) / t_next) * (w_next - w)
        return (w_next, z_next, t_next), None

    (w, _, _), _ = jax.lax.scan(
        fista, (w0, w0, jnp.asarray(1.0, w0.dtype)), None, length=iters, unroll=10
    )
    return w


def random_convex_weights(key: Array, active: Array) -> Array:
    """Uniform random point of the simplex over the active coordinates (flat Dirichlet)."""
    draws = jnp.where(active, jax.random.exponential(key, active.shape), 0.0)
    return draws / jnp.sum(draws)
