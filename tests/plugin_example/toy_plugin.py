"""A solver and a problem added from outside the package: the README's worked example.

    GAMEBENCH_PLUGINS=toy_plugin gamebench solver=damped_gda problem=toy_quadratic \
        'hydra.searchpath=[file://DIR/configs]'

The factory declares its fields; the YAML files in configs/ name the schemas; nothing in the
package changes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from gamebench.game import Problem, Solution
from gamebench.params import Param, above, within
from gamebench.problems import ProblemSpec, register_problem
from gamebench.solvers import SolverSpec, register_solver
from gamebench.solvers.base import player_gradients
from gamebench.solvers.gda import GDAState, descend_pair, init_pair, readout_pair


def damped_gda(opt_u, opt_v, damping: float):
    """GDA whose follower step is scaled by (1 - damping): v_{t+1} = v_t - (1 - d) eta_v grad_v g."""

    def step(problem, state: GDAState, key):
        grad_u, grad_v = player_gradients(problem, state.u, state.v, None)
        grad_v = jax.tree.map(lambda g: (1 - damping) * g, grad_v)
        return descend_pair(opt_u, opt_v, problem, state, grad_u, grad_v), {"grad_evals": 2}

    from gamebench.game import Solver

    return Solver(init_pair(opt_u, opt_v), step, readout_pair)


def toy_quadratic(curvature: float):
    """f(u, v) = curvature u^2 / 2 + u v - v^2 / 2: the saddle point (0, 0) is the minimax point."""
    return Problem(
        name="toy_quadratic",
        f=lambda u, v, batch: 0.5 * curvature * u @ u + u @ v - 0.5 * v @ v,
        init_u=lambda key: jax.random.normal(key, (1,)),
        init_v=lambda key: jax.random.normal(key, (1,)),
        solution=Solution(jnp.zeros((1, 1)), 0.0),
    )


register_solver(
    "damped_gda",
    SolverSpec(
        damped_gda, {"damping": Param(0.5, "share of the follower step removed", within(0, 1))}
    ),
)
register_problem(
    "toy_quadratic",
    ProblemSpec(
        toy_quadratic, {"curvature": Param(1.0, "the leader's curvature", above(0))}, small=True
    ),
)
