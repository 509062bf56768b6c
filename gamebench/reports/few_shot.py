"""Few-shot sinusoid regression from a sweep's rows (issue 17).

    gamebench -m experiment=few_shot        # joint training, MAML (rmd), truncated rmd, iMAML
                                            # (implicit), penalty, bda
    gamebench-report SWEEP_DIR              # rebuilds the report from the rows alone

A method is the solver, with its truncation for rmd. Writes few_shot_table.csv (method, trial: the
query MSE on the metrics' new tasks before adaptation, after one and after all test-time steps, at
the last logged step; gradients and HVPs per leader step), few_shot_table.md (mean ± standard error
over the finite trials, diverged trials counted apart) and few_shot_mse.png (post-adaptation MSE
against leader steps: mean and a band of one standard error).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.rows import Sweeps, finite_trials, load

METRICS = ("mse_before", "mse_1", "mse_after")
LABELS = {
    "standard_training": "joint training (one model on all tasks)",
    "rmd": "MAML (rmd)",
    "implicit": "iMAML (implicit)",
    "penalty": "penalty",
    "bda": "bda",
}
ORDER = ("standard_training", "rmd", "rmd(truncate=1)", "implicit", "penalty", "bda")


def methods(rows: pd.DataFrame) -> pd.Series:
    truncate = rows.get("solver.truncate", pd.Series(0, index=rows.index)).fillna(0).astype(int)
    return pd.Series(
        [
            f"{s}(truncate={t})" if s == "rmd" and t > 0 else s
            for s, t in zip(rows.solver, truncate)
        ],
        index=rows.index,
    )


def _rank(method: str) -> int:
    return ORDER.index(method) if method in ORDER else len(ORDER)


def table_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, trial) at the job's last logged step."""
    finite = finite_trials(rows)
    last = rows[rows.step == rows.groupby("job").step.transform("max")]
    steps = np.maximum(last.step.to_numpy(np.float64), 1)
    table = pd.DataFrame(
        {
            "method": methods(last).to_numpy(),
            "trial": last.trial.to_numpy(),
            "step": last.step.to_numpy(),
            **{m: last[m].to_numpy(np.float64) for m in METRICS},
            "diverged": [not finite[(j, t)] for j, t in zip(last.job, last.trial)],
            "grad_evals_per_step": last.grad_evals.to_numpy(np.float64) / steps,
            "hvps_per_step": last.hvps.to_numpy(np.float64) / steps,
            "adapt_steps": last["problem.adapt_steps"].to_numpy(),
            "adapt_lr": last["problem.adapt_lr"].to_numpy(),
            "prox": last["problem.prox"].to_numpy(),
        }
    )
    order = table.method.map(_rank)
    return table.assign(_r=order).sort_values(["_r", "trial"], kind="stable").drop(columns="_r")


def summary(table: pd.DataFrame) -> pd.DataFrame:
    def one(group: pd.DataFrame) -> pd.Series:
        ok = group[~group.diverged]
        values = {"trials": len(group), "diverged": int(group.diverged.sum())}
        for m in METRICS:
            x = ok[m].to_numpy(np.float64)
            values[m] = float(x.mean()) if len(x) else np.nan
            values[f"{m}_se"] = float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else np.nan
        for column in ("grad_evals_per_step", "hvps_per_step", "adapt_steps", "adapt_lr", "prox"):
            values[column] = group[column].iloc[0]
        return pd.Series(values)

    return table.groupby("method", sort=False).apply(one, include_groups=False).reset_index()


def _label(method: str) -> str:
    if method.startswith("rmd(truncate="):
        return f"truncated rmd (last {method[13:-1]} step)"
    return LABELS.get(method, method)


def markdown(summary_table: pd.DataFrame, scale: dict | None) -> str:
    lines = []
    if scale is not None:
        lines += [
            f"# Few-shot sinusoid regression: query MSE on new tasks after {scale['steps']} "
            f"leader steps, {scale['trials']} trials",
            "",
            f"Regenerate: `{scale['command']}`",
            "",
        ]
    lines += [
        "| method | MSE before adaptation | after 1 step | after all steps | test-time "
        "adaptation | diverged | gradients / step | HVPs / step |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def cell(row, m):
        mean, se = getattr(row, m), getattr(row, f"{m}_se")
        return "—" if not np.isfinite(mean) else f"{mean:.3f} ± {se:.3f}"

    for row in summary_table.itertuples():
        adaptation = f"{int(row.adapt_steps)} x {row.adapt_lr:g}"
        if row.prox:
            adaptation += f", prox {row.prox:g}"
        lines.append(
            f"| {_label(row.method)} | {cell(row, 'mse_before')} | {cell(row, 'mse_1')} | "
            f"{cell(row, 'mse_after')} | {adaptation} | {int(row.diverged)}/{int(row.trials)} | "
            f"{row.grad_evals_per_step:g} | {row.hvps_per_step:g} |"
        )
    lines += [
        "",
        "Mean ± standard error over the trials that stayed finite. Each method adapts at test time "
        "as it was trained (steps x step size on the 10 support points, with its proximal term).",
    ]
    return "\n".join(lines) + "\n"


def figure(rows: pd.DataFrame):
    from gamebench.reports.figures import plt

    rows = rows.assign(method=methods(rows))
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for method in sorted(set(rows.method), key=_rank):
        sub = rows[rows.method == method]
        stats = sub.groupby("step").mse_after.agg(["mean", "std", "count"])
        se = stats["std"].fillna(0) / np.sqrt(stats["count"])
        finite = np.isfinite(stats["mean"])
        (line,) = ax.plot(stats.index[finite], stats["mean"][finite], label=_label(method), lw=1.5)
        ax.fill_between(
            stats.index[finite],
            (stats["mean"] - se)[finite],
            (stats["mean"] + se)[finite],
            color=line.get_color(),
            alpha=0.2,
        )
    ax.set_yscale("log")
    ax.set_xlabel("leader step")
    ax.set_ylabel("query MSE on new tasks after adaptation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    from gamebench.reports.figures import close

    _, out, rows, scale = load(sweeps, out, command)
    table = table_from_rows(rows)
    io.write_csv(out / "few_shot_table.csv", table)
    io.write_text(out / "few_shot_table.md", markdown(summary(table), scale))
    fig = figure(rows)
    io.save_figure(out / "few_shot_mse.png", fig)
    close(fig)
    return [out / "few_shot_table.csv", out / "few_shot_table.md", out / "few_shot_mse.png"]
