"""Problem registry: a config's `name` picks the entry; each entry declares the config fields its
factory reads (gamebench.params), and config.py derives the problem's schema and range checks from
them. A new problem is one factory and one entry here plus one configs/problem/<name>.yaml (whose
defaults name `/schema/<schema>@_here_`); tests/test_problems.py and tests/test_config.py run their
checks over every entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gamebench.game import Problem, Solution, follower_loss
from gamebench.params import Param
from gamebench.problems import (
    bilevel,
    constrained,
    domain_adaptation,
    few_shot,
    hypercleaning,
    mog_gan,
    nplayer,
    poisoning,
    privacy_filter,
    pruning,
    quadratic,
    robust,
    surfaces,
)
from gamebench.problems.bilevel import make_iaptt_toy, make_quadratic_bilevel, make_smd
from gamebench.problems.constrained import make_constrained
from gamebench.problems.domain_adaptation import make_da_mnist_mnistm, make_domain_adaptation
from gamebench.problems.few_shot import make_few_shot_sinusoid
from gamebench.problems.hypercleaning import make_hypercleaning
from gamebench.problems.mog_gan import make_mog_gan
from gamebench.problems.nplayer import make_cournot, make_quadratic_nplayer
from gamebench.problems.poisoning import make_poisoning
from gamebench.problems.privacy_filter import make_privacy_filter, make_privacy_filter_from_dataset
from gamebench.problems.pruning import make_bilevel_pruning
from gamebench.problems.quadratic import make_bilinear, make_quadratic
from gamebench.problems.robust import make_mvm_defense, make_robust_classification
from gamebench.problems.surfaces import SURFACES, make_surface

# (problem config, solver config) -> the same, changed where the job computes another job's
# numbers, and one reason per change (config.effective_config)
SameRun = Callable[[dict, dict], tuple[dict, dict, list[str]]]


@dataclass(frozen=True)
class ProblemSpec:
    """factory(**fields) -> Problem. `params`: the config fields it reads; `schema`: the config
    schema's name (problems of one family share one; default: the problem's name); `small`: a game
    of a few scalars whose programs run in milliseconds (a sweep merges their structures into one
    program, gamebench.sweep.batch_key); `datasets`: real data it loads (gamebench-data); `baselines`:
    names of its Problem.baselines; `same_run`: what makes two jobs compute the same numbers;
    `smoke`: overrides that keep a seconds-long run of it small (tests)."""

    factory: Callable[..., Problem]
    params: dict[str, Param] = field(default_factory=dict)
    schema: str | None = None
    small: bool = False
    datasets: tuple[str, ...] = ()
    baselines: tuple[str, ...] = ()
    same_run: SameRun | None = None
    smoke: tuple[str, ...] = ()
    kwargs: dict[str, str] = field(default_factory=dict)  # field -> the factory's argument name
    n_player: bool = False  # an N-player game (Problem.player_losses): only N-player solvers
    # the solver kinds (SolverSpec.players) it runs under; empty: every two-player kind. A follower
    # that belongs to the step's batch (restart_v, one perturbation per example) means nothing to
    # solvers that keep it across steps (gda, kbeam, ...).
    solver_kinds: tuple[str, ...] = ()

    def build(self, cfg: Any) -> Problem:
        return self.factory(**{self.kwargs.get(n, n): cfg[n] for n in self.params})


ROBUST_SMOKE = (
    "problem.hidden=32",
    "problem.batch=16",
    "problem.train_size=500",
    "problem.eval_size=50",
    "problem.pgd_steps=3",
    "problem.attacker_hidden=16",
    "problem.attacker_eval_steps=5",
    "trials=2",
)

PROBLEMS: dict[str, ProblemSpec] = {
    name: ProblemSpec(partial(make_surface, name), surfaces.PARAMS, "surface", small=True)
    for name in SURFACES
}
PROBLEMS |= {
    "bilinear": ProblemSpec(make_bilinear, quadratic.BILINEAR_PARAMS, small=True),
    "quadratic": ProblemSpec(make_quadratic, quadratic.QUADRATIC_PARAMS, small=True),
    "mog_gan": ProblemSpec(
        make_mog_gan,
        mog_gan.PARAMS,
        smoke=("problem.jsd_data_samples=20000", "problem.jsd_gen_samples=2000"),
    ),
    "da_mnist_mnistm": ProblemSpec(
        make_da_mnist_mnistm,
        domain_adaptation.PARAMS,
        "domain_adaptation",
        datasets=("mnist", "bsds500", "mnistm"),
        same_run=domain_adaptation.same_run,
        smoke=("problem.eval_size=100", "problem.batch=16", "problem.train_size=500", "trials=2"),
    ),
    "privacy_filter": ProblemSpec(
        make_privacy_filter_from_dataset,
        privacy_filter.PARAMS,
        datasets=("genki", "hapt"),
        baselines=privacy_filter.PRIVACY_BASELINES,
        same_run=privacy_filter.same_run,
        smoke=("solver.inner_steps=2",),
    ),
    "smd": ProblemSpec(make_smd, bilevel.SMD_PARAMS, small=True, kwargs={"which": "name"}),
    "quadratic_bilevel": ProblemSpec(
        make_quadratic_bilevel, bilevel.QUADRATIC_BILEVEL_PARAMS, small=True
    ),
    "iaptt_toy": ProblemSpec(make_iaptt_toy, small=True),
    "hypercleaning": ProblemSpec(
        make_hypercleaning,
        hypercleaning.PARAMS,
        datasets=("mnist",),
        baselines=hypercleaning.HYPERCLEANING_BASELINES,
        smoke=("problem.n_train=500", "problem.n_val=500", "problem.refit_steps=10", "trials=2"),
    ),
    "poisoning": ProblemSpec(
        make_poisoning,
        poisoning.PARAMS,
        datasets=("mnist",),
        baselines=poisoning.POISONING_BASELINES,
        same_run=poisoning.same_run,
        smoke=("problem.n_train=200", "problem.n_val=200", "problem.refit_steps=20", "trials=2"),
    ),
    "robust_classification": ProblemSpec(
        make_robust_classification,
        robust.PARAMS,
        datasets=("mnist",),
        smoke=ROBUST_SMOKE,
        solver_kinds=("leader", "none"),
    ),
    "mvm_defense": ProblemSpec(
        make_mvm_defense, robust.PARAMS, datasets=("mnist",), smoke=ROBUST_SMOKE
    ),
    "quadratic_nplayer": ProblemSpec(
        make_quadratic_nplayer, nplayer.QUADRATIC_PARAMS, small=True, n_player=True
    ),
    "cournot": ProblemSpec(make_cournot, nplayer.COURNOT_PARAMS, small=True, n_player=True),
    "constrained": ProblemSpec(
        make_constrained,
        constrained.PARAMS,
        datasets=("genki", "mnist"),
        same_run=constrained.same_run,
        solver_kinds=("pair", "none"),
    ),
    "bilevel_pruning": ProblemSpec(
        make_bilevel_pruning,
        pruning.PARAMS,
        datasets=("mnist",),
        baselines=pruning.PRUNING_BASELINES,
        same_run=pruning.same_run,
        solver_kinds=("bilevel", "bilevel_z", "none"),
        smoke=(
            "problem.train_size=500",
            "problem.eval_size=200",
            "problem.batch=16",
            "problem.imp_round_steps=5",
            "trials=2",
        ),
    ),
    "few_shot_sinusoid": ProblemSpec(
        make_few_shot_sinusoid,
        few_shot.PARAMS,
        solver_kinds=("bilevel", "bilevel_z", "leader", "none"),
        smoke=("problem.eval_tasks=20", "problem.tasks=4"),
    ),
}


def register_problem(name: str, spec: ProblemSpec) -> None:
    """Add a problem from outside the package (a module named in GAMEBENCH_PLUGINS)."""
    if name in PROBLEMS:
        raise ValueError(f"problem {name!r} is registered already")
    PROBLEMS[name] = spec


def make_problem(cfg: Any) -> Problem:
    if cfg.name not in PROBLEMS:
        raise ValueError(f"unknown problem {cfg.name!r}; allowed: {', '.join(sorted(PROBLEMS))}")
    return PROBLEMS[cfg.name].build(cfg)


__all__ = [
    "PROBLEMS",
    "Problem",
    "ProblemSpec",
    "Solution",
    "follower_loss",
    "make_bilevel_pruning",
    "make_bilinear",
    "make_constrained",
    "make_cournot",
    "make_da_mnist_mnistm",
    "make_domain_adaptation",
    "make_few_shot_sinusoid",
    "make_mog_gan",
    "make_privacy_filter",
    "make_problem",
    "make_quadratic",
    "make_quadratic_nplayer",
    "make_surface",
    "register_problem",
]
