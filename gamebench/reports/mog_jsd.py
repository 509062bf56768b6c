"""The K-beam paper's GAN experiment (Hamm & Noh, ICML 2018, Fig. 3) from a sweep's rows.

    gamebench -m experiment=mog_jsd         # K = 1, 2, 5, 10: four compiled groups, then this report
    gamebench-report SWEEP_DIR              # rebuilds it from the rows alone

Writes mog_jsd.csv (K, trial, step, jsd, modes_covered, high_quality), mog_samples.csv (generated
samples of trial 0 at 1/5, 2/5 and all of the steps, from the jobs' snapshots.npz), mog_table.csv
and mog_table.md (final JSD, modes covered and high-quality share per K: mean, std and standard
error over trials), mog_jsd.png (JSD against iterations, every trial, mean and a band) and
mog_samples.png.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.rows import Sweeps, load, read_meta

COLUMNS = ["K", "trial", "step", "jsd", "modes_covered", "high_quality"]
FINAL = ("jsd", "modes_covered", "high_quality")


def curves_from_rows(rows: pd.DataFrame) -> pd.DataFrame:
    out = rows.rename(columns={"solver.k": "K"})[COLUMNS]
    out = out.astype({"jsd": np.float64, "modes_covered": np.int64, "high_quality": np.float64})
    return out.sort_values(["K", "trial", "step"], kind="stable").reset_index(drop=True)


def samples_from_snapshots(jobs: list[Path]) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Trial 0's samples at 1/5, 2/5 and all of the steps of every job, and the mixture's centres."""
    frames, modes = [], None
    for job_dir in jobs:
        path = job_dir / "snapshots.npz"
        if not path.is_file():
            continue
        meta = read_meta(job_dir)
        modes = np.asarray(meta.get("problem_info", {}).get("modes", modes))
        with np.load(path) as snap:
            at, samples = snap["steps"], snap["samples"]
        total = int(at[-1])
        wanted = [total // 5, 2 * total // 5, total]
        for step in sorted({int(at[np.argmin(np.abs(at - s))]) for s in wanted}):
            points = samples[0, int(np.flatnonzero(at == step)[0])]
            frames.append(
                pd.DataFrame(
                    {
                        "K": meta["config"]["solver"]["k"],
                        "trial": 0,
                        "step": step,
                        "x": points[:, 0],
                        "y": points[:, 1],
                    }
                )
            )
    samples = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return samples, modes


def final_table(curves: pd.DataFrame) -> pd.DataFrame:
    last = curves[curves.step == curves.step.max()]
    rows = []
    for k, group in last.groupby("K"):
        row = {"K": int(k), "trials": len(group)}
        for name in FINAL:
            values = group[name].to_numpy(np.float64)
            row[f"{name}_mean"] = float(np.mean(values))
            row[f"{name}_std"] = float(np.std(values))
            row[f"{name}_se"] = float(np.std(values, ddof=1) / np.sqrt(len(values)))
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, scale: dict) -> str:
    lines = [
        f"# MoG GAN: final values after {scale['steps']} iterations, mean ± std (standard error) "
        f"over {int(table.trials.max())} trials",
        "",
        f"Regenerate: `{scale['command']}`",
        "",
        "| K | JSD | modes covered | high-quality share |",
        "|---|---|---|---|",
    ]
    for row in table.itertuples():
        cells = [
            f"{getattr(row, f'{n}_mean'):.3f} ± {getattr(row, f'{n}_std'):.3f} "
            f"({getattr(row, f'{n}_se'):.3f})"
            for n in FINAL
        ]
        lines.append(f"| {row.K} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    jobs, out, rows, scale = load(sweeps, out, command)
    curves = curves_from_rows(rows)
    samples, modes = samples_from_snapshots(jobs)
    table = final_table(curves)
    io.write_csv(out / "mog_jsd.csv", curves)
    io.write_csv(out / "mog_samples.csv", samples)
    io.write_csv(out / "mog_table.csv", table)
    io.write_text(out / "mog_table.md", markdown(table, scale))
    write_figures(out, curves, samples, modes)
    names = ("mog_jsd.csv", "mog_samples.csv", "mog_table.csv", "mog_table.md", "mog_jsd.png")
    return [out / name for name in (*names, "mog_samples.png")]


def write_figures(out: Path, curves: pd.DataFrame, samples: pd.DataFrame, modes) -> None:
    from gamebench.reports.figures import close

    for name, fig in (
        ("mog_jsd.png", jsd_figure(curves)),
        ("mog_samples.png", samples_figure(samples, modes)),
    ):
        io.save_figure(out / name, fig)
        close(fig)


def jsd_figure(rows: pd.DataFrame):
    """One panel per K: every trial's JSD trace, the mean, and a mean ± std band (the paper's Fig. 3)."""
    from gamebench.reports.figures import plt

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
    from gamebench.reports.figures import plt

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
