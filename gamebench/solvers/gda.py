"""Gradient descent-ascent, simultaneous and alternating."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from gamebench.game import Info, Params, Problem, Solver, follower_loss
from gamebench.solvers.base import descend, initial_players, player_gradients


class GDAState(NamedTuple):
    u: Params  # leader, shaped as problem.init_u returns
    v: Params  # follower, shaped as problem.init_v returns
    opt_state_u: optax.OptState
    opt_state_v: optax.OptState


def init_pair(opt_u: optax.GradientTransformation, opt_v: optax.GradientTransformation):
    def init(problem: Problem, key: jax.Array) -> GDAState:
        u, candidates = initial_players(problem, key, 1)
        v = jax.tree.map(lambda leaf: leaf[0], candidates)
        return GDAState(u, v, opt_u.init(u), opt_v.init(v))

    return init


def readout_pair(problem: Problem, state: GDAState) -> tuple[Params, Params]:
    del problem
    return state.u, state.v


def descend_pair(
    opt_u: optax.GradientTransformation,
    opt_v: optax.GradientTransformation,
    problem: Problem,
    state: GDAState,
    grad_u: Params,
    grad_v: Params,
) -> GDAState:
    """Both players step from `state` along the given directions (each through its optimiser)."""
    u, opt_state_u = descend(opt_u, problem.project_u, state.u, grad_u, state.opt_state_u)
    v, opt_state_v = descend(opt_v, problem.project_v, state.v, grad_v, state.opt_state_v)
    return GDAState(u, v, opt_state_u, opt_state_v)


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
        grad_u, grad_v = player_gradients(problem, state.u, state.v, batch)
        new_state = descend_pair(opt_u, opt_v, problem, state, grad_u, grad_v)
        return new_state, {"grad_evals": jnp.int32(2)}

    return Solver(init_pair(opt_u, opt_v), step, readout_pair)


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

    return Solver(init_pair(opt_u, opt_v), step, readout_pair)


def gda_k(
    opt_u: optax.GradientTransformation, opt_v: optax.GradientTransformation, inner_steps: int
) -> Solver:
    """GDA with k follower steps per leader step (what GAN practitioners run, e.g. WGAN's n_critic).

        v <- P_V(v - eta_v grad_v g(u_t, v))   inner_steps times (a lax.scan), then
        u_{t+1} = P_U(u_t - eta_u grad_u f(u_t, v_{t+1}))
    inner_steps = 1 is `alt_gda`. Each inner step draws its own batch.
    """
    if inner_steps < 1:
        raise ValueError(f"inner_steps={inner_steps} is out of range: must be >= 1")

    def step(problem: Problem, state: GDAState, key: jax.Array) -> tuple[GDAState, Info]:
        key_inner, key_outer = jax.random.split(key)

        def follower_step(carry, key):
            v, opt_state_v = carry
            batch = problem.sample_batch(key)
            grad_v = jax.grad(follower_loss(problem), argnums=1)(state.u, v, batch)
            return descend(opt_v, problem.project_v, v, grad_v, opt_state_v), None

        (v, opt_state_v), _ = jax.lax.scan(
            follower_step, (state.v, state.opt_state_v), jax.random.split(key_inner, inner_steps)
        )
        batch = problem.sample_batch(key_outer)
        grad_u = jax.grad(problem.f, argnums=0)(state.u, v, batch)
        u, opt_state_u = descend(opt_u, problem.project_u, state.u, grad_u, state.opt_state_u)
        return GDAState(u, v, opt_state_u, opt_state_v), {"grad_evals": jnp.int32(inner_steps + 1)}

    return Solver(init_pair(opt_u, opt_v), step, readout_pair)


def optimistic_gda(
    opt_u: optax.GradientTransformation, opt_v: optax.GradientTransformation
) -> Solver:
    """Optimistic GDA (Daskalakis, Ilyas, Syrgkanis & Zeng, ICLR 2018).

    Simultaneous GDA on the optimistic gradients 2 g_t - g_{t-1} of both players:
        u_{t+1} = P_U(u_t - eta_u (2 grad_u f_t - grad_u f_{t-1})),  likewise for v on g.
    Built as `gda` with optax's `scale_by_optimistic_gradient` (alpha = beta = 1) chained in front of
    each player's transformation, so optimism composes with any step rule (sgd: OGDA; adam: OAdam).
    """
    return gda(
        optax.chain(optax.scale_by_optimistic_gradient(), opt_u),
        optax.chain(optax.scale_by_optimistic_gradient(), opt_v),
    )
