"""The compiled runner: a whole experiment (all trials, all steps) is one jitted program.

    keys (trials,) --vmap init--> states
    outer lax.scan over log points:
        inner lax.scan over `log_every` solver steps (vmapped over trials)
        metrics at the log point (vmapped over trials), optional progress callback
    -> metrics, every leaf shaped (trials, log points)

Trials sit on the vmapped axis; with several devices (e.g. JAX_NUM_CPU_DEVICES=2 on a 2-core CPU) that
axis is sharded across them. Compilation (`.lower().compile()`) and execution are timed separately.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from gamebench.problems.base import Params, Problem
from gamebench.solvers.base import Solver, State

Metrics = dict[str, jax.Array]
# progress(step, mean of the headline metric over trials); called on the host at log points only
ProgressFn = Callable[[int, float], None]
_MAX_LOGGED_COORDINATES = 4  # u and v are logged coordinate-wise up to this size


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


# What a solver step reports it used (its info dict; a missing entry counts 0). An evaluation of
# grad_u or grad_v counts one gradient; a Hessian-vector, Jacobian-vector or vector-Jacobian
# product of a gradient counts one HVP.
COSTS = ("grad_evals", "hvps")


class TrialCarry(NamedTuple):
    state: State  # the solver's state for one trial
    costs: dict[str, jax.Array]  # int32 () per entry of COSTS: used so far
    key_steps: jax.Array  # per-step keys are fold_in(key_steps, t)
    key_eval: jax.Array  # per-log-point keys are fold_in(key_eval, log index)


def make_run(
    problem: Problem,
    solver: Solver,
    *,
    steps: int,
    log_every: int,
    progress: ProgressFn | None = None,
    headline: str = "dist",
) -> Callable[[jax.Array], Metrics]:
    """Build run(keys) -> metrics with leaves (trials, steps // log_every + 1), pure and jittable.

    Trial i depends on keys[i] alone, so a batch of trials gives the same numbers as trials run one
    at a time, and the first n trials of a larger run equal an n-trial run.
    """
    if steps < 1 or log_every < 1 or steps % log_every:
        raise ValueError(
            f"steps={steps}, log_every={log_every}: need steps >= 1 and log_every dividing steps"
        )
    n_chunks = steps // log_every

    def init_trial(key: jax.Array) -> TrialCarry:
        key_init, key_steps, key_eval = jax.random.split(key, 3)
        costs = {name: jnp.int32(0) for name in COSTS}
        return TrialCarry(solver.init(problem, key_init), costs, key_steps, key_eval)

    def advance(carry: TrialCarry, chunk: jax.Array) -> TrialCarry:
        def one_step(carry: TrialCarry, t: jax.Array):
            state, info = solver.step(problem, carry.state, jax.random.fold_in(carry.key_steps, t))
            costs = {name: carry.costs[name] + info.get(name, 0) for name in COSTS}
            return carry._replace(state=state, costs=costs), None

        carry, _ = jax.lax.scan(one_step, carry, chunk * log_every + jnp.arange(log_every))
        return carry

    def evaluate(carry: TrialCarry, log_index: jax.Array) -> Metrics:
        u, v = solver.readout(problem, carry.state)
        key_batch, key_metrics = jax.random.split(jax.random.fold_in(carry.key_eval, log_index))
        batch = problem.sample_batch(key_batch)
        return game_metrics(problem, u, v, batch, key_metrics) | carry.costs

    def report(log_index: jax.Array, metrics: Metrics) -> None:
        if progress is None or headline not in metrics:
            return
        jax.debug.callback(
            lambda i, value: progress(int(i) * log_every, float(value)),
            log_index,
            jnp.nanmean(metrics[headline]),
        )

    def run(keys: jax.Array) -> Metrics:
        carry = jax.vmap(init_trial)(keys)
        first = jax.vmap(evaluate, in_axes=(0, None))(carry, 0)

        def chunk_body(carry: TrialCarry, chunk: jax.Array):
            carry = jax.vmap(advance, in_axes=(0, None))(carry, chunk)
            metrics = jax.vmap(evaluate, in_axes=(0, None))(carry, chunk + 1)
            report(chunk + 1, metrics)
            return carry, metrics

        _, later = jax.lax.scan(chunk_body, carry, jnp.arange(n_chunks))
        # (log points, trials, ...) -> (trials, log points, ...)
        return jax.tree.map(
            lambda a, b: jnp.concatenate([a[:, None], jnp.swapaxes(b, 0, 1)], axis=1), first, later
        )

    return run


def trial_keys(seed: int, trials: int) -> jax.Array:
    """Key of trial i is fold_in(PRNGKey(seed), i): independent of how many trials are run."""
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(
        jax.random.PRNGKey(seed), jnp.arange(trials)
    )


def shard_trials(keys: jax.Array) -> tuple[jax.Array, int]:
    """Pad the trial axis to a multiple of the device count and shard it; returns (keys, trials)."""
    trials = keys.shape[0]
    devices = jax.devices()
    if len(devices) == 1 or trials < len(devices):  # too few trials to share: one device
        return keys, trials
    pad = (-trials) % len(devices)
    if pad:  # padded trials are computed and dropped
        keys = jnp.concatenate([keys, keys[:pad]])
    mesh = Mesh(np.array(devices), ("trials",))
    return jax.device_put(keys, NamedSharding(mesh, PartitionSpec("trials"))), trials


@dataclass
class Timed:
    """Host-side outputs of a compiled program and its cost."""

    outputs: dict  # numpy arrays, trial axis first, padding removed
    compile_seconds: float
    run_seconds: float


@dataclass
class Compiled:
    executable: Callable  # the XLA executable for exactly these (sharded) keys
    keys: jax.Array
    trials: int
    compile_seconds: float


def compile_trials(fn: Callable[[jax.Array], dict], keys: jax.Array) -> Compiled:
    """jit `fn` and compile it for these keys (lowering and XLA compilation, timed)."""
    sharded, trials = shard_trials(keys)
    start = time.perf_counter()
    executable = jax.jit(fn).lower(sharded).compile()
    return Compiled(executable, sharded, trials, time.perf_counter() - start)


def execute(compiled: Compiled) -> Timed:
    """Run a compiled program (timed, until its outputs are ready) and bring them to the host."""
    start = time.perf_counter()
    outputs = jax.block_until_ready(compiled.executable(compiled.keys))
    run_seconds = time.perf_counter() - start
    host = jax.tree.map(lambda a: np.asarray(a)[: compiled.trials], outputs)
    return Timed(host, compiled.compile_seconds, run_seconds)


def compile_and_run(fn: Callable[[jax.Array], dict], keys: jax.Array) -> Timed:
    """jit `fn`, compile it for these keys (timed), then run it (timed separately)."""
    return execute(compile_trials(fn, keys))


def log_steps(steps: int, log_every: int) -> np.ndarray:
    return np.arange(0, steps + 1, log_every)


def scalar_metrics(metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The (trials, log points) metrics; array-valued ones (sample snapshots) are left out."""
    return {name: values for name, values in metrics.items() if values.ndim == 2}


def diverged(metrics: dict[str, np.ndarray]) -> np.ndarray:
    """(trials,) bool: a trial diverged if any logged float metric is NaN or infinite."""
    flags = [
        ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1)
        for values in metrics.values()
        if np.issubdtype(values.dtype, np.floating)
    ]
    return np.logical_or.reduce(flags) if flags else np.zeros(0, bool)
