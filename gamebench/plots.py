"""Figures drawn from the long-form rows alone (plus the surface formula for the contours)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gamebench.problems.base import Problem  # noqa: E402


def _on_grid(problem: Problem):
    """f(u, v) at every point of two equal-shape arrays of scalars, in one vmapped call."""
    import jax

    pointwise = lambda a, b: problem.f(a[None], b[None], None)  # noqa: E731
    return jax.jit(jax.vmap(jax.vmap(pointwise)))


def _error_panel(ax, rows: pd.DataFrame, metric: str, plot_trials: int) -> None:
    """Median and 10-90 % band over trials (a distance is skewed: mean ± std would dip below 0),
    the mean, and the first trials' own curves."""
    by_step = rows.groupby("step")[metric]
    steps = np.asarray(sorted(rows.step.unique()))
    low, median, high = (by_step.quantile(q).to_numpy() for q in (0.1, 0.5, 0.9))
    for _, trial in rows[rows.trial < plot_trials].groupby("trial"):
        ax.plot(trial.step, trial[metric], color="grey", lw=0.6, alpha=0.5)
    ax.fill_between(steps, low, high, color="C3", alpha=0.2, label="10-90 % of trials")
    ax.plot(steps, median, color="C3", label="median")
    ax.plot(steps, by_step.mean().to_numpy(), color="C0", ls="--", label="mean")
    ax.set_xlabel("iteration")
    ax.set_ylabel({"dist": "|u - u*| (nearest minimax point)"}.get(metric, metric))
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)


def trajectory_figure(
    problem: Problem, rows: pd.DataFrame, metric: str, title: str, plot_trials: int = 8
):
    """Left: contours of f(u, v) with (u, v) trajectories of the first trials (2D surfaces only).
    Right: distance to the minimax set (or f) against iterations, mean ± std over trials."""
    two_d = {"u", "v"} <= set(rows.columns) and problem.info.get("dim") == 1
    fig, axes = plt.subplots(
        1, 2 if two_d else 1, figsize=(11 if two_d else 5.5, 4.6), squeeze=False
    )
    if two_d:
        ax = axes[0, 0]
        box = problem.info.get("box", 0.5)
        grid = np.linspace(-box, box, 201)
        uu, vv = np.meshgrid(grid, grid, indexing="xy")
        values = np.asarray(_on_grid(problem)(uu, vv))
        contour = ax.contourf(uu, vv, values, levels=30, cmap="viridis")
        fig.colorbar(contour, ax=ax, label="f(u, v)")
        if problem.solution is not None:
            for u_star in np.unique(problem.solution.points[:, 0]):
                ax.axvline(u_star, color="white", ls="--", lw=1)
        for _, path in rows[rows.trial < plot_trials].groupby("trial"):
            path = path.sort_values("step")
            ax.plot(path.u, path.v, color="white", lw=0.9, alpha=0.8)
            ax.plot(path.u.iloc[0], path.v.iloc[0], "o", color="orange", ms=4)
            ax.plot(path.u.iloc[-1], path.v.iloc[-1], "*", color="red", ms=9)
        ax.set_xlim(-box, box)
        ax.set_ylim(-box, box)
        ax.set_xlabel("u (leader, minimises)")
        ax.set_ylabel("v (follower, maximises)")
        ax.set_title(
            f"{problem.info.get('formula', problem.name)}\n(o start, * end, -- minimax u*)",
            fontsize=9,
        )
    _error_panel(axes[0, -1], rows, metric, plot_trials)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def close(fig) -> None:
    plt.close(fig)
