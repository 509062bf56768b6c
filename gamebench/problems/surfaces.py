"""The 2D test surfaces of the K-beam paper (Hamm & Noh, ICML 2018, Sec. 5.1) and of its code base,
as n-dimensional games.

Each surface is a scalar payoff s(u, v) on the box [-0.5, 0.5]^2. In n dimensions the game is the
separable sum f(u, v) = sum_i s(u_i, v_i) on [-0.5, 0.5]^n x [-0.5, 0.5]^n, so its minimax set is
the product of the 1D sets and phi(u) = max_v f(u, v) = sum_i max_{v_i} s(u_i, v_i), which a dense
1D grid over v computes exactly up to grid resolution in any dimension.

Minimax sets u* and values phi(u*) = min_u max_v s(u, v) on [-0.5, 0.5]^2 (derivations in brackets):
    saddle                 5(u^2 - v^2)          u* = 0       0      [phi = 5u^2]
    rotated_saddle         u^2 - v^2 + 2uv       u* = 0       0      [best response v = u: phi = 2u^2]
    seesaw                 -v sin(pi u)          u* = 0       0      [phi = |sin(pi u)| / 2]
    monkey_saddle          v^3 - 3vu^2           u* = +-1/4   1/32   [phi = max(1/8 - 3u^2/2, 2|u|^3)]
    anti_saddle            -u^2 + v^2 + 2uv      u* = 0       1/4    [v = +-1/2: phi = -u^2 + |u| + 1/4]
    weapons (Danskin)      see _weapons          u* = 0       ~0.1657 (numerical; symmetric in u)
    classic_monkey_saddle  u^3 - 3uv^2           u* = 0       0      [phi = u^3 (u >= 0), u^3 - 3u/4]
    cos_sin                -0.1 cos(1.5 pi u) sin(1.5 pi v)   u* = +-1/3  0  [phi = 0.1 |cos(1.5 pi u)|]
    demyanov               cos(3 pi u (1.5v + 1)) / 3         u* = +-1/3  sqrt(2)/6
    counterexample         v^2 - |u - v|         u* = 0       0      [nonsmooth; phi(u) >= u^2]
The values are recomputed from the payoff on a dense grid (`Solution.value`) and tested against these.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from gamebench.game import Problem, Solution
from gamebench.params import Check, Param, at_least
from gamebench.problems.base import box_projection, uniform_init

Array = jax.Array

BOX = 0.5  # every surface lives on [-BOX, BOX]^2
_MAX_SOLUTION_POINTS = 4096  # the product set of a multi-root surface grows as roots**dim


@dataclass(frozen=True)
class Surface:
    """A scalar payoff s(u, v) (u minimises, v maximises) and its known 1D minimax set."""

    formula: str
    # elementwise on arrays of equal shape; xp is jax.numpy inside programs, numpy for the figure
    # and the minimax value (no JAX program is compiled for either)
    payoff: Callable[..., Array]
    minimax_u: tuple[float, ...]  # every minimiser of phi(u) = max_v s(u, v) on the box


def _weapons(u: Array, v: Array, xp=jnp) -> Array:
    return xp.exp(-10.0 * (u + 0.5) * xp.exp(-(v + 0.5))) + xp.exp(
        -10.0 * (0.5 - u) * xp.exp(v - 0.5)
    )


def _demyanov(u: Array, v: Array, xp=jnp) -> Array:
    # Demyanov's cos(u (v + pi/4)) on 0 <= v <= 3 pi / 2, translated to |v| <= 1/2 and u scaled by 3
    # as in the K-beam code base: phi(u) = cos(pi/4)/3 at u = +-1/3, where every v-endpoint ties
    return xp.cos(3.0 * xp.pi * u * (1.5 * v + 1.0)) / 3.0


SURFACES: dict[str, Surface] = {
    "saddle": Surface("5 (u^2 - v^2)", lambda u, v, xp=jnp: 5.0 * (u**2 - v**2), (0.0,)),
    "rotated_saddle": Surface(
        "u^2 - v^2 + 2 u v", lambda u, v, xp=jnp: u**2 - v**2 + 2.0 * u * v, (0.0,)
    ),
    "seesaw": Surface("-v sin(pi u)", lambda u, v, xp=jnp: -v * xp.sin(xp.pi * u), (0.0,)),
    "monkey_saddle": Surface(
        "v^3 - 3 v u^2", lambda u, v, xp=jnp: v**3 - 3.0 * v * u**2, (-0.25, 0.25)
    ),
    "anti_saddle": Surface(
        "-u^2 + v^2 + 2 u v", lambda u, v, xp=jnp: -(u**2) + v**2 + 2.0 * u * v, (0.0,)
    ),
    "weapons": Surface(
        "exp(-10 (u + .5) e^{-(v + .5)}) + exp(-10 (.5 - u) e^{v - .5})  (Danskin 1967)",
        _weapons,
        (0.0,),
    ),
    # the remaining surfaces of the K-beam code base (hammlab/k-beam-minimax, minimax_examples.py)
    "classic_monkey_saddle": Surface(
        "u^3 - 3 u v^2", lambda u, v, xp=jnp: u**3 - 3.0 * u * v**2, (0.0,)
    ),
    "cos_sin": Surface(
        "-0.1 cos(1.5 pi u) sin(1.5 pi v)",
        lambda u, v, xp=jnp: -0.1 * xp.cos(1.5 * xp.pi * u) * xp.sin(1.5 * xp.pi * v),
        (-1.0 / 3.0, 1.0 / 3.0),
    ),
    "demyanov": Surface(
        "cos(3 pi u (1.5 v + 1)) / 3  (Demyanov)", _demyanov, (-1.0 / 3.0, 1.0 / 3.0)
    ),
    "counterexample": Surface("v^2 - |u - v|", lambda u, v, xp=jnp: v**2 - xp.abs(u - v), (0.0,)),
}


def _phi_1d(surface: Surface, grid: np.ndarray, u: np.ndarray) -> np.ndarray:
    """max over the v-grid of s(u, v), for each entry of u (numpy, float64, once at construction)."""
    return surface.payoff(u[:, None], grid[None, :], np).max(axis=-1)


# the config fields make_surface reads (gamebench.params); every surface shares them
PARAMS = {
    "dim": Param(1, "u, v in R^dim; the game is the separable sum over coordinates", at_least(1)),
    "init_radius": Param(
        0.45, "u0, v0 ~ U(-r, r)^dim", Check(lambda r: 0 < r <= 0.5, "must be in (0, 0.5]")
    ),
    "phi_grid": Param(2001, "grid points per coordinate for phi(u) = max_v f(u, v)", at_least(2)),
}


def make_surface(
    name: str,
    dim: int = 1,
    init_radius: float = 0.45,
    phi_grid: int = 2001,
) -> Problem:
    """Build the surface `name` as an n-dimensional separable game (dim = n; dim=1 is the 2D surface).

    Metrics (besides the runner's f, gradient norm, distance to the minimax set and gap) come from
    the known solution; phi(u) is a max over a grid of `phi_grid` points on [-0.5, 0.5] per
    coordinate, so the reported gap phi(u) - phi(u*) is exact up to that resolution.
    """
    surface = SURFACES[name]
    if dim < 1:
        raise ValueError(f"dim={dim} is out of range: must be >= 1")
    n_points = len(surface.minimax_u) ** dim
    if n_points > _MAX_SOLUTION_POINTS:
        raise ValueError(
            f"dim={dim} gives {n_points} minimax points for {name}; "
            f"at most {_MAX_SOLUTION_POINTS} are supported"
        )
    payoff = surface.payoff

    def f(u: Array, v: Array, batch: None = None) -> Array:
        del batch
        return jnp.sum(payoff(u, v))

    grid = jnp.linspace(-BOX, BOX, phi_grid)

    def worst_case(u: Array) -> Array:
        # (dim, grid) payoffs; max over v per coordinate, then sum: exact for a separable game.
        return jnp.sum(jnp.max(payoff(u[:, None], grid[None, :]), axis=1))

    points = np.array(list(itertools.product(surface.minimax_u, repeat=dim)), dtype=np.float32)
    dense = np.linspace(-BOX, BOX, 200_001)
    value = float(dim * _phi_1d(surface, dense, np.array([surface.minimax_u[0]]))[0])
    return Problem(
        name=name,
        f=f,
        init_u=uniform_init((dim,), init_radius),
        init_v=uniform_init((dim,), init_radius),
        project_u=box_projection(BOX),
        project_v=box_projection(BOX),
        worst_case=worst_case,
        solution=Solution(points=points, value=value),
        # payoff_numpy: the figure's contours, drawn without JAX
        info={
            "box": BOX,
            "dim": dim,
            "formula": surface.formula,
            "payoff_numpy": lambda u, v: payoff(u, v, np),
        },
    )
