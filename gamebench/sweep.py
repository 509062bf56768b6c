"""Fused sweeps: the jobs of a sweep grouped by program structure, one compiled program per group.

    plan_sweep:  every job's resolved config -> validated, keyed (hash of config + code version),
                 skipped when its complete outputs exist, grouped by structure
    run_group:   one compiled program for a group: numeric hyperparameters and seeds are traced
                 arguments with a job axis vmapped outside the trial axis; each job then writes
                 exactly the files a lone run writes (a lone run is a group of one)

What is traced: every float field of the solver config (learning rates, momenta, betas, eps, gamma,
eta, alpha, penalty constants, ...) and the seed. Everything else (problem and its sizes, solver,
k, steps, log_every, trials, devices) is structure: jobs that differ there are separate groups.
The persistent compilation cache serves a group whose structure was compiled before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import shutil
import sys
import threading
import time
import traceback
import typing
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from gamebench import io
from gamebench.paths import cache_root, code_version

# keys that never change a job's numbers or files: left out of its hash and its structure
_RUNTIME_KEYS = ("sweep_group", "progress", "compile_cache", "fuse", "trials_per_shard", "reuse")
INDEX_VERSION = 1
# output dirs of the jobs that failed in this process (the CLI exits 1 at the end if any did)
failed_jobs: list[str] = []
active_sweep_dir: Path | None = None  # the sweep this process runs (set by the sweeper), for Ctrl-C


@cache
def traced_solver_fields() -> tuple[str, ...]:
    """Paths (relative to `solver`) of the float fields of the solver schema: traced in groups."""
    from gamebench.config import OptimizerConfig, SolverConfig

    def floats(schema) -> list[str]:
        hints = typing.get_type_hints(schema)
        return [f.name for f in dataclasses.fields(schema) if hints[f.name] is float]

    paths = floats(SolverConfig)
    for player in ("opt_u", "opt_v"):
        paths += [f"{player}.{name}" for name in floats(OptimizerConfig)]
    return tuple(paths)


def _get(tree: dict, path: str) -> Any:
    for part in path.split("."):
        tree = tree[part]
    return tree


def _without(container: dict, paths: tuple[str, ...]) -> dict:
    out = json.loads(json.dumps(container))
    for path in paths:
        *parents, last = path.split(".")
        node = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def job_key(container: dict) -> str:
    """Hash of a job's resolved config (runtime-only keys left out) and the code version."""
    text = json.dumps(_without(container, _RUNTIME_KEYS), sort_keys=True, default=str)
    return hashlib.sha256(f"{text}|{code_version()}".encode()).hexdigest()[:20]


def structure_key(container: dict) -> str:
    """What fixes the compiled program: the config without the traced values and the seed."""
    traced = tuple(f"solver.{p}" for p in traced_solver_fields())
    stripped = _without(container, (*_RUNTIME_KEYS, *traced, "seed", "experiment"))
    return json.dumps(stripped, sort_keys=True, default=str)


@dataclass
class Member:
    """One job of a group: its sweep number, output directory, resolved config and key."""

    num: int
    out_dir: str
    config: dict
    key: str
    overrides: list[str] = field(default_factory=list)


# --- done jobs: an index keyed by job hash, so a re-run (even into a new sweep dir) skips them ---


def _index_path(key: str) -> Path:
    return cache_root() / "jobs" / f"{key}.json"


def is_complete(out_dir: Path, key: str) -> bool:
    from gamebench.reuse import complete

    return complete(out_dir, key)


def find_done(key: str, out_dir: Path) -> Path | None:
    """A complete earlier run of this job: in `out_dir` itself, or where the index points."""
    if is_complete(out_dir, key):
        return out_dir
    try:
        earlier = Path(json.loads(_index_path(key).read_text())["dir"])
    except (OSError, ValueError, KeyError):
        return None
    return earlier if is_complete(earlier, key) else None


def remember_done(key: str, out_dir: Path) -> None:
    io.write_json(_index_path(key), {"version": INDEX_VERSION, "dir": str(out_dir.resolve())})


def reuse(done: Path, out_dir: Path) -> None:
    """Copy a finished job's files into this sweep's job dir (atomically: copy, then rename)."""
    if done.resolve() == out_dir.resolve():
        return
    staging = out_dir.parent / f".{out_dir.name}.reuse.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(done, staging, ignore=shutil.ignore_patterns(".hydra", "*.tmp", "*.lock"))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(staging, out_dir)


# --- running a group ---


class _Namespace(dict):
    """A config as attributes (what the factories read), with traced values at some leaves."""

    __getattr__ = dict.__getitem__

    @classmethod
    def of(cls, tree: Any) -> Any:
        return cls({k: cls.of(v) for k, v in tree.items()}) if isinstance(tree, dict) else tree


def _set(tree: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        tree = tree[part]
    tree[last] = value


def group_parameters(members: list[Member]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The seeds (jobs,) and the traced solver values {path: (jobs,)} of a group."""
    seeds = np.array([m.config["seed"] for m in members], dtype=np.int32)
    params = {
        path: np.array([_get(m.config["solver"], path) for m in members], dtype=np.float32)
        for path in traced_solver_fields()
    }
    return seeds, params


def compile_options(config: dict) -> dict:
    """XLA options for a job's program. `compile=fast` lowers XLA's backend optimisation level:
    a small game's program compiles in about a third of the time, and runs slower (by a few
    milliseconds for a surface job, 5x for the zoo's CG-based solvers). It also rounds
    differently, so its numbers match `compile=full` runs only up to float round-off amplified
    by the game's dynamics; the default is full."""
    return {"xla_backend_optimization_level": 0} if config.get("compile") == "fast" else {}


# Parts of one merged program. The surface table's 36 structures compile faster as one program than
# as three of 12 (12.6-14.9 s against 17.1-20.5 s on a 2-core EPYC; 0.92 GB peak), since XLA folds
# the parts' identical key derivations and draws into one; the zoo's 120 structures take the same
# time either way (88 s against 89 s for the sweep), with 1.6 GB peak instead of 1.1 GB.
MAX_MERGED_STRUCTURES = 36


def batch_key(container: dict) -> str:
    """Jobs with equal batch keys may run in one compiled program. Jobs on small games
    (ProblemSpec.small) that share trials, steps, logging and compile settings
    are merged across structures (problems, solvers, k): one program of several small parts
    compiles faster than the parts apart (the six methods of a surface: 5.5 s against 9 s).
    Larger jobs are batched by structure only, so launchers can spread them over cores and
    machines."""
    from gamebench.problems import PROBLEMS

    if container.get("fuse") is False:  # a job timed alone: a batch of its own
        return job_key(container)
    if not PROBLEMS[container["problem"]["name"]].small:
        return structure_key(container)
    shared_keys = ("trials", "steps", "log_every", "devices", "plot", "plot_trials", "compile")
    shared = {k: container.get(k) for k in shared_keys}
    return json.dumps({**shared, "merged": True}, sort_keys=True, default=str)


def split_merged(members: list[Member]) -> list[list[Member]]:
    """A merged batch in chunks of at most MAX_MERGED_STRUCTURES structures (in sweep order)."""
    chunks: list[list[Member]] = []
    seen: list[set[str]] = []
    for member in members:
        structure = structure_key(member.config)
        for chunk, structures in zip(chunks, seen):
            if structure in structures or len(structures) < MAX_MERGED_STRUCTURES:
                chunk.append(member)
                structures.add(structure)
                break
        else:
            chunks.append([member])
            seen.append({structure})
    return chunks


@dataclass
class _Part:
    """One structure inside a group: its jobs, problem and compiled-program piece."""

    members: list[Member]
    problem: Any = None
    program: Any = None
    args: tuple = ()


def _problem_of(template: dict, problems: dict[str, Any]) -> Any:
    """The job's Problem, built once per group (parts share it, and its figure)."""
    from gamebench.problems import make_problem

    problem_key = json.dumps(template["problem"], sort_keys=True)
    if problem_key not in problems:
        try:
            problems[problem_key] = make_problem(_Namespace.of(template["problem"]))
        except ValueError as error:  # a limit the field's own check cannot state: the user's to fix
            from gamebench.config import ConfigError

            raise ConfigError(f"problem {template['problem']['name']}: {error}") from error
    return problems[problem_key]


def _build_part(
    members: list[Member], problems: dict[str, Any], trial_range: tuple[int, int] | None = None
) -> _Part:
    """A part's problem and program, for all of its jobs' trials or for trials [start, stop)."""
    from gamebench.experiment import progress_for
    from gamebench.game import headline_metric
    from gamebench.run import make_group_run, place_data
    from gamebench.solvers import make_solver

    template = members[0].config
    problem = _problem_of(template, problems)
    headline = headline_metric(problem)
    first, stop = trial_range or (0, template["trials"])
    trials = stop - first

    def build(params: dict):
        solver_cfg = json.loads(json.dumps(template["solver"]))
        for path, value in params.items():
            _set(solver_cfg, path, value)
        return problem, make_solver(_Namespace.of(solver_cfg), template["steps"])

    program = make_group_run(
        build,
        trials=trials,
        steps=template["steps"],
        log_every=template["log_every"],
        progress=progress_for(template, headline),
        headline=headline,
    )
    seeds, params = group_parameters(members)
    args = (seeds, params, place_data(problem.data, trials), np.int32(first))
    points = template["steps"] // template["log_every"] + 1
    if len(members) * trials * points > 10_000_000:  # only big runs pay for a trace
        _check_memory(program, args, len(members), trials)
    return _Part(members, problem, program, args)


def _check_memory(program, args, jobs: int, trials: int) -> None:
    """Refuse, before compiling, a part whose logged outputs and inputs alone exceed 80 % of this
    machine's memory (the outputs grow as jobs x trials x log points x metrics)."""
    import jax

    from gamebench.config import ConfigError

    leaves = jax.tree.leaves((jax.eval_shape(program, *args), args))
    needed = sum(int(np.prod(leaf.shape)) * np.dtype(leaf.dtype).itemsize for leaf in leaves)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if needed > 0.8 * memory:
        raise ConfigError(
            f"trials={trials} ({jobs} job(s)) needs about {needed / 2**30:.0f} GB for its logged "
            f"metrics and inputs; this machine has {memory / 2**30:.0f} GB (fewer trials, a larger "
            "log_every, or a sweep over seeds)"
        )


def _fail(members: list[Member], error: BaseException) -> list[Any]:
    """Record `error` for every job of `members` (meta.json, and error.log unless the user can
    fix it from the message alone) and return their failed JobResults."""
    from gamebench.cli import one_line
    from gamebench.config import ConfigError
    from gamebench.data import DataError
    from gamebench.experiment import JobResult, record_failure

    # a dataset missing or corrupt, a run too big for the machine: the message says it all
    user_error = isinstance(error, DataError | ConfigError)
    message = one_line(error) if user_error else f"{type(error).__name__}: {one_line(error)}"
    trace = "".join(traceback.format_exception(error))
    for member in members:
        record_failure(member.config, member.out_dir, "failed", message, key=member.key)
        if not user_error:
            (Path(member.out_dir) / "error.log").write_text(trace)
    where = "" if user_error else " (traceback in error.log)"
    return [
        JobResult("failed", f"job {m.num} failed: {message}{where}", error=error) for m in members
    ]


def run_group(members: list[Member], group_id: str = "single") -> list[Any]:
    """Compile one program for the group, run it, write every job's files (see _run_group); on
    Ctrl-C the jobs without complete outputs are recorded as interrupted before it propagates."""
    from gamebench.experiment import record_failure

    try:
        return _run_group(members, group_id)
    except KeyboardInterrupt:
        for member in members:
            if not is_complete(Path(member.out_dir), member.key):
                message = "interrupted (Ctrl-C) before its files were written"
                record_failure(
                    member.config, member.out_dir, "interrupted", message, key=member.key
                )
        raise


def _run_group(members: list[Member], group_id: str = "single") -> list[Any]:
    """Compile one program for the group, run it, write every job's files; returns JobResults
    in the order of `members`.

    A group holds one or more structures (parts); each part's jobs are one vmapped piece of the
    program. A part that cannot be built fails its own jobs; if the merged program of several
    parts fails, each part is run alone, so a failure stays with the jobs that caused it. A job
    that diverges is recorded as diverged and the others keep their results.
    """
    from gamebench.interrupts import check

    check()
    results: dict[int, Any] = {}
    parts = _build_parts(members, results)
    if parts:
        if members[0].config.get("plot", True):  # matplotlib's import overlaps XLA's compile
            threading.Thread(target=importlib.import_module, args=("gamebench.plots",)).start()
        try:
            outputs, timing = _compile_and_run(parts, members[0].config)
        except Exception as error:  # noqa: BLE001
            if len(parts) == 1:
                results.update(
                    zip([m.num for m in parts[0].members], _fail(parts[0].members, error))
                )
            else:  # find the part that fails: each alone
                for i, part in enumerate(parts):
                    alone = _run_group(part.members, f"{group_id}.{i}")
                    results.update(zip([m.num for m in part.members], alone))
        else:
            check()  # a Ctrl-C swallowed during the compile or the run stops the group here
            results.update(_write_parts(parts, outputs, {"id": group_id, **timing}))
    return [results[m.num] for m in members]


def _by_structure(members: list[Member]) -> list[list[Member]]:
    by_structure: dict[str, list[Member]] = {}
    for member in members:
        by_structure.setdefault(structure_key(member.config), []).append(member)
    return list(by_structure.values())


def _build_parts(
    members: list[Member], results: dict[int, Any], trial_range: tuple[int, int] | None = None
) -> list[_Part]:
    """One part per structure, in sweep order; a part that cannot be built records its jobs'
    failures in `results` and is left out."""
    problems: dict[str, Any] = {}  # built once per group: parts share it (and its figure)
    parts = []
    for part_members in _by_structure(members):
        try:
            parts.append(_build_part(part_members, problems, trial_range))
        except Exception as error:  # noqa: BLE001 - this part's jobs get the record
            results.update(zip([m.num for m in part_members], _fail(part_members, error)))
    return parts


def _compile_and_run(parts: list[_Part], config: dict) -> tuple[list, dict]:
    """The parts as one program: compiled and run, each timed; outputs as numpy arrays."""
    import jax

    programs = [part.program for part in parts]
    args = [part.args for part in parts]
    start = time.perf_counter()
    compiled = (
        jax.jit(lambda args: [program(*a) for program, a in zip(programs, args)])
        .lower(args)
        .compile(compiler_options=compile_options(config))
    )
    compile_seconds = time.perf_counter() - start
    memory = compiled.memory_analysis()
    start = time.perf_counter()
    outputs = jax.block_until_ready(compiled(args))
    run_seconds = time.perf_counter() - start
    timing = {
        "compile_seconds": compile_seconds,
        "run_seconds": run_seconds,
        # XLA's working memory of the whole compiled program (its temporary buffers), bytes
        "temp_bytes": None if memory is None else int(memory.temp_size_in_bytes),
    }
    return jax.tree.map(np.asarray, outputs), timing


def _write_parts(parts: list[_Part], outputs: list, timing: dict) -> dict[int, Any]:
    """Every job's files (a figure per problem, shared by its parts' jobs); job num -> JobResult."""
    parts_members = [m for part in parts for m in part.members]
    group = {
        "id": timing["id"],
        "size": len(parts_members),
        "structures": len(parts),
        "jobs": [m.num for m in parts_members],
        **{k: v for k, v in timing.items() if k != "id"},
    }
    jobs = []  # (member, problem, this job's outputs, figure key)
    figures = {}
    for part, part_outputs in zip(parts, outputs):
        figure_key = None
        if part.members[0].config.get("plot", True):
            figure_key = id(part.problem)
            if figure_key not in figures:
                figures[figure_key] = _figure(part, part_outputs)
        for index, member in enumerate(part.members):
            mine = {name: values[index] for name, values in part_outputs.items()}
            jobs.append((member, part.problem, mine, figure_key))
    global _WRITING
    _WRITING = (jobs, group, figures)
    try:
        return {job[0].num: result for job, result in zip(jobs, _write_all(len(jobs)))}
    finally:
        _WRITING = None
        from gamebench.plots import close

        for figure in figures.values():
            close(figure.fig)


def _figure(part: _Part, outputs: dict):
    from gamebench.game import headline_metric
    from gamebench.plots import TrajectoryFigure, payoff_grid

    grid = payoff_grid(part.problem) if "u" in outputs and "v" in outputs else None
    config = part.members[0].config
    return TrajectoryFigure(
        part.problem, headline_metric(part.problem), config["plot_trials"], grid
    )


# what _write_member reads: set by run_group, inherited by forked writer processes
_WRITING: tuple | None = None
_PARALLEL_WRITES_FROM = 8  # jobs; below this a second process costs more than it saves


def _write_member(index: int):
    """Write job `index` of the group being written; a failure is recorded for that job alone."""
    from gamebench.experiment import JobResult, record_failure, write_job

    jobs, group, figures = _WRITING
    member, problem, outputs, figure_key = jobs[index]
    try:
        result = write_job(member, problem, outputs, group, figures.get(figure_key))
    except Exception as error:  # noqa: BLE001 - the group's other jobs keep their results
        message = f"writing the results failed: {type(error).__name__}: {error}"
        record_failure(member.config, member.out_dir, "failed", message, key=member.key)
        return JobResult("failed", f"job {member.num} failed: {message}")
    remember_done(member.key, Path(member.out_dir))
    return result


def _write_all(count: int) -> list:
    """Write every job of the group: rows, summaries and figures cost ~0.1 s a job, so a large
    group is written by one forked process per core (they touch no JAX: outputs are numpy)."""
    import multiprocessing

    workers = min(os.cpu_count() or 1, 4)
    forkable = "fork" in multiprocessing.get_all_start_methods()
    if count < _PARALLEL_WRITES_FROM or workers < 2 or not forkable:
        return [_write_member(i) for i in range(count)]
    io.environment()  # cached in the parent, so no child asks JAX or git for it
    with warnings.catch_warnings():
        # JAX warns that forking a multithreaded process may deadlock; the children run no JAX
        # (the outputs are numpy arrays, the environment record is cached), only pandas, pyarrow,
        # matplotlib and PIL on their own copies
        warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_write_member, range(count), chunksize=-(-count // workers))


# --- trial shards: a group's trials split over launcher jobs, merged exactly ---

SHARDS_DIR = ".shards"  # in a job's dir: one file per finished trial range, removed once merged


def shard_ranges(config: dict) -> list[tuple[int, int]]:
    """The trial ranges [start, stop) a job's trials are split into (`trials_per_shard`)."""
    trials, per_shard = config["trials"], config.get("trials_per_shard") or 0
    if not per_shard or trials <= per_shard:
        return [(0, trials)]
    return [(start, min(start + per_shard, trials)) for start in range(0, trials, per_shard)]


def _shard_path(member: Member, start: int, stop: int) -> Path:
    return Path(member.out_dir) / SHARDS_DIR / f"{start}-{stop}.npz"


def _read_shard(member: Member, start: int, stop: int) -> dict[str, np.ndarray] | None:
    """A finished shard of this job (written atomically, named by the job's key), or None."""
    try:
        with np.load(_shard_path(member, start, stop)) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, EOFError):
        return None
    if str(arrays.pop("_key", "")) != member.key:
        return None
    return arrays


def shard_done(members: list[Member], start: int, stop: int) -> bool:
    return all(_read_shard(m, start, stop) is not None for m in members)


def run_shard(members: list[Member], group_id: str, start: int, stop: int) -> list[str]:
    """Compile and run trials [start, stop) of every job of the group and store each job's
    outputs in its shard file; the jobs' files are written when every shard is in
    (merge_shards). Returns one line per job that could not run."""
    failures: dict[int, Any] = {}
    parts = _build_parts(members, failures, (start, stop))
    lines = [f"{group_id} trials {start}-{stop}: {r.summary_line}" for r in failures.values()]
    if not parts:
        return lines
    try:
        outputs, timing = _compile_and_run(parts, members[0].config)
    except Exception as error:  # noqa: BLE001 - the merge reports the jobs of a missing shard
        return [*lines, f"{group_id} trials {start}-{stop} failed: {type(error).__name__}: {error}"]
    for part, part_outputs in zip(parts, outputs):
        for index, member in enumerate(part.members):
            mine = {name: values[index] for name, values in part_outputs.items()}
            timing_arrays = {f"_{k}": np.float64(v or 0) for k, v in timing.items()}
            io.write_npz(
                _shard_path(member, start, stop), _key=np.str_(member.key), **mine, **timing_arrays
            )
    return lines


def merge_shards(members: list[Member], group_id: str) -> list[Any]:
    """Every job's files from its shards (their trials concatenated in order: the unsplit run's
    arrays); a job with a shard missing is recorded as failed. Returns JobResults in order."""
    from gamebench.experiment import JobResult, record_failure

    ranges = shard_ranges(members[0].config)
    results: dict[int, Any] = {}
    parts, outputs = [], []
    timing = {"compile_seconds": 0.0, "run_seconds": 0.0, "temp_bytes": 0.0}
    problems: dict[str, Any] = {}
    for part_members in _by_structure(members):
        complete, arrays = [], []
        for member in part_members:
            shards = [_read_shard(member, start, stop) for start, stop in ranges]
            missing = [f"{a}-{b}" for (a, b), s in zip(ranges, shards) if s is None]
            if missing:
                message = f"trials {', '.join(missing)} did not finish; the same command runs them"
                record_failure(member.config, member.out_dir, "failed", message, key=member.key)
                results[member.num] = JobResult("failed", f"job {member.num} failed: {message}")
                continue
            costs = {name: [float(s.pop(f"_{name}")) for s in shards] for name in timing}
            timing = {  # every job of a shard stores the shard's costs: summed over shards
                "compile_seconds": sum(costs["compile_seconds"]),
                "run_seconds": sum(costs["run_seconds"]),
                "temp_bytes": int(max(costs["temp_bytes"])),
            }
            complete.append(member)
            arrays.append({k: np.concatenate([s[k] for s in shards]) for k in shards[0]})
        if complete:
            try:
                parts.append(_Part(complete, _problem_of(complete[0].config, problems)))
            except Exception as error:  # noqa: BLE001
                results.update(zip([m.num for m in complete], _fail(complete, error)))
                continue
            outputs.append({k: np.stack([a[k] for a in arrays]) for k in arrays[0]})
    if parts:
        group = {"id": group_id, **timing, "shards": [list(r) for r in ranges]}
        results.update(_write_parts(parts, outputs, group))
    for member in members:
        if results[member.num].status != "failed":
            shutil.rmtree(Path(member.out_dir) / SHARDS_DIR, ignore_errors=True)
    return [results[m.num] for m in members]


def run_sharded(members: list[Member], group_id: str = "single") -> list[Any]:
    """Every shard of the group in this process (those not finished before), then the merge."""
    for start, stop in shard_ranges(members[0].config):
        if not shard_done(members, start, stop):
            for line in run_shard(members, group_id, start, stop):
                print(f"gamebench: {line}", file=sys.stderr)
    return merge_shards(members, group_id)


def load_group(spec_path: str | Path) -> tuple[str, list[Member], dict]:
    """(group id, members, where the group stands in its sweep: index, groups, jobs, started,
    and for a shard its trial range)."""
    spec = json.loads(Path(spec_path).read_text())
    return spec["id"], [Member(**m) for m in spec["members"]], spec.get("position", {})


def save_group(spec_path: Path, group_id: str, members: list[Member], position: dict) -> None:
    members_ = [dataclasses.asdict(m) for m in members]
    io.write_json(spec_path, {"id": group_id, "members": members_, "position": position})


def progress_line(position: dict, now: float, quiet_below: float = 10.0) -> str | None:
    """One line after a group of a long sweep: groups and jobs done, elapsed and an estimate of
    the rest (from the groups done so far); None for sweeps shorter than `quiet_below` seconds."""
    elapsed = now - position["started"]
    done, total = position["index"] + 1, position["groups"]
    if elapsed < quiet_below or done == total:
        return None
    jobs = position["jobs_before"] + position["size"]
    left = elapsed / done * (total - done)
    return (
        f"gamebench: {done} of {total} groups done ({jobs} of {position['jobs']} jobs), "
        f"{elapsed:.0f} s elapsed, about {left:.0f} s left"
    )


# --- which jobs compute the same numbers ---


def _same_run(cfg: Any) -> tuple[dict, dict, list[str]]:
    """(problem, solver, reasons): the job's problem and solver configs as plain dicts, changed by
    its problem's same_run rule (the job then computes the changed config's numbers)."""
    from omegaconf import OmegaConf

    from gamebench.problems import PROBLEMS

    container = cfg if isinstance(cfg, dict) else OmegaConf.to_container(cfg, resolve=True)
    problem, solver = dict(container["problem"]), dict(container["solver"])
    rule = PROBLEMS[problem["name"]].same_run
    return rule(problem, solver) if rule else (problem, solver, [])


def ignored_settings(cfg: Any) -> list[str]:
    """What the job's solver or problem ignores, one clause each: a job that differs from another
    only there computes the same numbers (a sweep runs the first and skips the others)."""
    from gamebench.config import SHARED_SOLVER_PARAMS, SOLVER_PARAMS
    from gamebench.solvers import SOLVERS

    _, solver, reasons = _same_run(cfg)
    if reasons:
        return reasons
    for name in SHARED_SOLVER_PARAMS:
        if name not in SOLVERS[solver["name"]].uses and solver[name] != SOLVER_PARAMS[name].default:
            users = sorted(s for s, spec in SOLVERS.items() if name in spec.uses)
            reasons.append(
                f"solver.{name}={solver[name]} has no effect on solver {solver['name']!r} "
                f"(only {', '.join(users)} read it)"
            )
    return reasons


def effective_config(container: dict) -> dict:
    """A resolved job config with what it ignores reset: its problem's same_run rule, then the
    solver's unused fields to their defaults. Equal effective configs compute equal numbers."""
    from gamebench.config import SOLVER_PARAMS
    from gamebench.solvers import SOLVERS

    problem, solver, _ = _same_run(container)
    uses = SOLVERS[solver["name"]].uses
    solver |= {k: p.default for k, p in SOLVER_PARAMS.items() if k not in uses}
    return {**container, "problem": problem, "solver": solver}


# --- planning a sweep (called by the Hydra sweeper plugin) ---


@dataclass
class Plan:
    groups: list[tuple[str, list[Member]]]  # (group id, members) to run
    jobs: list[dict]  # every job of the sweep: num, dir, key (None when refused), status
    done: int = 0
    refused: int = 0

    def headline(self) -> str:
        pending = sum(len(m) for _, m in self.groups)
        total = len(self.jobs)
        return (
            f"gamebench: sweep of {total} jobs: {self.done} of {total} jobs already done, "
            f"{pending} to run in {len(self.groups)} compiled group(s)"
            + (f", {self.refused} refused or skipped" if self.refused else "")
        )


def plan_sweep(configs: list[tuple[int, Path, list[str], Any]], rerun: bool = False) -> Plan:
    """configs: (num, out_dir, overrides, job config without the hydra node) for every job.

    Refused jobs (a value out of range) and duplicates are recorded in their dirs now; finished
    jobs are reused; the rest are grouped by structure in the order they appear.
    """
    from omegaconf import OmegaConf

    from gamebench.config import ConfigError, validate
    from gamebench.experiment import record_failure

    groups: dict[str, list[Member]] = {}
    jobs, done, refused = [], 0, 0
    first_of: dict[str, int] = {}  # effective config -> the job that computes it
    for num, out_dir, overrides, cfg in configs:
        try:
            validate(cfg)
        except ConfigError as error:
            record_failure(cfg, out_dir, "failed", str(error))
            failed_jobs.append(str(out_dir))
            print(f"gamebench: job {num} failed: {error}", file=sys.stderr)
            jobs.append({"num": num, "dir": str(out_dir), "key": None, "status": "failed"})
            refused += 1
            continue
        container = OmegaConf.to_container(cfg, resolve=True)
        same = first_of.setdefault(job_key(effective_config(container)), num)
        if same != num:
            why = "; ".join(ignored_settings(container)) or "the same config"
            message = f"same run as job {same}: {why}"
            record_failure(cfg, out_dir, "skipped", message)
            print(f"gamebench: job {num} skipped: {message}")
            jobs.append({"num": num, "dir": str(out_dir), "key": None, "status": "skipped"})
            refused += 1
            continue
        key = job_key(container)
        jobs.append({"num": num, "dir": str(out_dir), "key": key, "status": "planned"})
        earlier = None if rerun else find_done(key, out_dir)
        if earlier is not None:
            reuse(earlier, out_dir)
            jobs[-1]["status"] = "done"
            done += 1
            continue
        member = Member(num, str(out_dir), container, key, list(overrides))
        groups.setdefault(batch_key(container), []).append(member)
    batches = [chunk for members in groups.values() for chunk in split_merged(members)]
    named = [(f"g{i}", members) for i, members in enumerate(batches)]
    return Plan(named, jobs, done, refused)


def run_sweep(overrides: list[str], sweep_dir: str | Path) -> int:
    """`gamebench -m OVERRIDES hydra.sweep.dir=SWEEP_DIR` in a subprocess, its output streamed:
    how scripts run a paper artefact's sweep (resumable: finished jobs are skipped). Returns the
    exit code (0 ok, 1 some job failed, 2 bad input)."""
    import subprocess

    command = [sys.executable, "-m", "gamebench.cli", "-m", *overrides]
    return subprocess.run([*command, f"hydra.sweep.dir={Path(sweep_dir).resolve()}"]).returncode
