"""Hyperparameter search on fused batches: Optuna proposes, the gamebench sweeper runs.

    gamebench -m experiment=lr_search_seesaw
    gamebench -m problem=seesaw 'solver.opt_u.lr=tag(log, interval(0.001, 1))' \
        'solver.opt_v.lr=tag(log, interval(0.001, 1))' +hydra.sweeper.search.n_trials=32

With `hydra.sweeper.search` set, the sweeper asks Optuna (TPE by default) for `batch` jobs at a
time; a batch whose jobs differ only in traced values (step sizes, momenta, eps, ...) is one fused
group, so each round compiles at most once (later rounds load it from the compilation cache),
and the launcher runs it like any sweep's groups. Each job is an ordinary job (its own dir and
files, numbered by its Optuna trial) and its objective is the final mean over trials of `metric`.
A job with any diverged trial counts as failed for the search (a step size that diverges for
some seeds is not a good one); its rows are still written.

The study lives in `storage` (default: sqlite in the sweep dir), so a search killed at any point
resumes with the same command: the jobs Optuna had handed out but not heard back from are run
again first (those that had finished are found done, not recomputed), then the search goes on
until `n_trials` jobs have finished. The search space uses Hydra's sweep grammar:
`interval(a, b)` (float; `tag(log, interval(a, b))` for log scale, `tag(int, ...)` for integers)
and `a,b,c` or `range(...)` (categorical). With `enqueue_defaults`, job 0 runs the config's own
values for every searched key: the baseline the search has to beat.

optuna is an optional dependency (`pip install -e '.[scale]'`); nothing imports it otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIRECTIONS = ("minimize", "maximize")
SAMPLERS = ("tpe", "random")


@dataclass
class SearchSettings:
    """`hydra.sweeper.search`: what to optimise and how many jobs to spend."""

    n_trials: int = 32  # jobs to finish in all (the budget)
    batch: int = 8  # jobs asked per round: run together as fused groups
    metric: str = "dist"  # the objective: final mean over trials of this metric
    direction: str = "minimize"
    sampler: str = "tpe"
    seed: int = 0  # the sampler's seed
    storage: str | None = None  # an Optuna storage URL; default sqlite:///<sweep dir>/optuna.db
    study_name: str = "gamebench"
    enqueue_defaults: bool = True  # job 0: the config's own values, the baseline to beat

    @classmethod
    def from_config(cls, values: dict) -> SearchSettings:
        """The settings from `hydra.sweeper.search`, refusing an unknown key in one line."""
        import dataclasses
        import difflib

        from gamebench.params import ConfigError

        known = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = (
                    f"; did you mean '{close[0]}'?" if close else f"; allowed: {', '.join(known)}"
                )
                raise ConfigError(f"unknown key 'hydra.sweeper.search.{key}'{hint}")
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        from gamebench.params import ConfigError

        if self.n_trials < 1 or self.batch < 1:
            raise ConfigError(
                f"hydra.sweeper.search: n_trials={self.n_trials}, batch={self.batch}: need >= 1"
            )
        if self.direction not in DIRECTIONS:
            raise ConfigError(
                f"hydra.sweeper.search.direction={self.direction!r} is not allowed; "
                f"allowed: {', '.join(DIRECTIONS)}"
            )
        if self.sampler not in SAMPLERS:
            raise ConfigError(
                f"hydra.sweeper.search.sampler={self.sampler!r} is not allowed; "
                f"allowed: {', '.join(SAMPLERS)}"
            )


def split_space(overrides: list) -> tuple[dict[str, Any], list[str]]:
    """Parsed Hydra overrides -> (Optuna distributions by key, the fixed overrides as text)."""
    import optuna.distributions as dist
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    space, fixed = {}, []
    for override in overrides:
        value = override.value()
        key = override.get_key_element()
        if isinstance(value, IntervalSweep):
            if "int" in value.tags:
                space[key] = dist.IntDistribution(
                    int(value.start), int(value.end), log="log" in value.tags
                )
            else:
                space[key] = dist.FloatDistribution(
                    float(value.start), float(value.end), log="log" in value.tags
                )
        elif isinstance(value, ChoiceSweep):
            space[key] = dist.CategoricalDistribution(list(value.list))
        elif isinstance(value, RangeSweep):
            space[key] = dist.CategoricalDistribution(
                list(range(int(value.start), int(value.stop), int(value.step or 1)))
            )
        else:
            fixed.append(override.input_line)
    return space, fixed


def open_study(settings: SearchSettings, sweep_dir: Path):
    """The study in its storage: created on the first run, loaded (with its trials) after."""
    try:
        import optuna
    except ImportError as error:
        from gamebench.params import ConfigError

        raise ConfigError("hydra.sweeper.search needs optuna: pip install -e '.[scale]'") from error

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = settings.storage or f"sqlite:///{(sweep_dir / 'optuna.db').resolve()}"
    sampler = (
        optuna.samplers.TPESampler(seed=settings.seed)
        if settings.sampler == "tpe"
        else optuna.samplers.RandomSampler(seed=settings.seed)
    )
    return optuna.create_study(
        study_name=settings.study_name,
        storage=storage,
        sampler=sampler,
        direction=settings.direction,
        load_if_exists=True,
    )


def finished(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)))


def handed_out(study) -> list:
    """Trials asked but never told (a killed search): their jobs are run again first."""
    from optuna.trial import TrialState

    return list(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))


def job_overrides(trial, space: dict[str, Any]) -> list[str]:
    return [f"{key}={trial.params[key]!r}" for key in space]


def objective(out_dir: Path, settings: SearchSettings) -> tuple[float | None, str]:
    """(the job's objective, '') or (None, why it counts as failed) from its meta record."""
    from gamebench.reports.rows import read_meta

    meta = read_meta(out_dir) or {}
    status = meta.get("status", "missing")
    if status != "ok":
        return None, f"job {status}" + (f": {meta['message']}" if meta.get("message") else "")
    final = meta.get("final", {})
    name = f"mean_{settings.metric}"
    if name not in final:
        metrics = sorted(k[5:] for k in final if k.startswith("mean_"))
        return None, f"metric {settings.metric!r} not logged; logged: {', '.join(metrics)}"
    return float(final[name]), ""


def trials_table(study, space: dict[str, Any]):
    """One row per Optuna trial: job number, searched values, objective, state."""
    import pandas as pd

    rows = []
    for trial in study.get_trials(deepcopy=False):
        row = {"job": trial.number, **{k: trial.params.get(k) for k in space}}
        rows.append(row | {"value": trial.value, "state": trial.state.name})
    return pd.DataFrame(rows)
