"""N-player games with known equilibria from a sweep's rows (issue 17).

    gamebench -m experiment=nplayer         # 3 games x 5 N-player solvers
    gamebench-report SWEEP_DIR              # rebuilds the report from the rows alone

A game is the problem with its monotonicity (quadratic_nplayer(strong), quadratic_nplayer(merely),
cournot). Writes nplayer_table.csv (game, solver, trial: the distance to the equilibrium and the
game-gradient norm at the last logged step, gradients per step), nplayer_table.md (per game and
solver: median and max final distance over trials, the share of trials within 1e-3, diverged
trials) and nplayer_dist.png (median distance against steps, one panel per game).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.rows import Sweeps, load

TOLERANCE = 1e-3
SOLVER_ORDER = (
    "sim_gradient_play",
    "nplayer_extragradient",
    "nplayer_optimistic",
    "nplayer_sga",
    "nplayer_consensus",
)


def _games(rows: pd.DataFrame) -> pd.Series:
    monotone = rows.get("problem.monotone", pd.Series(np.nan, index=rows.index))
    return pd.Series(
        [p if pd.isna(m) else f"{p}({m})" for p, m in zip(rows.problem, monotone)], index=rows.index
    )


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    rank = {s: i for i, s in enumerate(SOLVER_ORDER)}
    key = frame.solver.map(lambda s: rank.get(s, len(rank)))
    return (
        frame.assign(_rank=key).sort_values(["game", "_rank"], kind="stable").drop(columns="_rank")
    )


def table_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    last = rows[rows.step == rows.groupby("job").step.transform("max")]
    steps = last.step.to_numpy(np.float64)
    table = pd.DataFrame(
        {
            "game": _games(last).to_numpy(),
            "solver": last.solver.to_numpy(),
            "trial": last.trial.to_numpy(),
            "dist": last.dist.to_numpy(np.float64),
            "xi_norm": last.xi_norm.to_numpy(np.float64),
            "grad_evals_per_step": last.grad_evals.to_numpy(np.float64) / np.maximum(steps, 1),
        }
    )
    return _order(table).reset_index(drop=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    def one(group: pd.DataFrame) -> pd.Series:
        finite = np.isfinite(group.dist)
        return pd.Series(
            {
                "trials": len(group),
                "median_dist": float(np.median(group.dist[finite])) if finite.any() else np.nan,
                "max_dist": float(group.dist.max()) if finite.all() else np.inf,
                "converged": float(np.mean(group.dist.fillna(np.inf) <= TOLERANCE)),
                "diverged": int((~finite).sum()),
                "grad_evals_per_step": float(group.grad_evals_per_step.iloc[0]),
            }
        )

    out = table.groupby(["game", "solver"], sort=False).apply(one, include_groups=False)
    return out.reset_index()


def markdown(summary_table: pd.DataFrame, scale: dict | None) -> str:
    lines = []
    if scale is not None:
        lines += [
            f"# N-player games: distance to the Nash equilibrium after {scale['steps']} steps, "
            f"{scale['trials']} trials from random profiles",
            "",
            f"Regenerate: `{scale['command']}`",
            "",
        ]
    lines += [
        f"| game | solver | median dist | max dist | within {TOLERANCE:g} | diverged | "
        "gradients / step |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary_table.itertuples():
        lines.append(
            f"| {row.game} | {row.solver} | {row.median_dist:.2e} | {row.max_dist:.2e} | "
            f"{row.converged:.0%} | {int(row.diverged)} | {row.grad_evals_per_step:g} |"
        )
    return "\n".join(lines) + "\n"


def figure(rows: pd.DataFrame):
    from gamebench.reports.figures import plt

    rows = rows.assign(game=_games(rows))
    games = list(dict.fromkeys(rows.game))
    fig, axes = plt.subplots(1, len(games), figsize=(4.2 * len(games), 3.6), squeeze=False)
    for ax, game in zip(axes[0], games):
        sub = rows[rows.game == game]
        for solver in [s for s in SOLVER_ORDER if s in set(sub.solver)]:
            curve = sub[sub.solver == solver].groupby("step").dist.median()
            finite = np.isfinite(curve) & (curve < 1e6)
            ax.plot(curve.index[finite], curve[finite].clip(lower=1e-9), label=solver, lw=1.5)
        ax.axhline(TOLERANCE, color="grey", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_title(game, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("distance to the equilibrium (median over trials)")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    from gamebench.reports.figures import close

    _, out, rows, scale = load(sweeps, out, command)
    table = table_from_rows(rows)
    io.write_csv(out / "nplayer_table.csv", table)
    io.write_text(out / "nplayer_table.md", markdown(summary(table), scale))
    fig = figure(rows)
    io.save_figure(out / "nplayer_dist.png", fig)
    close(fig)
    return [out / "nplayer_table.csv", out / "nplayer_table.md", out / "nplayer_dist.png"]
