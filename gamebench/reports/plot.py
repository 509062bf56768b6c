"""`gamebench-plot`: any logged metric against steps or cost, from the rows of any jobs.

    gamebench-plot SWEEP_DIR --metric dist                     # grouped by what the sweep varied
    gamebench-plot SWEEP_DIR --metric dist --x grad_evals --by solver,solver.k --logy --out d.pdf
    gamebench-plot RUN_DIR OTHER_SWEEP --metric gap --where problem=seesaw --band sem

Reads the trajectories.parquet of every job under the given directories (a sweep dir or a job dir),
groups the rows by the `--by` columns (default: the identity columns whose value differs between
the jobs, the seed left out so seeds pool), and draws per group the mean over trials (and pooled
jobs) with a band (std or standard error over trials). The x axis is the step or a cost column
(grad_evals, hvps, jvps: the mean cumulative cost at each log point), so methods compare at equal
cost. A trial whose logged values are not all finite is diverged: it is left out of the curve and
counted in the legend. The format follows --out's suffix (png, pdf, svg). Imports no JAX.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gamebench.reports.rows import finite_trials

COSTS = ("grad_evals", "hvps", "jvps")
BANDS = ("std", "sem", "none")
_NOT_GROUPS = {"trial", "step", "job", "seed"}


def load(paths: list[Path]) -> pd.DataFrame:
    """Rows of every job under `paths` (each a sweep dir or a job dir), with a `job` column."""
    frames = []
    for path in paths:
        files = [path / "trajectories.parquet"] if (path / "trajectories.parquet").is_file() else []
        files = files or sorted(path.glob("*/trajectories.parquet"))
        frames += [pd.read_parquet(f).assign(job=str(f.parent)) for f in files]
    if not frames:
        names = ", ".join(map(str, paths))
        raise ValueError(f"no trajectories.parquet in {names} or the job dirs under it")
    return pd.concat(frames, ignore_index=True)


def identity_columns(rows: pd.DataFrame) -> list[str]:
    """The columns that name a job (experiment, problem, solver and their parameters)."""
    named = ("experiment", "problem", "solver")
    return [c for c in rows.columns if c in named or c.startswith(("problem.", "solver."))]


def varying(rows: pd.DataFrame) -> list[str]:
    """Identity columns whose value differs between the jobs: the default grouping."""
    names = ("problem.name", "solver.name")  # the same as `problem` and `solver`
    columns = [c for c in identity_columns(rows) if c not in names]
    by = [c for c in columns if rows[c].nunique(dropna=False) > 1]
    return by or ["problem", "solver"]


def _matches(column: pd.Series, value) -> np.ndarray:
    """column == value, with NaN matching NaN (groupby's dropna=False keeps NaN as a group)."""
    if pd.isna(value):
        return column.isna().to_numpy()
    return column.eq(value).fillna(False).to_numpy(dtype=bool)


def curves(rows: pd.DataFrame, metric: str, x: str, by: list[str], band: str) -> pd.DataFrame:
    """One row per (group, log point): x, mean of `metric` over the group's finite trials, the
    band's low and high, the lowest trial's value, trials used and trials diverged."""
    # only the columns used: taking rows of every (arrow-backed) column was most of the time
    rows = rows[list(dict.fromkeys(["job", "trial", "step", metric, x, *by]))]
    # a trial whose plotted values are not all finite is left out (and counted as diverged)
    finite = finite_trials(rows[["job", "trial", metric] + ([x] if x != "step" else [])])
    ok = finite.reindex(pd.MultiIndex.from_frame(rows[["job", "trial"]])).to_numpy()
    kept = rows[ok]
    out = []
    for key, group in kept.groupby(by, sort=False, dropna=False):
        values = key if isinstance(key, tuple) else (key,)
        # a column that does not apply to this group (NaN: another problem's field) says nothing
        label = ", ".join(f"{c}={v}" for c, v in zip(by, values) if not pd.isna(v)) or "all"
        members = np.logical_and.reduce([_matches(rows[c], v) for c, v in zip(by, values)])
        pairs = rows[members][["job", "trial"]].drop_duplicates()
        diverged = int((~finite.reindex(pd.MultiIndex.from_frame(pairs))).sum())
        at = group.groupby("step", sort=True)
        mean, spread, count = at[metric].mean(), at[metric].std(ddof=0), at[metric].count()
        if band == "sem":
            spread = spread / np.sqrt(count)
        elif band == "none":
            spread = spread * 0
        xs = at[x].mean() if x != "step" else mean.index.to_series()
        out.append(
            pd.DataFrame(
                {
                    "group": label,
                    "step": mean.index,
                    x: xs.to_numpy(),
                    metric: mean.to_numpy(),
                    "low": (mean - spread).to_numpy(),
                    "high": (mean + spread).to_numpy(),
                    "lowest": at[metric].min().to_numpy(),  # a log axis's band stops here
                    "trials": count.to_numpy(),
                    "diverged": diverged,
                }
            )
        )
    columns = ["group", "step", x, metric, "low", "high", "lowest", "trials", "diverged"]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=columns)


def band_floor(low, lowest, mean):
    """The band's lower edge on a log axis: mean - std is often <= 0 there (a spread over orders of
    magnitude), which a log axis cannot draw, so the edge stops at the lowest trial's value, or at
    the mean where even that is <= 0."""
    return np.where(low > 0, low, np.where(lowest > 0, lowest, mean))


def figure(table: pd.DataFrame, metric: str, x: str, logy: bool, band: str, tight: bool = True):
    """The curves of `table` (from `curves`). `tight=False` places the axes by fixed margins
    instead of measuring every label (tight_layout: the page draws dozens of these figures and
    the measuring was a third of its time) and the legend below them (save with a tight bbox)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for label, group in table.groupby("group", sort=False):
        diverged = int(group.diverged.iloc[0])
        name = label + (f" ({diverged} diverged)" if diverged else "")
        (line,) = ax.plot(group[x], group[metric], label=name, lw=1.5)
        if band != "none":
            low = band_floor(group.low, group.lowest, group[metric]) if logy else group.low
            ax.fill_between(group[x], low, group.high, color=line.get_color(), alpha=0.2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(f"{metric} (mean{'' if band == 'none' else ' ± ' + band} over trials)")
    if tight:
        ax.legend(fontsize=7)
        fig.tight_layout()
    else:  # below the axes, where long labels cannot cover the curves; save with a tight bbox
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.14), frameon=False)
        fig.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.97)
    return fig


def _filter(rows: pd.DataFrame, where: list[str]) -> pd.DataFrame:
    for condition in where:
        column, _, value = condition.partition("=")
        if column not in rows.columns:
            raise ValueError(f"--where {condition!r}: no column {column!r} in the rows")
        rows = rows[rows[column].astype(str) == value]
    if rows.empty:
        raise ValueError(f"--where {' '.join(where)} leaves no rows")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gamebench-plot", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", type=Path, nargs="+", help="sweep dirs or job dirs")
    parser.add_argument("--metric", required=True, help="a logged metric (dist, gap, f, jsd, ...)")
    parser.add_argument("--x", default="step", help="step (default) or a cost: " + ", ".join(COSTS))
    parser.add_argument("--by", help="comma-separated columns to group by (default: what varies)")
    parser.add_argument("--where", action="append", default=[], help="COLUMN=VALUE, repeatable")
    parser.add_argument("--band", choices=BANDS, default="std", help="band over trials (std)")
    parser.add_argument("--logy", action="store_true", help="log-scale the metric axis")
    parser.add_argument("--out", type=Path, help="the figure (.png, .pdf, .svg); default: beside")
    parser.add_argument("--csv", type=Path, help="also write the plotted curves here")
    args = parser.parse_args(argv)
    try:
        rows = _filter(load(args.paths), args.where)
        for name, role in ((args.metric, "--metric"), (args.x, "--x")):
            if name not in rows.columns or name in identity_columns(rows):
                logged = [c for c in rows.select_dtypes("number").columns if c not in _NOT_GROUPS]
                logged = [c for c in logged if c not in identity_columns(rows)]
                raise ValueError(f"{role} {name!r} is not logged here; logged: {', '.join(logged)}")
        by = args.by.split(",") if args.by else varying(rows)
        missing = [c for c in by if c not in rows.columns]
        if missing:
            raise ValueError(f"--by {','.join(missing)}: no such column in the rows")
        out = args.out or args.paths[0] / f"plot_{args.metric}_vs_{args.x}.png"
        if out.suffix.lstrip(".") not in ("png", "pdf", "svg"):
            raise ValueError(f"--out {out}: the suffix must be .png, .pdf or .svg")
        table = curves(rows, args.metric, args.x, by, args.band)
    except (OSError, ValueError) as error:
        print(f"gamebench-plot: error: {error}", file=sys.stderr)
        return 2
    from gamebench import io

    fig = figure(table, args.metric, args.x, args.logy, args.band)
    io.save_figure(out, fig)
    if args.csv:
        io.write_csv(args.csv, table)
    groups = table.group.nunique()
    print(f"gamebench-plot: {groups} group(s) of {rows.job.nunique()} job(s) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
