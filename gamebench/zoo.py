"""The solver zoo: every registered solver on every 2D surface, with the K-beam paper's protocol.

Each solver is built from its own config file (configs/solver/<name>.yaml composed as the CLI does),
so the zoo runs exactly what `gamebench solver=<name>` runs: sgd with step 0.1/sqrt(t) for both
players unless the file says otherwise. Per surface, all solvers and trials are one compiled program;
metrics are logged every `log_every` steps with the gradient and HVP counts, so errors can be
compared at equal cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gamebench.config import compose_config
from gamebench.problems import make_surface
from gamebench.problems.surfaces import SURFACES
from gamebench.run import compile_trials, diverged, execute, log_steps, make_run, trial_keys
from gamebench.solvers import SOLVERS, make_solver

TABLE_COLUMNS = [
    "surface", "solver", "mean_dist", "std_dist", "mean_gap", "frac_within_0.01", "grad_evals", "hvps",
]  # fmt: skip
WITHIN = 0.01


def zoo_program(surface: str, solvers: tuple[str, ...], steps: int, log_every: int):
    problem = make_surface(surface)
    runs = {
        name: make_run(
            problem,
            make_solver(compose_config([f"solver={name}"]).solver),
            steps=steps,
            log_every=log_every,
        )
        for name in solvers
    }
    return lambda keys: {name: run(keys) for name, run in runs.items()}


@dataclass
class ZooRun:
    curves: pd.DataFrame  # per (surface, solver, log step): costs and mean/median/std distance
    final: pd.DataFrame  # per (surface, solver, trial): final dist, gap, costs, status
    compile_seconds: dict[str, float]
    run_seconds: dict[str, float]


def run_zoo(
    trials: int,
    seed: int = 0,
    steps: int = 1000,
    log_every: int = 50,
    surfaces: tuple[str, ...] = tuple(SURFACES),
    solvers: tuple[str, ...] = tuple(SOLVERS),
) -> ZooRun:
    keys = trial_keys(seed, trials)
    at = log_steps(steps, log_every)
    curves, finals, compile_s, run_s = [], [], {}, {}
    for surface in surfaces:
        timed = execute(compile_trials(zoo_program(surface, solvers, steps, log_every), keys))
        compile_s[surface], run_s[surface] = timed.compile_seconds, timed.run_seconds
        for name in solvers:
            m = timed.outputs[name]
            bad = diverged(m)
            # float64, so the CSV round trip and tables rebuilt from it are exact
            dist = np.where(bad[:, None], np.nan, m["dist"].astype(np.float64))
            curves.append(
                pd.DataFrame(
                    {
                        "surface": surface,
                        "solver": name,
                        "step": at,
                        "grad_evals": m["grad_evals"][0],
                        "hvps": m["hvps"][0],
                        "mean_dist": np.nanmean(dist, axis=0) if (~bad).any() else np.nan,
                        "median_dist": np.nanmedian(dist, axis=0) if (~bad).any() else np.nan,
                        "std_dist": np.nanstd(dist, axis=0) if (~bad).any() else np.nan,
                    }
                )
            )
            finals.append(
                pd.DataFrame(
                    {
                        "surface": surface,
                        "solver": name,
                        "trial": np.arange(trials),
                        "status": np.where(bad, "diverged", "ok"),
                        "dist": m["dist"][:, -1].astype(np.float64),
                        "gap": m["gap"][:, -1].astype(np.float64),
                        "grad_evals": m["grad_evals"][:, -1],
                        "hvps": m["hvps"][:, -1],
                    }
                )
            )
    return ZooRun(
        pd.concat(curves, ignore_index=True), pd.concat(finals, ignore_index=True), compile_s, run_s
    )


def zoo_table(final: pd.DataFrame) -> pd.DataFrame:
    """One row per (surface, solver): mean/std of the final distance and mean gap over the trials
    that stayed finite, the share of all trials within 0.01 of u*, and the cost of the run."""
    rows = []
    for (surface, solver), group in final.groupby(["surface", "solver"], sort=False):
        ok = group[group.status == "ok"]
        rows.append(
            {
                "surface": surface,
                "solver": solver,
                "mean_dist": ok.dist.mean(),
                "std_dist": float(np.std(ok.dist)) if len(ok) else np.nan,
                "mean_gap": ok.gap.mean(),
                "frac_within_0.01": float(np.mean((group.status == "ok") & (group.dist <= WITHIN))),
                "grad_evals": int(group.grad_evals.max()),
                "hvps": int(group.hvps.max()),
            }
        )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
