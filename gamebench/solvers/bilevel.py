"""Bilevel (Stackelberg) solvers: the leader u minimises F(u) = f(u, v*(u)), v*(u) = argmin_v g(u, v).

Every solver here keeps a follower iterate v (warm-started across leader steps, or restarted at
init_v where the follower belongs to the step's batch: Problem.restart_v), moves it by T =
`inner_steps` projected gradient steps on g with step size lr_v = opt_v's learning rate (plain steps,
so that they can be differentiated), estimates the hypergradient dF/du by its method, and gives it to
the leader's optax transformation. Minimax is the case g = -f (`follower_loss`), so every problem
runs under every solver. Costs per step (metrics.COSTS): gradient evaluations, Hessian-vector products
(incl. mixed second derivatives and the VJPs of reverse-mode unrolling) and Jacobian-vector products.

    hypergradient  dF/du = grad_u f - Hess_uv g [Hess_vv g]^{-1} grad_v f     at v = v*(u)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from gamebench.game import Info, Params, Problem, Solver, follower_loss
from gamebench.params import Param, above, at_least, one_of, within
from gamebench.solvers.base import descend, initial_players, out_of_range, take
from gamebench.solvers.curvature import conjugate_gradient

LINEAR_SOLVERS = ("cg", "neumann")  # implicit: conjugate gradients or a truncated Neumann series

# the config fields these factories read (gamebench.params); T = inner_steps (solvers.base)
TRUNCATE = Param(
    0, "rmd: back-propagate through the last `truncate` steps only; 0 = all", at_least(0)
)
LINEAR_SOLVER = Param("cg", "implicit: the linear solve", one_of(*LINEAR_SOLVERS))
ALPHA = Param(0.5, "bda: weight of the leader's direction in the follower's steps", within(0, 1))
PENALTY_RHO = Param(1.0, "penalty: initial rho", above(0))
PENALTY_LAMBDA = Param(10.0, "penalty: initial lambda", above(0))
PENALTY_EPS = Param(1.0, "penalty: initial eps", above(0))


class BilevelState(NamedTuple):
    u: Params
    v: Params  # the follower's iterate: warm start of the next inner loop, and the readout
    opt_state_u: optax.OptState
    aux: Any  # the method's own state (ApproxGrad's q, the penalty's multipliers, IAPTT's z)


# (problem, u, v, batch, aux) -> (dF/du, the new follower iterate, new aux, costs)
Hypergradient = Callable[[Problem, Params, Params, Any, Any], tuple[Params, Params, Any, Info]]


def _costs(grad_evals=0, hvps=0, jvps=0) -> Info:
    return {"grad_evals": jnp.int32(grad_evals), "hvps": jnp.int32(hvps), "jvps": jnp.int32(jvps)}


def follower_steps(problem: Problem, u, v, batch, lr_v: float, steps: int, direction=None):
    """`steps` projected gradient steps v <- P_V(v - lr_v d(u, v)), d = grad_v g by default;
    differentiable in u (and in v) by construction. Returns the final v and the trajectory."""
    if direction is None:
        direction = jax.grad(follower_loss(problem), argnums=1)

    def body(v, _):
        d = direction(u, v, batch)
        v = problem.project_v(jax.tree.map(lambda a, b: a - lr_v * b, v, d))
        return v, v

    return jax.lax.scan(body, v, None, length=steps)


def _hvp_vv(problem, u, v, batch):
    """w -> Hess_vv g (u, v) w on flat vectors (forward-over-reverse)."""
    grad_v = jax.grad(follower_loss(problem), argnums=1)
    flat_v, unravel = ravel_pytree(v)

    def matvec(w):
        return ravel_pytree(jax.jvp(lambda x: grad_v(u, x, batch), (v,), (unravel(w),))[1])[0]

    return matvec, flat_v, unravel


def _mixed_product(problem, u, v, batch, q_flat):
    """Hess_uv g q = grad_u <grad_v g(u, v), q>, as a pytree like u."""
    grad_v = jax.grad(follower_loss(problem), argnums=1)
    return jax.grad(lambda x: jnp.vdot(ravel_pytree(grad_v(x, v, batch))[0], q_flat))(u)


def _implicit_combination(problem, u, v, batch, q_flat):
    grad_u_f, grad_v_f = jax.grad(problem.f, argnums=(0, 1))(u, v, batch)
    mixed = _mixed_product(problem, u, v, batch, q_flat)
    return jax.tree.map(lambda a, b: a - b, grad_u_f, mixed), grad_v_f


def _bilevel_solver(
    opt_u: optax.GradientTransformation,
    hypergradient: Hypergradient,
    init_aux: Callable[[Problem, Params, Params], Any] = lambda problem, u, v: (),
) -> Solver:
    def init(problem: Problem, key: jax.Array) -> BilevelState:
        u, candidates = initial_players(problem, key, 1)
        v = take(candidates, 0)
        return BilevelState(u, v, opt_u.init(u), init_aux(problem, u, v))

    def step(problem: Problem, state: BilevelState, key: jax.Array):
        batch = problem.sample_batch(key)
        v = problem.init_v(jax.random.fold_in(key, 1)) if problem.restart_v else state.v
        grad_u, v, aux, info = hypergradient(problem, state.u, v, batch, state.aux)
        u, opt_state_u = descend(opt_u, problem.project_u, state.u, grad_u, state.opt_state_u)
        return BilevelState(u, v, opt_state_u, aux), info

    def readout(problem: Problem, state: BilevelState):
        del problem
        return state.u, state.v

    return Solver(init, step, readout)


def _check(inner_steps: int, **positive) -> None:
    if inner_steps < 1:
        raise ValueError(f"inner_steps={inner_steps} is out of range: must be >= 1")
    for name, value in positive.items():
        if out_of_range(value, lambda x: x > 0):
            raise ValueError(f"{name}={value} is out of range: must be > 0")


def approxgrad(
    opt_u: optax.GradientTransformation, lr_v: float, inner_steps: int, q_steps: int, lr_q: float
) -> Solver:
    """ApproxGrad (Mehra & Hamm, "Penalty Method for Inversion-Free Deep Bilevel Optimization",
    ACML 2021, Sec. 3): T follower steps, then `q_steps` gradient steps on the residual
        q <- q - lr_q Hess_vv g (Hess_vv g q - grad_v f)       (q warm-started across leader steps)
    and the hypergradient grad_u f - Hess_uv g q. Memory does not grow with T; no inverse is formed.
    """
    _check(inner_steps, lr_v=lr_v, lr_q=lr_q)

    def hypergradient(problem, u, v, batch, q):
        v, _ = follower_steps(problem, u, v, batch, lr_v, inner_steps)
        matvec, _, _ = _hvp_vv(problem, u, v, batch)
        grad_v_f = ravel_pytree(jax.grad(problem.f, argnums=1)(u, v, batch))[0]

        def residual_step(q, _):
            return q - lr_q * matvec(matvec(q) - grad_v_f), None

        q, _ = jax.lax.scan(residual_step, q, None, length=q_steps)
        grad_u, _ = _implicit_combination(problem, u, v, batch, q)
        return grad_u, v, q, _costs(inner_steps + 3, 2 * q_steps + 1)

    return _bilevel_solver(
        opt_u, hypergradient, lambda problem, u, v: jnp.zeros_like(ravel_pytree(v)[0])
    )


def implicit(
    opt_u: optax.GradientTransformation,
    lr_v: float,
    inner_steps: int,
    linear_solver: str = "cg",
    solve_iters: int = 10,
) -> Solver:
    """Implicit differentiation (e.g. Pedregosa, ICML 2016; Lorraine et al., AISTATS 2020): after T
    follower steps solve Hess_vv g q = grad_v f by `solve_iters` conjugate-gradient iterations, or
    by the Neumann series q = lr_v sum_{k < solve_iters} (I - lr_v Hess_vv g)^k grad_v f; the
    hypergradient is grad_u f - Hess_uv g q. Exact at v = v*(u) as the solve converges. CG stops at
    a direction of negative curvature (a non-convex follower: iMAML's networks)."""
    _check(inner_steps, lr_v=lr_v)
    if linear_solver not in LINEAR_SOLVERS:
        raise ValueError(
            f"unknown linear_solver {linear_solver!r}; allowed: {', '.join(LINEAR_SOLVERS)}"
        )

    def hypergradient(problem, u, v, batch, aux):
        v, _ = follower_steps(problem, u, v, batch, lr_v, inner_steps)
        matvec, _, _ = _hvp_vv(problem, u, v, batch)
        b = ravel_pytree(jax.grad(problem.f, argnums=1)(u, v, batch))[0]
        if linear_solver == "cg":
            q = conjugate_gradient(matvec, b, solve_iters, stop_at_negative_curvature=True)
        else:

            def neumann(carry, _):
                term, total = carry
                term = term - lr_v * matvec(term)
                return (term, total + term), None

            (_, total), _ = jax.lax.scan(neumann, (b, b), None, length=solve_iters - 1)
            q = lr_v * total
        grad_u, _ = _implicit_combination(problem, u, v, batch, q)
        return grad_u, v, aux, _costs(inner_steps + 3, solve_iters + 1)

    return _bilevel_solver(opt_u, hypergradient)


def rmd(
    opt_u: optax.GradientTransformation, lr_v: float, inner_steps: int, truncate: int = 0
) -> Solver:
    """Reverse-mode differentiation through T unrolled follower steps (Maclaurin et al., ICML 2015;
    Franceschi et al., ICML 2017): dF/du = d/du f(u, v_T(u)), back-propagated through the steps from
    the warm start v_0 (held constant). truncate = K > 0 back-propagates through the last K steps only
    (Shaban et al., AISTATS 2019). Memory grows with the steps differentiated through."""
    _check(inner_steps, lr_v=lr_v)
    if truncate < 0 or truncate > inner_steps:
        raise ValueError(f"truncate={truncate} is out of range: must be in [0, inner_steps]")
    kept = truncate or inner_steps

    def hypergradient(problem, u, v, batch, aux):
        frozen = jax.lax.stop_gradient(u)
        v_prefix, _ = follower_steps(problem, frozen, v, batch, lr_v, inner_steps - kept)

        def outer(u):
            v_final, _ = follower_steps(problem, u, v_prefix, batch, lr_v, kept)
            return problem.f(u, v_final, batch), v_final

        grad_u, v_final = jax.grad(outer, has_aux=True)(u)
        return grad_u, v_final, aux, _costs(inner_steps + 2, kept)

    return _bilevel_solver(opt_u, hypergradient)


def bip(opt_u: optax.GradientTransformation, lr_v: float, inner_steps: int, gamma: float) -> Solver:
    """BiP (Zhang et al., "Advancing Model Pruning via Bi-level Optimization", NeurIPS 2022,
    Sec. 4): T follower steps (SGD on the weights under the current mask), then the implicit
    hypergradient with the follower's Hessian taken as gamma I (their Hessian-free assumption:
    the lower level is gamma-strongly convex and its loss's own curvature is dropped),
        dF/du = grad_u f - (1 / gamma) Hess_uv g grad_v f,
    one mixed second-order product on top of T + 2 gradients; no linear solve."""
    _check(inner_steps, lr_v=lr_v, gamma=gamma)

    def hypergradient(problem, u, v, batch, aux):
        v, _ = follower_steps(problem, u, v, batch, lr_v, inner_steps)
        q = ravel_pytree(jax.grad(problem.f, argnums=1)(u, v, batch))[0] / gamma
        grad_u, _ = _implicit_combination(problem, u, v, batch, q)
        return grad_u, v, aux, _costs(inner_steps + 2, 1)

    return _bilevel_solver(opt_u, hypergradient)


def fmd(opt_u: optax.GradientTransformation, lr_v: float, inner_steps: int) -> Solver:
    """Forward-mode differentiation through the same T steps (Franceschi et al., ICML 2017): the
    Jacobian dv_T/du is carried forward with one JVP per leader coordinate and step, then
    dF/du = grad_u f + (dv_T/du)' grad_v f. Memory is flat in T; time grows with dim u."""
    _check(inner_steps, lr_v=lr_v)

    def hypergradient(problem, u, v, batch, aux):
        flat_u, unravel_u = ravel_pytree(u)

        def final_v(flat):
            return ravel_pytree(
                follower_steps(problem, unravel_u(flat), v, batch, lr_v, inner_steps)[0]
            )[0]

        jacobian = jax.jacfwd(final_v)(flat_u)  # (dim v, dim u), vmapped JVPs
        v_final = follower_steps(problem, u, v, batch, lr_v, inner_steps)[0]
        grad_u_f, grad_v_f = jax.grad(problem.f, argnums=(0, 1))(u, v_final, batch)
        flat = ravel_pytree(grad_u_f)[0] + jacobian.T @ ravel_pytree(grad_v_f)[0]
        return unravel_u(flat), v_final, aux, _costs(inner_steps + 2, 0, inner_steps * flat_u.size)

    return _bilevel_solver(opt_u, hypergradient)


def bda(
    opt_u: optax.GradientTransformation, lr_v: float, inner_steps: int, alpha: float = 0.5
) -> Solver:
    """Bilevel descent aggregation (Liu et al., "A Generic First-Order Algorithmic Framework for
    Bi-Level Programming Beyond Lower-Level Singleton", ICML 2020): the follower steps along an
    aggregate of both players' descent directions,
        v_{k+1} = P_V(v_k - lr_v (alpha grad_v f(u, v_k) + (1 - alpha) grad_v g(u, v_k))),
    so that among non-unique lower-level solutions it drifts toward those the leader prefers; the
    hypergradient is back-propagated through these T steps."""
    _check(inner_steps, lr_v=lr_v)
    if out_of_range(alpha, lambda a: 0 <= a <= 1):
        raise ValueError(f"alpha={alpha} is out of range: must be in [0, 1]")

    def hypergradient(problem, u, v, batch, aux):
        grad_f = jax.grad(problem.f, argnums=1)
        grad_g = jax.grad(follower_loss(problem), argnums=1)

        def direction(u, v, batch):
            return jax.tree.map(
                lambda a, b: alpha * a + (1 - alpha) * b, grad_f(u, v, batch), grad_g(u, v, batch)
            )

        def outer(u):
            v_final, _ = follower_steps(problem, u, v, batch, lr_v, inner_steps, direction)
            return problem.f(u, v_final, batch), v_final

        grad_u, v_final = jax.grad(outer, has_aux=True)(u)
        return grad_u, v_final, aux, _costs(2 * inner_steps + 1, 2 * inner_steps)

    return _bilevel_solver(opt_u, hypergradient)


def iaptt_gm(
    opt_u: optax.GradientTransformation,
    lr_v: float,
    inner_steps: int,
    opt_z: optax.GradientTransformation | None = None,
) -> Solver:
    """IAPTT-GM (Liu et al., "Towards Gradient-based Bilevel Optimization with Non-convex Followers
    and Beyond", NeurIPS 2021): the follower starts every inner loop from a learned initialisation
    z (an auxiliary leader variable), runs T steps v_1..v_T, and the leader differentiates the
    pessimistic truncation f(u, v_{k*}), k* = argmax_k f(u, v_k), through the prefix v_0..v_{k*}
    with respect to both u and z. z lives in the follower's space and steps with `opt_z` (the
    follower's optimiser config; default: plain steps of size lr_v)."""
    _check(inner_steps, lr_v=lr_v)
    opt_z = optax.sgd(lr_v) if opt_z is None else opt_z

    def init_aux(problem, u, v):
        return v, opt_z.init(v)  # z starts at the drawn follower initialisation

    def hypergradient(problem, u, v, batch, aux):
        z, opt_state_z = aux
        _, trajectory = follower_steps(problem, u, z, batch, lr_v, inner_steps)
        values = jax.vmap(lambda w: problem.f(u, w, batch))(trajectory)
        worst = jax.lax.stop_gradient(jnp.argmax(values))

        def truncated(u, z):
            _, trajectory = follower_steps(problem, u, z, batch, lr_v, inner_steps)
            return problem.f(u, take(trajectory, worst), batch)

        grad_u, grad_z = jax.grad(truncated, argnums=(0, 1))(u, z)
        z, opt_state_z = descend(opt_z, problem.project_v, z, grad_z, opt_state_z)
        v_last = take(trajectory, inner_steps - 1)
        return grad_u, v_last, (z, opt_state_z), _costs(2 * inner_steps + 1, inner_steps)

    return _bilevel_solver(opt_u, hypergradient, init_aux)


class PenaltyAux(NamedTuple):
    nu: jax.Array  # flat multiplier of the stationarity condition grad_v g = 0
    rho: jax.Array
    lam: jax.Array
    eps: jax.Array
    step_scale: jax.Array  # multiplies both players' step sizes; shrinks with every tightening


def penalty(
    opt_u: optax.GradientTransformation,
    lr_v: float,
    inner_steps: int,
    rho: float = 1.0,
    lam: float = 10.0,
    eps: float = 1.0,
) -> Solver:
    """The penalty method (Mehra & Hamm, "Penalty Method for Inversion-Free Deep Bilevel
    Optimization", ACML 2021, Alg. 1, augmented-Lagrangian form). With
        h(u, v) = f(u, v) + nu' grad_v g(u, v) + (rho / 2) |grad_v g(u, v)|^2
    each iteration takes T steps v <- P_V(v - s lr_v grad_v (h + lam g)) and one leader step on
    s grad_u h; when |(grad_u h, grad_v (h + lam g))| < eps, the subproblem is solved: rho <- 1.1 rho,
    lam <- 0.9 lam, eps <- 0.9 eps, nu <- nu + rho grad_v g, and the step scale s <- 0.9 s (as the
    authors' code does: the penalty's curvature grows with rho, so fixed steps would go unstable;
    s scales the leader's gradient, i.e. its step for sgd/momentum, not for adam). Only gradients and
    Hessian-vector products (through grad_v g), never an inverse; memory flat in T.
    """
    _check(inner_steps, lr_v=lr_v, rho=rho, lam=lam, eps=eps)

    def init_aux(problem, u, v):
        nu = jnp.zeros_like(ravel_pytree(v)[0])
        return PenaltyAux(
            nu, jnp.float32(rho), jnp.float32(lam), jnp.float32(eps), jnp.float32(1.0)
        )

    def hypergradient(problem, u, v, batch, aux: PenaltyAux):
        grad_v_g = jax.grad(follower_loss(problem), argnums=1)

        def stationarity(u, v):
            return ravel_pytree(grad_v_g(u, v, batch))[0]

        def h(u, v):
            s = stationarity(u, v)
            return problem.f(u, v, batch) + jnp.vdot(aux.nu, s) + 0.5 * aux.rho * jnp.vdot(s, s)

        def inner_objective(u, v, batch_):
            del batch_
            return h(u, v) + aux.lam * follower_loss(problem)(u, v, batch)

        lr = lr_v * aux.step_scale
        v, _ = follower_steps(
            problem, u, v, batch, lr, inner_steps, jax.grad(inner_objective, argnums=1)
        )
        grad_u = jax.grad(h, argnums=0)(u, v)
        grad_v = jax.grad(inner_objective, argnums=1)(u, v, batch)
        norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves((grad_u, grad_v))))
        tighten = norm < aux.eps
        new_rho = jnp.where(tighten, 1.1 * aux.rho, aux.rho)
        shrink = jnp.where(tighten, 0.9, 1.0)
        new_aux = PenaltyAux(
            jnp.where(tighten, aux.nu + new_rho * stationarity(u, v), aux.nu),
            new_rho,
            shrink * aux.lam,
            shrink * aux.eps,
            shrink * aux.step_scale,
        )
        grad_u = jax.tree.map(lambda g: aux.step_scale * g, grad_u)
        # per inner step: grad f, grad g and the HVP inside grad_v h; then grad h twice
        return grad_u, v, new_aux, _costs(2 * inner_steps + 4, 2 * inner_steps + 3)

    return _bilevel_solver(opt_u, hypergradient, init_aux)
