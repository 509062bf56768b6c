"""Gradient descent-ascent, simultaneous and alternating."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from gamebench.problems.base import Params, Problem, follower_loss
from gamebench.solvers.base import Info, Solver, descend, initial_players


class GDAState(NamedTuple):
    u: Params  # leader, shaped as problem.init_u returns
    v: Params  # follower, shaped as problem.init_v returns
    opt_state_u: optax.OptState
    opt_state_v: optax.OptState


def _init(opt_u: optax.GradientTransformation, opt_v: optax.GradientTransformation):
    def init(problem: Problem, key: jax.Array) -> GDAState:
        u, candidates = initial_players(problem, key, 1)
        v = jax.tree.map(lambda leaf: leaf[0], candidates)
        return GDAState(u, v, opt_u.init(u), opt_v.init(v))

    return init


def _readout(problem: Problem, state: GDAState) -> tuple[Params, Params]:
    del problem
    return state.u, state.v


def gda(opt_u: optax.GradientTransformation, opt_v: optax.GradientTransformation) -> Solver:
    """Simultaneous gradient descent-ascent.

    Both players step from the same point (u_t, v_t):
        u_{t+1} = P_U(u_t - eta_u grad_u f(u_t, v_t))
        v_{t+1} = P_V(v_t - eta_v grad_v g(u_t, v_t)),   g = -f for a zero-sum game
    with eta and the step rule given by each player's optax transformation. On f = u v it spirals
    outwards (e.g. Mescheder et al., NeurIPS 2017); this is what gradient reversal layers compute.
    """

    def step(problem: Problem, state: GDAState, key: jax.Array) -> tuple[GDAState, Info]:
        batch = problem.sample_batch(key)
        grad_u = jax.grad(problem.f, argnums=0)(state.u, state.v, batch)
        grad_v = jax.grad(follower_loss(problem), argnums=1)(state.u, state.v, batch)
        u, opt_state_u = descend(opt_u, problem.project_u, state.u, grad_u, state.opt_state_u)
        v, opt_state_v = descend(opt_v, problem.project_v, state.v, grad_v, state.opt_state_v)
        return GDAState(u, v, opt_state_u, opt_state_v), {"grad_evals": jnp.int32(2)}

    return Solver(_init(opt_u, opt_v), step, _readout)


def alt_gda(opt_u: optax.GradientTransformation, opt_v: optax.GradientTransformation) -> Solver:
    """Alternating gradient descent-ascent: the max step first, then the min step at the new v.

        v_{t+1} = P_V(v_t - eta_v grad_v g(u_t, v_t))
        u_{t+1} = P_U(u_t - eta_u grad_u f(u_t, v_{t+1}))
    (the Alt-GD baseline of Hamm & Noh, ICML 2018, Sec. 5.1).
    """

    def step(problem: Problem, state: GDAState, key: jax.Array) -> tuple[GDAState, Info]:
        batch = problem.sample_batch(key)
        grad_v = jax.grad(follower_loss(problem), argnums=1)(state.u, state.v, batch)
        v, opt_state_v = descend(opt_v, problem.project_v, state.v, grad_v, state.opt_state_v)
        grad_u = jax.grad(problem.f, argnums=0)(state.u, v, batch)
        u, opt_state_u = descend(opt_u, problem.project_u, state.u, grad_u, state.opt_state_u)
        return GDAState(u, v, opt_state_u, opt_state_v), {"grad_evals": jnp.int32(2)}

    return Solver(_init(opt_u, opt_v), step, _readout)
