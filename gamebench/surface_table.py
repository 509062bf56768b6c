"""The K-beam paper's surface table (Hamm & Noh, ICML 2018, Sec. 5.1), one compiled program per surface.

Protocol: six surfaces x {GD, Alt-GD, K-beam with K = 1, 2, 5, 10}; per trial u0 ~ U(-0.45, 0.45) and
ten candidate starts V ~ U(-0.45, 0.45)^10 (candidate i from its own key, so GD and Alt-GD start from
(u0, V[0]) and K-beam from V[0:K]); every method of a trial gets the same key, hence the same starts;
`steps` iterations with step 0.1 / sqrt(t) for both players; metric |u_T - u*| to the nearest minimax
point. Per surface, all methods and all trials are one jitted function of the trial keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gamebench.optim import paper_sgd
from gamebench.problems import make_surface
from gamebench.reports.surfaces import (  # noqa: F401 - the table's names, for the script
    METHODS,
    PAPER_SURFACES,
    TABLE_COLUMNS,
    markdown,
    summarize,
    surface_table_figure,
)
from gamebench.run import compile_trials, diverged, execute, make_run, trial_keys
from gamebench.solvers import Solver, alt_gda, gda, kbeam


def paper_solvers(lr: float = 0.1) -> dict[str, Solver]:
    def sgd():
        return paper_sgd(lr)

    solvers = {"GD": gda(sgd(), sgd()), "Alt-GD": alt_gda(sgd(), sgd())}
    solvers.update({f"K={k}": kbeam(sgd(), sgd(), k) for k in (1, 2, 5, 10)})
    return solvers


def surface_program(surface: str, steps: int, lr: float = 0.1):
    """keys (trials,) -> {method: {metric: (trials, 2)}}: metrics at step 0 and at `steps`."""
    problem = make_surface(surface)
    runs = {
        method: make_run(problem, solver, steps=steps, log_every=steps)
        for method, solver in paper_solvers(lr).items()
    }
    return lambda keys: {method: run(keys) for method, run in runs.items()}


@dataclass
class SurfaceTableRun:
    trials: pd.DataFrame  # one row per (surface, method, trial): final dist, gap, u, status
    compile_seconds: dict[str, float]  # per surface program
    run_seconds: dict[str, float]


def run_surface_table(
    trials: int, seed: int = 0, steps: int = 1000, surfaces: tuple[str, ...] = PAPER_SURFACES
) -> SurfaceTableRun:
    keys = trial_keys(seed, trials)
    frames, compile_s, run_s = [], {}, {}
    for surface in surfaces:
        timed = execute(compile_trials(surface_program(surface, steps), keys))
        compile_s[surface], run_s[surface] = timed.compile_seconds, timed.run_seconds
        for method in METHODS:
            metrics = timed.outputs[method]
            bad = diverged(metrics)
            frames.append(
                pd.DataFrame(
                    {
                        "surface": surface,
                        "method": method,
                        "trial": np.arange(trials),
                        "status": np.where(bad, "diverged", "ok"),
                        # float64, so the CSV round trip and tables rebuilt from it are exact
                        "u0": metrics["u"][:, 0].astype(np.float64),
                        "u_final": metrics["u"][:, -1].astype(np.float64),
                        "dist": metrics["dist"][:, -1].astype(np.float64),
                        "gap": metrics["gap"][:, -1].astype(np.float64),
                    }
                )
            )
    return SurfaceTableRun(pd.concat(frames, ignore_index=True), compile_s, run_s)
