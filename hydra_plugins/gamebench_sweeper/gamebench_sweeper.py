"""The `gamebench` Hydra sweeper: a multirun compiles once per program structure.

It expands the sweep as Hydra's basic sweeper does (the cartesian product of the overrides and
`hydra.sweeper.params`), composes and validates every job, skips jobs whose complete outputs
exist, groups the rest by program structure (gamebench.sweep) and hands one launcher job per group
to Hydra's launcher interface, so the basic, joblib, submitit and ray launchers all run groups.
Each job still gets its own directory `hydra.sweep.dir/hydra.sweep.subdir` with the files a lone
run writes. `hydra.sweeper.rerun=true` runs every job again.

This module is imported by Hydra's plugin discovery on every start: it imports nothing heavy.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig, OmegaConf, open_dict


@dataclass
class GamebenchSweeperConf:
    _target_: str = "hydra_plugins.gamebench_sweeper.gamebench_sweeper.GamebenchSweeper"
    params: Any = None  # {key: "a,b,c"} swept like command-line overrides (experiment configs)
    rerun: bool = False  # run every job again even when its complete outputs exist
    search: Any = None  # Optuna search settings (gamebench.search.SearchSettings); None: a grid


ConfigStore.instance().store(group="hydra/sweeper", name="gamebench", node=GamebenchSweeperConf)

GROUPS_DIR = ".groups"  # launcher jobs (one per group) keep Hydra's own files here


class GamebenchSweeper(Sweeper):
    def __init__(self, params: Any = None, rerun: bool = False, search: Any = None) -> None:
        self.params = dict(params or {})
        self.rerun = rerun
        self.search = None if search is None else dict(search)
        self.hydra_context = None
        self.config: DictConfig | None = None
        self.launcher = None
        self._composed: dict[tuple[str, ...], DictConfig] = {}

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def parsed_overrides(self, arguments: list[str]) -> list:
        """`hydra.sweeper.params` and the command line's overrides, parsed by Hydra."""
        params = [f"{key}={value}" for key, value in self.params.items()]
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        return parser.parse_overrides([*params, *arguments])

    def job_overrides(self, arguments: list[str]) -> list[list[str]]:
        """Every job's override list, in the order Hydra's basic sweeper numbers them."""
        return BasicSweeper.split_arguments(self.parsed_overrides(arguments), None)[0]

    def compose(self, num: int, overrides: list[str]) -> tuple[Path, DictConfig]:
        """A job's output dir (as the launcher would name it) and its config without `hydra`.

        Hydra's full composition costs about 0.2 s a job. Only overrides that choose configs
        (groups such as problem= or experiment=, +/~ edits, hydra.*) need it: a config is composed
        once per distinct set of those, and plain value overrides (solver.opt_u.lr=0.05, seed=3)
        are then set on a copy, type-checked by the same schema.
        """
        loader = self.hydra_context.config_loader
        parser = OverridesParser.create(config_loader=loader)
        structural, values = [], []
        for override in parser.parse_overrides(list(overrides)):
            plain = not (
                override.is_add()
                or override.is_force_add()
                or override.is_delete()
                or override.key_or_group.startswith("hydra")
                or loader.repository.group_exists(override.key_or_group)
            )
            (values if plain else structural).append(override)
        if not self._subdir_is_job_num():  # e.g. ${hydra.job.override_dirname}: Hydra names it
            structural, values = structural + values, []
        cache_key = tuple(o.input_line for o in structural)
        if cache_key not in self._composed:
            self._composed[cache_key] = loader.load_sweep_config(self.config, list(cache_key))
        cfg = copy.deepcopy(self._composed[cache_key])
        for override in values:
            OmegaConf.update(cfg, override.key_or_group, override.value(), merge=True)
        with open_dict(cfg):
            cfg.hydra.job.num = num
            cfg.hydra.job.id = str(num)
        out_dir = Path(cfg.hydra.sweep.dir) / str(cfg.hydra.sweep.subdir)
        with open_dict(cfg):
            del cfg["hydra"]
        return out_dir, cfg

    def _subdir_is_job_num(self) -> bool:
        raw = OmegaConf.to_container(self.config.hydra.sweep, resolve=False)["subdir"]
        return raw == "${hydra.job.num}"

    def sweep(self, arguments: list[str]) -> Any:
        from gamebench import io, sweep
        from gamebench.sweep import plan_sweep

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        sweep.active_sweep_dir = sweep_dir
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        if self.search is not None:
            return self._search(arguments, sweep_dir)
        configs = []
        for num, overrides in enumerate(self.job_overrides(arguments)):
            out_dir, cfg = self.compose(num, overrides)
            configs.append((num, out_dir, overrides, cfg))
        plan = plan_sweep(configs, rerun=self.rerun)
        io.write_json(sweep_dir / io.SWEEP_JOBS, {"jobs": io.relative_jobs(plan.jobs, sweep_dir)})
        print(plan.headline(), flush=True)
        return self._launch(plan, sweep_dir)

    def _launch(self, plan, sweep_dir: Path) -> list:
        """One launcher job per group (per trial range of a sharded group), then the merges."""
        from gamebench.sweep import save_group, shard_done, shard_ranges

        batch, sharded = [], []
        started, jobs_before, total = time.time(), 0, sum(len(m) for _, m in plan.groups)
        for index, (group_id, members) in enumerate(plan.groups):
            position = {"index": index, "groups": len(plan.groups), "size": len(members)}
            position |= {"jobs_before": jobs_before, "jobs": total, "started": started}
            jobs_before += len(members)
            ranges = shard_ranges(members[0].config)
            if len(ranges) > 1:  # one launcher job per trial range not finished before
                sharded.append((group_id, members))
                todo = [r for r in ranges if not shard_done(members, *r)]
                launches = [
                    (f"{group_id}.t{a}-{b}", {**position, "trials": [a, b]}) for a, b in todo
                ]
            else:
                launches = [(group_id, position)]
            for name, where in launches:
                spec = sweep_dir / GROUPS_DIR / f"{name}.json"
                save_group(spec, name, members, where)
                batch.append(
                    [
                        *members[0].overrides,
                        f"sweep_group={spec.resolve()}",
                        f"hydra.sweep.subdir={GROUPS_DIR}/{name}",
                    ]
                )
        returns = [self.launcher.launch(batch, initial_job_idx=0)] if batch else []
        for group_id, members in sharded:
            self._merge(group_id, members)
        return returns

    def _search(self, arguments: list[str], sweep_dir: Path) -> list:
        """Rounds of `batch` jobs proposed by Optuna (gamebench.search), each run as a sweep."""
        from gamebench import io, search
        from gamebench.config import ConfigError
        from gamebench.sweep import plan_sweep

        settings = search.SearchSettings.from_config(self.search)
        study = search.open_study(settings, sweep_dir)  # optuna imported from here on
        from optuna.trial import TrialState

        space, fixed = search.split_space(self.parsed_overrides(arguments))
        if not space:
            raise ConfigError(
                "hydra.sweeper.search needs a searched key: interval(a, b), "
                "tag(log, interval(a, b)) or a,b,c"
            )
        if settings.enqueue_defaults and not study.trials:
            _, defaults = self.compose(0, fixed)
            study.enqueue_trial({key: OmegaConf.select(defaults, key) for key in space})
        listed = {j["num"]: j for j in self._listed_jobs(sweep_dir)}
        returns = []
        while True:
            pending = search.handed_out(study)  # asked, never told: a killed search's jobs
            trials = pending[: settings.batch]
            room = settings.n_trials - search.finished(study) - len(pending)
            trials += [
                study.ask(space) for _ in range(max(0, min(room, settings.batch - len(trials))))
            ]
            if not trials:
                break
            configs = []
            for trial in trials:
                overrides = [*fixed, *search.job_overrides(trial, space)]
                out_dir, cfg = self.compose(trial.number, overrides)
                configs.append((trial.number, out_dir, overrides, cfg))
            plan = plan_sweep(configs, rerun=self.rerun)
            listed |= {j["num"]: j for j in plan.jobs}
            jobs = [listed[n] for n in sorted(listed)]
            io.write_json(sweep_dir / io.SWEEP_JOBS, {"jobs": io.relative_jobs(jobs, sweep_dir)})
            returns += self._launch(plan, sweep_dir)
            for num, out_dir, _, _ in configs:
                value, why = search.objective(out_dir, settings)
                if value is None:
                    print(f"gamebench: search job {num} counts as failed: {why}", file=sys.stderr)
                    study.tell(num, state=TrialState.FAIL)
                else:
                    study.tell(num, value)
            print(self._search_line(study, settings), flush=True)
        table = search.trials_table(study, space)
        io.write_csv(sweep_dir / "search_trials.csv", table)
        from gamebench.reports.search import plot_search

        figure = plot_search(table, settings.metric, settings.direction)
        io.save_figure(sweep_dir / "search.png", figure)
        return returns

    @staticmethod
    def _listed_jobs(sweep_dir: Path) -> list[dict]:
        import json

        from gamebench import io

        try:
            jobs = json.loads((sweep_dir / io.SWEEP_JOBS).read_text())["jobs"]
        except (OSError, ValueError, KeyError):
            return []
        return [{**j, "dir": str(sweep_dir / j["dir"])} for j in jobs]

    @staticmethod
    def _search_line(study, settings) -> str:
        from gamebench import search

        done = search.finished(study)
        try:
            best = study.best_trial
        except ValueError:  # no job finished well yet
            return f"gamebench: search: {done} of {settings.n_trials} jobs, none finished well yet"
        return (
            f"gamebench: search: {done} of {settings.n_trials} jobs, best {settings.metric} "
            f"{best.value:.4g} (job {best.number}: "
            + " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in best.params.items()
            )
            + ")"
        )

    def _merge(self, group_id: str, members: list) -> None:
        """A sharded group's jobs written from their shards, once every launcher job returned."""
        from gamebench.experiment import configure_jax
        from gamebench.sweep import failed_jobs, merge_shards

        configure_jax(members[0].config["devices"], members[0].config["compile_cache"])
        for member, result in zip(members, merge_shards(members, group_id)):
            if result.status == "failed":
                print(f"gamebench: {result.summary_line}", file=sys.stderr)
                failed_jobs.append(member.out_dir)
            else:
                print(result.summary_line, flush=True)
