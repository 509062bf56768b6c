"""The K-beam paper's domain adaptation experiment (Hamm & Noh, ICML 2018, Sec. 5.3) from a sweep's
rows: MNIST -> MNIST-M with source-only training, simultaneous GDA and K-beam.

    gamebench -m experiment=da_mnistm       # six jobs (the other combinations are duplicates)
    gamebench-report SWEEP_DIR              # rebuilds the report from the rows alone

A job's method is read from its config: problem.adversarial=false is `source_only`, solver gda is
`gda`, solver kbeam with k = K is `kbeamK`, and problem.adaptation=dann or grl (DANN's schedules)
adds `_dann` or `_grl` (`gda_grl`: gradient reversal as DANN's code trains it). Writes
da_curves.csv (method, trial, step, source_acc, target_acc, target_official_acc), da_table.csv (the
last logged step), da_table.md (mean ± std over trials), da_target_acc.png and mnistm_stats.csv
(per-channel mean and std of the synthesised and the official MNIST-M test images, from the jobs'
problem info).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.rows import Sweeps, job_metas, load

ACCURACIES = ["source_acc", "target_acc", "target_official_acc"]
CURVE_COLUMNS = ["method", "trial", "step", *ACCURACIES]
TABLE_COLUMNS = ["method", "trial", *ACCURACIES]


# problem.adaptation values other than the paper's constant game; a method trained with one is
# named with its suffix (gda_dann, kbeam1_grl), as scripts/reproduce_da.py accepts them
SCHEDULED_ADAPTATIONS = ("dann", "grl")


def method_of(problem_adversarial: bool, solver: str, k, adaptation: str = "constant") -> str:
    if not problem_adversarial:
        return "source_only"
    method = f"kbeam{int(k)}" if solver == "kbeam" else solver
    return method if adaptation == "constant" else f"{method}_{adaptation}"


def method_order(methods) -> list[str]:
    """source_only, gda, gda_dann, gda_grl, then K-beam by K (each before its scheduled forms),
    then anything else by name."""

    def rank(name: str):
        base, scheduled = name, 0
        for rank_of_suffix, adaptation in enumerate(SCHEDULED_ADAPTATIONS, start=1):
            if name.endswith(f"_{adaptation}"):
                base, scheduled = name.removesuffix(f"_{adaptation}"), rank_of_suffix
        if name == "source_only":
            return (0, 0, 0, name)
        if base == "gda":
            return (1, 0, scheduled, name)
        if base.startswith("kbeam") and base[5:].isdigit():
            return (2, int(base[5:]), scheduled, name)
        return (3, 0, 0, name)

    return sorted(set(methods), key=rank)


def curves_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    k = rows["solver.k"] if "solver.k" in rows else pd.Series(1, index=rows.index)
    # rows made before the adaptation option existed are the constant protocol
    adaptation = rows.get("problem.adaptation", pd.Series("constant", index=rows.index))
    methods = [
        method_of(bool(a), s, kk, str(ad))
        for a, s, kk, ad in zip(
            rows["problem.adversarial"], rows.solver, k, adaptation.fillna("constant")
        )
    ]
    return curves_in_order(rows.assign(method=methods)[CURVE_COLUMNS])


def curves_in_order(curves: pd.DataFrame) -> pd.DataFrame:
    """The curves sorted by method (method_order), trial and step."""
    curves = curves.astype({c: np.float64 for c in ACCURACIES})
    order = {m: i for i, m in enumerate(method_order(curves.method))}
    curves = curves.assign(_rank=curves.method.map(order))
    curves = curves.sort_values(["_rank", "trial", "step"], kind="stable")
    return curves.drop(columns="_rank").reset_index(drop=True)


def final_table(curves: pd.DataFrame) -> pd.DataFrame:
    """The last logged step of every (method, trial): the per-trial table."""
    last = curves[curves.step == curves.step.max()]
    return last[TABLE_COLUMNS].reset_index(drop=True)


def summary_markdown(table: pd.DataFrame, methods: list[str], scale: dict | None = None) -> str:
    """Mean ± std over trials of each accuracy, one row per method in the given order."""
    lines = []
    if scale is not None:
        lines += [
            f"# MNIST -> MNIST-M: test accuracies after {scale['steps']} iterations, mean ± std "
            f"over {scale['trials']} trials",
            "",
            f"Regenerate: `{scale['command']}`",
            "",
        ]
    lines += [
        "| method | trials | " + " | ".join(ACCURACIES) + " |",
        "|---|---|" + "---|" * len(ACCURACIES),
    ]
    for method in methods:
        sub = table[table.method == method]
        cells = [f"{sub[c].mean():.3f} ± {sub[c].std(ddof=0):.3f}" for c in ACCURACIES]
        lines.append(f"| {method} | {len(sub)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def channel_stats_from_jobs(jobs: list[Path]) -> pd.DataFrame:
    """set, channel, mean, std of the MNIST-M test images the jobs evaluated on."""
    for _, meta in job_metas(jobs):
        if "channel_stats" in (info := meta.get("problem_info", {})):
            return pd.DataFrame(info["channel_stats"])
    return pd.DataFrame(columns=["set", "channel", "mean", "std"])


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    jobs, out, rows, scale = load(sweeps, out, command)
    curves = curves_from_rows(rows)
    written = write_tables(out, curves, scale)
    io.write_csv(out / "mnistm_stats.csv", channel_stats_from_jobs(jobs))
    return [out / "da_curves.csv", *written, out / "mnistm_stats.csv"]


def write_tables(out: Path, curves: pd.DataFrame, scale: dict | None) -> list[Path]:
    """da_curves.csv, da_table.csv, da_table.md and da_target_acc.png from the curves."""
    from gamebench.reports.figures import close

    methods = method_order(curves.method)
    table = final_table(curves)
    io.write_csv(out / "da_curves.csv", curves)
    io.write_csv(out / "da_table.csv", table)
    io.write_text(out / "da_table.md", summary_markdown(table, methods, scale))
    fig = target_accuracy_figure(curves, methods)
    io.save_figure(out / "da_target_acc.png", fig)
    close(fig)
    return [out / "da_table.csv", out / "da_table.md", out / "da_target_acc.png"]


def target_accuracy_figure(curves: pd.DataFrame, methods: list[str]):
    """Target accuracy (synthesised and official MNIST-M test) over iterations, mean ± std."""
    from gamebench.reports.figures import plt

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
