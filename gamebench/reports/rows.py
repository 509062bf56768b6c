"""A sweep's rows as one table: every job's trajectories.parquet, in the sweep's job order.

A report may read several sweeps at once (a paper artefact whose methods are not one Cartesian
product, such as the DA table's subsets of methods): their rows are concatenated in the order given.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io

Sweeps = str | Path | Sequence[str | Path]


def sweep_dirs(sweeps: Sweeps) -> list[Path]:
    return [Path(sweeps)] if isinstance(sweeps, str | Path) else [Path(s) for s in sweeps]


def job_dirs(sweeps: Sweeps) -> list[Path]:
    """The job dirs of one sweep or of several, in order."""
    return [job for sweep in sweep_dirs(sweeps) for job in io.sweep_job_dirs(sweep)]


def read_meta(job_dir: Path) -> dict | None:
    """A job's meta.json, or None when it is missing or unreadable (a job that never ran)."""
    try:
        return json.loads((Path(job_dir) / io.JOB_META).read_text())
    except (OSError, ValueError):
        return None


def job_metas(jobs: list[Path]):
    """(job dir, meta) for every job that has a readable meta.json, in order."""
    for job_dir in jobs:
        if (meta := read_meta(job_dir)) is not None:
            yield job_dir, meta


def job_rows(sweeps: Sweeps, jobs: list[Path] | None = None) -> tuple[pd.DataFrame, dict]:
    """(rows of every finished job of the sweep(s), with a `job` column; its scale: trials, steps,
    seed, command).

    Jobs that failed or were skipped have no rows; a sweep with no rows at all is an error that
    names the directory and what is missing.
    """
    frames, metas = [], []
    for job_dir in job_dirs(sweeps) if jobs is None else jobs:
        path = job_dir / "trajectories.parquet"
        if path.is_file():
            frames.append(pd.read_parquet(path).assign(job=str(job_dir)))
            metas.append(json.loads((job_dir / io.JOB_META).read_text()))
    if not frames:
        names = ", ".join(str(s) for s in sweep_dirs(sweeps))
        raise FileNotFoundError(f"no job of {names} has trajectories.parquet: nothing to report")
    config = metas[0]["config"]
    argv = metas[0].get("command") or []
    command = "gamebench " + shlex.join(argv[1:]) if argv else "gamebench -m ..."
    seeds = sorted({m["config"]["seed"] for m in metas})
    scale = {
        "trials": config["trials"],
        "steps": config["steps"],
        "seed": seeds[0] if len(seeds) == 1 else seeds,
        "command": command,
    }
    return pd.concat(frames, ignore_index=True), scale


def finite_trials(rows: pd.DataFrame) -> pd.Series:
    """(job, trial) -> True when every float value the trial logged is finite (a trial with a
    NaN or inf anywhere is diverged, as the runner counts it)."""
    floats = rows.select_dtypes("floating").columns
    finite = np.isfinite(rows[floats].to_numpy()).all(axis=1)
    return pd.Series(finite, index=rows.index).groupby([rows.job, rows.trial]).all()


def load(
    sweeps: Sweeps, out: str | Path | None, command: str | None
) -> tuple[list[Path], Path, pd.DataFrame, dict]:
    """What every report's build() starts from: the job dirs, the output dir (default: the first
    sweep dir), the rows and the scale, whose command is `command` when given."""
    jobs = job_dirs(sweeps)
    rows, scale = job_rows(sweeps, jobs)
    if command is not None:
        scale["command"] = command
    out = Path(out) if out is not None else sweep_dirs(sweeps)[0]
    return jobs, out, rows, scale
