"""One job: a composed config -> Problem and Solver -> one compiled run over all trials -> files.

Called by the CLI for every Hydra job; usable from Python with any DictConfig of the same schema.
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
from gamebench.problems.base import headline_metric


@dataclass
class JobResult:
    status: str  # ok | diverged (some trials) | failed
    summary_line: str
    final: dict[str, float] = field(default_factory=dict)


def configure_jax(devices: int, compile_cache: bool) -> None:
    """Device count and compilation cache; both only take effect before JAX starts its backend."""
    import os

    import jax

    wanted = devices or os.cpu_count() or 1
    try:
        jax.config.update("jax_num_cpu_devices", wanted)
    except RuntimeError:  # backend already started (a later job of a multirun): keep what it has
        pass
    if compile_cache:
        cache = (
            Path(os.environ.get("GAMEBENCH_CACHE", Path.home() / ".cache" / "gamebench")) / "jax"
        )
        jax.config.update("jax_compilation_cache_dir", str(cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


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


def run_job(cfg: DictConfig, out_dir: str | Path) -> JobResult:
    """Run every trial of one (problem, solver, hyperparameters) in a single compiled program."""
    from gamebench.plots import close, trajectory_figure
    from gamebench.problems import make_problem
    from gamebench.run import (
        COSTS,
        compile_and_run,
        diverged,
        log_steps,
        make_run,
        scalar_metrics,
        trial_keys,
    )
    from gamebench.solvers import make_solver

    out_dir = Path(out_dir)
    problem = make_problem(cfg.problem)
    solver = make_solver(cfg.solver)
    headline = headline_metric(problem)
    show_progress = cfg.progress if cfg.progress is not None else cfg.steps >= 10_000
    progress = _Progress(cfg.steps, headline) if show_progress else None
    run = make_run(
        problem,
        solver,
        steps=cfg.steps,
        log_every=cfg.log_every,
        progress=progress,
        headline=headline,
    )
    timed = compile_and_run(run, trial_keys(cfg.seed, cfg.trials), problem.data)

    steps = log_steps(cfg.steps, cfg.log_every)
    bad = diverged(timed.outputs)
    metrics = scalar_metrics(timed.outputs)
    snapshots = {k: v for k, v in timed.outputs.items() if k not in metrics}
    identity = {
        "experiment": cfg.experiment,
        "problem": cfg.problem.name,
        "solver": cfg.solver.name,
        **flat_params(cfg),
        "seed": cfg.seed,
    }
    rows = io.long_rows(identity, steps, metrics)
    summary = io.trial_summary(identity, steps, metrics, bad)

    finals = {name: values[:, -1][~bad] for name, values in metrics.items()}
    final = {}
    for name, values in finals.items():
        if np.issubdtype(values.dtype, np.floating) or name in COSTS:
            final[f"mean_{name}"] = float(np.mean(values)) if values.size else float("nan")
            final[f"std_{name}"] = float(np.std(values)) if values.size else float("nan")
    status = "ok" if not bad.any() else "diverged"

    io.write_parquet(out_dir / "trajectories.parquet", rows)
    if snapshots:  # array-valued metrics, e.g. generator samples: (trials, log points, ...)
        io.write_npz(out_dir / "snapshots.npz", steps=steps, **snapshots)
    io.write_csv(out_dir / io.JOB_SUMMARY, summary)
    io.write_text(out_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    label = f"{cfg.problem.name} x {cfg.solver.name}" + (
        f"(k={cfg.solver.k})" if "k" in _uses(cfg.solver.name) else ""
    )
    fig = trajectory_figure(problem, rows, headline, title=label, plot_trials=cfg.plot_trials)
    io.save_figure(out_dir / "trajectories.png", fig)
    close(fig)

    n_bad = int(bad.sum())
    if headline in metrics and (~bad).any():
        err = finals[headline]
        err_text = f"final {headline} {np.mean(err):.4g} ± {np.std(err):.4g}"
    else:
        err_text = f"final {headline}: no finite trial"
    line = (
        f"{label}: {err_text} over {cfg.trials} trials at step {cfg.steps} "
        f"({n_bad} diverged) | compile {timed.compile_seconds:.2f} s, run {timed.run_seconds:.3f} s"
        f" | {out_dir}"
    )
    io.write_json(
        out_dir / io.JOB_META,
        {
            "status": status,
            "identity": identity,
            "final": final,
            "trials": cfg.trials,
            "diverged_trials": n_bad,
            "seed": cfg.seed,
            "compile_seconds": timed.compile_seconds,
            "run_seconds": timed.run_seconds,
            "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
            "command": sys.argv,
            **io.environment(),
        },
    )
    return JobResult(status, line, final)


def _uses(solver_name: str) -> frozenset[str]:
    from gamebench.solvers import SOLVERS

    return SOLVERS[solver_name].uses


def record_failure(cfg: Any, out_dir: str | Path, status: str, message: str) -> None:
    """meta.json for a job that did not run (failed or skipped), so a sweep keeps the account."""
    identity = {}
    try:
        identity = {
            "experiment": cfg.experiment,
            "problem": cfg.problem.name,
            "solver": cfg.solver.name,
            **flat_params(cfg),
            "seed": cfg.seed,
        }
    except Exception:  # noqa: BLE001 - a broken config still gets its record
        pass
    io.write_json(
        Path(out_dir) / io.JOB_META,
        {"status": status, "message": message, "identity": identity, "command": sys.argv},
    )
