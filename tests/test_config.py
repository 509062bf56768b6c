"""The real configs: every option composes and builds; bad values give one clear line."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from gamebench.config import (
    ConfigError,
    config_dir,
    effective_config,
    flat_params,
    ignored_settings,
    validate,
)
from gamebench.problems import PROBLEMS, make_problem
from gamebench.solvers import SOLVERS, make_solver

PROBLEM_CONFIGS = sorted(p.stem for p in (config_dir() / "problem").glob("*.yaml"))
SOLVER_CONFIGS = sorted(p.stem for p in (config_dir() / "solver").glob("*.yaml"))
DATASET_PROBLEMS = {"da_mnist_mnistm", "privacy_filter", "hypercleaning"}
EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))


def test_every_registered_name_has_a_config_and_back():
    assert set(PROBLEM_CONFIGS) == set(PROBLEMS)
    assert set(SOLVER_CONFIGS) == set(SOLVERS)


def _compose_and_build(compose, problem, solver, build_problem=True):
    cfg = compose([f"problem={problem}", f"solver={solver}"])
    validate(cfg)
    if (
        build_problem and problem not in DATASET_PROBLEMS
    ):  # those load real data: built in their tests
        assert make_problem(cfg.problem).name == problem
    assert len(make_solver(cfg.solver)) == 3
    params = flat_params(cfg)
    assert params["solver.name"] == solver and params["problem.name"] == problem


# one schema is shared by every solver and one per problem family, so each config is checked once
# against a fixed partner rather than in the full problems x solvers product
@pytest.mark.parametrize("problem", PROBLEM_CONFIGS)
def test_every_problem_composes_and_builds(compose, problem):
    _compose_and_build(compose, problem, "kbeam")


@pytest.mark.parametrize("solver", SOLVER_CONFIGS)
def test_every_solver_composes_and_builds(compose, solver):
    _compose_and_build(compose, "anti_saddle", solver)
    _compose_and_build(compose, "smd", solver, build_problem=False)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes(compose, experiment):
    cfg = compose([f"experiment={experiment}"])
    validate(cfg)
    assert cfg.experiment == experiment


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["solver.k=0"], r"solver\.k=0 is out of range: must be an integer >= 1"),
        (
            ["solver=kbeam_eps", "solver.eps=-0.5"],
            r"solver\.eps=-0\.5 is out of range: must be >= 0",
        ),
        (["trials=0"], r"trials=0 is out of range"),
        (["solver.opt_v.lr=-1"], r"solver\.opt_v\.lr=-1\.0 is out of range"),
        (["steps=100", "log_every=7"], r"log_every=7 .* divide steps=100"),
        (["problem.dim=0"], r"problem\.dim=0 is out of range"),
    ],
)
def test_out_of_range_values_name_the_value_and_the_range(compose, overrides, match):
    with pytest.raises(ConfigError, match=match):
        validate(compose(overrides))


def test_parameter_a_solver_ignores_is_named_and_reset_in_the_effective_config(compose):
    from omegaconf import OmegaConf

    def plain(overrides):
        return OmegaConf.to_container(compose(overrides), resolve=True, enum_to_str=True)

    reasons = ignored_settings(compose(["solver=gda", "solver.k=3", "solver.eps=0.5"]))
    assert reasons == [
        "solver.k=3 has no effect on solver 'gda' (only kbeam, kbeam_eps read it)",
        "solver.eps=0.5 has no effect on solver 'gda' (only kbeam_eps read it)",
    ]
    assert ignored_settings(compose(["solver=gda", "solver.k=1"])) == []
    gda_k3 = effective_config(plain(["solver=gda", "solver.k=3"]))
    assert gda_k3 == effective_config(plain(["solver=gda", "solver.k=1"]))
    kbeam_k3 = effective_config(plain(["solver=kbeam", "solver.k=3"]))
    assert kbeam_k3 != effective_config(plain(["solver=kbeam", "solver.k=1"]))


def test_schema_rejects_unknown_keys_and_wrong_types(compose):
    with pytest.raises(ConfigCompositionException) as unknown:
        compose(["solver.kk=3"])
    assert isinstance(unknown.value.__cause__, (ConfigKeyError, ConfigAttributeError))
    with pytest.raises(ConfigCompositionException) as wrong_type:
        compose(["solver.k=three"])
    assert isinstance(wrong_type.value.__cause__, ValidationError)
    with pytest.raises(ConfigCompositionException, match="rmsprop"):
        compose(["solver.opt_u.name=rmsprop"])
