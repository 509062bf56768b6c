"""A hyperparameter search's record (gamebench.search): the jobs Optuna asked for, their objective,
the best against job 0 (the config's own values). Built from the sweep's search_trials.csv, which
the sweeper writes from the study, and its multirun.yaml (the search settings); no JAX, no optuna.

    gamebench -m experiment=lr_search_seesaw       # writes it into the sweep dir
    gamebench-report SWEEP_DIR                     # rebuilds it
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from gamebench import io
from gamebench.reports.rows import Sweeps, sweep_dirs

# hydra.sweeper.search's defaults (gamebench.search.SearchSettings), for what a sweep left unset
DEFAULTS = {"metric": "dist", "direction": "minimize", "sampler": "tpe", "batch": 8, "seed": 0}


def settings_of(sweep_dir: Path) -> dict:
    search = OmegaConf.load(sweep_dir / "multirun.yaml").hydra.sweeper.search
    return DEFAULTS | dict(OmegaConf.to_container(search, resolve=True))


def plot_search(table: pd.DataFrame, metric: str, direction: str):
    """The objective of every job in the order it was asked, the best so far, and job 0 (the
    config's own values when the search enqueues them) as the line to beat."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values = table["value"].to_numpy(dtype=float)
    worst = np.inf if direction == "minimize" else -np.inf
    best = (np.fmin if direction == "minimize" else np.fmax).accumulate(
        np.where(np.isnan(values), worst, values)
    )
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.scatter(table["job"], values, s=14, label="job", color="tab:blue")
    ax.step(table["job"], best, where="post", color="tab:orange", label="best so far")
    if len(values) and np.isfinite(values[0]):
        ax.axhline(values[0], color="gray", ls="--", lw=1, label="job 0")
    ax.set_yscale("log" if np.nanmin(values, initial=np.inf) > 0 else "linear")
    ax.set_xlabel("job (Optuna trial)")
    ax.set_ylabel(f"final mean {metric}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def summary_table(table: pd.DataFrame, settings: dict) -> str:
    """Markdown: job 0 (the config's values) and the best job, with their searched values."""
    params = [c for c in table.columns if c not in ("job", "value", "state")]
    done = table[table.state == "COMPLETE"]
    minimize = settings["direction"] == "minimize"
    best = done.loc[done.value.idxmin() if minimize else done.value.idxmax()]
    rows = [("job 0 (the config's values)", table.iloc[0]), (f"best (job {best.job})", best)]
    head = f"| | {' | '.join(params)} | final mean {settings['metric']} |"
    lines = [head, "|" + "---|" * (len(params) + 2)]
    for label, row in rows:
        values = " | ".join(
            f"{row[p]:.4g}" if isinstance(row[p], float) else str(row[p]) for p in params
        )
        lines.append(f"| {label} | {values} | {row.value:.4g} |")
    failed = int((table.state != "COMPLETE").sum())
    lines.append(
        f"\n{len(table)} jobs asked ({settings['sampler']}, rounds of {settings['batch']}, seed "
        f"{settings['seed']}); {failed} counted as failed (diverged or not run)."
    )
    return "\n".join(lines) + "\n"


def build(sweeps: Sweeps, out: str | Path | None = None, command: str | None = None) -> list[Path]:
    sweep_dir = sweep_dirs(sweeps)[0]
    out = Path(out) if out is not None else sweep_dir
    trials = sweep_dir / "search_trials.csv"
    if not trials.is_file():
        raise ValueError(f"{trials} is missing: not a search sweep, or it has not finished a round")
    table = pd.read_csv(trials)
    settings = settings_of(sweep_dir)
    io.write_csv(out / "search_trials.csv", table)
    figure = plot_search(table, settings["metric"], settings["direction"])
    io.save_figure(out / "search.png", figure)
    import matplotlib.pyplot as plt

    plt.close(figure)
    header = f"# {command}\n\n" if command else ""
    io.write_text(out / "search_table.md", header + summary_table(table, settings))
    return [out / "search_trials.csv", out / "search.png", out / "search_table.md"]
