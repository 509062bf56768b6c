"""Solvers that look ahead before stepping: extragradient and unrolled follower steps."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from gamebench.game import Info, Problem, Solver, follower_loss
from gamebench.solvers.base import descend, player_gradients
from gamebench.solvers.gda import GDAState, descend_pair, init_pair, readout_pair


def extragradient(
    opt_u: optax.GradientTransformation, opt_v: optax.GradientTransformation
) -> Solver:
    """Extragradient (Korpelevich, 1976; as a GAN optimiser, Gidel et al., ICLR 2019).

    Extrapolate with the gradients at (u_t, v_t), then step from (u_t, v_t) with the gradients at
    the extrapolated point:
        u_{t+1/2} = P_U(u_t - eta_u grad_u f(u_t, v_t)),      v_{t+1/2} likewise on g
        u_{t+1}   = P_U(u_t - eta_u grad_u f(u_{t+1/2}, v_{t+1/2})),   v_{t+1} likewise
    The extrapolation uses each optimiser's update from the current state and discards the state it
    would produce (extra-Adam for adam); converges on the bilinear game where GDA spirals out.
    """

    def step(problem: Problem, state: GDAState, key: jax.Array) -> tuple[GDAState, Info]:
        batch = problem.sample_batch(key)
        grad_u, grad_v = player_gradients(problem, state.u, state.v, batch)
        u_half, _ = descend(opt_u, problem.project_u, state.u, grad_u, state.opt_state_u)
        v_half, _ = descend(opt_v, problem.project_v, state.v, grad_v, state.opt_state_v)
        grad_u, grad_v = player_gradients(problem, u_half, v_half, batch)
        new_state = descend_pair(opt_u, opt_v, problem, state, grad_u, grad_v)
        return new_state, {"grad_evals": jnp.int32(4)}

    return Solver(init_pair(opt_u, opt_v), step, readout_pair)


def unrolled(
    opt_u: optax.GradientTransformation, opt_v: optax.GradientTransformation, inner_steps: int
) -> Solver:
    """Unrolled follower (Metz, Poole, Pfau & Sohl-Dickstein, "Unrolled GANs", ICLR 2017).

    The leader descends the surrogate f(u, v_T(u)), where v_T(u) is `inner_steps` follower steps
    from v_t (with the follower's own optimiser and projection) and the gradient flows through them:
        u_{t+1} = P_U(u_t - eta_u d/du f(u, v_T(u)) |_{u_t})
        v_{t+1} = P_V(v_t - eta_v grad_v g(u_t, v_t))      (the follower's ordinary step)
    Cost: inner_steps + 2 gradients, and inner_steps HVPs for back-propagating through the unroll.
    """
    if inner_steps < 1:
        raise ValueError(f"inner_steps={inner_steps} is out of range: must be >= 1")

    def step(problem: Problem, state: GDAState, key: jax.Array) -> tuple[GDAState, Info]:
        batch = problem.sample_batch(key)
        loss_v = follower_loss(problem)

        def surrogate(u):
            def follower_step(carry, _):
                v, opt_state_v = carry
                grad_v = jax.grad(loss_v, argnums=1)(u, v, batch)
                return descend(opt_v, problem.project_v, v, grad_v, opt_state_v), None

            (v_T, _), _ = jax.lax.scan(
                follower_step, (state.v, state.opt_state_v), None, length=inner_steps
            )
            return problem.f(u, v_T, batch)

        grad_u = jax.grad(surrogate)(state.u)
        grad_v = jax.grad(loss_v, argnums=1)(state.u, state.v, batch)
        info = {"grad_evals": jnp.int32(inner_steps + 2), "hvps": jnp.int32(inner_steps)}
        return descend_pair(opt_u, opt_v, problem, state, grad_u, grad_v), info

    return Solver(init_pair(opt_u, opt_v), step, readout_pair)
