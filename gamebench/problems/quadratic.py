"""Unconstrained bilinear and quadratic games in n dimensions, with closed-form solutions.

bilinear:   f(u, v) = u' A v                                   u* = 0, value 0
quadratic:  f(u, v) = u' A u / 2 + u' B v - v' C v / 2         (C > 0)
            phi(u) = max_v f = u' (A + B C^{-1} B') u / 2, so u* = 0 and value 0 whenever
            A + B C^{-1} B' > 0 (the local and global minimax point).
kind = strongly_convex_concave: A, C with eigenvalues in [0.5, 2], B random (scaled by 1/sqrt(n)).
kind = ridge: A = -6 I, B = 4 I, C = 2 I, i.e. f = sum_i -3 u_i^2 + 4 u_i v_i - v_i^2, the example
       of Wang, Zhang & Ba (ICLR 2020, Fig. 1): nonconvex in u, yet phi(u) = |u|^2 and u* = 0 is
       the minimax point; simultaneous GDA with equal steps is repelled from it (both
       eigenvalues of its Jacobian are 2 > 0) while follow-the-ridge converges.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gamebench.game import Problem, Solution
from gamebench.params import Param, above, at_least, one_of

KINDS = ("strongly_convex_concave", "ridge")

# the config fields the factories read (gamebench.params)
DIM = Param(2, "dimension of u and of v", at_least(1))
INIT_SCALE = Param(1.0, "u0, v0 ~ N(0, init_scale^2 I)", above(0))
BILINEAR_PARAMS = {
    "dim": DIM,
    "matrix_seed": Param(None, "None: A = I; else a random A with singular values in [0.5, 2]"),
    "init_scale": INIT_SCALE,
}
QUADRATIC_PARAMS = {
    "kind": Param("strongly_convex_concave", "ridge: -3u^2 + 4uv - v^2 (FR paper)", one_of(*KINDS)),
    "dim": DIM,
    "matrix_seed": Param(0, "the random matrices"),
    "init_scale": INIT_SCALE,
}


def _spd(rng: np.random.Generator, dim: int, low: float, high: float) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return (q * rng.uniform(low, high, size=dim)) @ q.T


def _gaussian_init(dim: int, scale: float):
    return lambda key: scale * jax.random.normal(key, (dim,))


def make_bilinear(dim: int = 2, matrix_seed: int | None = None, init_scale: float = 1.0) -> Problem:
    """f(u, v) = u' A v on R^n x R^n; A = I, or (matrix_seed given) a random matrix with singular
    values in [0.5, 2]. The unique saddle point is (0, 0); phi is infinite off u = 0, so no gap."""
    if matrix_seed is None:
        a = np.eye(dim)
    else:
        rng = np.random.default_rng(matrix_seed)
        left, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        right, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        a = (left * rng.uniform(0.5, 2.0, size=dim)) @ right.T
    coupling = jnp.asarray(a, jnp.float32)
    return Problem(
        name="bilinear",
        f=lambda u, v, batch: u @ coupling @ v,
        init_u=_gaussian_init(dim, init_scale),
        init_v=_gaussian_init(dim, init_scale),
        solution=Solution(points=np.zeros((1, dim), np.float32), value=0.0),
        info={"dim": dim, "formula": "u' A v"},
    )


def make_quadratic(
    kind: str = "strongly_convex_concave",
    dim: int = 2,
    matrix_seed: int = 0,
    init_scale: float = 1.0,
) -> Problem:
    """The quadratic game u'Au/2 + u'Bv - v'Cv/2 of the given kind (see the module docstring)."""
    if kind == "strongly_convex_concave":
        rng = np.random.default_rng(matrix_seed)
        a, c = _spd(rng, dim, 0.5, 2.0), _spd(rng, dim, 0.5, 2.0)
        b = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    elif kind == "ridge":
        a, b, c = -6.0 * np.eye(dim), 4.0 * np.eye(dim), 2.0 * np.eye(dim)
    else:
        raise ValueError(f"unknown quadratic kind {kind!r}; allowed: {', '.join(KINDS)}")
    schur = a + b @ np.linalg.solve(c, b.T)  # phi(u) = u' schur u / 2
    assert np.linalg.eigvalsh(schur).min() > 0, "the minimax point must be u* = 0"
    a_, b_, c_, schur_ = (jnp.asarray(m, jnp.float32) for m in (a, b, c, schur))

    def f(u, v, batch):
        return 0.5 * u @ a_ @ u + u @ b_ @ v - 0.5 * v @ c_ @ v

    return Problem(
        name="quadratic",
        f=f,
        init_u=_gaussian_init(dim, init_scale),
        init_v=_gaussian_init(dim, init_scale),
        worst_case=lambda u: 0.5 * u @ schur_ @ u,
        solution=Solution(points=np.zeros((1, dim), np.float32), value=0.0),
        info={"dim": dim, "formula": f"u'Au/2 + u'Bv - v'Cv/2 ({kind})"},
    )
