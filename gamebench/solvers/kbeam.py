"""K-beam minimax (Hamm & Noh, "K-Beam Minimax: Efficient Optimization for Deep Adversarial
Learning", ICML 2018) and its epsilon-subgradient form.

The follower keeps K candidates v_1..v_K stacked on a leading axis; every candidate-wise operation is
a `vmap` over that axis, so K only changes array shapes (it is static: sweep it with multirun).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from gamebench.game import Batch, Info, Params, Problem, Solver, follower_loss
from gamebench.params import Param, at_least, one_of
from gamebench.solvers.base import descend, initial_players, out_of_range, take
from gamebench.solvers.hull import min_norm_weights, random_convex_weights

DIRECTIONS = ("min_norm", "random")  # min-norm element of the near-best gradients' hull, or random


class KBeamState(NamedTuple):
    u: Params  # leader, shaped as problem.init_u returns
    candidates: Params  # follower candidates: every leaf gains a leading axis of size k
    opt_state_u: optax.OptState  # leader's; with leader_state="per_candidate", leading axis k
    opt_state_candidates: optax.OptState  # one optimiser state per candidate, leading axis k
    selected: jax.Array  # int32 (): candidate the last leader step descended at


# (problem, u, candidates, batch, key) -> (leader gradient, selected index, gradients used)
LeaderDirection = Callable[
    [Problem, Params, Params, Batch, jax.Array], tuple[Params, jax.Array, jax.Array]
]


LEADER_STATES = ("shared", "per_candidate")  # one leader optimiser state, or one per candidate

# the config fields these factories read (gamebench.params)
K = Param(1, "number of follower candidates", at_least(1))
EPS = Param(0.0, "kbeam_eps: near-best threshold", at_least(0))
DIRECTION = Param("min_norm", "kbeam_eps: leader direction in the hull", one_of(*DIRECTIONS))
MIN_NORM_ITERS = Param(100, "kbeam_eps: inner iterations of the min-norm solve", at_least(1))
LEADER_STATE = Param(
    "shared", "leader optimiser state(s) (per_candidate: the 2018 code)", one_of(*LEADER_STATES)
)


def _k_beam_solver(
    opt_u: optax.GradientTransformation,
    opt_v: optax.GradientTransformation,
    k: int,
    leader_direction: LeaderDirection,
    leader_state: str = "shared",
) -> Solver:
    if k < 1:
        raise ValueError(f"k={k} is out of range: must be >= 1")
    if leader_state not in LEADER_STATES:
        raise ValueError(
            f"unknown leader_state {leader_state!r}; allowed: {', '.join(LEADER_STATES)}"
        )
    per_candidate = leader_state == "per_candidate"

    def init(problem: Problem, key: jax.Array) -> KBeamState:
        u, candidates = initial_players(problem, key, k)
        opt_state_u = opt_u.init(u)
        if per_candidate:  # k copies; the selected candidate's copy steps the leader
            opt_state_u = jax.tree.map(lambda x: jnp.stack([x] * k), opt_state_u)
        return KBeamState(
            u, candidates, opt_state_u, jax.vmap(opt_v.init)(candidates), jnp.int32(0)
        )

    def leader_step(problem: Problem, state: KBeamState, grad_u, selected):
        if not per_candidate:
            return descend(opt_u, problem.project_u, state.u, grad_u, state.opt_state_u)
        u, chosen = descend(
            opt_u, problem.project_u, state.u, grad_u, take(state.opt_state_u, selected)
        )
        return u, jax.tree.map(
            lambda all_, new: all_.at[selected].set(new), state.opt_state_u, chosen
        )

    def step(problem: Problem, state: KBeamState, key: jax.Array) -> tuple[KBeamState, Info]:
        key_batch, key_direction = jax.random.split(key)
        batch = problem.sample_batch(key_batch)
        grad_u, selected, leader_evals = leader_direction(
            problem, state.u, state.candidates, batch, key_direction
        )
        u, opt_state_u = leader_step(problem, state, grad_u, selected)

        # every candidate takes one step on the follower's loss at the *new* leader
        def follower_step(v, opt_state):
            grad_v = jax.grad(follower_loss(problem), argnums=1)(u, v, batch)
            return descend(opt_v, problem.project_v, v, grad_v, opt_state)

        candidates, opt_state_candidates = jax.vmap(follower_step)(
            state.candidates, state.opt_state_candidates
        )
        new_state = KBeamState(u, candidates, opt_state_u, opt_state_candidates, selected)
        return new_state, {"grad_evals": leader_evals + k}

    def readout(problem: Problem, state: KBeamState) -> tuple[Params, Params]:
        del problem
        return state.u, take(state.candidates, state.selected)

    return Solver(init, step, readout)


def kbeam(
    opt_u: optax.GradientTransformation,
    opt_v: optax.GradientTransformation,
    k: int,
    leader_state: str = "shared",
) -> Solver:
    """K-beam minimax (Hamm & Noh, ICML 2018, Alg. 1).

    With candidates v_1..v_K, each iteration
        k*      = argmax_k f(u_t, v_k)                      (K function values, vmapped)
        u_{t+1} = P_U(u_t - eta_u grad_u f(u_t, v_{k*}))
        v_k    <- P_V(v_k - eta_v grad_v g(u_{t+1}, v_k))  for every k (g = -f), vmapped
    K = 1 is alternating descent-ascent with the min step first. leader_state = "per_candidate"
    keeps one leader optimiser state per candidate and steps with the selected one's (the 2018
    code's one Adam per discriminator for the generator); "shared" keeps one.
    """

    def best_candidate(problem, u, candidates, batch, key):
        del key
        values = jax.vmap(problem.f, in_axes=(None, 0, None))(u, candidates, batch)
        best = jnp.argmax(values).astype(jnp.int32)
        grad_u = jax.grad(problem.f, argnums=0)(u, take(candidates, best), batch)
        return grad_u, best, jnp.int32(1)

    return _k_beam_solver(opt_u, opt_v, k, best_candidate, leader_state)


def kbeam_eps(
    opt_u: optax.GradientTransformation,
    opt_v: optax.GradientTransformation,
    k: int,
    eps: float,
    direction: str = "min_norm",
    min_norm_iters: int = 100,
    leader_state: str = "shared",
) -> Solver:
    """K-beam with an epsilon-subgradient leader step (Hamm & Noh, ICML 2018, Alg. 2).

    The near-best set A = {k*} u {k : f(u_t, v_k) > max_j f(u_t, v_j) - eps} approximates the
    epsilon-subdifferential of phi(u) = max_v f(u, v) by the convex hull of {grad_u f(u_t, v_k)}_A.
        direction = "min_norm":  d = the minimum-norm element of that hull (steepest eps-descent),
                                 solved inside jit by accelerated projected gradient on the simplex;
        direction = "random":    d = a uniformly random convex combination (the paper's cheap form);
        u_{t+1} = P_U(u_t - eta_u d), then every candidate ascends at u_{t+1} as in `kbeam`.
    eps = 0 selects the best candidate alone (k* = the first argmax, as in `kbeam`) and
    reproduces `kbeam`, exact ties included. With leader_state =
    "per_candidate" the best candidate's leader optimiser state takes the step.
    """
    if out_of_range(eps, lambda e: e >= 0):
        raise ValueError(f"eps={eps} is out of range: must be >= 0")
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; allowed: {', '.join(DIRECTIONS)}")

    def hull_direction(problem, u, candidates, batch, key):
        values, grads = jax.vmap(jax.value_and_grad(problem.f), in_axes=(None, 0, None))(
            u, candidates, batch
        )
        best = jnp.argmax(values).astype(jnp.int32)
        is_best = jnp.arange(k) == best
        # strict inequality: with eps = 0 the set is the argmax alone, ties broken as `kbeam`
        # breaks them (first index). With >= , candidates clipped to the same box face tie exactly
        # or within round-off, and which ties occur depends on the CPU's code generation.
        near_best = is_best | (values > values[best] - eps)
        flat_grads = jax.vmap(lambda g: ravel_pytree(g)[0])(grads)  # (k, dim u)
        if direction == "min_norm":
            weights = min_norm_weights(flat_grads, near_best, min_norm_iters)
        else:
            weights = random_convex_weights(key, near_best)
        # a lone candidate gets weight exactly 1 (the hull solvers may return 1 - ulp)
        weights = jnp.where(jnp.sum(near_best) == 1, is_best.astype(weights.dtype), weights)
        grad_u = jax.tree.map(lambda g: jnp.tensordot(weights, g, axes=1), grads)
        return grad_u, best, jnp.int32(k)

    return _k_beam_solver(opt_u, opt_v, k, hull_direction, leader_state)
