"""A sweep's rows as one table: every job's trajectories.parquet, in the sweep's job order."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io


def job_rows(sweep_dir: str | Path) -> tuple[pd.DataFrame, dict]:
    """(rows of every finished job of the sweep, with a `job` column; its scale: trials, steps,
    seed, command).

    Jobs that failed or were skipped have no rows; a sweep with no rows at all is an error that
    names the directory and what is missing.
    """
    sweep_dir = Path(sweep_dir)
    frames, metas = [], []
    for job_dir in io.sweep_job_dirs(sweep_dir):
        path = job_dir / "trajectories.parquet"
        if path.is_file():
            frames.append(pd.read_parquet(path).assign(job=job_dir.name))
            metas.append(json.loads((job_dir / io.JOB_META).read_text()))
    if not frames:
        raise FileNotFoundError(
            f"no job of {sweep_dir} has trajectories.parquet: nothing to report"
        )
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
    sweep_dir: str | Path, out: str | Path | None, command: str | None
) -> tuple[Path, Path, pd.DataFrame, dict]:
    """What every report's build() starts from: the sweep dir, the output dir (default: the sweep
    dir), the rows and the scale, whose command is `command` when given."""
    sweep_dir = Path(sweep_dir)
    rows, scale = job_rows(sweep_dir)
    if command is not None:
        scale["command"] = command
    return sweep_dir, Path(out) if out is not None else sweep_dir, rows, scale
