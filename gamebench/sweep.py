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
import json
import os
import shutil
import sys
import time
import traceback
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from gamebench import io

# keys that never change a job's numbers or files: left out of its hash and its structure
_RUNTIME_KEYS = ("sweep_group", "progress", "compile_cache")
INDEX_VERSION = 1
# output dirs of the jobs that failed in this process (the CLI exits 1 at the end if any did)
failed_jobs: list[str] = []


def cache_root() -> Path:
    return Path(os.environ.get("GAMEBENCH_CACHE", Path.home() / ".cache" / "gamebench"))


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


@cache
def code_version() -> str:
    """sha256 of the package's Python sources: a job's outputs are reused only under the same code."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


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
    """meta.json is written last and atomically: a job is done when it names this key, finished
    (ok or diverged) and every file it lists exists."""
    try:
        meta = json.loads((out_dir / io.JOB_META).read_text())
    except (OSError, ValueError):
        return False
    return (
        meta.get("key") == key
        and meta.get("status") in ("ok", "diverged")
        and all((out_dir / name).is_file() for name in meta.get("files", []))
    )


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


def run_group(members: list[Member], group_id: str = "single") -> list[Any]:
    """Compile one program for the group, run it, write every job's files; returns JobResults.

    A failure while building or compiling fails every job of the group (each gets its meta.json);
    a job that diverges is recorded as diverged and the others keep their results.
    """
    import jax

    from gamebench.experiment import JobResult, progress_for, record_failure
    from gamebench.problems import make_problem
    from gamebench.problems.base import headline_metric
    from gamebench.run import make_group_run, place_data
    from gamebench.solvers import make_solver

    template = members[0].config
    try:
        problem = make_problem(_Namespace.of(template["problem"]))
        headline = headline_metric(problem)

        def build(params: dict):
            solver_cfg = json.loads(json.dumps(template["solver"]))
            for path, value in params.items():
                _set(solver_cfg, path, value)
            return problem, make_solver(_Namespace.of(solver_cfg))

        program = make_group_run(
            build,
            trials=template["trials"],
            steps=template["steps"],
            log_every=template["log_every"],
            progress=progress_for(template, headline),
            headline=headline,
        )
        seeds, params = group_parameters(members)
        data = place_data(problem.data, template["trials"])
        start = time.perf_counter()
        compiled = jax.jit(program).lower(seeds, params, data).compile()
        compile_seconds = time.perf_counter() - start
        start = time.perf_counter()
        outputs = jax.block_until_ready(compiled(seeds, params, data))
        run_seconds = time.perf_counter() - start
        outputs = jax.tree.map(np.asarray, outputs)
    except Exception as error:  # noqa: BLE001 - every job of the group gets the record
        from gamebench.cli import one_line
        from gamebench.data import DataError

        user_error = isinstance(error, DataError)  # the user fixes it: no traceback to keep
        message = one_line(error) if user_error else f"{type(error).__name__}: {one_line(error)}"
        for member in members:
            record_failure(member.config, member.out_dir, "failed", message, key=member.key)
            if not user_error:
                (Path(member.out_dir) / "error.log").write_text(traceback.format_exc())
        where = "" if user_error else " (traceback in error.log)"
        return [
            JobResult("failed", f"job {m.num} failed: {message}{where}", error=error)
            for m in members
        ]

    group = {
        "id": group_id,
        "size": len(members),
        "jobs": [m.num for m in members],
        "compile_seconds": compile_seconds,
        "run_seconds": run_seconds,
    }
    figure = None
    if template.get("plot", True):
        from gamebench.plots import TrajectoryFigure, payoff_grid

        grid = payoff_grid(problem) if "u" in outputs and "v" in outputs else None
        figure = TrajectoryFigure(problem, headline, template["plot_trials"], grid)
    global _WRITING
    _WRITING = (members, problem, outputs, group, figure)
    try:
        return _write_all(len(members))
    finally:
        _WRITING = None
        if figure is not None:
            from gamebench.plots import close

            close(figure.fig)


# what _write_member reads: set by run_group, inherited by forked writer processes
_WRITING: tuple | None = None
_PARALLEL_WRITES_FROM = 8  # jobs; below this a second process costs more than it saves


def _write_member(index: int):
    """Write job `index` of the group being written; a failure is recorded for that job alone."""
    from gamebench.experiment import JobResult, record_failure, write_job

    members, problem, outputs, group, figure = _WRITING
    member = members[index]
    try:
        mine = {name: values[index] for name, values in outputs.items()}
        result = write_job(member, problem, mine, group, figure)
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
    if count < _PARALLEL_WRITES_FROM or workers < 2:
        return [_write_member(i) for i in range(count)]
    io.environment()  # cached in the parent, so no child asks JAX or git for it
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(_write_member, range(count), chunksize=-(-count // workers))


def load_group(spec_path: str | Path) -> tuple[str, list[Member]]:
    spec = json.loads(Path(spec_path).read_text())
    return spec["id"], [Member(**m) for m in spec["members"]]


def save_group(spec_path: Path, group_id: str, members: list[Member]) -> None:
    io.write_json(spec_path, {"id": group_id, "members": [dataclasses.asdict(m) for m in members]})


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

    from gamebench.config import ConfigError, DuplicateJob, validate
    from gamebench.experiment import record_failure

    groups: dict[str, list[Member]] = {}
    jobs, done, refused = [], 0, 0
    for num, out_dir, overrides, cfg in configs:
        try:
            validate(cfg)
        except DuplicateJob as error:
            record_failure(cfg, out_dir, "skipped", str(error))
            print(
                f"gamebench: job {num} skipped: {error}; the job with the default value covers it"
            )
            jobs.append({"num": num, "dir": str(out_dir), "key": None, "status": "skipped"})
            refused += 1
            continue
        except ConfigError as error:
            record_failure(cfg, out_dir, "failed", str(error))
            failed_jobs.append(str(out_dir))
            print(f"gamebench: job {num} failed: {error}", file=sys.stderr)
            jobs.append({"num": num, "dir": str(out_dir), "key": None, "status": "failed"})
            refused += 1
            continue
        container = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        key = job_key(container)
        jobs.append({"num": num, "dir": str(out_dir), "key": key, "status": "planned"})
        earlier = None if rerun else find_done(key, out_dir)
        if earlier is not None:
            reuse(earlier, out_dir)
            jobs[-1]["status"] = "done"
            done += 1
            continue
        member = Member(num, str(out_dir), container, key, list(overrides))
        groups.setdefault(structure_key(container), []).append(member)
    named = [(f"g{i}", members) for i, members in enumerate(groups.values())]
    return Plan(named, jobs, done, refused)
