"""Robust training and data poisoning from a sweep's rows.

    gamebench -m experiment=robust_mnist   # standard training, FGSM-RS, PGD-AT, Fast-BAT, MvM
    gamebench -m experiment=poisoning      # bilevel poisoning against the poison budget
    gamebench-report SWEEP_DIR             # rebuilds the report from the rows alone

Robust rows (problems robust_classification and mvm_defense) make robust_table.csv (method, trial,
clean_acc, robust_acc, robust_acc_large at the last logged step; fresh_attacker_acc, the accuracy
against a new attacker network trained on the final classifier, for every method where the jobs
log it (mvm_defense); gradients and second-order products per leader step), robust_table.md (mean ± std over trials) and robust_accuracy.png (PGD
accuracy against steps, and robust against clean accuracy). A method is the solver's name, with
`mvm_` in front on the Machine-vs-Machine game and K for K-beam.

Poisoning rows make poisoning_table.csv (method, poison_share, trial = problem.poison_seed,
refit_acc: the fresh learner's test accuracy on clean + poison data, clean_acc: the learner without
poison (the `clean` baseline's test_acc), drop = clean_acc - refit_acc, costs per step),
poisoning_table.md and poisoning.png (accuracy against the poison share, one line per method).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.rows import Sweeps, load

ROBUST_PROBLEMS = ("robust_classification", "mvm_defense")
ROBUST_METRICS = ("clean_acc", "robust_acc", "robust_acc_large", "fresh_attacker_acc")
COSTS = ("grad_evals", "hvps")
KBEAMS = ("kbeam", "kbeam_eps")


def _last(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows.step == rows.groupby("job").step.transform("max")]


def _per_step_costs(last: pd.DataFrame) -> dict[str, np.ndarray]:
    steps = last.step.to_numpy(np.float64)
    return {
        f"{c}_per_step": np.where(steps > 0, last[c].to_numpy(np.float64) / np.maximum(steps, 1), 0)
        for c in COSTS
        if c in last
    }


def robust_method(problem: str, solver: str, k) -> str:
    name = f"{solver}(k={int(k)})" if solver in KBEAMS and pd.notna(k) else solver
    return f"mvm_{name}" if problem == "mvm_defense" else name


def robust_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    last = _last(rows)
    k = last["solver.k"] if "solver.k" in last else pd.Series(np.nan, index=last.index)
    methods = [robust_method(p, s, kk) for p, s, kk in zip(last.problem, last.solver, k)]
    return pd.DataFrame(
        {
            "method": methods,
            "trial": last.trial.to_numpy(),
            **{
                m: last[m].to_numpy(np.float64) if m in last else np.full(len(last), np.nan)
                for m in ROBUST_METRICS
            },
            **_per_step_costs(last),
        }
    ).reset_index(drop=True)


def robust_curves(rows: pd.DataFrame, metric: str = "robust_acc") -> pd.DataFrame:
    """(method, step) -> mean and std over trials of `metric`."""
    k = rows["solver.k"] if "solver.k" in rows else pd.Series(np.nan, index=rows.index)
    method = [robust_method(p, s, kk) for p, s, kk in zip(rows.problem, rows.solver, k)]
    values = rows[metric] if metric in rows else pd.Series(np.nan, index=rows.index)
    frame = pd.DataFrame({"method": method, "step": rows.step.to_numpy(), metric: values})
    return frame.groupby(["method", "step"], sort=False)[metric].agg(["mean", "std"])


def poison_method(solver: str, baseline, truncate) -> str:
    if solver == "baseline":
        return str(baseline)
    if solver == "rmd" and pd.notna(truncate) and int(truncate) > 0:
        return f"rmd(truncate={int(truncate)})"
    return solver


def poisoning_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    last = _last(rows)
    baseline = last["solver.baseline"] if "solver.baseline" in last else "initial"
    truncate = last["solver.truncate"] if "solver.truncate" in last else np.nan
    methods = [
        poison_method(s, b, t)
        for s, b, t in zip(
            last.solver,
            pd.Series(baseline, index=last.index),
            pd.Series(truncate, index=last.index),
        )
    ]
    table = pd.DataFrame(
        {
            "method": methods,
            "poison_share": last["problem.poison_share"].to_numpy(np.float64),
            "n_poison": np.round(
                last["problem.poison_share"].to_numpy(np.float64) * last["problem.n_train"]
            ).astype(np.int64),
            "trial": last["problem.poison_seed"].to_numpy().astype(np.int64),
            "refit_acc": last.refit_acc.to_numpy(np.float64),
            **_per_step_costs(last),
        }
    )
    is_clean = (table.method == "clean").to_numpy()
    if not is_clean.any():
        raise ValueError("the poisoning rows have no solver=baseline solver.baseline=clean job")
    table["clean_acc"] = float(last.test_acc.to_numpy(np.float64)[is_clean].mean())
    table["drop"] = table.clean_acc - table.refit_acc
    table = table[~is_clean]
    rank = {m: i for i, m in enumerate(dict.fromkeys(table.method))}
    table = table.assign(_rank=table.method.map(rank))
    table = table.sort_values(["_rank", "poison_share", "trial"], kind="stable")
    return table.drop(columns="_rank").reset_index(drop=True)


def _mean_std(values: pd.Series) -> str:
    std = values.std()
    return f"{values.mean():.3f} ± {0.0 if pd.isna(std) else std:.3f}"


def robust_markdown(table: pd.DataFrame, scale: dict | None) -> str:
    lines = []
    if scale is not None:
        lines += [
            f"# Robust training on MNIST: accuracies on the test images after {scale['steps']} "
            f"steps, mean ± std over {scale['trials']} trial(s); PGD-20 with random restarts",
            "",
            f"Regenerate: `{scale['command']}`",
            "",
        ]
    costs = [c for c in ("grad_evals_per_step", "hvps_per_step") if c in table]
    lines += [
        "| method | trials | clean_acc | robust_acc (eps) | robust_acc (large eps) | "
        "fresh attacker acc | " + " | ".join(costs) + " |",
        "|---" * (6 + len(costs)) + "|",
    ]
    for method, sub in table.groupby("method", sort=False):
        cells = [_mean_std(sub[m]) if sub[m].notna().any() else "" for m in ROBUST_METRICS]
        cells += [f"{sub[c].mean():.3g}" for c in costs]
        lines.append(f"| {method} | {len(sub)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def poisoning_markdown(table: pd.DataFrame, scale: dict | None) -> str:
    lines = []
    if scale is not None:
        lines += [
            f"# Data poisoning on MNIST: test accuracy of a fresh logistic regression trained on "
            f"clean + poison data after {scale['steps']} leader steps, mean ± std over poison "
            "seeds (drop: against the same learner without poison)",
            "",
            f"Regenerate: `{scale['command']}`",
            "",
        ]
    shares = sorted(table.poison_share.unique())
    counts = {s: int(table[table.poison_share == s].n_poison.iloc[0]) for s in shares}
    header = [f"{100 * s:g} % ({counts[s]} points)" for s in shares]
    lines += [
        f"Clean learner (no poison): {table.clean_acc.iloc[0]:.3f}",
        "",
        "| method | " + " | ".join(f"refit_acc {h}" for h in header) + " | drop at "
        f"{100 * shares[-1]:g} % | grad_evals / step | hvps / step |",
        "|---" * (len(shares) + 4) + "|",
    ]
    for method, sub in table.groupby("method", sort=False):
        cells = [_mean_std(sub[sub.poison_share == s].refit_acc) for s in shares]
        cells.append(_mean_std(sub[sub.poison_share == shares[-1]]["drop"]))
        for cost in ("grad_evals_per_step", "hvps_per_step"):
            cells.append(f"{sub[cost].mean():.3g}" if cost in sub else "")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    from gamebench.reports.figures import close

    jobs, out, rows, scale = load(sweeps, out, command)
    written = []
    robust_rows = rows[rows.problem.isin(ROBUST_PROBLEMS)]
    if not robust_rows.empty:
        table = robust_from_rows(robust_rows)
        io.write_csv(out / "robust_table.csv", table)
        io.write_text(out / "robust_table.md", robust_markdown(table, scale))
        curves = {m: robust_curves(robust_rows, m) for m in ("robust_acc", "fresh_attacker_acc")}
        fig = robust_figure(table, curves)
        io.save_figure(out / "robust_accuracy.png", fig)
        close(fig)
        written += [out / n for n in ("robust_table.csv", "robust_table.md", "robust_accuracy.png")]
    poison_rows = rows[rows.problem == "poisoning"]
    if not poison_rows.empty:
        table = poisoning_from_rows(poison_rows)
        io.write_csv(out / "poisoning_table.csv", table)
        io.write_text(out / "poisoning_table.md", poisoning_markdown(table, scale))
        fig = poisoning_figure(table)
        io.save_figure(out / "poisoning.png", fig)
        close(fig)
        written += [out / n for n in ("poisoning_table.csv", "poisoning_table.md", "poisoning.png")]
    if not written:
        raise ValueError("the sweep has no robust_classification, mvm_defense or poisoning rows")
    return written


def robust_figure(table: pd.DataFrame, curves: dict[str, pd.DataFrame]):
    """PGD-20 accuracy and the accuracy against a freshly trained attacker against steps (mean and
    a band over trials), and PGD-20 against clean accuracy at the end (mean ± std per method)."""
    from gamebench.reports.figures import plt

    methods = list(dict.fromkeys(table.method))
    colours = dict(zip(methods, plt.cm.tab10(np.arange(len(methods)) % 10)))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    titles = {"robust_acc": "PGD-20 accuracy at eps", "fresh_attacker_acc": "vs a fresh attacker"}
    for ax, (metric, title) in zip(axes, titles.items()):
        for method in methods:
            curve = curves[metric].loc[method]
            if curve["mean"].isna().all():
                continue
            steps, mean = curve.index.to_numpy(), curve["mean"].to_numpy()
            std = np.nan_to_num(curve["std"].to_numpy())
            ax.plot(steps, mean, label=method, color=colours[method])
            ax.fill_between(steps, mean - std, mean + std, alpha=0.2, color=colours[method])
        ax.set(xlabel="step", ylabel="test accuracy", title=title, ylim=(0, 1))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    scatter = axes[2]
    for method in methods:
        sub = table[table.method == method]
        scatter.errorbar(
            sub.clean_acc.mean(),
            sub.robust_acc.mean(),
            xerr=np.nan_to_num(sub.clean_acc.std()),
            yerr=np.nan_to_num(sub.robust_acc.std()),
            fmt="o",
            color=colours[method],
            label=method,
        )
    low = max(0.0, float(table.clean_acc.min()) - 0.05)
    scatter.set(
        xlabel="clean accuracy", ylabel="PGD-20 accuracy at eps", xlim=(low, 1), ylim=(0, 1)
    )
    scatter.set_title("at the last step")
    scatter.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def poisoning_figure(table: pd.DataFrame):
    """The fresh learner's test accuracy against the poison share, one line per method."""
    from gamebench.reports.figures import plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    clean = table.clean_acc.iloc[0]
    for method, sub in table.groupby("method", sort=False):
        stats = sub.groupby("poison_share").refit_acc.agg(["mean", "std"])
        ax.errorbar(
            100 * stats.index.to_numpy(),
            stats["mean"],
            yerr=np.nan_to_num(stats["std"].to_numpy()),
            marker="o",
            capsize=3,
            label=method,
        )
    ax.axhline(clean, color="k", linestyle="--", linewidth=1, label="no poison")
    ax.set(xlabel="poison points (% of the training set)", ylabel="test accuracy (fresh learner)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
