"""The minimax filter's utility-privacy trade-off (Hamm, JMLR 2017) from a sweep's rows.

    gamebench -m experiment=privacy_tradeoff    # filters and baselines for every dataset and d
    gamebench-report SWEEP_DIR                  # rebuilds the report from the rows alone

A job's method is read from its config: solver danskin is `minimax_linear` or `minimax_nn`;
solver=baseline is the baseline's name (`initial` is the untrained random orthonormal filter:
`random`, or `random_nn` for the nn filter). Its accuracies are the protocol's (fresh classifiers on
the frozen filter, problem.protocol=true) at the last logged step. Writes privacy_table.csv
(dataset, method, d, trial, utility_acc, private_acc), privacy_table.md (mean ± std over trials)
and privacy_tradeoff.png (utility against private accuracy, chance levels from the jobs' problem
info).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.rows import Sweeps, job_metas, load

COLUMNS = ["dataset", "method", "d", "trial", "utility_acc", "private_acc"]


def method_of(solver: str, baseline: str, filter_kind: str) -> str:
    if solver == "baseline":
        if baseline == "initial":
            return "random" if filter_kind == "linear" else f"random_{filter_kind}"
        return baseline
    return f"minimax_{filter_kind}" if solver == "danskin" else f"{solver}_{filter_kind}"


def table_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    missing = {"protocol_utility_acc", "protocol_private_acc"} - set(rows.columns)
    if missing:
        raise ValueError(
            f"the rows have no {sorted(missing)[0]}: run the sweep with problem.protocol=true"
        )
    last = rows[rows.step == rows.groupby("job").step.transform("max")]
    baseline = last["solver.baseline"] if "solver.baseline" in last else "initial"
    methods = [
        method_of(s, b, f)
        for s, b, f in zip(
            last.solver, pd.Series(baseline, index=last.index), last["problem.filter"]
        )
    ]
    table = pd.DataFrame(
        {
            "dataset": last["problem.dataset"].to_numpy(),
            "method": methods,
            "d": last["problem.d"].to_numpy(),
            "trial": last.trial.to_numpy(),
            "utility_acc": last.protocol_utility_acc.to_numpy(np.float64),
            "private_acc": last.protocol_private_acc.to_numpy(np.float64),
        }
    )
    # rows as the paper lays them out: the linear filter's baselines, then the learned linear
    # filter, then the same for the nn filter; within each, the sweep's order
    learned = (last.solver != "baseline").to_numpy()
    group = 2 * (last["problem.filter"] != "linear").to_numpy() + learned
    first_seen = {m: i for i, m in enumerate(dict.fromkeys(methods))}
    table = table.assign(_rank=1000 * group + table.method.map(first_seen).to_numpy())
    table = table.sort_values(["dataset", "d", "_rank", "trial"], kind="stable")
    return table.drop(columns="_rank").reset_index(drop=True)[COLUMNS]


def chance_from_jobs(jobs: list[Path]) -> dict[str, tuple[float, float]]:
    """dataset -> (utility, private) chance accuracy, from the jobs' problem info."""
    chance = {}
    for _, meta in job_metas(jobs):
        info = meta.get("problem_info", {})
        if "chance" in info and "dataset" in info:
            chance[info["dataset"]] = (info["chance"]["utility"], info["chance"]["private"])
    return chance


def markdown(table: pd.DataFrame, scale: dict | None = None) -> str:
    lines = []
    if scale is not None:
        lines += [
            f"# Utility-privacy trade-off: protocol test accuracies after {scale['steps']} filter "
            "steps, mean ± std over trials (deterministic baselines repeat one value)",
            "",
            f"Regenerate: `{scale['command']}`",
            "",
        ]
    lines += [
        "| dataset | method | d | trials | utility_acc | private_acc |",
        "|---|---|---|---|---|---|",
    ]
    stats = table.groupby(["dataset", "method", "d"], sort=False)[["utility_acc", "private_acc"]]
    for (dataset, method, d), row in stats.agg(["mean", "std", "count"]).iterrows():
        cells = [
            f"{row[(c, 'mean')]:.3f} ± {0.0 if pd.isna(row[(c, 'std')]) else row[(c, 'std')]:.3f}"
            for c in ("utility_acc", "private_acc")
        ]
        count = int(row[("utility_acc", "count")])
        lines.append(f"| {dataset} | {method} | {d} | {count} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    jobs, out, rows, scale = load(sweeps, out, command)
    return write(out, table_from_rows(rows), chance_from_jobs(jobs), scale)


def write(out: Path, table: pd.DataFrame, chance: dict, scale: dict | None) -> list[Path]:
    from gamebench.reports.figures import close

    io.write_csv(out / "privacy_table.csv", table)
    io.write_text(out / "privacy_table.md", markdown(table, scale))
    fig = tradeoff_figure(table, chance)
    io.save_figure(out / "privacy_tradeoff.png", fig)
    close(fig)
    return [out / n for n in ("privacy_table.csv", "privacy_table.md", "privacy_tradeoff.png")]


def tradeoff_figure(table: pd.DataFrame, chance: dict[str, tuple[float, float]]):
    """Utility accuracy against private accuracy: one marker per (method, d), mean ± std over
    trials, one panel per dataset, chance levels dashed."""
    from gamebench.reports.figures import plt

    datasets = sorted(table.dataset.unique())
    methods = list(dict.fromkeys(table.method))
    ds = sorted(table.d.unique())
    markers = dict(zip(ds, "os^Dvp*h"))
    colours = dict(zip(methods, plt.cm.tab10(np.arange(len(methods)))))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 4.4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        sub = table[table.dataset == dataset]
        stats = sub.groupby(["method", "d"])[["utility_acc", "private_acc"]].agg(["mean", "std"])
        for (method, d), row in stats.iterrows():
            ax.errorbar(
                row[("private_acc", "mean")],
                row[("utility_acc", "mean")],
                xerr=np.nan_to_num(row[("private_acc", "std")]),
                yerr=np.nan_to_num(row[("utility_acc", "std")]),
                marker=markers.get(d, "o"),
                color=colours[method],
                ms=6,
                lw=0.8,
                ls="none",
            )
        if dataset in chance:
            ax.axvline(chance[dataset][1], color="grey", ls="--", lw=1)
            ax.axhline(chance[dataset][0], color="grey", ls="--", lw=1)
        ax.set_title(f"{dataset}: better is up and left")
        ax.set_xlabel("private accuracy (adversary)")
        ax.set_ylabel("utility accuracy")
        ax.grid(alpha=0.3)
    handles = [
        plt.Line2D([], [], color=colours[m], marker="o", ls="none", label=m) for m in methods
    ]
    handles += [
        plt.Line2D([], [], color="k", marker=markers.get(d, "o"), ls="none", label=f"d={d}")
        for d in ds
    ]
    handles.append(plt.Line2D([], [], color="grey", ls="--", label="chance"))
    axes[0, -1].legend(handles=handles, fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
