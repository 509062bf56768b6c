"""Adversarial training: the leader descends at a follower re-solved from scratch every step.

For games whose follower belongs to the step's batch (robust_classification: one perturbation
per example), the follower does not persist between steps: every step draws a batch, starts the
follower afresh (init_v: a random point of the ball, or 0) and solves the inner problem
approximately, then the leader takes one step. Standard training, FGSM-RS and PGD-AT are one
factory with different inner steps; Fast-BAT replaces the inner solve by a linearised lower level
with a closed form and descends along its implicit gradient.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from gamebench.game import Info, Params, Problem, Solver, follower_loss
from gamebench.params import Param, above, at_least
from gamebench.solvers.base import descend, out_of_range

ATTACK_STEP = Param(
    0.01, "adversarial_training: signed follower step; fast_bat: 1/lambda of the linearised "
    "lower level (a step on the follower's gradient)", above(0),
)  # fmt: skip
ATTACK_STEPS = Param(
    10, "adversarial_training: signed follower steps per leader step (0: standard training); "
    "fast_bat: steps to the linearisation point plus the closed-form step", at_least(0),
)  # fmt: skip
RANDOM_START = Param(True, "follower restarts at a draw of init_v (else at 0) every step")


class AdversarialState(NamedTuple):
    u: Params
    v: Params  # the last step's follower (what the metrics are taken with)
    opt_state_u: optax.OptState


def _start(problem: Problem, key: jax.Array, random_start: bool) -> Params:
    v = problem.init_v(key)
    return v if random_start else jax.tree.map(jnp.zeros_like, v)


def _round(problem: Problem, key: jax.Array, random_start: bool) -> tuple:
    """A step's batch and the follower's fresh start."""
    key_batch, key_start = jax.random.split(key)
    return problem.sample_batch(key_batch), _start(problem, key_start, random_start)


def _init(opt_u: optax.GradientTransformation, random_start: bool):
    def init(problem: Problem, key: jax.Array) -> AdversarialState:
        key_u, key_v = jax.random.split(key)
        u = problem.init_u(key_u)
        return AdversarialState(u, _start(problem, key_v, random_start), opt_u.init(u))

    return init


def _readout(problem: Problem, state: AdversarialState) -> tuple[Params, Params]:
    del problem
    return state.u, state.v


def _follower_steps(problem: Problem, u: Params, v: Params, batch, steps: int, size, signed: bool):
    """`steps` projected steps of the follower on its own loss from v: v <- P_V(v - size * d),
    d its gradient or (signed) the gradient's sign."""
    attacker = follower_loss(problem)

    def one(v, _):
        grad_v = jax.grad(attacker, argnums=1)(u, v, batch)
        moved = jax.tree.map(lambda p, g: p - size * (jnp.sign(g) if signed else g), v, grad_v)
        return problem.project_v(moved), None

    return jax.lax.scan(one, v, None, length=steps)[0]


def adversarial_training(
    opt_u: optax.GradientTransformation,
    attack_step: float = 0.01,
    attack_steps: int = 10,
    random_start: bool = True,
) -> Solver:
    """PGD adversarial training (Madry et al., ICLR 2018) and its one-step and zero-step cases.

    Every step draws a batch and restarts the follower at v_0 ~ init_v (random_start) or v_0 = 0,
    then takes `attack_steps` signed projected steps on its own loss g (g = -f: ascent on f),
        v_{j+1} = P_V(v_j - attack_step * sign(grad_v g(u_t, v_j)))
    and the leader steps at the result:
        u_{t+1} = P_U(u_t - opt_u(grad_u f(u_t, v_J)))
    attack_steps = 0 is standard training (v = v_0; take random_start = false for clean data);
    attack_steps = 1 with a random start and attack_step = 1.25 eps is FGSM-RS, "fast adversarial
    training" (Wong et al., ICLR 2020); attack_steps = 10 of 2.5 eps / 10 is PGD-10 AT.
    Cost per step: attack_steps + 1 gradients.
    """
    if out_of_range(attack_steps, lambda n: n >= 0):
        raise ValueError(f"attack_steps={attack_steps}: need >= 0")

    def step(problem: Problem, state: AdversarialState, key: jax.Array):
        batch, v0 = _round(problem, key, random_start)
        v = _follower_steps(problem, state.u, v0, batch, attack_steps, attack_step, signed=True)
        grad_u = jax.grad(problem.f, argnums=0)(state.u, v, batch)
        u, opt_state_u = descend(opt_u, problem.project_u, state.u, grad_u, state.opt_state_u)
        info: Info = {"grad_evals": jnp.int32(attack_steps + 1)}
        return AdversarialState(u, v, opt_state_u), info

    return Solver(_init(opt_u, random_start), step, _readout)


def fast_bat(
    opt_u: optax.GradientTransformation,
    attack_step: float = 0.01,
    attack_steps: int = 2,
    random_start: bool = True,
) -> Solver:
    """Fast-BAT, bi-level adversarial training (Zhang et al., ICML 2022, Alg. 1).

    The lower level is the attack linearised at a point z with a proximal term,
        v*(u) = argmin_{v in V} <grad_v g(u, z), v - z> + (lambda / 2) |v - z|^2
              = P_V(z - (1/lambda) grad_v g(u, z)),        1/lambda = attack_step,
    where z comes from a random start by attack_steps - 1 projected gradient steps of the same size
    (the official code takes one, attack_steps = 2). Its implicit gradient, with H the indicator of
    the coordinates where the projection is inactive and z held fixed, is
        dv*/du = -(1/lambda) H grad^2_{vu} g(u, z),
    so the leader descends along the total derivative of f(u, v*(u)):
        d = grad_u f(u, v*) - (1/lambda) grad_u < grad_v g(u, z), sg(H * grad_v f(u, v*)) >
    (sg: held constant), one mixed second-order product (a reverse-over-reverse VJP) on top of
    attack_steps + 1 gradients, against PGD-10 AT's 11.
    """
    if out_of_range(attack_steps, lambda n: n >= 1):
        raise ValueError(f"fast_bat needs attack_steps >= 1 (got {attack_steps})")

    def step(problem: Problem, state: AdversarialState, key: jax.Array):
        batch, z0 = _round(problem, key, random_start)
        # the linearisation point: attack_steps - 1 plain projected steps from the start
        z = _follower_steps(
            problem, state.u, z0, batch, attack_steps - 1, attack_step, signed=False
        )
        direction, v_star = fast_bat_direction(problem, state.u, z, batch, attack_step)
        u, opt_state_u = descend(opt_u, problem.project_u, state.u, direction, state.opt_state_u)
        info: Info = {"grad_evals": jnp.int32(attack_steps + 1), "hvps": jnp.int32(1)}
        return AdversarialState(u, v_star, opt_state_u), info

    return Solver(_init(opt_u, random_start), step, _readout)


def fast_bat_direction(problem: Problem, u: Params, z: Params, batch, attack_step) -> tuple:
    """(Fast-BAT's leader direction, v*): the total derivative of f(u, v*(u)) with
    v*(u) = P_V(z - attack_step grad_v g(u, z)) and z held fixed (see fast_bat)."""
    attacker = follower_loss(problem)
    grad_z = jax.grad(attacker, argnums=1)(u, z, batch)
    moved = jax.tree.map(lambda p, g: p - attack_step * g, z, grad_z)
    v_star = problem.project_v(moved)
    inactive = jax.tree.map(lambda p, m: (p == m).astype(p.dtype), v_star, moved)
    grad_u, grad_v = jax.grad(problem.f, argnums=(0, 1))(u, v_star, batch)
    weighted = jax.lax.stop_gradient(jax.tree.map(jnp.multiply, inactive, grad_v))

    def coupling(u):
        grad_z = jax.grad(attacker, argnums=1)(u, z, batch)
        pairs = zip(jax.tree.leaves(grad_z), jax.tree.leaves(weighted))
        return sum(jnp.vdot(a, b) for a, b in pairs)

    cross = jax.grad(coupling)(u)
    return jax.tree.map(lambda a, c: a - attack_step * c, grad_u, cross), v_star
