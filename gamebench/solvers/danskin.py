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

    def split(problem: Problem, u: Params):
        keys = _inner_keys(problem)
        return {k: u[k] for k in keys} if keys else ()

    def merge(u: Params, inner) -> Params:
        return {**u, **inner} if inner else u

    def init(problem: Problem, key: jax.Array) -> DanskinState:
        u, candidates = initial_players(problem, key, 1)
        v = take(candidates, 0)
        return DanskinState(u, v, opt_u.init(split(problem, u)), opt_v.init(v), jnp.float32(eta))

    def step(problem: Problem, state: DanskinState, key: jax.Array) -> tuple[DanskinState, Info]:
        batch = problem.sample_batch(key)
        follower = follower_loss(problem)
        has_inner = bool(_inner_keys(problem))

        def inner_step(carry, _):
            u, v, s_inner, s_v = carry
            grad_v = jax.grad(follower, argnums=1)(u, v, batch)
            v, s_v = descend(opt_v, problem.project_v, v, grad_v, s_v)
            if has_inner:
                inner = split(problem, u)
                grad_inner = jax.grad(lambda b: problem.f(merge(u, b), v, batch))(inner)
                updates, s_inner = opt_u.update(grad_inner, s_inner, inner)
                u = merge(u, optax.apply_updates(inner, updates))
            return (u, v, s_inner, s_v), None

        (u, v, s_inner, s_v), _ = jax.lax.scan(
            inner_step,
            (state.u, state.v, state.opt_state_inner, state.opt_state_v),
            None,
            length=inner_steps,
        )
        value, grad_u = jax.value_and_grad(problem.f)(u, v, batch)
        if has_inner:  # the inner blocks are at their optimum: no outer step on them
            grad_u = merge(grad_u, jax.tree.map(jnp.zeros_like, split(problem, grad_u)))
        grad_sq = sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves(grad_u))

        def trial(t):
            moved = problem.project_u(jax.tree.map(lambda p, g: p - t * g, u, grad_u))
            return problem.f(moved, v, batch)

        values = jax.vmap(trial)(trial_steps)
        accepted = values <= value - armijo * trial_steps * grad_sq
        index = jnp.argmax(accepted)  # the first (largest) accepted step
        t = jnp.where(accepted[index], trial_steps[index], 0.0)
        u = problem.project_u(jax.tree.map(lambda p, g: p - t * g, u, grad_u))
        grads_per_inner = 2 if has_inner else 1
        info = {"grad_evals": jnp.int32(inner_steps * grads_per_inner + 1)}
        return DanskinState(u, v, s_inner, s_v, t), info

    def readout(problem: Problem, state: DanskinState):
        del problem
        return state.u, state.v

    return Solver(init, step, readout)
