"""Metrics the runner logs at log points, and the costs a solver step reports.

Problem-specific metrics (the GAN's JSD, accuracies of the adversarial-learning problems) live with
their problems and reach the runner through `Problem.metrics`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gamebench.game import Params, Problem

Metrics = dict[str, jax.Array]
_MAX_LOGGED_COORDINATES = 4  # u and v are logged coordinate-wise up to this size

# What a solver step reports it used (its info dict; a missing entry counts 0). An evaluation of
# grad_u or grad_v counts one gradient; a Hessian-vector or vector-Jacobian product of a gradient
# counts one HVP; a forward-mode Jacobian-vector product through a follower step counts one JVP.
COSTS = ("grad_evals", "hvps", "jvps")


def game_metrics(problem: Problem, u: Params, v: Params, batch, key: jax.Array) -> Metrics:
    """Scalars the runner logs for every problem at (u, v).

    f, the norm of the joint gradient (grad_u f, grad_v f), the distance of u to the nearest point
    of the known minimax set, the worst-case gap phi(u) - phi(u*), and u, v themselves when small.
    """
    value, (grad_u, grad_v) = jax.value_and_grad(problem.f, argnums=(0, 1))(u, v, batch)
    flat_u, _ = ravel_pytree(u)
    flat_v, _ = ravel_pytree(v)
    grad_sq = sum(jnp.sum(jnp.square(g)) for g in jax.tree.leaves((grad_u, grad_v)))
    metrics: Metrics = {"f": value, "grad_norm": jnp.sqrt(grad_sq)}
    if problem.solution is not None:
        points = jnp.asarray(problem.solution.points, flat_u.dtype)
        metrics["dist"] = jnp.min(jnp.linalg.norm(points - flat_u[None, :], axis=1))
        if problem.worst_case is not None:
            phi_star = problem.worst_case(points[0])
            metrics["gap"] = problem.worst_case(u) - phi_star
    for name, flat in (("u", flat_u), ("v", flat_v)):
        if flat.size == 1:
            metrics[name] = flat[0]
        elif flat.size <= _MAX_LOGGED_COORDINATES:
            metrics.update({f"{name}_{i}": flat[i] for i in range(flat.size)})
    metrics.update(problem.metrics(u, v, key))
    return metrics
