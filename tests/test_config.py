"""The real configs: every option composes and builds; bad values give one clear line."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, ValidationError

from gamebench.config import ConfigError, allowed_solvers, config_dir, flat_params, validate
from gamebench.problems import PROBLEMS, make_problem
from gamebench.solvers import SOLVERS, make_solver
from gamebench.sweep import effective_config, ignored_settings

PROBLEM_CONFIGS = sorted(p.stem for p in (config_dir() / "problem").glob("*.yaml"))
SOLVER_CONFIGS = sorted(p.stem for p in (config_dir() / "solver").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))


def test_every_registered_name_has_a_config_and_back():
    assert set(PROBLEM_CONFIGS) == set(PROBLEMS)
    assert set(SOLVER_CONFIGS) == set(SOLVERS)


def _compose_and_build(compose, problem, solver, build_problem=True):
    cfg = compose([f"problem={problem}", f"solver={solver}"])
    validate(cfg)
    if build_problem and not PROBLEMS[problem].datasets:  # real data: built in test_problems
        assert make_problem(cfg.problem).name == problem
    assert len(make_solver(cfg.solver)) == 3
    params = flat_params(cfg)
    assert params["solver.name"] == solver and params["problem.name"] == problem


# one schema is shared by every solver and one per problem family, so each config is checked once
# against a fixed partner rather than in the full problems x solvers product
@pytest.mark.parametrize("problem", PROBLEM_CONFIGS)
def test_every_problem_composes_and_builds(compose, problem):
    allowed = allowed_solvers(problem)
    _compose_and_build(compose, problem, "kbeam" if "kbeam" in allowed else allowed[0])


@pytest.mark.parametrize("solver", SOLVER_CONFIGS)
def test_every_solver_composes_and_builds(compose, solver):
    if SOLVERS[solver].n_player:  # N-player games only
        _compose_and_build(compose, "quadratic_nplayer", solver)
        _compose_and_build(compose, "cournot", solver, build_problem=False)
        return
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
        (["solver.k=0"], r"solver\.k=0 is out of range: must be >= 1"),
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
        return OmegaConf.to_container(compose(overrides), resolve=True)

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
    with pytest.raises(
        ConfigError, match="solver.opt_u.name='rmsprop' is not allowed; allowed: sgd"
    ):
        validate(compose(["solver.opt_u.name=rmsprop"]))


def _signature(factory) -> tuple[dict, bool]:
    """(name -> inspect.Parameter of the arguments a caller still passes, takes **kwargs)."""
    import inspect

    bound = len(getattr(factory, "args", ()))  # functools.partial: the surfaces bind their name
    parameters = list(inspect.signature(getattr(factory, "func", factory)).parameters.values())
    rest = {p.name: p for p in parameters[bound:] if p.kind is not p.VAR_KEYWORD}
    return rest, any(p.kind is p.VAR_KEYWORD for p in parameters)


def _check_declarations(factory, declared: set[str], players: int = 0, extra=()) -> None:
    arguments, takes_more = _signature(factory)
    passed = dict(list(arguments.items())[players:])
    required = {n for n, p in passed.items() if p.default is p.empty}
    assert required <= declared | set(extra)  # no argument the config cannot set
    assert takes_more or declared <= set(passed)  # no declared field the factory ignores


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_every_solver_declares_the_fields_its_factory_reads(name):
    spec = SOLVERS[name]
    players = {"pair": 2, "bilevel": 2, "bilevel_z": 2, "leader": 1, "none": 0}[spec.players]
    declared = {spec.kwargs.get(field, field) for field in spec.params}
    _check_declarations(spec.factory, declared, players, ["opt_z"])


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_every_problem_declares_the_fields_its_factory_reads(name):
    spec = PROBLEMS[name]
    _check_declarations(spec.factory, {spec.kwargs.get(field, field) for field in spec.params})


def test_a_field_several_solvers_read_is_declared_once():
    declarations = {}
    for name, spec in SOLVERS.items():
        for field, param in spec.params.items():
            assert declarations.setdefault(field, param) is param, (name, field)
