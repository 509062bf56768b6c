"""Solver registry: a config's `name` picks the factory, and each entry declares the config fields
its factory reads (gamebench.params). The shared solver schema is the union of all declarations
(config.py), so `solver.k=1,2` composes for every solver in a sweep, and a sweep can tell a K-beam
job from a GDA job that only differs in a field GDA ignores.

A new solver is one factory and one entry here plus one configs/solver/<name>.yaml; its fields are
checked and documented from the entry. Fields several solvers read are declared once
(solvers/base.py) and must agree wherever they are used (tests/test_config.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gamebench.game import Solver
from gamebench.optim import make_optimizer
from gamebench.params import Param
from gamebench.solvers.adversarial import (
    ATTACK_STEP,
    ATTACK_STEPS,
    RANDOM_START,
    adversarial_training,
    fast_bat,
)
from gamebench.solvers.base import CG_ITERS, DAMPING, ETA, GAMMA, INNER_STEPS
from gamebench.solvers.baseline import BASELINE, baseline
from gamebench.solvers.bilevel import (
    ALPHA,
    LINEAR_SOLVER,
    PENALTY_EPS,
    PENALTY_LAMBDA,
    PENALTY_RHO,
    TRUNCATE,
    approxgrad,
    bda,
    bip,
    fmd,
    iaptt_gm,
    implicit,
    penalty,
    rmd,
)
from gamebench.solvers.curvature import cgd, consensus, follow_the_ridge, sga
from gamebench.solvers.danskin import danskin
from gamebench.solvers.gda import alt_gda, gda, gda_k, optimistic_gda
from gamebench.solvers.kbeam import (
    DIRECTION,
    EPS,
    LEADER_STATE,
    MIN_NORM_ITERS,
    K,
    kbeam,
    kbeam_eps,
)
from gamebench.solvers.lookahead import extragradient, unrolled
from gamebench.solvers.nplayer import (
    nplayer_consensus,
    nplayer_extragradient,
    nplayer_optimistic,
    nplayer_sga,
    sim_gradient_play,
)


@dataclass(frozen=True)
class SolverSpec:
    """factory(players..., **fields): `players` says what comes first: "pair" = the two players'
    optax transformations, "bilevel" = the leader's transformation and the follower's plain step
    size opt_v.lr ("bilevel_z": also opt_z = the follower's transformation), "leader" = the leader's
    transformation alone (the follower is re-solved inside each step), "none" = nothing. `params` are the config fields it reads (field name ->
    declaration); `kwargs` renames a field where the factory's argument is called otherwise."""

    factory: Callable[..., Solver]
    params: dict[str, Param] = field(default_factory=dict)
    players: str = "pair"
    kwargs: dict[str, str] = field(default_factory=dict)
    n_player: bool = False  # solves N-player games (Problem.player_losses) and only those

    @property
    def uses(self) -> frozenset[str]:
        return frozenset(self.params)

    def build(self, cfg: Any, steps: int = 0) -> Solver:
        values = {self.kwargs.get(name, name): cfg[name] for name in self.params}
        if self.players == "pair":
            return self.factory(
                make_optimizer(cfg.opt_u, steps), make_optimizer(cfg.opt_v, steps), **values
            )
        if self.players == "bilevel_z":
            values["opt_z"] = make_optimizer(cfg.opt_v, steps)
        if self.players == "leader":
            return self.factory(make_optimizer(cfg.opt_u, steps), **values)
        if self.players in ("bilevel", "bilevel_z"):
            return self.factory(make_optimizer(cfg.opt_u, steps), cfg.opt_v.lr, **values)
        return self.factory(**values)


ADVERSARIAL_FIELDS = {
    "attack_step": ATTACK_STEP,
    "attack_steps": ATTACK_STEPS,
    "random_start": RANDOM_START,
}

SOLVERS: dict[str, SolverSpec] = {
    "gda": SolverSpec(gda),
    "alt_gda": SolverSpec(alt_gda),
    "kbeam": SolverSpec(kbeam, {"k": K, "leader_state": LEADER_STATE}),
    "kbeam_eps": SolverSpec(
        kbeam_eps,
        {
            "k": K,
            "eps": EPS,
            "direction": DIRECTION,
            "min_norm_iters": MIN_NORM_ITERS,
            "leader_state": LEADER_STATE,
        },
    ),
    "gda_k": SolverSpec(gda_k, {"inner_steps": INNER_STEPS}),
    "extragradient": SolverSpec(extragradient),
    "optimistic_gda": SolverSpec(optimistic_gda),
    "unrolled": SolverSpec(unrolled, {"inner_steps": INNER_STEPS}),
    "consensus": SolverSpec(consensus, {"gamma": GAMMA}),
    "sga": SolverSpec(sga, {"gamma": GAMMA}),
    "follow_the_ridge": SolverSpec(follow_the_ridge, {"cg_iters": CG_ITERS, "damping": DAMPING}),
    # bilevel solvers: the follower takes plain steps of size opt_v.lr (differentiable)
    "penalty": SolverSpec(
        penalty,
        {
            "inner_steps": INNER_STEPS,
            "penalty_rho": PENALTY_RHO,
            "penalty_lambda": PENALTY_LAMBDA,
            "penalty_eps": PENALTY_EPS,
        },
        "bilevel",
        {"penalty_rho": "rho", "penalty_lambda": "lam", "penalty_eps": "eps"},
    ),
    "approxgrad": SolverSpec(
        approxgrad,
        {"inner_steps": INNER_STEPS, "cg_iters": CG_ITERS, "eta": ETA},
        "bilevel",
        {"cg_iters": "q_steps", "eta": "lr_q"},
    ),
    "implicit": SolverSpec(
        implicit,
        {"inner_steps": INNER_STEPS, "linear_solver": LINEAR_SOLVER, "cg_iters": CG_ITERS},
        "bilevel",
        {"cg_iters": "solve_iters"},
    ),
    "rmd": SolverSpec(rmd, {"inner_steps": INNER_STEPS, "truncate": TRUNCATE}, "bilevel"),
    "fmd": SolverSpec(fmd, {"inner_steps": INNER_STEPS}, "bilevel"),
    "bip": SolverSpec(bip, {"inner_steps": INNER_STEPS, "gamma": GAMMA}, "bilevel"),
    "bda": SolverSpec(bda, {"inner_steps": INNER_STEPS, "alpha": ALPHA}, "bilevel"),
    # the learned initialisation z steps with the follower's transformation
    "iaptt_gm": SolverSpec(iaptt_gm, {"inner_steps": INNER_STEPS}, "bilevel_z"),
    "danskin": SolverSpec(danskin, {"inner_steps": INNER_STEPS, "eta": ETA}),
    "cgd": SolverSpec(cgd, {"eta": ETA, "cg_iters": CG_ITERS}),
    # adversarial training: one factory, three protocols (configs/solver/<name>.yaml set the steps)
    **{
        name: SolverSpec(adversarial_training, ADVERSARIAL_FIELDS, "leader")
        for name in ("standard_training", "fgsm_rs", "pgd_at")
    },
    "fast_bat": SolverSpec(fast_bat, ADVERSARIAL_FIELDS, "leader"),
    "baseline": SolverSpec(baseline, {"baseline": BASELINE}, "none", {"baseline": "name"}),
    # N-player games: one transformation (opt_u) moves the whole strategy profile
    "sim_gradient_play": SolverSpec(sim_gradient_play, players="leader", n_player=True),
    "nplayer_extragradient": SolverSpec(nplayer_extragradient, players="leader", n_player=True),
    "nplayer_optimistic": SolverSpec(nplayer_optimistic, players="leader", n_player=True),
    "nplayer_sga": SolverSpec(nplayer_sga, {"gamma": GAMMA}, "leader", n_player=True),
    "nplayer_consensus": SolverSpec(nplayer_consensus, {"gamma": GAMMA}, "leader", n_player=True),
}


def register_solver(name: str, spec: SolverSpec) -> None:
    """Add a solver from outside the package (a module named in GAMEBENCH_PLUGINS)."""
    if name in SOLVERS:
        raise ValueError(f"solver {name!r} is registered already")
    SOLVERS[name] = spec


def make_solver(cfg: Any, steps: int = 0) -> Solver:
    """The solver a config names; `steps` (the job's iterations) is the horizon of a player's
    `dann` learning-rate schedule where its config leaves horizon at 0."""
    if cfg.name not in SOLVERS:
        raise ValueError(f"unknown solver {cfg.name!r}; allowed: {', '.join(sorted(SOLVERS))}")
    return SOLVERS[cfg.name].build(cfg, steps)


__all__ = [
    "SOLVERS",
    "Solver",
    "SolverSpec",
    "alt_gda",
    "baseline",
    "cgd",
    "consensus",
    "extragradient",
    "follow_the_ridge",
    "gda",
    "gda_k",
    "kbeam",
    "kbeam_eps",
    "make_solver",
    "optimistic_gda",
    "register_solver",
    "sga",
    "unrolled",
]
