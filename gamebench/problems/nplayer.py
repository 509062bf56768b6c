"""N-player general-sum games with known Nash equilibria, the test bed of the N-player solvers
(gamebench/solvers/nplayer.py).

Player i chooses x_i in R^d and minimises its own loss l_i(x); a Nash equilibrium x* has
x*_i in argmin_{x_i} l_i(x_i, x*_{-i}) for every i. The game gradient xi(x) = (grad_{x_i} l_i)_i and
its Jacobian J decide what simultaneous play does: xi strongly monotone (the symmetric part of J
positive definite) makes every first-order method with a small step converge; merely monotone with
a skew J (the N-player bilinear game) makes simultaneous gradient play spiral out while
extragradient and optimistic steps converge (Mertikopoulos et al., ICLR 2019; Hsieh et al. 2019).

The profile u = x has shape (N, d); the two-player zero-sum Problem is the case N = 2 with
l_1 = f and l_2 = -f. `f` is the sum of the players' losses (logged, not optimised) and the metrics
add `xi_norm`, the norm of the game gradient (zero exactly at an interior equilibrium).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gamebench.game import Problem, Solution
from gamebench.params import Param, above, at_least, one_of

MONOTONICITY = ("strong", "merely")


def game_gradient(problem: Problem, x: jax.Array, batch=None) -> jax.Array:
    """xi(x): row i is the gradient of player i's loss in its own strategy x_i, (N, d). One VJP of
    the loss vector per player (N is small here; a block-diagonal Jacobian is never formed)."""
    losses = lambda x: problem.player_losses(x, batch)  # noqa: E731
    _, pullback = jax.vjp(losses, x)
    n = x.shape[0]
    rows = jax.vmap(lambda e: pullback(e)[0])(jnp.eye(n, dtype=x.dtype))  # (N, N, d)
    return rows[jnp.arange(n), jnp.arange(n)]


def _problem(name, losses, init, equilibrium, project=None, info=None) -> Problem:
    def metrics(u, v, key):
        del v, key
        return {"xi_norm": jnp.linalg.norm(game_gradient(problem, u))}

    problem = Problem(
        name=name,
        f=lambda u, v, batch: jnp.sum(losses(u, batch)),
        init_u=init,
        init_v=lambda key: jnp.zeros((0,), jnp.float32),
        project_u=project or (lambda x: x),
        metrics=metrics,
        solution=Solution(points=np.asarray(equilibrium, np.float32).reshape(1, -1), value=np.nan),
        info=info or {},
        player_losses=losses,
    )
    return problem


def make_quadratic_nplayer(
    *, players: int = 4, dim: int = 2, monotone: str = "strong", mu: float = 1.0,
    pairing: float = 1.0, coupling: float = 0.3, seed: int = 0, init_scale: float = 1.0,
) -> Problem:  # fmt: skip
    """l_i(x) = mu/2 |x_i|^2 + x_i . sum_{j != i} K_ij x_j + b_i . x_i with K (Nd x Nd) skew
    (K_ji = -K_ij^T) and zero diagonal blocks, so xi(x) = M x + b with M = mu I + K. K = pairing *
    (players 2k and 2k+1 in a bilinear game, K_{2k,2k+1} = I) + a random skew coupling of every pair
    of players (entries N(0, coupling^2 / (N d))): the pairing keeps the smallest singular value of
    K away from 0, so the merely monotone game is solvable in a few thousand steps.
    `strong`: mu > 0, xi is mu-strongly monotone. `merely`: mu = 0, xi is monotone but not strongly
    (the N-player bilinear game). b = -M x* for a drawn x* ~ N(0, 1): the unique equilibrium (M is
    checked to be invertible)."""
    if monotone not in MONOTONICITY:
        raise ValueError(f"unknown monotone {monotone!r}; allowed: {', '.join(MONOTONICITY)}")
    rng = np.random.default_rng(seed)
    size = players * dim
    a = rng.normal(0.0, coupling / np.sqrt(size), (size, size))
    for k in range(0, players - 1, 2):
        a[k * dim : (k + 1) * dim, (k + 1) * dim : (k + 2) * dim] += 0.5 * pairing * np.eye(dim)
    skew = a - a.T
    for i in range(players):  # a player's own block would not enter its gradient
        skew[i * dim : (i + 1) * dim, i * dim : (i + 1) * dim] = 0.0
    strength = mu if monotone == "strong" else 0.0
    m = strength * np.eye(size) + skew
    if np.linalg.cond(m) > 1e6:
        raise ValueError(
            f"players={players}, dim={dim}, seed={seed}: the game matrix is singular (an odd "
            "number of coordinates makes a skew matrix singular); choose players * dim even"
        )
    equilibrium = rng.normal(size=size)
    b = -m @ equilibrium
    coupling_matrix = jnp.asarray(skew, jnp.float32).reshape(players, dim, players, dim)
    offset = jnp.asarray(b, jnp.float32).reshape(players, dim)

    def losses(x, batch):
        del batch
        pull = jnp.einsum("idje,je->id", coupling_matrix, x)  # own blocks are zero
        return 0.5 * strength * jnp.sum(x * x, axis=1) + jnp.sum(x * (pull + offset), axis=1)

    def init(key):
        return init_scale * jax.random.normal(key, (players, dim), jnp.float32)

    return _problem(
        "quadratic_nplayer", losses, init, equilibrium.reshape(players, dim),
        info={"game_matrix_norm": float(np.linalg.norm(m, 2)), "monotone": monotone},
    )  # fmt: skip


def make_cournot(
    *, players: int = 5, intercept: float = 10.0, slope: float = 1.0, cost_low: float = 1.0,
    cost_high: float = 2.0, init_high: float = 3.0,
) -> Problem:  # fmt: skip
    """Cournot oligopoly: firm i produces q_i >= 0 at unit cost c_i (spread evenly over
    [cost_low, cost_high]), the price is intercept - slope * sum_j q_j, and its loss is minus its
    profit, l_i(q) = -q_i (intercept - slope * Q - c_i). Its game gradient slope (q_i + Q) - (intercept
    - c_i) is strongly monotone, and the equilibrium is q_i* = (intercept - (N+1) c_i + sum_j c_j) /
    ((N+1) slope), interior when positive (checked). Quantities start U(0, init_high) and are
    projected onto q >= 0."""
    costs = np.linspace(cost_low, cost_high, players)
    equilibrium = (intercept - (players + 1) * costs + costs.sum()) / ((players + 1) * slope)
    if (equilibrium <= 0).any():
        raise ValueError(
            f"intercept={intercept}, costs {cost_low}..{cost_high}: some firm produces nothing at "
            "equilibrium; raise intercept or lower cost_high"
        )
    c = jnp.asarray(costs, jnp.float32)[:, None]

    def losses(q, batch):
        del batch
        price = intercept - slope * jnp.sum(q)
        return -jnp.sum(q * (price - c), axis=1)

    def init(key):
        return jax.random.uniform(key, (players, 1), jnp.float32, 0.0, init_high)

    return _problem(
        "cournot", losses, init, equilibrium.reshape(players, 1),
        project=lambda q: jnp.maximum(q, 0.0), info={"costs": costs.tolist()},
    )  # fmt: skip


QUADRATIC_PARAMS = {
    "players": Param(4, "number of players N", at_least(2)),
    "dim": Param(2, "strategy dimension d of each player", at_least(1)),
    "monotone": Param("strong", "strong: mu I + skew; merely: skew only", one_of(*MONOTONICITY)),
    "mu": Param(1.0, "strong monotonicity modulus", above(0)),
    "pairing": Param(1.0, "bilinear game between players 2k and 2k+1", at_least(0)),
    "coupling": Param(0.3, "scale of the random skew coupling of all players", at_least(0)),
    "seed": Param(0, "draws the coupling and the equilibrium"),
    "init_scale": Param(1.0, "initial strategies N(0, init_scale^2)", above(0)),
}
COURNOT_PARAMS = {
    "players": Param(5, "number of firms N", at_least(2)),
    "intercept": Param(10.0, "inverse demand: price = intercept - slope * total", above(0)),
    "slope": Param(1.0, "inverse demand slope", above(0)),
    "cost_low": Param(1.0, "lowest unit cost", at_least(0)),
    "cost_high": Param(2.0, "highest unit cost", at_least(0)),
    "init_high": Param(3.0, "initial quantities U(0, init_high)", above(0)),
}
