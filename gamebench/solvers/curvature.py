"""Solvers that use second-order information of the game through Jacobian-vector products:
consensus optimisation, symplectic gradient adjustment, follow-the-ridge, competitive gradient descent.

xi(u, v) = (grad_u f, grad_v g) is the simultaneous gradient (each player's gradient of its own
loss) and J its Jacobian in (u, v). Every product with J, J^T or a Hessian block is one `jax.jvp` or
`jax.vjp` of a gradient (one HVP in the cost accounting); no matrix is ever formed or inverted.
Linear systems are solved by conjugate gradients with a fixed number of iterations, inside jit.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from gamebench.game import Info, Params, Problem, Solver, follower_loss
from gamebench.solvers.base import descend, out_of_range, player_gradients
from gamebench.solvers.gda import GDAState, descend_pair, init_pair, readout_pair

Array = jax.Array


def conjugate_gradient(
    matvec: Callable[[Array], Array], rhs: Array, iters: int, stop_at_negative_curvature=False
) -> Array:
    """Solve A x = rhs for symmetric definite A by `iters` CG iterations from x = 0 (fixed count, so
    it compiles to a scan and vmaps; a zero residual stops progress without dividing by zero).

    stop_at_negative_curvature: for A that may be indefinite (the Hessian of a non-convex follower),
    the iterate stops at the first direction p with p'Ap <= 0, as truncated Newton-CG does
    (Nocedal & Wright, Alg. 7.1); plain CG would divide by a curvature near 0 there and blow up.
    Where A is definite both give the same numbers."""

    def safe_div(a, b):
        return jnp.where(b != 0, a / jnp.where(b != 0, b, 1.0), 0.0)

    def body(carry, _):
        x, r, p, rr, stopped = carry
        ap = matvec(p)
        curvature = jnp.vdot(p, ap)
        if stop_at_negative_curvature:
            stopped = stopped | (curvature <= 0)
            curvature = jnp.where(stopped, 0.0, curvature)
        alpha = safe_div(rr, curvature)
        x, r = x + alpha * p, r - alpha * ap
        rr_next = jnp.vdot(r, r)
        p = r + safe_div(rr_next, rr) * p
        return (x, r, p, rr_next, stopped), None

    start = (jnp.zeros_like(rhs), rhs, rhs, jnp.vdot(rhs, rhs), jnp.bool_(False))
    (x, _, _, _, _), _ = jax.lax.scan(body, start, None, length=iters)
    return x


def _joint_field(
    problem: Problem, batch
) -> Callable[[tuple[Params, Params]], tuple[Params, Params]]:
    return lambda z: player_gradients(problem, z[0], z[1], batch)


def _add(a: Params, b: Params, scale: float | Array = 1.0) -> Params:
    return jax.tree.map(lambda x, y: x + scale * y, a, b)


def consensus(
    opt_u: optax.GradientTransformation, opt_v: optax.GradientTransformation, gamma: float
) -> Solver:
    """Consensus optimisation (Mescheder, Nowozin & Geiger, "The Numerics of GANs", NeurIPS 2017).

    Both players follow xi + gamma grad L with L = |xi|^2 / 2, i.e. xi + gamma J^T xi (one VJP):
        (u, v)_{t+1} = P((u, v)_t - eta (xi + gamma J^T xi))
    The extra term pulls the dynamics towards stationary points and damps the rotation of GDA.
    """

    def step(problem: Problem, state: GDAState, key: jax.Array) -> tuple[GDAState, Info]:
        batch = problem.sample_batch(key)
        xi, pullback = jax.vjp(_joint_field(problem, batch), (state.u, state.v))
        (grad_norm_sq,) = pullback(xi)  # J^T xi = grad of |xi|^2 / 2
        grad_u, grad_v = _add(xi, grad_norm_sq, gamma)
        new_state = descend_pair(opt_u, opt_v, problem, state, grad_u, grad_v)
        return new_state, {"grad_evals": jnp.int32(2), "hvps": jnp.int32(1)}

    return Solver(init_pair(opt_u, opt_v), step, readout_pair)


def sga(
    opt_u: optax.GradientTransformation, opt_v: optax.GradientTransformation, gamma: float
) -> Solver:
    """Symplectic gradient adjustment (Balduzzi et al., "The Mechanics of n-Player Differentiable
    Games", ICML 2018), with the sign alignment of their Alg. 1.

    With A = (J - J^T) / 2 the antisymmetric part of the game Jacobian,
        xi_adj = xi + lambda A^T xi = xi + lambda (J^T xi - J xi) / 2          (one JVP, one VJP)
        lambda = gamma * sign(<xi, grad H> <A^T xi, grad H> / d + 1/10),  grad H = J^T xi
        (u, v)_{t+1} = P((u, v)_t - eta xi_adj)
    On a pure rotation (the bilinear game) A^T xi points to the fixed point and SGA converges.
    """

    def step(problem: Problem, state: GDAState, key: jax.Array) -> tuple[GDAState, Info]:
        batch = problem.sample_batch(key)
        field = _joint_field(problem, batch)
        z = (state.u, state.v)
        xi, pullback = jax.vjp(field, z)
        (jt_xi,) = pullback(xi)
        _, j_xi = jax.jvp(field, (z,), (xi,))
        flat_xi, unravel = ravel_pytree(xi)
        flat_jt_xi, flat_j_xi = ravel_pytree(jt_xi)[0], ravel_pytree(j_xi)[0]
        at_xi = 0.5 * (flat_jt_xi - flat_j_xi)
        align = jnp.vdot(flat_xi, flat_jt_xi) * jnp.vdot(at_xi, flat_jt_xi) / flat_xi.size
        lam = gamma * jnp.sign(align + 0.1)
        grad_u, grad_v = unravel(flat_xi + lam * at_xi)
        new_state = descend_pair(opt_u, opt_v, problem, state, grad_u, grad_v)
        return new_state, {"grad_evals": jnp.int32(2), "hvps": jnp.int32(2)}

    return Solver(init_pair(opt_u, opt_v), step, readout_pair)


def follow_the_ridge(
    opt_u: optax.GradientTransformation,
    opt_v: optax.GradientTransformation,
    cg_iters: int,
    damping: float = 0.0,
) -> Solver:
    """Follow-the-ridge (Wang, Zhang & Ba, "On Solving Minimax Optimization Locally: A
    Follow-the-Ridge Approach", ICLR 2020).

    The follower adds to its own step the move that keeps it on the ridge grad_v g = 0 while the
    leader moves by du = u_{t+1} - u_t:
        u_{t+1} = P_U(u_t - eta_u grad_u f)
        v_{t+1} = P_V(v_t - eta_v grad_v g - (H_vv g + damping I)^{-1} H_vu g du)
    For g = -f and sgd this is the paper's y + eta_y grad_y f + eta_x H_yy^{-1} H_yx grad_x f. The
    solve is conjugate gradients on H_vv g (cg_iters HVPs) plus one HVP for H_vu g du. Its fixed
    points are exactly the local minimax points (where GDA can be repelled).
    """
    if cg_iters < 1:
        raise ValueError(f"cg_iters={cg_iters} is out of range: must be >= 1")

    def step(problem: Problem, state: GDAState, key: jax.Array) -> tuple[GDAState, Info]:
        batch = problem.sample_batch(key)
        loss_v = follower_loss(problem)
        grad_u, grad_v = player_gradients(problem, state.u, state.v, batch)
        u, opt_state_u = descend(opt_u, problem.project_u, state.u, grad_u, state.opt_state_u)
        du = jax.tree.map(jnp.subtract, u, state.u)

        grad_v_at = jax.grad(loss_v, argnums=1)
        _, mixed = jax.jvp(lambda uu: grad_v_at(uu, state.v, batch), (state.u,), (du,))
        flat_mixed, unravel_v = ravel_pytree(mixed)

        def hess_vv(x):
            _, hx = jax.jvp(lambda vv: grad_v_at(state.u, vv, batch), (state.v,), (unravel_v(x),))
            return ravel_pytree(hx)[0] + damping * x

        correction = unravel_v(-conjugate_gradient(hess_vv, flat_mixed, cg_iters))
        updates, opt_state_v = opt_v.update(grad_v, state.opt_state_v, state.v)
        v = problem.project_v(_add(optax.apply_updates(state.v, updates), correction))
        info = {"grad_evals": jnp.int32(2), "hvps": jnp.int32(1 + cg_iters)}
        return GDAState(u, v, opt_state_u, opt_state_v), info

    return Solver(init_pair(opt_u, opt_v), step, readout_pair)


def cgd(
    opt_u: optax.GradientTransformation,
    opt_v: optax.GradientTransformation,
    eta: float,
    cg_iters: int,
) -> Solver:
    """Competitive gradient descent (Schafer & Anandkumar, NeurIPS 2019), zero-sum form.

    Each player steps to the Nash equilibrium of the local bilinear approximation of the game,
    with D_uv = d^2 f / du dv:
        du = -eta (I + eta^2 D_uv D_vu)^{-1} (grad_u f + eta D_uv grad_v f)
        dv = +eta (I + eta^2 D_vu D_uv)^{-1} (grad_v f - eta D_vu grad_u f)
    Both systems are symmetric positive definite and are solved by `cg_iters` conjugate-gradient
    iterations of mixed-derivative products. The preconditioned directions are handed to each
    player's optimiser as its gradient; with sgd at constant learning rate `eta` this is CGD exactly.
    Cost: 2 gradients and 2 + 4 cg_iters HVPs per step.
    """
    if cg_iters < 1:
        raise ValueError(f"cg_iters={cg_iters} is out of range: must be >= 1")
    if out_of_range(eta, lambda e: e > 0):
        raise ValueError(f"eta={eta} is out of range: must be > 0")

    def step(problem: Problem, state: GDAState, key: jax.Array) -> tuple[GDAState, Info]:
        if problem.g is not None:
            raise ValueError("cgd implements the zero-sum game only (problem.g must be None)")
        batch = problem.sample_batch(key)
        f = problem.f
        u, v = state.u, state.v
        grad_u = jax.grad(f, argnums=0)(u, v, batch)
        grad_v = jax.grad(f, argnums=1)(u, v, batch)
        flat_gu, unravel_u = ravel_pytree(grad_u)
        flat_gv, unravel_v = ravel_pytree(grad_v)

        def d_vu(x):  # (d/du grad_v f) x: u-space -> v-space
            return ravel_pytree(
                jax.jvp(lambda uu: jax.grad(f, 1)(uu, v, batch), (u,), (unravel_u(x),))[1]
            )[0]

        def d_uv(y):  # (d/dv grad_u f) y: v-space -> u-space
            return ravel_pytree(
                jax.jvp(lambda vv: jax.grad(f, 0)(u, vv, batch), (v,), (unravel_v(y),))[1]
            )[0]

        rhs_u = flat_gu + eta * d_uv(flat_gv)
        rhs_v = flat_gv - eta * d_vu(flat_gu)
        dir_u = conjugate_gradient(lambda x: x + eta**2 * d_uv(d_vu(x)), rhs_u, cg_iters)
        dir_v = conjugate_gradient(lambda y: y + eta**2 * d_vu(d_uv(y)), rhs_v, cg_iters)
        # the follower minimises -f: its "gradient" is minus its ascent direction
        new_state = descend_pair(opt_u, opt_v, problem, state, unravel_u(dir_u), unravel_v(-dir_v))
        info = {"grad_evals": jnp.int32(2), "hvps": jnp.int32(2 + 4 * cg_iters)}
        return new_state, info

    return Solver(init_pair(opt_u, opt_v), step, readout_pair)
