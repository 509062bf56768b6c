"""Figures of the mixture-of-Gaussians GAN experiment, drawn from its CSV rows alone."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def jsd_figure(rows: pd.DataFrame):
    """One panel per K: every trial's JSD trace, the mean, and a mean ± std band (the paper's Fig. 3)."""
    ks = sorted(rows.K.unique())
    fig, axes = plt.subplots(1, len(ks), figsize=(3.6 * len(ks), 3.2), sharey=True, squeeze=False)
    top = max(0.7, float(np.nanmax(rows.jsd)) * 1.05)
    for ax, k in zip(axes[0], ks):
        sub = rows[rows.K == k]
        for _, trace in sub.groupby("trial"):
            ax.plot(trace.step, trace.jsd, color="goldenrod", lw=0.7, alpha=0.6)
        stats = sub.groupby("step").jsd.agg(["mean", "std"]).fillna(0.0)
        steps = stats.index.to_numpy()
        ax.fill_between(
            steps, stats["mean"] - stats["std"], stats["mean"] + stats["std"], color="c", alpha=0.4
        )
        ax.plot(steps, stats["mean"], color="b", lw=2)
        ax.set_title(f"K={k} ({sub.trial.nunique()} trials)")
        ax.set_xlabel("iteration")
        ax.set_ylim(0, top)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("JS divergence")
    fig.tight_layout()
    return fig


def samples_figure(samples: pd.DataFrame, modes: np.ndarray | None = None):
    """Rows: K; columns: snapshot steps; generated samples of one trial over the mixture's centres."""
    ks = sorted(samples.K.unique())
    steps = sorted(samples.step.unique())
    fig, axes = plt.subplots(
        len(ks), len(steps), figsize=(2.6 * len(steps), 2.6 * len(ks)), squeeze=False
    )
    for i, k in enumerate(ks):
        for j, step in enumerate(steps):
            ax = axes[i, j]
            snap = samples[(samples.K == k) & (samples.step == step)]
            if modes is not None:
                ax.scatter(modes[:, 0], modes[:, 1], s=30, color="red", marker="x", lw=1)
            ax.scatter(snap.x, snap.y, s=3, alpha=0.5)
            ax.set_xlim(-2, 2)
            ax.set_ylim(-2, 2)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"step {step}")
            if j == 0:
                ax.set_ylabel(f"K={k}")
    fig.suptitle("Generated samples (trial 0; x: mixture centres)")
    fig.tight_layout()
    return fig
