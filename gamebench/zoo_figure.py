"""Error against cost for the solver zoo, drawn from the curves table alone."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def error_vs_cost_figure(curves: pd.DataFrame):
    """One panel per surface: mean |u - u*| against oracle calls (gradients + HVPs), log x-axis."""
    surfaces = list(dict.fromkeys(curves.surface))
    solvers = list(dict.fromkeys(curves.solver))
    cols = min(5, len(surfaces))
    rows = int(np.ceil(len(surfaces) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.0 * rows + 0.8), squeeze=False)
    colors = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(solvers), 2)))
    for ax, surface in zip(axes.flat, surfaces):
        for i, (color, solver) in enumerate(zip(colors, solvers)):
            c = curves[(curves.surface == surface) & (curves.solver == solver)]
            c = c[c.step > 0]
            style = "-" if i % 2 == 0 else "--"  # neighbours in tab20 share a hue
            ax.plot(c.grad_evals + c.hvps, c.mean_dist, color=color, ls=style, lw=1.2, label=solver)
        ax.set_xscale("log")
        ax.set_ylim(-0.01, 0.55)
        ax.set_title(surface, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(surfaces) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("gradients + HVPs")
    for ax in axes[:, 0]:
        ax.set_ylabel("mean |u - u*|")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(solvers), 7), fontsize=8)
    fig.suptitle("Solver zoo: error against cost (mean over trials)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
