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
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from gamebench.game import Problem, Solver, State, at_step
from gamebench.metrics import COSTS, game_metrics

Metrics = dict[str, jax.Array]
# progress(step, mean of the headline metric over trials); called on the host at log points only
ProgressFn = Callable[[int, float], None]


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
) -> Callable[..., Metrics]:
    """Build run(keys, data=None) -> metrics with leaves (trials, steps // log_every + 1), pure and
    jittable. `data` is `problem.data` for problems that carry datasets (passed as an argument so it
    is not compiled in as a constant).

    Trial i depends on keys[i] alone: its random draws are the same however many trials run, so
    the first n trials of a larger run are the n-trial run's. The numbers are bitwise equal where
    a trial's arithmetic is elementwise (the 2D surfaces, the bilevel problems); where a problem
    reduces over arrays whose layout XLA vectorises by batch size (matrix products and sums in the
    MoG GAN's networks), they agree to float round-off (1.5e-7 measured on the GAN's f and
    gradient norm), which training can then amplify.
    """
    program = _program(
        lambda params: (problem, solver),
        steps=steps,
        log_every=log_every,
        progress=progress,
        headline=headline,
        config_axis=False,
    )
    return lambda keys, data=None: program(keys, None, data)


# params -> (Problem, Solver): builds one job's game and solver from its traced parameters
Builder = Callable[[Any], tuple[Problem, Solver]]


def make_group_run(
    build: Builder,
    *,
    trials: int,
    steps: int,
    log_every: int,
    progress: ProgressFn | None = None,
    headline: str = "dist",
) -> Callable[..., Metrics]:
    """Build run(seeds, params, data=None, first_trial=0) for a group of jobs that share one
    program structure.

    seeds: int32 (jobs,); params: a pytree whose leaves are (jobs,) arrays, the numeric
    hyperparameters that differ between the jobs. `build(params of one job)` returns that job's
    Problem and Solver with the hyperparameters as traced values, so one compiled program serves
    every value. The job axis is vmapped outside the trial axis; trial i of a job has the key
    `trial_keys(seed, trials)[i]`, computed inside the program (no separate small program).
    With `first_trial` (traced, so every shard of one size shares a program), the program runs
    trials first_trial .. first_trial + trials - 1 of each job: trial i has the same key
    whatever the split, so its numbers are those of the unsplit run.
    Returns metrics with leaves (jobs, trials, steps // log_every + 1, ...).
    """
    program = _program(
        build,
        steps=steps,
        log_every=log_every,
        progress=progress,
        headline=headline,
        config_axis=True,
    )
    mesh = _trial_mesh(trials)
    padded = trials + ((-trials) % mesh.size if mesh is not None else 0)

    def run(seeds: jax.Array, params: Any, data=None, first_trial: jax.Array | int = 0) -> Metrics:
        keys = jax.vmap(lambda seed: trial_keys(seed, padded, first_trial))(seeds)
        if mesh is not None:  # trials split over the devices; padded trials are dropped below
            keys = jax.lax.with_sharding_constraint(
                keys, NamedSharding(mesh, PartitionSpec(None, "trials"))
            )
        metrics = program(keys, params, data)
        return jax.tree.map(lambda leaf: leaf[:, :trials], metrics)

    return run


def _program(
    build: Builder,
    *,
    steps: int,
    log_every: int,
    progress: ProgressFn | None,
    headline: str,
    config_axis: bool,
) -> Callable[..., Metrics]:
    """program(keys, params, data) -> metrics: the scan over log points of scans over steps.

    With `config_axis`, keys are (jobs, trials, 2) and every job is built from its own slice of
    `params` under `vmap`; without it keys are (trials, 2), `params` is passed through as is, and
    the program is exactly a single job's.
    """
    if steps < 1 or log_every < 1 or steps % log_every:
        raise ValueError(
            f"steps={steps}, log_every={log_every}: need steps >= 1 and log_every dividing steps"
        )
    n_chunks = steps // log_every
    over_jobs = jax.vmap if config_axis else (lambda fn: fn)
    report = _progress_reporter(progress, headline, log_every)

    def program(keys: jax.Array, params: Any, data=None) -> Metrics:
        def start(params, keys):
            init_trial, _, evaluate = _trial_functions(build, params, data, steps, log_every)
            carry = jax.vmap(init_trial)(keys)
            return carry, jax.vmap(evaluate, in_axes=(0, None))(carry, 0)

        carry, first = over_jobs(start)(params, keys)

        def chunk_body(carry: TrialCarry, chunk: jax.Array):
            def one_job(params, carry):
                _, advance, evaluate = _trial_functions(build, params, data, steps, log_every)
                carry = jax.vmap(advance, in_axes=(0, None))(carry, chunk)
                return carry, jax.vmap(evaluate, in_axes=(0, None))(carry, chunk + 1)

            carry, metrics = over_jobs(one_job)(params, carry)
            report(chunk + 1, metrics)
            return carry, metrics

        _, later = jax.lax.scan(chunk_body, carry, jnp.arange(n_chunks))
        # first: ([jobs,] trials, ...), later: (log points, [jobs,] trials, ...)
        # -> ([jobs,] trials, log points, ...)
        axis = 2 if config_axis else 1
        return jax.tree.map(
            lambda a, b: jnp.concatenate(
                [jnp.expand_dims(a, axis), jnp.moveaxis(b, 0, axis)], axis=axis
            ),
            first,
            later,
        )

    return program


def _progress_reporter(progress: ProgressFn | None, headline: str, log_every: int):
    """report(log index, metrics): the host callback that prints progress at log points."""

    def report(log_index: jax.Array, metrics: Metrics) -> None:
        if progress is None or headline not in metrics:
            return
        jax.debug.callback(
            lambda i, value: progress(int(i) * log_every, float(value)),
            log_index,
            jnp.nanmean(metrics[headline]),
        )

    return report


def _trial_functions(build: Builder, params: Any, data: Any, steps: int, log_every: int):
    """(init_trial, advance, evaluate) for one job: a trial's start from its key, `log_every`
    solver steps, and the metrics at a log point."""
    problem, solver = build(params)
    game = problem if problem.bind is None or data is None else problem.bind(data)

    def init_trial(key: jax.Array) -> TrialCarry:
        key_init, key_steps, key_eval = jax.random.split(key, 3)
        costs = {name: jnp.int32(0) for name in COSTS}
        return TrialCarry(solver.init(game, key_init), costs, key_steps, key_eval)

    def advance(carry: TrialCarry, chunk: jax.Array) -> TrialCarry:
        def one_step(carry: TrialCarry, t: jax.Array):
            key = jax.random.fold_in(carry.key_steps, t)
            state, info = solver.step(at_step(game, t, steps), carry.state, key)
            costs = {name: carry.costs[name] + info.get(name, 0) for name in COSTS}
            return carry._replace(state=state, costs=costs), None

        carry, _ = jax.lax.scan(one_step, carry, chunk * log_every + jnp.arange(log_every))
        return carry

    def evaluate(carry: TrialCarry, log_index: jax.Array) -> Metrics:
        u, v = solver.readout(game, carry.state)
        key_batch, key_metrics = jax.random.split(jax.random.fold_in(carry.key_eval, log_index))
        batch = game.sample_batch(key_batch)
        return game_metrics(game, u, v, batch, key_metrics) | carry.costs

    return init_trial, advance, evaluate


def trial_keys(seed: int, trials: int, first: int = 0) -> jax.Array:
    """Keys of trials first .. first + trials - 1; the key of trial i is fold_in(PRNGKey(seed), i),
    independent of how many trials are run and of how they are split."""
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(
        jax.random.PRNGKey(seed), first + jnp.arange(trials)
    )


def shard_trials(keys: jax.Array) -> tuple[jax.Array, int]:
    """Pad the trial axis to a multiple of the device count and shard it; returns (keys, trials)."""
    trials = keys.shape[0]
    mesh = _trial_mesh(trials)
    if mesh is None:  # one device, or too few trials to share
        return keys, trials
    pad = (-trials) % mesh.size
    if pad:  # padded trials are computed and dropped
        keys = jnp.concatenate([keys, keys[:pad]])
    return jax.device_put(keys, NamedSharding(mesh, PartitionSpec("trials"))), trials


def _trial_mesh(trials: int) -> Mesh | None:
    devices = jax.devices()
    if len(devices) == 1 or trials < len(devices):
        return None
    return Mesh(np.array(devices), ("trials",))


def place_data(data, trials: int):
    """A problem's dataset on the device(s): replicated on every device the trials are sharded over."""
    if data is None:
        return None
    mesh = _trial_mesh(trials)
    if mesh is None:
        return jax.device_put(data)
    return jax.device_put(data, NamedSharding(mesh, PartitionSpec()))


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
    data: object = None  # the problem's dataset on the device(s), passed at every call


def compile_trials(fn: Callable[..., dict], keys: jax.Array, data=None) -> Compiled:
    """jit `fn` and compile it for these keys (lowering and XLA compilation, timed).

    `data` (a problem's dataset) becomes a second argument of the program rather than a constant.
    """
    sharded, trials = shard_trials(keys)
    start = time.perf_counter()
    if data is None:
        executable = jax.jit(fn).lower(sharded).compile()
    else:
        data = place_data(data, trials)
        executable = jax.jit(fn).lower(sharded, data).compile()
    return Compiled(executable, sharded, trials, time.perf_counter() - start, data)


def execute(compiled: Compiled) -> Timed:
    """Run a compiled program (timed, until its outputs are ready) and bring them to the host."""
    args = (compiled.keys,) if compiled.data is None else (compiled.keys, compiled.data)
    start = time.perf_counter()
    outputs = jax.block_until_ready(compiled.executable(*args))
    run_seconds = time.perf_counter() - start
    host = jax.tree.map(lambda a: np.asarray(a)[: compiled.trials], outputs)
    return Timed(host, compiled.compile_seconds, run_seconds)


def compile_and_run(fn: Callable[..., dict], keys: jax.Array, data=None) -> Timed:
    """jit `fn`, compile it for these keys (timed), then run it (timed separately)."""
    return execute(compile_trials(fn, keys, data))


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


def make_final_players(problem: Problem, solver: Solver, *, steps: int) -> Callable[..., tuple]:
    """Build train(keys, data=None) -> (u, v) after `steps` solver steps, vmapped over trials:
    for evaluations that need the learned players themselves (e.g. a frozen filter), not metrics."""

    def train(keys: jax.Array, data=None):
        game = problem if problem.bind is None or data is None else problem.bind(data)

        def one_trial(key):
            key_init, key_steps, _ = jax.random.split(key, 3)

            def one_step(state, t):
                state, _ = solver.step(
                    at_step(game, t, steps), state, jax.random.fold_in(key_steps, t)
                )
                return state, None

            state, _ = jax.lax.scan(one_step, solver.init(game, key_init), jnp.arange(steps))
            return solver.readout(game, state)

        return jax.vmap(one_trial)(keys)

    return train
