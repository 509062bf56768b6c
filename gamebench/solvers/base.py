"""Pieces every solver shares (the `Solver` record itself is gamebench.game)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from gamebench.game import Params, Problem, follower_loss
from gamebench.params import Param, above, at_least

# config fields several solvers read (gamebench.params)
INNER_STEPS = Param(
    1, "inner follower steps per leader step (T; unrolled: steps unrolled; danskin: inner solve)",
    at_least(1),
)  # fmt: skip
CG_ITERS = Param(10, "conjugate-gradient (or residual) iterations per step", at_least(1))
ETA = Param(
    0.1, "cgd: step inside the preconditioner; danskin: first line-search step; approxgrad: "
    "residual step", above(0),
)  # fmt: skip
GAMMA = Param(
    0.1, "consensus: weight of grad |xi|^2/2; sga: lambda; bip: the follower's curvature gamma",
    at_least(0),
)  # fmt: skip
DAMPING = Param(0.0, "follow_the_ridge: H_vv g + damping I in the ridge solve", at_least(0))


def out_of_range(value: Any, allowed: Callable[[Any], bool]) -> bool:
    """True when a concrete hyperparameter fails its range check. A traced one (a fused sweep passes
    numeric hyperparameters into the compiled program) was checked on the host before tracing."""
    return not isinstance(value, jax.core.Tracer) and not allowed(value)


def initial_players(problem: Problem, key: jax.Array, k: int) -> tuple[Params, Params]:
    """u0 and k follower candidates stacked on a leading axis.

    Candidate i is drawn from fold_in(key_v, i), so it does not depend on k: a run with k = 1 starts
    from the first candidate of a run with k = 10, as the paper's protocol requires.
    """
    key_u, key_v = jax.random.split(key)
    u = problem.init_u(key_u)
    candidates = jax.vmap(lambda i: problem.init_v(jax.random.fold_in(key_v, i)))(jnp.arange(k))
    return u, candidates


def descend(
    optimizer: optax.GradientTransformation,
    project: Callable[[Params], Params],
    params: Params,
    grads: Params,
    opt_state: optax.OptState,
) -> tuple[Params, optax.OptState]:
    """One projected step of `optimizer` on a player that minimises its loss."""
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return project(optax.apply_updates(params, updates)), opt_state


def take(tree: Params, index: jax.Array) -> Params:
    """Row `index` of every leaf of a stacked pytree."""
    return jax.tree.map(lambda leaf: leaf[index], tree)


def player_gradients(problem: Problem, u: Params, v: Params, batch) -> tuple[Params, Params]:
    """(grad_u f, grad_v g): each player's gradient of its own loss (g = -f for zero-sum)."""
    grad_u = jax.grad(problem.f, argnums=0)(u, v, batch)
    grad_v = jax.grad(follower_loss(problem), argnums=1)(u, v, batch)
    return grad_u, grad_v
