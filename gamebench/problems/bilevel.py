"""Bilevel problems with known answers: the leader u minimises f(u, v*(u)), v*(u) in argmin_v g(u, v).

quadratic_bilevel (n-dimensional, closed form):
    g(u, v) = 1/2 v'Hv - v'Bu,  f(u, v) = 1/2 |v - c|^2 + mu/2 |u|^2,  H SPD (eigenvalues in [1, 4])
    v*(u) = H^{-1} B u,  dF/du = mu u + B' H^{-1} (v*(u) - c),
    u* solves (mu I + B' H^{-2} B) u = B' H^{-1} c.

The synthetic problems of the penalty paper (Mehra & Hamm, ACML 2021; its code names them SMD20,
SMD21, SMD23, SMD24), with u = (u1, u2), v = (v1, v2) of `dim` coordinates each (the paper: two
blocks of 10), all on the box [-5, 5], initialised uniformly on it, A = diag-block of two random
(dim/4 x dim/2) Gaussian matrices (seeded) and P the orthogonal projection onto A's row space:
    smd20  f = |u|^2 + |v|^2 - 1,        g = |1 - u - v|^2          u* = v* = 1/2
    smd21  f = |v|^2 - |u - v|^2,         g = |u - v|^2              u* = v* = 0  (not a saddle)
    smd23  f = |v|^2 - |A(u - v)|^2,      g = |A(u - v)|^2           lower-level solutions
           v in u + Null(A) (not a singleton); the optimistic answer u in Null(A), v = 0
    smd24  f = |u|^2 + |v|^2,            g = |A(1 - u - v)|^2       P u* = P v* = P 1/2
    distance to the solution set (the paper's err): smd20 |(u, v) - 1/2|, smd21 |(u, v)|,
    smd23 sqrt(|P u|^2 + |v|^2), smd24 sqrt(|P(u - 1/2)|^2 + |P(v - 1/2)|^2).

iaptt_toy (Liu et al., NeurIPS 2021): min over x in [1, 10] of x + x y, y in argmin over [-2, 2] of
-sin(x y). Global optimum x* = 11 pi / 4, y* = -2, F* = -11 pi / 4; weaker local optima at 3 pi / 4
and 7 pi / 4 (where the follower's best response jumps). Starts from x0 = 1, y0 = 2 (as the paper).

Metrics: dist (above) and upper_value = f(u, v) at the current pair.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from gamebench.game import Problem, Solution
from gamebench.params import Param, at_least, one_of
from gamebench.problems.base import box_projection

SMD = ("smd20", "smd21", "smd23", "smd24")

# the config fields the factories read (gamebench.params)
SMD_PARAMS = {
    "which": Param("smd20", "the penalty paper's synthetic problem", one_of(*SMD)),
    "dim": Param(20, "coordinates of u and of v (two blocks; a multiple of 4)", at_least(4)),
    "matrix_seed": Param(0, "A of smd23 / smd24"),
}
QUADRATIC_BILEVEL_PARAMS = {
    "dim": Param(5, "dimension of u and of v", at_least(1)),
    "matrix_seed": Param(0, "the random matrices"),
    "mu": Param(0.1, "the leader's ridge", at_least(0)),
    "curvature": Param(
        0.0, "> 0: curvature * sum log cosh(v) added to g (no closed form)", at_least(0)
    ),
}
BOX = 5.0


def _sq(x):
    return jnp.sum(jnp.square(x))


def make_quadratic_bilevel(
    dim: int = 5, matrix_seed: int = 0, mu: float = 0.1, curvature: float = 0.0
) -> Problem:
    """The quadratic bilevel problem of the module docstring. curvature > 0 adds
    curvature * sum log cosh(v) to g, a smooth nonlinearity without closed form (then solution and
    the hypergradient are not given): differentiating its follower steps in reverse mode must store
    every step's v, which a linear follower step does not (the cost table uses it)."""
    rng = np.random.default_rng(matrix_seed)
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    h = (q * rng.uniform(1.0, 4.0, dim)) @ q.T
    b = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    c = rng.standard_normal(dim)
    h_inv = np.linalg.inv(h)
    u_star = np.linalg.solve(mu * np.eye(dim) + b.T @ h_inv @ h_inv @ b, b.T @ h_inv @ c)
    H, B, C = (jnp.asarray(a, jnp.float32) for a in (h, b, c))

    def f(u, v, batch):
        del batch
        return 0.5 * _sq(v - C) + 0.5 * mu * _sq(u)

    def g(u, v, batch):
        del batch
        smooth = curvature * jnp.sum(jnp.log(jnp.cosh(v))) if curvature else 0.0
        return 0.5 * v @ H @ v - v @ (B @ u) + smooth

    def best_response(u):
        return jnp.linalg.solve(H, B @ u)

    def metrics(u, v, key):
        del key
        return {"upper_value": f(u, best_response(u), None)}

    game = Problem(
        name="quadratic_bilevel",
        f=f,
        g=g,
        init_u=lambda key: jax.random.normal(key, (dim,)),
        init_v=lambda key: jax.random.normal(key, (dim,)),
        metrics=lambda u, v, key: {"upper_value": f(u, v, None)},
    )
    if curvature:  # no closed form: no solution, and the upper value at the follower's v
        return game
    return dataclasses.replace(
        game,
        metrics=metrics,
        solution=Solution(
            u_star[None, :].astype(np.float32), float(f(u_star, h_inv @ b @ u_star, None))
        ),
        info={
            "hypergradient": lambda u: mu * u + B.T @ jnp.linalg.solve(H, best_response(u) - C),
            "best_response": best_response,
        },
    )


def make_smd(name: str, dim: int = 20, matrix_seed: int = 0) -> Problem:
    """One of the penalty paper's synthetic problems; u, v in [-5, 5]^dim (dim even)."""
    if name not in SMD:
        raise ValueError(f"unknown problem {name!r}; allowed: {', '.join(SMD)}")
    if dim < 4 or dim % 4:
        raise ValueError(
            f"dim={dim} is out of range: need a multiple of 4 (two blocks, A halves each)"
        )
    half = dim // 2
    rng = np.random.default_rng(matrix_seed)
    blocks = [rng.standard_normal((half // 2, half)) for _ in range(2)]
    a = np.zeros((dim // 2, dim))
    a[: half // 2, :half], a[half // 2 :, half:] = blocks
    projection = a.T @ np.linalg.solve(a @ a.T, a)  # onto the row space of A
    A, P = jnp.asarray(a, jnp.float32), jnp.asarray(projection, jnp.float32)

    def f(u, v, batch):
        del batch
        if name == "smd20":
            return _sq(u) + _sq(v) - 1.0
        if name == "smd21":
            return _sq(v) - _sq(u - v)
        if name == "smd23":
            return _sq(v) - _sq(A @ (u - v))
        return _sq(u) + _sq(v)

    def g(u, v, batch):
        del batch
        if name == "smd20":
            return _sq(1.0 - u - v)
        if name == "smd21":
            return _sq(u - v)
        if name == "smd23":
            return _sq(A @ (u - v))
        return _sq(A @ (1.0 - u - v))

    def dist(u, v):
        if name == "smd20":
            return jnp.sqrt(_sq(u - 0.5) + _sq(v - 0.5))
        if name == "smd21":
            return jnp.sqrt(_sq(u) + _sq(v))
        if name == "smd23":
            return jnp.sqrt(_sq(P @ u) + _sq(v))
        return jnp.sqrt(_sq(P @ (u - 0.5)) + _sq(P @ (v - 0.5)))

    def metrics(u, v, key):
        del key
        return {"dist": dist(u, v), "upper_value": f(u, v, None)}

    def uniform(key):
        return jax.random.uniform(key, (dim,), minval=-BOX, maxval=BOX)

    return Problem(
        name="smd",
        f=f,
        g=g,
        init_u=uniform,
        init_v=uniform,
        project_u=box_projection(BOX),
        project_v=box_projection(BOX),
        metrics=metrics,
        headline="dist",
        info={"which": name, "matrix": a},
    )


def make_iaptt_toy() -> Problem:
    """The IAPTT-GM paper's example; u = x in [1, 10], v = y in [-2, 2], from x0 = 1, y0 = 2."""
    x_star = 11 * np.pi / 4

    def f(u, v, batch):
        del batch
        return u[0] + u[0] * v[0]

    def g(u, v, batch):
        del batch
        return -jnp.sin(u[0] * v[0])

    def metrics(u, v, key):
        del key
        return {"dist": jnp.abs(u[0] - x_star), "upper_value": f(u, v, None)}

    return Problem(
        name="iaptt_toy",
        f=f,
        g=g,
        init_u=lambda key: jnp.ones((1,)),
        init_v=lambda key: jnp.full((1,), 2.0),
        project_u=lambda u: jnp.clip(u, 1.0, 10.0),
        project_v=lambda v: jnp.clip(v, -2.0, 2.0),
        metrics=metrics,
        headline="dist",
        info={"x_star": x_star, "value": -x_star},
    )
