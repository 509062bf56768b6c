"""Baselines as jobs: a solver with no iterations."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from gamebench.game import Info, Params, Problem, Solver
from gamebench.metrics import COSTS
from gamebench.params import Param
from gamebench.solvers.base import initial_players, take

INITIAL = "initial"
# the names a problem allows are its Problem.baselines (declared in its ProblemSpec)
BASELINE = Param(INITIAL, "baseline: the problem's named players (initial: untrained)")


class BaselineState(NamedTuple):
    u: Params
    v: Params


def baseline(name: str = INITIAL) -> Solver:
    """The players of the problem's baseline `name`, evaluated at every log point; no updates.

    `initial` is the problem's initial players (u_0, v_0), untrained; other names are the problem's
    own (Problem.baselines: a closed-form privacy filter, a classifier fitted on the noisy, the
    validation-only or the oracle-cleaned training set of hyper-cleaning). The update rule is
    (u_{t+1}, v_{t+1}) = (u_t, v_t), so a baseline is a row of the same sweep, protocol and report
    as the methods it is compared with, and costs no gradients.
    """

    def init(problem: Problem, key: jax.Array) -> BaselineState:
        if name == INITIAL:
            u, candidates = initial_players(problem, key, 1)
            return BaselineState(u, take(candidates, 0))
        if name not in problem.baselines:
            allowed = ", ".join([INITIAL, *problem.baselines])
            raise ValueError(
                f"problem {problem.name!r} has no baseline {name!r}; allowed: {allowed}"
            )
        return BaselineState(*problem.baselines[name](key))

    def step(problem: Problem, state: BaselineState, key: jax.Array) -> tuple[BaselineState, Info]:
        del problem, key
        return state, {cost: jnp.zeros((), jnp.int32) for cost in COSTS}

    def readout(problem: Problem, state: BaselineState) -> tuple[Params, Params]:
        del problem
        return state.u, state.v

    return Solver(init, step, readout)
