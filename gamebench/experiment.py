"""One job's side of a run: its identity columns, the files it writes (`write_job`, the same for a
lone run and a job of a fused group), the record of a job that failed, and `run_job` (a lone run:
a group of one through gamebench.sweep.run_group), usable from Python with any composed config.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from gamebench import io
from gamebench.config import flat_params
from gamebench.game import headline_metric


@dataclass
class JobResult:
    status: str  # ok | diverged (some trials) | failed
    summary_line: str
    final: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None  # what failed the job, for a lone run to report


COLLECTIVE_TIMEOUT_FLAG = "xla_cpu_collective_call_terminate_timeout_seconds"


def configure_jax(devices: int, compile_cache: bool) -> None:
    """Device count and compilation cache; both only take effect before JAX starts its backend."""
    import os

    import jax

    wanted = devices or os.cpu_count() or 1
    # Trials sharded over several CPU devices meet at collectives, which XLA aborts when one
    # device's thread arrives 40 s after another (seen on a busy machine, a 2,000-step DA run
    # killed after 16 minutes). Starved threads are slow, not stuck: wait an hour instead. XLA
    # reads XLA_FLAGS when the backend starts (below); the user's value is then given back, since
    # the environment is part of a finished run's reuse key (gamebench.reuse).
    users_flags = os.environ.get("XLA_FLAGS")
    if COLLECTIVE_TIMEOUT_FLAG not in (users_flags or ""):
        os.environ["XLA_FLAGS"] = f"{users_flags or ''} --{COLLECTIVE_TIMEOUT_FLAG}=3600".strip()
    try:
        jax.config.update("jax_num_cpu_devices", wanted)
    except RuntimeError:  # backend already started (a later job of a multirun): keep what it has
        pass
    if compile_cache:
        from gamebench.paths import cache_root

        # GAMEBENCH_COMPILE_CACHE: compiled programs kept apart from the index of finished jobs
        # (the test suite shares one across its runs, each of which has its own job index)
        cache = os.environ.get("GAMEBENCH_COMPILE_CACHE") or cache_root() / "jax"
        jax.config.update("jax_compilation_cache_dir", str(cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.devices()  # the backend starts here, with the flags above
    if users_flags is None:
        os.environ.pop("XLA_FLAGS", None)
    else:
        os.environ["XLA_FLAGS"] = users_flags


class _Progress:
    """Progress lines at log points, at most one every `every` seconds, so short runs stay quiet."""

    def __init__(self, steps: int, metric: str, every: float = 5.0):
        self.steps, self.metric, self.every = steps, metric, every
        self.start = self.last = None  # the clock starts at the first log point, after compiling

    def __call__(self, step: int, value: float) -> None:
        now = time.perf_counter()
        if self.start is None:
            self.start = self.last = now
        if now - self.last >= self.every or (step == self.steps and now - self.start >= self.every):
            self.last = now
            print(
                f"  step {step}/{self.steps}  mean {self.metric} {value:.4g}  "
                f"elapsed {now - self.start:.1f} s",
                file=sys.stderr,
                flush=True,
            )


def progress_for(config: dict, headline: str) -> _Progress | None:
    """Progress lines for long runs (config `progress`: None = on from 10,000 steps)."""
    show = config["progress"] if config.get("progress") is not None else config["steps"] >= 10_000
    return _Progress(config["steps"], headline) if show else None


def identity_of(config: dict) -> dict[str, Any]:
    """The columns that name a job in every row: experiment, problem, solver, parameters, seed."""
    return {
        "experiment": config["experiment"],
        "problem": config["problem"]["name"],
        "solver": config["solver"]["name"],
        **flat_params(config),
        "seed": config["seed"],
    }


def run_job(cfg: DictConfig, out_dir: str | Path) -> JobResult:
    """Run every trial of one (problem, solver, hyperparameters) in a single compiled program: a
    group of one, through exactly the code a fused sweep runs."""
    from gamebench.sweep import Member, job_key, run_group, run_sharded, shard_ranges

    container = OmegaConf.to_container(cfg, resolve=True)
    member = Member(0, str(out_dir), container, job_key(container))
    # trials_per_shard: the shards one after another (memory bounded; a killed run resumes)
    sharded = len(shard_ranges(container)) > 1
    (result,) = run_sharded([member]) if sharded else run_group([member])
    if result.error is not None:
        raise result.error
    return result


def write_job(
    member, problem, outputs: dict[str, np.ndarray], group: dict, figure=None
) -> JobResult:
    """Write one job's rows, per-trial summary, config, figure and meta (last), as a lone run does.

    outputs: this job's metrics, leaves (trials, log points, ...); figure: the group's
    plots.TrajectoryFigure (None: no figure, config plot=false).
    """
    from gamebench.run import diverged, log_steps, scalar_metrics

    cfg, out_dir = member.config, Path(member.out_dir)
    headline = headline_metric(problem)
    steps = log_steps(cfg["steps"], cfg["log_every"])
    bad = diverged(outputs)
    metrics = scalar_metrics(outputs)
    snapshots = {k: v for k, v in outputs.items() if k not in metrics}
    identity = identity_of(cfg)
    rows = io.long_rows(identity, steps, metrics)

    finals = {name: values[:, -1][~bad] for name, values in metrics.items()}
    final = _final_means(finals)
    status = "ok" if not bad.any() else "diverged"

    files = ["trajectories.parquet", io.JOB_SUMMARY, "config.yaml"]
    io.write_parquet(out_dir / "trajectories.parquet", rows)
    if snapshots:  # array-valued metrics, e.g. generator samples: (trials, log points, ...)
        io.write_npz(out_dir / "snapshots.npz", steps=steps, **snapshots)
        files.append("snapshots.npz")
    io.write_csv(out_dir / io.JOB_SUMMARY, io.trial_summary(identity, steps, metrics, bad))
    io.write_text(out_dir / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(cfg)))
    label = f"{cfg['problem']['name']} x {cfg['solver']['name']}" + (
        f"(k={cfg['solver']['k']})" if "k" in _uses(cfg["solver"]["name"]) else ""
    )
    if figure is not None:
        figure.draw(rows, label)
        io.write_png(out_dir / "trajectories.png", figure.render())
        files.append("trajectories.png")

    n_bad = int(bad.sum())
    compile_s, run_s = group["compile_seconds"], group["run_seconds"]
    line = _summary_line(label, headline, finals.get(headline), cfg, n_bad, group, out_dir)
    io.write_json(
        out_dir / io.JOB_META,
        {
            "status": status,
            "key": member.key,
            "identity": identity,
            "final": final,
            "trials": cfg["trials"],
            "diverged_trials": n_bad,
            "seed": cfg["seed"],
            "compile_seconds": compile_s,
            "run_seconds": run_s,
            "group": group,
            "files": files,
            "problem_info": _plain(problem.info),
            "config": cfg,
            "command": sys.argv,
            **io.environment(),
        },
    )
    return JobResult(status, line, final)


def _final_means(finals: dict[str, np.ndarray]) -> dict[str, float]:
    """mean_ and std_ of every float metric and cost at the last log point, over finite trials."""
    from gamebench.metrics import COSTS

    final = {}
    for name, values in finals.items():
        if np.issubdtype(values.dtype, np.floating) or name in COSTS:
            final[f"mean_{name}"] = float(np.mean(values)) if values.size else float("nan")
            final[f"std_{name}"] = float(np.std(values)) if values.size else float("nan")
    return final


def _summary_line(label, headline, err, cfg, n_bad, group, out_dir) -> str:
    """The one line a job prints: its headline metric over the finite trials, and its seconds."""
    if err is not None and err.size:
        err_text = f"final {headline} {np.mean(err):.4g} ± {np.std(err):.4g}"
    else:
        err_text = f"final {headline}: no finite trial"
    shared = f" shared by {group['size']} jobs" if group["size"] > 1 else ""
    return (
        f"{label}: {err_text} over {cfg['trials']} trials at step {cfg['steps']} ({n_bad} "
        f"diverged) | compile {group['compile_seconds']:.2f} s, run {group['run_seconds']:.3f} s"
        f"{shared} | {out_dir}"
    )


def _plain(info: dict) -> dict:
    """The problem's info entries that are data (arrays as lists), for the reports: e.g. the
    mixture's centres of the GAN problem."""
    out = {}
    for key, value in info.items():
        if isinstance(value, np.ndarray):
            out[key] = value.tolist()
        elif isinstance(value, str | int | float | bool | list | tuple):
            out[key] = value
    return out


def _uses(solver_name: str) -> frozenset[str]:
    from gamebench.solvers import SOLVERS

    return SOLVERS[solver_name].uses


def record_failure(
    cfg: Any, out_dir: str | Path, status: str, message: str, key: str | None = None
) -> None:
    """meta.json for a job that did not run (failed or skipped), so a sweep keeps the account."""
    identity = {}
    try:
        if isinstance(cfg, DictConfig):
            cfg = OmegaConf.to_container(cfg, resolve=True)
        identity = identity_of(cfg)
    except Exception:  # noqa: BLE001 - a broken config still gets its record
        pass
    io.write_json(
        Path(out_dir) / io.JOB_META,
        {
            "status": status,
            "message": message,
            "key": key,
            "identity": identity,
            "command": sys.argv,
        },
    )
