"""The bilevel artefacts (Mehra & Hamm, ACML 2021) from the rows of one sweep or several:

    gamebench -m experiment=bilevel_synthetic   # SMD20/21/23/24 and the IAPTT-GM toy, every solver
    gamebench -m experiment=bilevel_cost        # cost of a leader step against T and dim u
    gamebench -m experiment=hypercleaning       # MNIST hyper-cleaning, solvers and baselines
    gamebench-report SWEEP_DIR [SWEEP_DIR ...]  # rebuilds from the rows alone

Rows are sorted into parts by problem: smd and iaptt_toy jobs make bilevel_synthetic.csv (problem,
solver, T, trial, step, dist, upper_value) and bilevel_synthetic.png (median distance against leader
steps at T = 10); quadratic_bilevel jobs make bilevel_cost.csv (solver, T, ms_per_step, peak_bytes,
grad_evals, hvps, jvps at dim u = 100), bilevel_cost_dim.csv (the same with dim_u, at T = 10) and
bilevel_cost.png, with ms_per_step = the job's run seconds / steps and peak_bytes = XLA's working
memory of the job's compiled program (experiment=bilevel_cost runs every job alone); hypercleaning
jobs make hypercleaning.csv (method, trial = label seed, test_acc, precision, recall). bilevel_tables.md
holds the tables of the parts present.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.rows import Sweeps, load, read_meta

COST_COLUMNS = ["solver", "T", "ms_per_step", "peak_bytes", "grad_evals", "hvps", "jvps"]
CLEANING_COLUMNS = ["method", "trial", "test_acc", "refit_acc", "precision", "recall"]


def _last(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows.step == rows.groupby("job").step.transform("max")]


def _order(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """A `_rank` column: the order in which the values first appear, i.e. the sweep's job order,
    which is the experiment config's order (problems, solvers and baselines as the paper lists
    them)."""
    rank = {name: i for i, name in enumerate(dict.fromkeys(frame[column]))}
    return frame.assign(_rank=frame[column].map(rank))


def synthetic_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    which = rows["problem.which"] if "problem.which" in rows else rows.problem
    problem = np.where(rows.problem == "smd", which, rows.problem)
    out = pd.DataFrame(
        {
            "problem": problem,
            "solver": rows.solver.to_numpy(),
            "T": rows["solver.inner_steps"].to_numpy(),
            "trial": rows.trial.to_numpy(),
            "step": rows.step.to_numpy(),
            "dist": rows.dist.to_numpy(np.float64),
            "upper_value": rows.upper_value.to_numpy(np.float64),
        }
    )
    out = _order(_order(out, "solver").rename(columns={"_rank": "_s"}), "problem")
    out = out.sort_values(["_rank", "_s", "T", "trial", "step"], kind="stable")
    return out.drop(columns=["_rank", "_s"]).reset_index(drop=True)


def cost_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per job: time and memory from its meta.json, products per step from its rows."""
    records = []
    for job, last in _last(rows).groupby("job", sort=False):
        meta = read_meta(Path(job))
        group = meta.get("group") or {}
        steps = int(last.step.iloc[0])
        if group.get("size", 1) != 1:
            raise ValueError(
                f"{job} ran fused with {group['size'] - 1} other jobs: its seconds are not its own "
                "(run cost sweeps with fuse=false, as experiment=bilevel_cost does)"
            )
        records.append(
            {
                "dim_u": int(last["problem.dim"].iloc[0]),
                "solver": last.solver.iloc[0],
                "T": int(last["solver.inner_steps"].iloc[0]),
                "ms_per_step": 1000 * meta["run_seconds"] / steps,
                "peak_bytes": group.get("temp_bytes", -1),
                **{c: float(last[c].iloc[0]) / steps for c in ("grad_evals", "hvps", "jvps")},
            }
        )
    cost = _order(pd.DataFrame(records), "solver")
    cost = cost.sort_values(["dim_u", "_rank", "T"], kind="stable").drop(columns="_rank")
    return cost.reset_index(drop=True)


def cleaning_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    last = _last(rows)
    baseline = last["solver.baseline"] if "solver.baseline" in last else "initial"
    method = np.where(last.solver == "baseline", baseline, last.solver)
    out = pd.DataFrame(
        {
            "method": method,
            "trial": last["problem.label_seed"].to_numpy().astype(np.int64),
            **{
                c: last[c].to_numpy(np.float64) if c in last else np.full(len(last), np.nan)
                for c in CLEANING_COLUMNS[2:]
            },
        }
    )
    out = _order(out, "method").sort_values(["_rank", "trial"], kind="stable")
    out = out.drop(columns="_rank").reset_index(drop=True)[CLEANING_COLUMNS]
    return out.dropna(axis=1, how="all")  # refit_acc only where the jobs logged it


def markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table (floats to 4 significant digits), without pandas' optional tabulate."""

    def cell(value):
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(str(c) for c in frame.columns) + " |", "|" + "---|" * frame.shape[1]]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def tables_markdown(
    synthetic: pd.DataFrame | None,
    cost: pd.DataFrame | None,
    cost_dim: pd.DataFrame | None,
    cleaning: pd.DataFrame | None,
    scale: dict | None = None,
) -> str:
    parts = []
    if scale is not None:
        parts += [f"Regenerate: `{scale['command']}`\n"]
    if synthetic is not None and not synthetic.empty:
        last = synthetic[synthetic.step == synthetic.step.max()]
        table = last.groupby(["problem", "solver", "T"]).dist.median().unstack("T")
        parts += [
            f"## Final distance to the solution after {int(synthetic.step.max())} leader steps "
            "(median over trials)\n",
            markdown_table(table.reset_index()),
            "",
        ]
    if cost is not None and not cost.empty:
        parts += [
            "## Cost per leader step (100-dim bilevel problem with a log-cosh follower term; "
            "time from the job's run seconds, memory = XLA temp buffers of its whole program)\n",
            markdown_table(cost),
            "",
        ]
    if cost_dim is not None and not cost_dim.empty:
        parts += ["## Cost per leader step against dim u (T = 10)\n", markdown_table(cost_dim), ""]
    if cleaning is not None and not cleaning.empty:
        metrics = [c for c in CLEANING_COLUMNS[2:] if c in cleaning]
        summary = cleaning.groupby("method", sort=False)[metrics].agg(["mean", "std"])
        summary.columns = [f"{a} {b}" for a, b in summary.columns]
        parts += [
            "## Data hyper-cleaning (mean, std over label corruptions)\n",
            markdown_table(summary.reset_index()),
            "",
            "test_acc: the follower's (a bilevel method's lower-level learner, trained on the "
            "weighted noisy set; a baseline's fit). refit_acc: a fresh logistic regression fitted "
            "on the validation set plus the training examples the method keeps (sigma(u) >= 1/2), "
            "the data every baseline is fitted on; for noisy, val_only and oracle it repeats test_acc "
            "(to round-off), for initial (u = 0 keeps every example) it is the noisy fit. fmd is not "
            "in this table: forward mode costs one JVP per leader coordinate and follower step "
            "(5,000 x T per leader step), beyond this CPU at this size.",
            "",
        ]
    return "\n".join(parts) + "\n"


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    jobs, out, rows, scale = load(sweeps, out, command)
    synthetic = cost_all = cleaning = None
    written = []
    if rows.problem.isin(["smd", "iaptt_toy"]).any():
        synthetic = synthetic_from_rows(rows[rows.problem.isin(["smd", "iaptt_toy"])])
        io.write_csv(out / "bilevel_synthetic.csv", synthetic)
        written.append(out / "bilevel_synthetic.csv")
    if (rows.problem == "quadratic_bilevel").any():
        cost_all = cost_from_rows(rows[rows.problem == "quadratic_bilevel"])
    if (rows.problem == "hypercleaning").any():
        cleaning = cleaning_from_rows(rows[rows.problem == "hypercleaning"])
        io.write_csv(out / "hypercleaning.csv", cleaning)
        written.append(out / "hypercleaning.csv")
    cost = cost_dim = None
    if cost_all is not None:
        dim = 100 if (cost_all.dim_u == 100).any() else int(cost_all.dim_u.max())
        cost = cost_all[cost_all.dim_u == dim][COST_COLUMNS].reset_index(drop=True)
        t = 10 if (cost_all["T"] == 10).any() else int(cost_all["T"].max())
        cost_dim = cost_all[cost_all["T"] == t].reset_index(drop=True)
        io.write_csv(out / "bilevel_cost.csv", cost)
        io.write_csv(out / "bilevel_cost_dim.csv", cost_dim)
        written += [out / "bilevel_cost.csv", out / "bilevel_cost_dim.csv"]
    written += write_figures(out, synthetic, cost)
    io.write_text(
        out / "bilevel_tables.md", tables_markdown(synthetic, cost, cost_dim, cleaning, scale)
    )
    return [*written, out / "bilevel_tables.md"]


def write_figures(out: Path, synthetic: pd.DataFrame | None, cost: pd.DataFrame | None) -> list:
    from gamebench.reports.figures import close

    written = []
    if synthetic is not None and not synthetic.empty:
        t = 10 if (synthetic["T"] == 10).any() else int(synthetic["T"].max())
        fig = synthetic_figure(synthetic, t)
        io.save_figure(out / "bilevel_synthetic.png", fig)
        close(fig)
        written.append(out / "bilevel_synthetic.png")
    if cost is not None and not cost.empty:
        fig = cost_figure(cost)
        io.save_figure(out / "bilevel_cost.png", fig)
        close(fig)
        written.append(out / "bilevel_cost.png")
    return written


def synthetic_figure(rows: pd.DataFrame, T: int):
    from gamebench.reports.figures import plt

    problems = list(dict.fromkeys(rows.problem))
    fig, axes = plt.subplots(1, len(problems), figsize=(3.6 * len(problems), 3.3), squeeze=False)
    solvers = list(dict.fromkeys(rows.solver))
    colours = dict(zip(solvers, plt.cm.tab10(np.arange(len(solvers)))))
    for ax, problem in zip(axes[0], problems):
        sub = rows[(rows.problem == problem) & (rows["T"] == T)]
        for solver, trace in sub.groupby("solver"):
            stats = trace.groupby("step").dist.median()
            ax.semilogy(
                stats.index,
                np.maximum(stats.to_numpy(), 1e-8),
                label=solver,
                color=colours.get(solver),
            )
        ax.set_title(f"{problem} (T={T})")
        ax.set_xlabel("leader step")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("distance to the solution (median over trials)")
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def cost_figure(cost: pd.DataFrame):
    from gamebench.reports.figures import plt

    fig, (ax_mem, ax_time) = plt.subplots(1, 2, figsize=(10, 3.8))
    for solver, sub in cost.groupby("solver", sort=False):
        sub = sub.sort_values("T")
        ax_mem.loglog(sub["T"], sub.peak_bytes, marker="o", label=solver)
        ax_time.loglog(sub["T"], sub.ms_per_step, marker="o", label=solver)
    ax_mem.set_title("working memory of the compiled run (XLA temp buffers)")
    ax_mem.set_ylabel("bytes")
    ax_time.set_title("time per leader step (CPU)")
    ax_time.set_ylabel("ms")
    for ax in (ax_mem, ax_time):
        ax.set_xlabel("T (follower steps per leader step)")
        ax.grid(alpha=0.3, which="both")
    ax_time.legend(fontsize=7)
    fig.tight_layout()
    return fig
