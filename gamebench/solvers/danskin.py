"""Best-response (Danskin) descent: solve the inner problem, then a line-searched leader step.

The method of the minimax-filter literature (Hamm, JMLR 2017, Alg. 1; Danskin 1967): where
phi(u) = max_v f(u, v) has a unique maximiser v*(u), grad phi(u) = grad_u f(u, v*(u)).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from gamebench.game import Info, Params, Problem, Solver, follower_loss
from gamebench.solvers.base import descend, initial_players, out_of_range, take


class DanskinState(NamedTuple):
    u: Params
    v: Params
    opt_state_inner: optax.OptState  # the leader's inner blocks (empty tuple when it has none)
    opt_state_v: optax.OptState
    step_size: jax.Array  # float32 (): the last accepted leader step (0 when none was)


def _inner_keys(problem: Problem) -> tuple[str, ...]:
    return tuple(problem.info.get("inner_u", ()))


def _inner_blocks(problem: Problem, u: Params):
    """The leader blocks solved with the follower (a dict's keys in info["inner_u"]; () if none)."""
    keys = _inner_keys(problem)
    return {k: u[k] for k in keys} if keys else ()


def _with_blocks(u: Params, inner) -> Params:
    return {**u, **inner} if inner else u


def _best_response(problem, opt_u, opt_v, state: DanskinState, batch, inner_steps: int):
    """`inner_steps` follower steps (and steps on the leader's inner blocks) from a warm start:
    returns (u, v, inner optimiser state, follower optimiser state)."""
    follower = follower_loss(problem)
    has_inner = bool(_inner_keys(problem))

    def inner_step(carry, _):
        u, v, s_inner, s_v = carry
        grad_v = jax.grad(follower, argnums=1)(u, v, batch)
        v, s_v = descend(opt_v, problem.project_v, v, grad_v, s_v)
        if has_inner:
            inner = _inner_blocks(problem, u)
            grad_inner = jax.grad(lambda b: problem.f(_with_blocks(u, b), v, batch))(inner)
            updates, s_inner = opt_u.update(grad_inner, s_inner, inner)
            u = _with_blocks(u, optax.apply_updates(inner, updates))
        return (u, v, s_inner, s_v), None

    carry = (state.u, state.v, state.opt_state_inner, state.opt_state_v)
    carry, _ = jax.lax.scan(inner_step, carry, None, length=inner_steps)
    return carry


def _armijo_step(problem: Problem, u: Params, v: Params, batch, trial_steps, armijo: float):
    """The leader's line-searched step along Danskin's gradient at the follower's best response:
    returns (u moved, the accepted step size or 0)."""
    value, grad_u = jax.value_and_grad(problem.f)(u, v, batch)
    if _inner_keys(problem):  # the inner blocks are at their optimum: no outer step on them
        zeros = jax.tree.map(jnp.zeros_like, _inner_blocks(problem, grad_u))
        grad_u = _with_blocks(grad_u, zeros)
    grad_sq = sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grad_u))

    def trial(t):
        moved = problem.project_u(jax.tree.map(lambda p, g: p - t * g, u, grad_u))
        return problem.f(moved, v, batch)

    values = jax.vmap(trial)(trial_steps)
    accepted = values <= value - armijo * trial_steps * grad_sq
    index = jnp.argmax(accepted)  # the first (largest) accepted step
    t = jnp.where(accepted[index], trial_steps[index], 0.0)
    return problem.project_u(jax.tree.map(lambda p, g: p - t * g, u, grad_u)), t


def danskin(
    opt_u: optax.GradientTransformation,
    opt_v: optax.GradientTransformation,
    inner_steps: int,
    eta: float,
    backtracks: int = 12,
    shrink: float = 0.5,
    armijo: float = 1e-4,
) -> Solver:
    """Danskin descent with an inner solve and a backtracking (Armijo) line search.

    Each iteration, from a warm start:
        repeat inner_steps:  v <- P_V(v - opt_v(grad_v g(u, v)))          (the follower's best response)
                             u_B <- u_B - opt_u(grad_{u_B} f(u, v))       (leader blocks marked inner)
        d = grad_u f(u, v*) on the other leader blocks (Danskin's gradient of phi)
        t = the largest of eta, eta * shrink, ..., eta * shrink^(backtracks-1) with
            f(P_U(u - t d), v*) <= f(u, v*) - armijo * t * |d|^2       (all trial steps vmapped)
        u <- P_U(u - t d); no move when no trial step satisfies the condition.
    A problem marks leader blocks to solve inner with info["inner_u"] (keys of a dict u); the privacy
    filter marks its utility classifier w, so w and v are fitted before each filter step.
    """
    if inner_steps < 1:
        raise ValueError(f"inner_steps={inner_steps} is out of range: must be >= 1")
    if out_of_range(eta, lambda e: e > 0):
        raise ValueError(f"eta={eta} is out of range: must be > 0")
    trial_steps = eta * shrink ** jnp.arange(backtracks, dtype=jnp.float32)

    def init(problem: Problem, key: jax.Array) -> DanskinState:
        u, candidates = initial_players(problem, key, 1)
        v = take(candidates, 0)
        inner = _inner_blocks(problem, u)
        return DanskinState(u, v, opt_u.init(inner), opt_v.init(v), jnp.float32(eta))

    def step(problem: Problem, state: DanskinState, key: jax.Array) -> tuple[DanskinState, Info]:
        batch = problem.sample_batch(key)
        u, v, s_inner, s_v = _best_response(problem, opt_u, opt_v, state, batch, inner_steps)
        u, t = _armijo_step(problem, u, v, batch, trial_steps, armijo)
        grads_per_inner = 2 if _inner_keys(problem) else 1
        info = {"grad_evals": jnp.int32(inner_steps * grads_per_inner + 1)}
        return DanskinState(u, v, s_inner, s_v, t), info

    def readout(problem: Problem, state: DanskinState):
        del problem
        return state.u, state.v

    return Solver(init, step, readout)
