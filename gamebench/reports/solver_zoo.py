"""The solver zoo from a sweep's rows: every solver on every 2D surface, error against cost.

    gamebench -m experiment=solver_zoo      # 120 jobs (10 surfaces x 12 solvers), then this report
    gamebench-report SWEEP_DIR              # rebuilds it from the rows alone

Protocol (configs/experiment/solver_zoo.yaml): each solver from its own config file (k = 5 for
K-beam), 100 trials, 1000 iterations, step 0.1/sqrt(t) for both players, metrics every 50 steps
with the gradients and HVPs used so far. Writes zoo_table.csv (surface, solver, mean_dist,
std_dist, mean_gap, frac_within_0.01, grad_evals, hvps), zoo_curves.csv (per surface, solver and
log step: costs and mean/median/std distance over the trials that stayed finite), zoo_trials.csv
(final metrics per trial) and zoo_error_vs_cost.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.rows import Sweeps, finite_trials, load

TABLE_COLUMNS = [
    "surface", "solver", "mean_dist", "std_dist", "mean_gap", "frac_within_0.01", "grad_evals", "hvps",
]  # fmt: skip
WITHIN = 0.01


def with_status(rows: pd.DataFrame) -> pd.DataFrame:
    finite = finite_trials(rows)
    ok = finite.reindex(pd.MultiIndex.from_arrays([rows.job, rows.trial])).to_numpy()
    return rows.assign(ok=ok)


def curves_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (surface, solver, log step): the costs so far and the distance over finite trials."""
    frames = []
    for (surface, solver), job in rows.groupby(["problem", "solver"], sort=False):
        dist = job.pivot(index="trial", columns="step", values="dist").to_numpy(
            np.float64, copy=True
        )
        ok = job.groupby("trial").ok.first().to_numpy()
        dist[~ok] = np.nan
        steps = np.sort(job.step.unique())
        first = job[job.trial == job.trial.min()].sort_values("step")
        any_ok = ok.any()
        frames.append(
            pd.DataFrame(
                {
                    "surface": surface,
                    "solver": solver,
                    "step": steps,
                    "grad_evals": first.grad_evals.to_numpy(),
                    "hvps": first.hvps.to_numpy(),
                    "mean_dist": np.nanmean(dist, axis=0) if any_ok else np.nan,
                    "median_dist": np.nanmedian(dist, axis=0) if any_ok else np.nan,
                    "std_dist": np.nanstd(dist, axis=0) if any_ok else np.nan,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def trials_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (surface, solver, trial): status, final distance and gap, costs."""
    last = rows.sort_values("step", kind="stable").groupby(["job", "trial"], sort=False).last()
    return pd.DataFrame(
        {
            "surface": last.problem.to_numpy(),
            "solver": last.solver.to_numpy(),
            "trial": last.index.get_level_values("trial"),
            "status": np.where(last.ok.to_numpy(), "ok", "diverged"),
            "dist": last.dist.to_numpy(np.float64),
            "gap": last.gap.to_numpy(np.float64),
            "grad_evals": last.grad_evals.to_numpy(),
            "hvps": last.hvps.to_numpy(),
        }
    )


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    jobs, out, rows, scale = load(sweeps, out, command)
    rows = with_status(rows)
    curves, trials = curves_from_rows(rows), trials_from_rows(rows)
    io.write_csv(out / "zoo_table.csv", zoo_table(trials))
    io.write_csv(out / "zoo_curves.csv", curves)
    io.write_csv(out / "zoo_trials.csv", trials)
    from gamebench.reports.figures import close

    fig = error_vs_cost_figure(curves)
    io.save_figure(out / "zoo_error_vs_cost.png", fig)
    close(fig)
    names = ("zoo_table.csv", "zoo_curves.csv", "zoo_trials.csv", "zoo_error_vs_cost.png")
    return [out / name for name in names]


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


def error_vs_cost_figure(curves: pd.DataFrame):
    """One panel per surface: mean |u - u*| against oracle calls (gradients + HVPs), log x-axis."""
    from gamebench.reports.figures import plt

    surfaces = list(dict.fromkeys(curves.surface))
    solvers = list(dict.fromkeys(curves.solver))
    cols = min(5, len(surfaces))
    rows = int(np.ceil(len(surfaces) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows + 0.8), squeeze=False)
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(solvers), 2)))
    for ax, surface in zip(axes.flat, surfaces):
        for i, (color, solver) in enumerate(zip(colors, solvers)):
            c = curves[(curves.surface == surface) & (curves.solver == solver)]
            c = c[c.step > 0]
            style = "-" if i % 2 == 0 else "--"  # neighbours in tab20 share a hue
            ax.plot(c.grad_evals + c.hvps, c.mean_dist, color=color, ls=style, lw=1.2, label=solver)
        ax.set_xscale("log")
        ax.set_ylim(-0.01, 0.55)
        ax.set_title(surface, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(surfaces) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("gradients + HVPs")
    for ax in axes[:, 0]:
        ax.set_ylabel("mean |u - u*|")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(solvers), 7), fontsize=8)
    fig.suptitle("Solver zoo: error against cost (mean over trials)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
