"""Figures drawn from the long-form rows alone (plus the surface formula for the contours)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI

from typing import TYPE_CHECKING  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

if TYPE_CHECKING:  # no JAX here: a Problem is only read (its info, its solution's points)
    from gamebench.game import Problem


def payoff_grid(problem: Problem, points: int = 201) -> tuple[np.ndarray, np.ndarray] | None:
    """(grid, f on grid x grid) for a 2D surface's contours, from the numpy form of its payoff
    (`problem.info["payoff_numpy"]`: no JAX program to compile); None for other problems."""
    payoff = problem.info.get("payoff_numpy")
    if problem.info.get("dim") != 1 or payoff is None:
        return None
    box = problem.info.get("box", 0.5)
    grid = np.linspace(-box, box, points)
    uu, vv = np.meshgrid(grid, grid, indexing="xy")
    return grid, payoff(uu, vv)


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


class TrajectoryFigure:
    """The job figure, built once per problem and redrawn for each job of a sweep.

    Left (2D surfaces): contours of f(u, v) with the (u, v) paths of the first trials.
    Right: the headline metric against iterations: median, 10-90 % band, mean, first trials.
    Building and rendering the axes, contours and colorbar costs most of a figure (0.2-0.3 s a
    savefig here): they are rendered once into a background that each job's drawing starts from
    (matplotlib's blitting), and only the paths, the right panel and the title are drawn per job.
    """

    def __init__(self, problem: Problem, metric: str, plot_trials: int, grid=None):
        self.metric, self.plot_trials = metric, plot_trials
        self.two_d = grid is not None
        self.fig, axes = plt.subplots(
            1, 2 if self.two_d else 1, figsize=(11 if self.two_d else 5.5, 4.6), squeeze=False
        )
        self.paths, self.errors = (axes[0, 0] if self.two_d else None), axes[0, -1]
        self.drawn: list = []
        if self.two_d:
            self._background(problem, *grid)
        self.title = self.fig.suptitle("")
        self.fig.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.84, wspace=0.22)
        self.background = None

    def render(self) -> np.ndarray:
        """The current drawing as an RGBA array (the static parts rendered once)."""
        canvas, dynamic = self.fig.canvas, [self.errors, self.title, *self.drawn]
        if self.background is None:
            for artist in dynamic:
                artist.set_visible(False)
            canvas.draw()
            self.background = canvas.copy_from_bbox(self.fig.bbox)
            for artist in dynamic:
                artist.set_visible(True)
        canvas.restore_region(self.background)
        for artist in self.drawn:
            self.paths.draw_artist(artist)
        self.fig.draw_artist(self.errors)
        self.fig.draw_artist(self.title)
        return np.asarray(canvas.buffer_rgba()).copy()

    def _background(self, problem: Problem, grid: np.ndarray, values: np.ndarray) -> None:
        ax, box = self.paths, problem.info.get("box", 0.5)
        contour = ax.contourf(grid, grid, values, levels=30, cmap="viridis")
        self.fig.colorbar(contour, ax=ax, label="f(u, v)")
        if problem.solution is not None:
            for u_star in np.unique(problem.solution.points[:, 0]):
                ax.axvline(u_star, color="white", ls="--", lw=1)
        ax.set_xlim(-box, box)
        ax.set_ylim(-box, box)
        ax.set_xlabel("u (leader, minimises)")
        ax.set_ylabel("v (follower, maximises)")
        ax.set_title(
            f"{problem.info.get('formula', problem.name)}\n(o start, * end, -- minimax u*)",
            fontsize=9,
        )

    def draw(self, rows: pd.DataFrame, title: str):
        for artist in self.drawn:
            artist.remove()
        self.drawn = []
        if self.two_d and {"u", "v"} <= set(rows.columns):
            for _, path in rows[rows.trial < self.plot_trials].groupby("trial"):
                path = path.sort_values("step")
                self.drawn += self.paths.plot(path.u, path.v, color="white", lw=0.9, alpha=0.8)
                self.drawn += self.paths.plot(
                    path.u.iloc[0], path.v.iloc[0], "o", color="orange", ms=4
                )
                self.drawn += self.paths.plot(
                    path.u.iloc[-1], path.v.iloc[-1], "*", color="red", ms=9
                )
        self.errors.cla()
        _error_panel(self.errors, rows, self.metric, self.plot_trials)
        self.title.set_text(title)
        return self.fig


def close(fig) -> None:
    plt.close(fig)
