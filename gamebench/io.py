"""Results on disk: long-form rows, per-trial summaries, a meta record, the environment, gathering
a sweep's jobs, locks on output dirs. Every file goes through gamebench.files (atomic writes)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gamebench.files import (  # noqa: F401 - the writers, re-exported for the results code
    _jsonable,
    atomic_path,
    save_figure,
    write_csv,
    write_json,
    write_npz,
    write_parquet,
    write_png,
    write_text,
)
from gamebench.paths import package_versions

PACKAGES = ("gamebench", "jax", "jaxlib", "optax", "hydra-core", "omegaconf", "numpy", "pandas")


_CODE_PATHS = (":/gamebench", ":/configs", ":/scripts", ":/hydra_plugins", ":/pyproject.toml")


def git_commit() -> str:
    """The commit of the gamebench source tree, with '+dirty' when its code, configs or scripts
    have uncommitted changes (README or tests do not make results dirty), or 'unknown'."""
    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(  # only what can change the numbers: code, configs, scripts
            ["git", "status", "--porcelain", "--untracked-files=no", "--", *_CODE_PATHS],
            cwd=source,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit + ("+dirty" if dirty else "")) if commit else "unknown"


def environment() -> dict[str, Any]:
    """Package versions, git commit, host and JAX devices, for the meta record."""
    return dict(_environment())


@cache
def _environment() -> dict[str, Any]:  # once per process: a sweep writes many meta records
    import jax

    versions = package_versions(PACKAGES)
    devices = jax.devices()
    return {
        "git_commit": git_commit(),
        "versions": versions,
        "python": platform.python_version(),
        "host": platform.node(),
        "backend": jax.default_backend(),
        "devices": [str(d) for d in devices],
        "device_kind": devices[0].device_kind,
    }


def long_rows(
    identity: dict[str, Any], steps: np.ndarray, metrics: dict[str, np.ndarray]
) -> pd.DataFrame:
    """One row per (trial, logged step): identity columns, trial, step, then the metrics."""
    trials, points = next(iter(metrics.values())).shape
    n = trials * points
    columns = {name: np.repeat(np.asarray([value]), n) for name, value in identity.items()}
    columns["trial"] = np.repeat(np.arange(trials), points)
    columns["step"] = np.tile(steps, trials)
    columns.update({name: values.reshape(-1) for name, values in metrics.items()})
    return pd.DataFrame(columns)


def trial_summary(
    identity: dict[str, Any],
    steps: np.ndarray,
    metrics: dict[str, np.ndarray],
    diverged: np.ndarray,
) -> pd.DataFrame:
    """One row per trial: final metrics, status ok/diverged and the first non-finite log step."""
    final = {name: values[:, -1] for name, values in metrics.items()}
    finite = np.logical_and.reduce(
        [np.isfinite(v) for v in metrics.values() if np.issubdtype(v.dtype, np.floating)]
    )
    first_bad = np.where(diverged, steps[np.argmin(finite, axis=1)], -1)
    frame = pd.DataFrame(
        {
            "trial": np.arange(diverged.shape[0]),
            "status": np.where(diverged, "diverged", "ok"),
            "diverged_at_step": first_bad,
            "final_step": steps[-1],
            **final,
        }
    )
    for position, (column, value) in enumerate(identity.items()):
        frame.insert(position, column, value)
    return frame


JOB_SUMMARY = "summary.csv"
JOB_META = "meta.json"


SWEEP_JOBS = "sweep.json"  # written by the sweeper: this sweep's jobs (num, dir, key, status)


def relative_jobs(jobs: list[dict], sweep_dir: Path) -> list[dict]:
    """Job records with their dirs relative to the sweep dir where they lie inside it, so a sweep
    dir can be read from anywhere and moved as a whole."""
    root = Path(sweep_dir).resolve()
    out = []
    for job in jobs:
        path = Path(job["dir"]).resolve()
        out.append(
            {**job, "dir": str(path.relative_to(root) if path.is_relative_to(root) else path)}
        )
    return out


def sweep_job_dirs(sweep_dir: str | os.PathLike) -> list[Path]:
    """The job dirs of this sweep: those its sweep.json lists (a re-run into an old sweep dir
    must not gather the old run's jobs), else every numbered subdir (sweeps of Hydra's basic
    sweeper)."""
    sweep_dir = Path(sweep_dir)
    listing = sweep_dir / SWEEP_JOBS
    if listing.is_file():
        return [sweep_dir / job["dir"] for job in json.loads(listing.read_text())["jobs"]]
    return sorted((p.parent for p in sweep_dir.glob(f"*/{JOB_META}")), key=lambda p: p.name)


def gather_sweep(sweep_dir: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every job's per-trial rows, and one row per job (params, status, mean/std of final metrics)."""
    rows, jobs = [], []
    for job_dir in sweep_job_dirs(sweep_dir):
        if (job_dir / JOB_SUMMARY).is_file():
            rows.append(pd.read_csv(job_dir / JOB_SUMMARY))
        try:
            meta = json.loads((job_dir / JOB_META).read_text())
        except (OSError, ValueError):
            meta = {"status": "missing", "message": f"no {JOB_META} in {job_dir}"}
        group = meta.get("group") or {}
        jobs.append(
            {
                "job": job_dir.name,
                "status": meta.get("status"),
                **meta.get("identity", {}),
                **meta.get("final", {}),
                "compile_seconds": meta.get("compile_seconds"),
                "run_seconds": meta.get("run_seconds"),
                "group": group.get("id"),
                "group_size": group.get("size"),
                "message": meta.get("message", ""),
            }
        )
    all_rows = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return all_rows, pd.DataFrame(jobs)


def write_gathered(sweep_dir: str | os.PathLike) -> str:
    """Write summary_all.csv (every job's per-trial rows) and jobs.csv (one row per job, the swept
    parameters as columns) into the sweep dir; returns a one-line account."""
    sweep_dir = Path(sweep_dir)
    all_rows, jobs = gather_sweep(sweep_dir)
    if not all_rows.empty:
        write_csv(sweep_dir / "summary_all.csv", all_rows)
    if not jobs.empty:
        write_csv(sweep_dir / "jobs.csv", jobs)
    return f"gamebench: {len(jobs)} jobs gathered into {sweep_dir}/jobs.csv and summary_all.csv"
