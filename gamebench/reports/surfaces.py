"""The K-beam paper's surface table (Hamm & Noh, ICML 2018, Table 1) from a sweep's rows.

    gamebench -m experiment=surfaces        # runs the 36 jobs, then writes this report
    gamebench-report SWEEP_DIR              # rebuilds it from the rows alone

Protocol (configs/experiment/surfaces.yaml): six surfaces x {GD, Alt-GD, K-beam with K = 1, 2, 5,
10}, 100 trials, 1000 iterations, step 0.1/sqrt(t) for both players, seed 0 for every method (so
every method of a trial starts from the same u0 and candidates); metric |u_T - u*| to the nearest
minimax point. Writes surfaces_trials.csv (one row per surface, method and trial), surfaces_table.csv
(surface, method, mean, std, n_trials), surfaces_table.md and surfaces_table.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.rows import Sweeps, finite_trials, load

TABLE_COLUMNS = ["surface", "method", "mean", "std", "n_trials"]
TRIAL_COLUMNS = ["surface", "method", "trial", "status", "u0", "u_final", "dist", "gap"]


def method_of(solver: str, k: int) -> str:
    return {"gda": "GD", "alt_gda": "Alt-GD"}.get(solver, f"K={k}")


def trials_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (surface, method, trial) from the jobs' trajectory rows: u at the first and the
    last log point, final distance and gap, and the trial's status."""
    # the sweep's job order (the rows' order) is the experiment's: surfaces and methods as the
    # paper lists them; tables and figures keep it
    jobs = rows.drop_duplicates("job")
    surface_rank = {s: i for i, s in enumerate(dict.fromkeys(jobs["problem"]))}
    methods = [method_of(s, k) for s, k in zip(jobs["solver"], jobs["solver.k"])]
    method_rank = {m: i for i, m in enumerate(dict.fromkeys(methods))}
    rows = rows.sort_values(["job", "trial", "step"], kind="stable")
    by_trial = rows.groupby(["job", "trial"], sort=False)
    first, last = by_trial.first(), by_trial.last()
    finite = finite_trials(rows).reindex(last.index)
    trials = pd.DataFrame(
        {
            "surface": last["problem"].to_numpy(),
            "method": [method_of(s, k) for s, k in zip(last["solver"], last["solver.k"])],
            "trial": last.index.get_level_values("trial"),
            "status": np.where(finite.to_numpy(), "ok", "diverged"),
            "u0": first["u"].to_numpy(np.float64),
            "u_final": last["u"].to_numpy(np.float64),
            "dist": last["dist"].to_numpy(np.float64),
            "gap": last["gap"].to_numpy(np.float64),
        }
    )
    trials = trials.assign(
        _s=trials.surface.map(surface_rank), _m=trials.method.map(method_rank)
    ).sort_values(["_s", "_m", "trial"], kind="stable")
    return trials[TRIAL_COLUMNS].reset_index(drop=True)


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    """Write the table and figure for the sweep(s) (into `out`, default the first sweep dir)."""
    jobs, out, rows, scale = load(sweeps, out, command)
    trials = trials_from_rows(rows)
    return write(trials, out, scale)


def write(trials: pd.DataFrame, out: Path, scale: dict) -> list[Path]:
    table = summarize(trials)
    io.write_csv(out / "surfaces_trials.csv", trials)
    io.write_csv(out / "surfaces_table.csv", table)
    header = (
        f"# Surface table: |u_T - u*| after {scale['steps']} iterations, mean ± std over "
        f"{scale['trials']} trials (seed {scale['seed']})\n\n"
        f"Regenerate: `{scale['command']}`\n\n"
    )
    io.write_text(out / "surfaces_table.md", header + markdown(table))
    from gamebench.reports.figures import close

    fig = surface_table_figure(trials)
    io.save_figure(out / "surfaces_table.png", fig)
    close(fig)
    return [
        out / name for name in ("surfaces_table.csv", "surfaces_table.md", "surfaces_table.png")
    ]


def summarize(trials: pd.DataFrame) -> pd.DataFrame:
    """surface, method, mean and std of the final distance over the trials that stayed finite."""
    ok = trials[trials.status == "ok"]
    table = (
        ok.groupby(["surface", "method"], sort=False)["dist"]
        .agg(mean="mean", std=lambda d: float(np.std(d)), n_trials="count")
        .reset_index()
    )
    return table[TABLE_COLUMNS].reset_index(drop=True)  # in the trials' (the sweep's) order


def markdown(table: pd.DataFrame) -> str:
    """Surfaces as rows, methods as columns, 'mean ± std' cells (the paper's layout)."""
    cell = table.assign(cell=[f"{m:.3f} ± {s:.3f}" for m, s in zip(table["mean"], table["std"])])
    methods = list(dict.fromkeys(table.method))
    wide = cell.pivot(index="surface", columns="method", values="cell")
    wide = wide.reindex(index=list(dict.fromkeys(table.surface)), columns=methods)
    lines = ["| surface | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    lines += [f"| {s} | " + " | ".join(wide.loc[s].fillna("n/a")) + " |" for s in wide.index]
    return "\n".join(lines) + "\n"


def surface_table_figure(trials: pd.DataFrame):
    from gamebench.reports.figures import plt

    """One panel per surface: a strip of every trial's |u_T - u*| per method, with the mean."""
    surfaces = list(dict.fromkeys(trials.surface))
    cols = 3
    rows = int(np.ceil(len(surfaces) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    rng = np.random.default_rng(0)  # horizontal jitter only, so overlapping trials stay visible
    methods = list(dict.fromkeys(trials.method))
    for ax, surface in zip(axes.flat, surfaces):
        for i, method in enumerate(methods):
            d = trials[(trials.surface == surface) & (trials.method == method)].dist.to_numpy()
            ax.scatter(i + rng.uniform(-0.25, 0.25, d.size), d, s=5, alpha=0.35, color=f"C{i}")
            ax.plot([i - 0.35, i + 0.35], [np.nanmean(d)] * 2, color="black", lw=1.5)
        ax.set_xticks(range(len(methods)), methods, fontsize=8)
        ax.set_ylim(-0.02, 0.52)
        ax.set_title(surface, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    for ax in axes.flat[len(surfaces) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("|u_T - u*|")
    fig.suptitle("Final distance to the minimax set per trial (bar: mean)")
    fig.tight_layout()
    return fig
