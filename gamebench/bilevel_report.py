"""Bilevel experiment: step-size settings per problem, the figures, drawn from the rows alone."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SOLVERS = ("penalty", "approxgrad", "implicit", "rmd", "fmd", "bda", "iaptt_gm")
SYNTHETIC = ("smd20", "smd21", "smd23", "smd24", "iaptt_toy")
# follower step lr_v (stable for the problem's lower-level curvature: lr_v * L < 2 with L = 2 for
# smd20/21, about 60 for smd23/24 (|A|^2) and up to 100 for iaptt_toy) and ApproxGrad's residual
# step lr_q (lr_q * L^2 < 2)
STEP_SIZES = {
    "smd20": {"lr_v": 0.02, "lr_q": 0.1},
    "smd21": {"lr_v": 0.02, "lr_q": 0.1},
    "smd23": {"lr_v": 3e-4, "lr_q": 1e-4},
    "smd24": {"lr_v": 3e-4, "lr_q": 1e-4},
    "iaptt_toy": {"lr_v": 0.01, "lr_q": 1e-4},
}
LR_U = 0.01


def synthetic_figure(rows: pd.DataFrame, T: int):
    problems = [p for p in SYNTHETIC if p in set(rows.problem)]
    fig, axes = plt.subplots(1, len(problems), figsize=(3.6 * len(problems), 3.3), squeeze=False)
    colours = dict(zip(SOLVERS, plt.cm.tab10(np.arange(len(SOLVERS)))))
    for ax, problem in zip(axes[0], problems):
        sub = rows[(rows.problem == problem) & (rows["T"] == T)]
        for solver, trace in sub.groupby("solver"):
            stats = trace.groupby("step").dist.median()
            ax.semilogy(
                stats.index, np.maximum(stats.to_numpy(), 1e-8), label=solver, color=colours[solver]
            )
        ax.set_title(f"{problem} (T={T})")
        ax.set_xlabel("leader step")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("distance to the solution (median over trials)")
    axes[0, -1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def cost_figure(cost: pd.DataFrame):
    fig, (ax_mem, ax_time) = plt.subplots(1, 2, figsize=(10, 3.8))
    for solver, sub in cost.groupby("solver"):
        sub = sub.sort_values("T")
        ax_mem.loglog(sub["T"], sub.peak_bytes, marker="o", label=solver)
        ax_time.loglog(sub["T"], sub.ms_per_step, marker="o", label=solver)
    ax_mem.set_title("working memory of one step (XLA temp buffers)")
    ax_mem.set_ylabel("bytes")
    ax_time.set_title("time per leader step (CPU)")
    ax_time.set_ylabel("ms")
    for ax in (ax_mem, ax_time):
        ax.set_xlabel("T (follower steps per leader step)")
        ax.grid(alpha=0.3, which="both")
    ax_time.legend(fontsize=7)
    fig.tight_layout()
    return fig
