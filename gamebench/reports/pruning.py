"""Bilevel pruning (BiP) against iterative magnitude pruning from a sweep's rows (issue 17).

    gamebench -m experiment=pruning         # BiP and IMP at 50, 80, 90, 95 % sparsity
    gamebench-report SWEEP_DIR              # rebuilds the report from the rows alone

Writes pruning_table.csv (method, sparsity, trial: test accuracy of the sparse network, the
mask's measured sparsity, gradients and second-order products spent), pruning_table.md (mean ±
standard error per method and sparsity, and BiP's cost as a share of IMP's) and pruning.png (test
accuracy against sparsity). BiP's costs are the runner's counts; IMP's are its schedule's,
(rounds + 1) x round_steps gradients, since the baseline runs inside the problem's `imp` function.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.rows import Sweeps, load


def imp_rounds_for(sparsity: float) -> int:
    """IMP's rounds when the config leaves them at 0: as many as 20 % per round needs. The same
    rule as gamebench.problems.pruning.imp_rounds_for, restated because reports import no JAX
    (tests/test_pruning.py checks that the two agree)."""
    return max(1, math.ceil(math.log(1.0 - sparsity) / math.log(0.8)))


def _method(solver: str, baseline) -> str:
    return str(baseline) if solver == "baseline" else solver


def _imp_gradients(row) -> float:
    rounds = int(row["problem.imp_rounds"]) or imp_rounds_for(float(row["problem.sparsity"]))
    return float((rounds + 1) * int(row["problem.imp_round_steps"]))


def table_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    last = rows[rows.step == rows.groupby("job").step.transform("max")]
    baseline = last.get("solver.baseline", pd.Series("", index=last.index))
    method = [_method(s, b) for s, b in zip(last.solver, baseline)]
    gradients = [
        _imp_gradients(row) if m == "imp" else float(row.grad_evals)
        for m, (_, row) in zip(method, last.iterrows())
    ]
    table = pd.DataFrame(
        {
            "method": method,
            "target_sparsity": last["problem.sparsity"].to_numpy(np.float64),
            "trial": last.trial.to_numpy(),
            "test_acc": last.test_acc.to_numpy(np.float64),
            "sparsity": last.sparsity.to_numpy(np.float64),
            "gradients": gradients,
            "hvps": [0.0 if m == "imp" else float(h) for m, h in zip(method, last.hvps)],
        }
    )
    return table.sort_values(["target_sparsity", "method", "trial"]).reset_index(drop=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    grouped = table.groupby(["target_sparsity", "method"])
    out = grouped[["test_acc", "sparsity", "gradients", "hvps"]].mean()
    out["trials"] = grouped.size()
    out["test_acc_se"] = grouped.test_acc.std(ddof=1) / np.sqrt(out["trials"])
    return out.reset_index()


def markdown(summary_table: pd.DataFrame, scale: dict | None) -> str:
    lines = []
    if scale is not None:
        lines += [
            f"# Bilevel pruning (BiP) against IMP on an MNIST MLP 784-300-100-10, "
            f"{scale['trials']} trials",
            "",
            f"Regenerate: `{scale['command']}`",
            "",
        ]
    lines += [
        "| sparsity | method | test accuracy | measured sparsity | gradients | 2nd-order "
        "products | BiP - IMP (points) | BiP cost / IMP cost |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for target, sub in summary_table.groupby("target_sparsity"):
        imp = sub[sub.method == "imp"]
        for row in sub.itertuples():
            delta, ratio = "", ""
            if row.method != "imp" and len(imp):
                delta = f"{100 * (row.test_acc - imp.test_acc.iloc[0]):+.2f}"
                # a second-order product costs about two gradients
                ratio = f"{(row.gradients + 2 * row.hvps) / imp.gradients.iloc[0]:.2f}"
            se = "" if math.isnan(row.test_acc_se) else f" ± {row.test_acc_se:.4f}"
            lines.append(
                f"| {target:.0%} | {row.method} | {row.test_acc:.4f}{se} | {row.sparsity:.3f} | "
                f"{row.gradients:.0f} | {row.hvps:.0f} | {delta} | {ratio} |"
            )
    lines += [
        "",
        "Cost: gradient evaluations over the whole run (BiP: the runner's count; IMP: (rounds + 1) "
        "x round steps of its schedule); the ratio counts a second-order product as two gradients.",
    ]
    return "\n".join(lines) + "\n"


def figure(summary_table: pd.DataFrame):
    from gamebench.reports.figures import plt

    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    for method, sub in summary_table.groupby("method"):
        ax.errorbar(
            100 * sub.target_sparsity, sub.test_acc, yerr=sub.test_acc_se.fillna(0),
            marker="o", capsize=3, label=method,
        )  # fmt: skip
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    from gamebench.reports.figures import close

    _, out, rows, scale = load(sweeps, out, command)
    table = table_from_rows(rows)
    summary_table = summary(table)
    io.write_csv(out / "pruning_table.csv", table)
    io.write_text(out / "pruning_table.md", markdown(summary_table, scale))
    fig = figure(summary_table)
    io.save_figure(out / "pruning.png", fig)
    close(fig)
    return [out / "pruning_table.csv", out / "pruning_table.md", out / "pruning.png"]
