"""Constrained learning by primal-dual methods from sweeps' rows (issue 17).

    python scripts/reproduce_constrained.py --out DIR    # both sweeps, one report
    gamebench-report SWEEP_DIR [SWEEP_DIR ...]           # rebuilds it from the rows alone

A method is the formulation with its solver (lagrangian/gda, augmented/alt_gda, ...) or a point of
the fixed-penalty grid (penalty c=100; c=0 is the unconstrained fit). Writes constrained_table.csv
(task, method, trial at the last logged step: objective, violation of the thresholded constraint,
lambda, accuracies and the task's rates on train and test), constrained_table.md (per task: mean
over trials, whether the mean violation is within TOLERANCE, and each primal-dual method against the
tuned penalty at equal feasibility) and constrained.png (objective against violation per task: the
penalty grid as a curve, the primal-dual methods as points).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.rows import Sweeps, load

TOLERANCE = 0.01  # "feasible": mean violation at most this above the bound (issue 17)
EQUAL_FEASIBILITY = 0.002  # a penalty fit is "as feasible" within this of a primal-dual method
RATES = {
    "fairness": ("parity_gap",),
    "neyman_pearson": ("fpr", "fnr"),
}
SOLVER_ORDER = ("gda", "alt_gda", "extragradient", "optimistic_gda")


def methods(rows: pd.DataFrame) -> pd.Series:
    def one(formulation, solver, penalty):
        if formulation == "penalty":
            return "unconstrained" if penalty == 0 else f"penalty c={penalty:g}"
        return f"{formulation}/{solver}"

    return pd.Series(
        [
            one(f, s, c)
            for f, s, c in zip(rows["problem.formulation"], rows.solver, rows["problem.penalty"])
        ],
        index=rows.index,
    )


def _rank(method: str) -> tuple:
    if method == "unconstrained":
        return (0, 0.0, "")
    if method.startswith("penalty c="):
        return (2, float(method[10:]), "")
    formulation, solver = method.split("/")
    order = SOLVER_ORDER.index(solver) if solver in SOLVER_ORDER else len(SOLVER_ORDER)
    return (1, float(formulation != "lagrangian"), f"{order}")


def table_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    last = rows[rows.step == rows.groupby("job").step.transform("max")]
    columns = {
        "task": last["problem.task"].to_numpy(),
        "method": methods(last).to_numpy(),
        "trial": last.trial.to_numpy(),
        "step": last.step.to_numpy(),
        "bound": last["problem.bound"].to_numpy(np.float64),
        "objective": last.objective.to_numpy(np.float64),
        "violation": last.violation.to_numpy(np.float64),
        "smooth_violation": last.smooth_violation.to_numpy(np.float64),
        "lambda_max": last.lambda_max.to_numpy(np.float64),
        "train_acc": last.train_acc.to_numpy(np.float64),
        "test_acc": last.test_acc.to_numpy(np.float64),
    }
    for split in ("train", "test"):
        for rate in ("parity_gap", "fpr", "fnr"):
            name = f"{split}_{rate}"
            columns[name] = last[name].to_numpy(np.float64) if name in last else np.nan
    table = pd.DataFrame(columns)
    key = [(t, _rank(m)) for t, m in zip(table.task, table.method)]
    order = sorted(range(len(table)), key=lambda i: (key[i], table.trial.iloc[i]))
    return table.iloc[order].reset_index(drop=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    numeric = table.drop(columns=["trial", "step"]).groupby(["task", "method"], sort=False)
    out = numeric.mean(numeric_only=True)
    out["trials"] = table.groupby(["task", "method"], sort=False).size()
    out["objective_se"] = numeric.objective.std(ddof=1) / np.sqrt(out["trials"])
    out["feasible"] = out.violation <= TOLERANCE
    return out.reset_index()


def tuned_penalty(summary_table: pd.DataFrame, task: str, violation: float) -> pd.Series | None:
    """The penalty fit (c > 0) with the lowest objective among those at most EQUAL_FEASIBILITY more
    violated than `violation`; None when no point of the grid is that feasible."""
    grid = summary_table[
        (summary_table.task == task) & summary_table.method.str.startswith("penalty c=")
    ]
    feasible = grid[grid.violation <= violation + EQUAL_FEASIBILITY]
    return None if feasible.empty else feasible.loc[feasible.objective.idxmin()]


def markdown(summary_table: pd.DataFrame, scale: dict | None) -> str:
    lines = []
    if scale is not None:
        lines += [
            f"# Constrained learning: the last iterate after {scale['steps']} steps, mean over "
            f"{scale['trials']} trials",
            "",
            f"Regenerate: `{scale['command']}`",
            "",
        ]
    for task in dict.fromkeys(summary_table.task):
        sub = summary_table[summary_table.task == task]
        bound = sub.bound.iloc[0]
        rates = RATES.get(task, ())
        rate_headers = "".join(f" train {r} | test {r} |" for r in rates)
        what = "parity gap" if task == "fairness" else "false-positive rate"
        lines += [
            f"## {task}: {what} at most {bound:g}",
            "",
            "| method | objective | violation | feasible | lambda | train acc | test acc |"
            + rate_headers,
            "|---|---|---|---|---|---|---|" + "---|" * (2 * len(rates)),
        ]
        for row in sub.itertuples():
            rate_cells = "".join(
                f" {getattr(row, f'train_{r}'):.3f} | {getattr(row, f'test_{r}'):.3f} |"
                for r in rates
            )
            lines.append(
                f"| {row.method} | {row.objective:.4f} ± {row.objective_se:.4f} | "
                f"{row.violation:.4f} | {'yes' if row.feasible else 'no'} | "
                f"{row.lambda_max:.3f} | {row.train_acc:.3f} | {row.test_acc:.3f} |" + rate_cells
            )
        lines.append("")
        primal_dual = sub[sub.method.str.contains("/")]
        for row in primal_dual.itertuples():
            best = tuned_penalty(summary_table, task, row.violation)
            if best is None:
                verdict = "no penalty on the grid is as feasible"
            else:
                better = "better" if row.objective < best.objective else "not better"
                verdict = (
                    f"the tuned {best.method} (violation {best.violation:.4f}) has objective "
                    f"{best.objective:.4f}: {better}"
                )
            lines.append(
                f"- {row.method}: objective {row.objective:.4f} at violation {row.violation:.4f}; "
                + verdict
            )
        lines.append("")
    lines += [
        f"violation: max(0, constraint - bound) of the thresholded rates on the training set, mean "
        f"over trials; feasible: violation <= {TOLERANCE:g}. A penalty fit counts as equally "
        f"feasible within {EQUAL_FEASIBILITY:g}. Objective: the training loss the constraint is "
        "imposed on (with the ridge).",
    ]
    return "\n".join(lines) + "\n"


def figure(summary_table: pd.DataFrame):
    from gamebench.reports.figures import plt

    tasks = list(dict.fromkeys(summary_table.task))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 4.0), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sub = summary_table[summary_table.task == task]
        grid = sub[~sub.method.str.contains("/")]
        ax.plot(grid.violation, grid.objective, "o-", color="grey", lw=1, label="fixed penalty")
        for row in grid.itertuples():
            ax.annotate(
                row.method.replace("penalty ", ""), (row.violation, row.objective), fontsize=7
            )
        for row in sub[sub.method.str.contains("/")].itertuples():
            marker = "s" if row.method.startswith("augmented") else "^"
            ax.plot(row.violation, row.objective, marker, label=row.method, ms=6, alpha=0.8)
        ax.axvline(TOLERANCE, color="red", ls=":", lw=1)
        ax.set_xscale("symlog", linthresh=1e-3)
        ax.set_xlabel("violation of the thresholded constraint (train)")
        ax.set_ylabel("objective")
        ax.set_title(task, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    from gamebench.reports.figures import close

    _, out, rows, scale = load(sweeps, out, command)
    table = table_from_rows(rows)
    summary_table = summary(table)
    io.write_csv(out / "constrained_table.csv", table)
    io.write_text(out / "constrained_table.md", markdown(summary_table, scale))
    fig = figure(summary_table)
    io.save_figure(out / "constrained.png", fig)
    close(fig)
    return [out / "constrained_table.csv", out / "constrained_table.md", out / "constrained.png"]
