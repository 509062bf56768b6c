"""MNIST -> MNIST-M domain adaptation: methods as config overrides, the table and the figure.

A method is a set of overrides of `experiment=da_mnistm`; tables and figures read only the rows
(`da_curves.csv`), so redrawing never reruns training.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ACCURACIES = ["source_acc", "target_acc", "target_official_acc"]
CURVE_COLUMNS = ["method", "trial", "step", *ACCURACIES]
TABLE_COLUMNS = ["method", "trial", *ACCURACIES]
METHODS: dict[str, list[str]] = {
    "source_only": ["problem.adversarial=false", "solver=gda"],
    "gda": ["solver=gda"],
    **{f"kbeam{k}": ["solver=kbeam", f"solver.k={k}"] for k in (1, 2, 5, 10)},
}


def method_overrides(name: str) -> list[str]:
    """Overrides for `source_only`, `gda`, or `kbeamK` with any K >= 1."""
    if name in METHODS:
        return METHODS[name]
    if name.startswith("kbeam") and name[5:].isdigit() and int(name[5:]) >= 1:
        return ["solver=kbeam", f"solver.k={int(name[5:])}"]
    raise ValueError(f"unknown method {name!r}; allowed: source_only, gda, kbeamK (K >= 1)")


def final_table(curves: pd.DataFrame) -> pd.DataFrame:
    """The last logged step of every (method, trial): the per-trial table."""
    last = curves[curves.step == curves.step.max()]
    return last[TABLE_COLUMNS].reset_index(drop=True)


def summary_markdown(table: pd.DataFrame, methods: list[str]) -> str:
    """Mean ± std over trials of each accuracy, one row per method in the given order."""
    lines = [
        "| method | trials | " + " | ".join(ACCURACIES) + " |",
        "|---|---|" + "---|" * len(ACCURACIES),
    ]
    for method in methods:
        sub = table[table.method == method]
        cells = [f"{sub[c].mean():.3f} ± {sub[c].std(ddof=0):.3f}" for c in ACCURACIES]
        lines.append(f"| {method} | {len(sub)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def target_accuracy_figure(curves: pd.DataFrame, methods: list[str]):
    """Target accuracy (synthesised and official MNIST-M test) over iterations, mean ± std."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(methods)))
    for ax, column, title in zip(
        axes,
        ["target_acc", "target_official_acc"],
        ["MNIST-M test (synthesised)", "MNIST-M test (official, 28x28)"],
    ):
        for colour, method in zip(colours, methods):
            stats = curves[curves.method == method].groupby("step")[column].agg(["mean", "std"])
            stats = stats.fillna(0.0)
            steps = stats.index.to_numpy()
            ax.plot(steps, stats["mean"], color=colour, label=method, lw=1.6)
            ax.fill_between(
                steps,
                stats["mean"] - stats["std"],
                stats["mean"] + stats["std"],
                color=colour,
                alpha=0.2,
            )
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("target accuracy")
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
