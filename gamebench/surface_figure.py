"""Figure of the surface table: the final distance of every trial, per surface and method."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gamebench.surface_table import METHODS  # noqa: E402


def surface_table_figure(trials: pd.DataFrame):
    """One panel per surface: a strip of every trial's |u_T - u*| per method, with the mean."""
    surfaces = list(dict.fromkeys(trials.surface))
    cols = 3
    rows = int(np.ceil(len(surfaces) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    rng = np.random.default_rng(0)  # horizontal jitter only, so overlapping trials stay visible
    for ax, surface in zip(axes.flat, surfaces):
        for i, method in enumerate(METHODS):
            d = trials[(trials.surface == surface) & (trials.method == method)].dist.to_numpy()
            ax.scatter(i + rng.uniform(-0.25, 0.25, d.size), d, s=5, alpha=0.35, color=f"C{i}")
            ax.plot([i - 0.35, i + 0.35], [np.nanmean(d)] * 2, color="black", lw=1.5)
        ax.set_xticks(range(len(METHODS)), METHODS, fontsize=8)
        ax.set_ylim(-0.02, 0.52)
        ax.set_title(surface, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    for ax in axes.flat[len(surfaces) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("|u_T - u*|")
    fig.suptitle("Final distance to the minimax set per trial (bar: mean)")
    fig.tight_layout()
    return fig
