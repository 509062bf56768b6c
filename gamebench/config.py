"""Config schemas and range checks, derived from the declarations of the factories that read each
field (gamebench.params): the run's own fields below, every solver's in gamebench.solvers.SOLVERS,
every problem's in gamebench.problems.PROBLEMS.

All solvers share one schema (the union of their fields), so `solver.k=1,2` composes for every
solver in a sweep; each problem family has its own. Types and unknown keys are rejected while
composing; `validate` raises ConfigError with one line that names the value and what is allowed.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from gamebench import params
from gamebench.optim import OPTIMIZER_PARAMS
from gamebench.params import (
    Check,
    ConfigError,
    Param,
    at_least,
    check_all,
    check_known_keys,
    one_of,
    schema,
)
from gamebench.paths import config_dir
from gamebench.problems import PROBLEMS
from gamebench.solvers import SOLVERS

# modules that register solvers and problems of their own (register_solver, register_problem):
# imported before the schemas are built from the registries
for _plugin in filter(None, os.environ.get("GAMEBENCH_PLUGINS", "").split(",")):
    importlib.import_module(_plugin.strip())

INT32 = "fit in 32 bits (below 2147483648)"  # seed, trials and steps enter the program as int32
RUN_PARAMS = {
    "experiment": Param("default", "name recorded in every row"),
    "report": Param(None, "gamebench.reports module built from the sweep's rows", kind=str),
    "seed": Param(0, "base seed", Check(lambda v: -(2**31) <= v < 2**31, f"must {INT32}")),
    "trials": Param(100, "vmapped in one program", Check(lambda v: 1 <= v < 2**31, "must be >= 1")),
    "steps": Param(1000, "iterations", Check(lambda v: 1 <= v < 2**31, f"must be >= 1 and {INT32}")),
    "log_every": Param(10, "metrics every log_every steps; must divide steps", at_least(1)),
    "devices": Param(0, "CPU devices to shard trials over; 0 = one per core", at_least(0)),
    "progress": Param(None, "progress lines (a host callback); None: on for >= 10,000 steps", kind=bool),
    "plot_trials": Param(8, "trajectories drawn in the figure", at_least(0)),
    "plot": Param(True, "the job's trajectories.png"),
    "compile_cache": Param(True, "persistent XLA cache under the cache root"),
    "compile": Param("full", "fast: a third of the compile time, slower runs", one_of("full", "fast")),
    "sweep_group": Param(None, "set by the sweeper: the file listing one fused group", kind=str),
    "fuse": Param(True, "false: a sweep runs this job alone (its seconds are its own)"),
    "reuse": Param(
        True, "a lone run repeating a finished one (same command, code, configs) copies its files; "
        "false: recompute (gamebench.reuse)",
    ),
    "trials_per_shard": Param(
        0, "split the trials into shards of at most this many, one launcher job each, merged "
        "exactly (0: no split)", at_least(0),
    ),
}  # fmt: skip


SOLVER_PARAMS = {k: p for spec in SOLVERS.values() for k, p in spec.params.items()}
OptimizerConfig = schema("OptimizerConfig", OPTIMIZER_PARAMS)
NAME = {"name": Param(MISSING, "the registry entry")}
SolverConfig = schema(
    "SolverConfig", NAME | SOLVER_PARAMS, opt_u=OptimizerConfig, opt_v=OptimizerConfig
)
SHARED_SOLVER_PARAMS = tuple(SOLVER_PARAMS)  # fields only some solvers read


def register_schemas() -> None:
    # the sweeper in config.yaml's defaults registers its node on import; compose_config composes
    # without Hydra's plugin discovery, so import it here
    import hydra_plugins.gamebench_sweeper.gamebench_sweeper  # noqa: F401

    OmegaConf.register_new_resolver("per_solver", params.per_solver, replace=True)
    cs = ConfigStore.instance()
    groups = {g: Param(MISSING, "a config group", kind=Any) for g in ("problem", "solver")}
    run = schema("GamebenchConfig", RUN_PARAMS | groups)
    cs.store(name="gamebench_schema", node=run)
    cs.store(group="schema", name="solver", node=SolverConfig)
    for name, spec in PROBLEMS.items():
        node = schema(f"{spec.schema or name}_config", NAME | spec.params)
        cs.store(group="schema", name=spec.schema or name, node=node)


register_schemas()


def compose_config(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The real configs/ composed as the CLI composes them (without the hydra node)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def allowed_solvers(problem_name: str) -> list[str]:
    """The solvers a problem runs under: N-player solvers on N-player games, two-player ones
    otherwise, of the kinds (SolverSpec.players) the problem names where it names any."""
    spec = PROBLEMS[problem_name]
    return sorted(
        name
        for name, solver in SOLVERS.items()
        if solver.n_player == spec.n_player
        and (not spec.solver_kinds or solver.players in spec.solver_kinds)
    )


def validate(cfg: DictConfig) -> None:
    """Every declared field against its declaration, then the rules between fields."""
    check_known_keys(cfg)
    check_all("", cfg, RUN_PARAMS)
    if cfg.steps % cfg.log_every:
        raise ConfigError(
            f"log_every={cfg.log_every} is not allowed: must divide steps={cfg.steps}"
        )
    problem, solver = cfg.problem, cfg.solver
    check_all(
        "problem.", {"name": problem.name}, {"name": Param("", "", one_of(*sorted(PROBLEMS)))}
    )
    check_all("problem.", problem, PROBLEMS[problem.name].params)
    check_all("solver.", {"name": solver.name}, {"name": Param("", "", one_of(*sorted(SOLVERS)))})
    check_all("solver.", solver, SOLVER_PARAMS)
    check_all("solver.opt_u.", solver.opt_u, OPTIMIZER_PARAMS)
    check_all("solver.opt_v.", solver.opt_v, OPTIMIZER_PARAMS)
    if solver.truncate > solver.inner_steps:
        raise ConfigError(
            f"solver.truncate={solver.truncate} is out of range: must be <= inner_steps"
        )
    allowed = allowed_solvers(problem.name)
    if solver.name not in allowed:
        spec = PROBLEMS[problem.name]
        if spec.n_player != SOLVERS[solver.name].n_player:
            kind = "an N-player game" if spec.n_player else "a two-player game"
        else:
            kind = f"which takes {'/'.join(spec.solver_kinds)} solvers only"
        raise ConfigError(
            f"solver={solver.name} is not allowed on problem {problem.name}, {kind}; "
            f"allowed: {', '.join(allowed)}"
        )
    if solver.name == "baseline":
        allowed = ("initial", *PROBLEMS[problem.name].baselines)
        check_all("solver.", solver, {"baseline": Param("", "", one_of(*allowed))})


def flat_params(cfg: DictConfig | dict) -> dict[str, Any]:
    """problem.* and solver.* leaves as flat 'solver.opt_u.lr'-style columns."""

    def leaves(prefix: str, node: Any) -> dict[str, Any]:
        if isinstance(node, DictConfig):
            node = OmegaConf.to_container(node, resolve=True)
        if not isinstance(node, dict):
            return {prefix: node}
        return {
            k: v for key, item in node.items() for k, v in leaves(f"{prefix}.{key}", item).items()
        }

    return leaves("problem", cfg["problem"]) | leaves("solver", cfg["solver"])
