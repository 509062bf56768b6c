"""`gamebench`: Hydra composes configs/ into one config per job. A single run is `experiment.run_job`
(a group of one); a multirun goes through the gamebench sweeper (hydra_plugins/gamebench_sweeper),
whose launcher jobs each run one fused group (`sweep.run_group`).

    gamebench problem=anti_saddle solver=kbeam solver.k=5
    gamebench -m problem=seesaw,anti_saddle solver=kbeam solver.k=1,2,5,10
    gamebench -m experiment=surfaces

Bad input (an unknown option, a wrong type, a value out of range) ends with one line on stderr and
exit code 2. In a multirun, a job that fails or diverges is recorded and the sweep goes on; the
command exits 1 at the end if any job failed.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # python -m gamebench.cli: a repeated run, before the heavy imports
    from gamebench.reuse import try_reuse

    if try_reuse(sys.argv[1:]):
        sys.exit(0)

import os
import re
import time
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from gamebench import interrupts
from gamebench.config import ConfigError, config_dir, validate
from gamebench.params import unknown_choice


def one_line(error: BaseException) -> str:
    """A user-facing single line for an exception from composition, validation or a job."""
    text = str(error)
    missing = re.search(r"Could not find '([\w/]+)/([^']*)'", text)
    if missing:
        group, value = missing.groups()
        options = re.findall(r"^\t(\S+)$", text, flags=re.MULTILINE)
        return unknown_choice(group, value, options) if options else f"unknown {group} {value!r}"
    overridden = re.search(r"Could not override '([\w.]+)'", text)
    not_in_schema = overridden and "not in" in f"{text} {error.__cause__}"
    if not_in_schema:  # Hydra suggests `+key=...`, which the schema check then refuses too
        return _unknown_key(overridden.group(1))
    cause = error.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text}: {cause}"
    text = re.sub(r"\s*full_key:.*", "", text, flags=re.DOTALL) if "full_key" in text else text
    return " ".join(text.split()) or type(error).__name__


def _unknown_key(key: str) -> str:
    """An override of a key no schema declares, with the closest declared key of its group."""
    import difflib

    from gamebench.config import RUN_PARAMS, SOLVER_PARAMS
    from gamebench.optim import OPTIMIZER_PARAMS
    from gamebench.problems import PROBLEMS

    *parents, name = key.split(".")
    prefix = ".".join(parents)
    fields = {
        "": RUN_PARAMS,
        "solver": SOLVER_PARAMS,
        "solver.opt_u": OPTIMIZER_PARAMS,
        "solver.opt_v": OPTIMIZER_PARAMS,
        "problem": {n: p for spec in PROBLEMS.values() for n, p in spec.params.items()},
    }.get(prefix, {})
    if prefix == "problem" and name in fields:
        owners = sorted(n for n, spec in PROBLEMS.items() if name in spec.params)
        return f"unknown key {key!r}: not a field of this problem (only of {', '.join(owners)})"
    close = difflib.get_close_matches(name, list(fields), n=1)
    if close:
        return f"unknown key {key!r}; did you mean '{prefix + '.' if prefix else ''}{close[0]}'?"
    group = parents[0] if parents else "run"
    return f"unknown key {key!r}: not a field of this {group} (gamebench --fields)"


def _job_failed(out_dir) -> None:
    from gamebench.sweep import failed_jobs

    failed_jobs.append(str(out_dir))


def _any_job_failed() -> bool:
    if "gamebench.sweep" not in sys.modules:  # nothing ran (e.g. --help)
        return False
    from gamebench.sweep import failed_jobs

    return bool(failed_jobs)


def _exit(code: int, message: str) -> None:
    # SystemExit passes through Hydra's job runner untouched (it catches Exception only), so the
    # user sees our one line and not Hydra's "Error executing job" preamble.
    print(f"gamebench: {message}", file=sys.stderr)
    raise SystemExit(code)


def _user_error(cfg: DictConfig, out_dir: Path, job: str, multirun: bool, error: Exception) -> None:
    """A failure the user fixes (a value out of range, a missing dataset): one line, exit 2 for a
    single run; in a multirun the job is recorded as failed and the sweep goes on."""
    if not multirun:
        _exit(2, f"error: {error}")
    from gamebench.experiment import record_failure

    record_failure(cfg, out_dir, "failed", str(error))
    print(f"gamebench: {job} failed: {error}", file=sys.stderr)
    _job_failed(out_dir)


def _task(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    out_dir = Path(hydra_cfg.runtime.output_dir)
    job = f"job {hydra_cfg.job.num}" if multirun else "run"
    if cfg.sweep_group is not None:  # a launcher job of the gamebench sweeper: one fused group
        return _run_group(cfg)
    try:
        validate(cfg)
    except ConfigError as error:
        return _user_error(cfg, out_dir, job, multirun, error)
    from gamebench.sweep import ignored_settings

    ignored = "; ".join(ignored_settings(cfg))
    if ignored and multirun:  # Hydra's basic sweeper: the job with the default values covers it
        from gamebench.experiment import record_failure

        record_failure(cfg, out_dir, "skipped", ignored)
        print(f"gamebench: {job} skipped: {ignored}")
        return
    if ignored:
        print(f"gamebench: note: {ignored}", file=sys.stderr)

    # imported once the config is valid: a refusal costs no pandas and no results code
    from gamebench.experiment import configure_jax, record_failure, run_job

    configure_jax(cfg.devices, cfg.compile_cache)
    from gamebench.data import DataError

    try:
        result = run_job(cfg, out_dir)
    except (DataError, ConfigError) as error:  # missing data, too big: the user fixes it
        return _user_error(cfg, out_dir, job, multirun, error)
    except Exception as error:  # noqa: BLE001 - recorded, reported in one line, sweep goes on
        message = f"{type(error).__name__}: {one_line(error)}"
        record_failure(cfg, out_dir, "failed", message)
        (out_dir / "error.log").write_text(traceback.format_exc())
        report = f"{job} failed: {message} (traceback in {out_dir}/error.log)"
        if not multirun:
            _exit(1, report)
        print(f"gamebench: {report}", file=sys.stderr)
        _job_failed(out_dir)
        return
    print(result.summary_line, flush=True)
    if not multirun and cfg.reuse:
        _remember(cfg, out_dir, result.summary_line, hydra_cfg)


def _remember(cfg: DictConfig, out_dir: Path, summary_line: str, hydra_cfg) -> None:
    """Record this finished lone run for gamebench.reuse (an identical command copies it)."""
    import json

    from gamebench.reuse import remember

    try:
        job_key = json.loads((out_dir / "meta.json").read_text())["key"]
    except (OSError, ValueError, KeyError):
        return
    run_dir = OmegaConf.to_container(hydra_cfg.run, resolve=False)["dir"]
    remember(sys.argv[1:], out_dir, job_key, summary_line, str(run_dir))


def _run_group(cfg: DictConfig) -> None:
    """Run the jobs of one fused group (validated by the sweeper) and print their summary lines."""
    from gamebench.experiment import configure_jax
    from gamebench.sweep import load_group, progress_line, run_group, run_shard

    configure_jax(cfg.devices, cfg.compile_cache)
    group_id, members, position = load_group(cfg.sweep_group)
    if position.get("trials"):  # one shard of the group's trials: merged by the sweeper
        for line in run_shard(members, group_id, *position["trials"]):
            print(f"gamebench: {line}", file=sys.stderr)
        return
    for member, result in zip(members, run_group(members, group_id)):
        if result.status == "failed":
            print(f"gamebench: {result.summary_line}", file=sys.stderr)
            _job_failed(member.out_dir)
        else:
            print(result.summary_line, flush=True)
    if position and (line := progress_line(position, time.time())):
        print(line, flush=True)


def _register_sweeper() -> None:
    """Hydra finds plugins by walking the `hydra_plugins` namespace, which an editable install's
    import hook hides from it; registering the sweeper by hand works for every kind of install."""
    from hydra.core.plugins import Plugins

    from hydra_plugins.gamebench_sweeper.gamebench_sweeper import GamebenchSweeper

    Plugins.instance().register(GamebenchSweeper)


def _choosable_groups() -> str:
    """The config groups a user picks options from, for `--help`, from Hydra's search path (so a
    plugin's groups show too); the schema group, which only validates, and Hydra's own are left out."""
    from hydra.core.global_hydra import GlobalHydra

    hydra_app = GlobalHydra.instance().hydra
    groups = [
        g for g in hydra_app.list_all_config_groups() if g.split("/")[0] not in ("hydra", "schema")
    ]
    loader = hydra_app.config_loader
    return "\n".join(
        f"{group}: {', '.join(sorted(loader.get_group_options(group)))}" for group in sorted(groups)
    )


_register_sweeper()
OmegaConf.register_new_resolver("gamebench_groups", _choosable_groups, replace=True)
# ${gamebench_pid:} in the default run dir: runs started in the same second get their own dirs
OmegaConf.register_new_resolver("gamebench_pid", os.getpid, replace=True)
_hydra_main = hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")(
    _task
)


def print_fields(names: list[str]) -> None:
    """`gamebench --fields [solver|problem NAME ...]`: every config field with its default, the
    values allowed and what it does, from the factories' declarations (gamebench.params)."""
    from gamebench.config import RUN_PARAMS, SOLVER_PARAMS
    from gamebench.optim import OPTIMIZER_PARAMS
    from gamebench.problems import PROBLEMS
    from gamebench.solvers import SOLVERS

    def show(title: str, params: dict) -> None:
        print(title)
        for name, p in params.items():
            allowed = f" ({p.check.rule})" if p.check else ""
            print(f"  {name} = {p.default!r}{allowed}: {p.doc}")

    if not names:
        show("run:", RUN_PARAMS)
        show("solver (every solver; each reads the ones its entry declares):", SOLVER_PARAMS)
        show("solver.opt_u, solver.opt_v:", OPTIMIZER_PARAMS)
        print("problems: " + ", ".join(sorted(PROBLEMS)) + "  (gamebench --fields problem NAME)")
    for group, name in zip(names[::2], names[1::2]):
        registry = {"solver": SOLVERS, "problem": PROBLEMS}.get(group, {})
        if name not in registry:
            _exit(2, f"error: {unknown_choice(group, name, sorted(registry))}")
        show(f"{group}={name}:", registry[name].params)


def _validate_printed_config(argv: list[str]) -> None:
    """`--cfg job|all` prints the config without running the task: validate it first, so a bad
    value is refused there as it would be by a run."""
    from hydra._internal.utils import get_args_parser

    args, _ = get_args_parser().parse_known_args(argv)
    if args.cfg in ("job", "all") and not args.multirun:
        from gamebench.config import compose_config

        try:
            validate(compose_config([o for o in args.overrides if not o.startswith("hydra")]))
        except ConfigError as error:
            _exit(2, f"error: {error}")
        except Exception as error:  # noqa: BLE001 - composition: an unknown option or key
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            _exit(2, f"error: {one_line(error)}")


def _interrupted() -> None:
    """Ctrl-C: one line; the finished jobs keep their files and a sweep gathers them (the
    unfinished ones are recorded as interrupted by sweep.run_group)."""
    from gamebench import sweep

    where = ""
    if sweep.active_sweep_dir is not None:
        from gamebench.io import write_gathered

        write_gathered(sweep.active_sweep_dir)
        where = f"; finished jobs gathered into {sweep.active_sweep_dir}/jobs.csv"
    print(f"gamebench: interrupted{where}; the same command resumes", file=sys.stderr)
    from gamebench.locks import release_all_locks

    release_all_locks()
    sys.stdout.flush()
    sys.stderr.flush()
    # not sys.exit: XLA's compiler threads, interrupted mid-compile, can crash the interpreter's
    # teardown (seen: SIGSEGV after the message); the files and locks are settled by now
    os._exit(130)


def main() -> None:
    if sys.argv[1:2] == ["--fields"]:
        return print_fields(sys.argv[2:])
    full_errors = os.environ.get("HYDRA_FULL_ERROR") == "1"
    if "--cfg" in sys.argv or "-c" in sys.argv:
        _validate_printed_config(sys.argv[1:])
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let composition errors reach us, then print one line
    interrupts.install()
    try:
        _hydra_main()
        interrupts.check()  # a Ctrl-C whose exception was swallowed on the way still counts
    except KeyboardInterrupt:
        _interrupted()
    except Exception as error:  # noqa: BLE001
        if full_errors:
            raise
        print(f"gamebench: error: {one_line(error)}", file=sys.stderr)
        sys.exit(2)
    if _any_job_failed():
        sys.exit(1)


if __name__ == "__main__":
    main()
