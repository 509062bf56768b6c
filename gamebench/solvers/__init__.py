"""Solver registry: a config's `name` picks the factory; `uses` says which of the shared solver
parameters (config.SHARED_SOLVER_PARAMS) the solver reads, so a sweep over `solver.k` can
tell a K-beam job from a duplicate GDA job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gamebench.game import Solver
from gamebench.optim import make_optimizer
from gamebench.solvers.baseline import baseline
from gamebench.solvers.bilevel import approxgrad, bda, fmd, iaptt_gm, implicit, penalty, rmd
from gamebench.solvers.curvature import cgd, consensus, follow_the_ridge, sga
from gamebench.solvers.danskin import danskin
from gamebench.solvers.gda import alt_gda, gda, gda_k, optimistic_gda
from gamebench.solvers.kbeam import kbeam, kbeam_eps
from gamebench.solvers.lookahead import extragradient, unrolled


@dataclass(frozen=True)
class SolverSpec:
    build: Callable[[Any], Solver]  # solver config -> Solver
    uses: frozenset[str] = frozenset()  # shared parameters beyond the two optimisers


def _name(value: Any) -> str:
    """An enum member's name, or the string itself (configs built without the schema)."""
    return str(getattr(value, "name", value))


def _players(cfg: Any):
    return make_optimizer(cfg.opt_u), make_optimizer(cfg.opt_v)


SOLVERS: dict[str, SolverSpec] = {
    "gda": SolverSpec(lambda cfg: gda(*_players(cfg))),
    "alt_gda": SolverSpec(lambda cfg: alt_gda(*_players(cfg))),
    "kbeam": SolverSpec(
        lambda cfg: kbeam(*_players(cfg), k=cfg.k, leader_state=_name(cfg.leader_state)),
        frozenset({"k", "leader_state"}),
    ),
    "kbeam_eps": SolverSpec(
        lambda cfg: kbeam_eps(
            *_players(cfg),
            k=cfg.k,
            eps=cfg.eps,
            direction=_name(cfg.direction),
            min_norm_iters=cfg.min_norm_iters,
            leader_state=_name(cfg.leader_state),
        ),
        frozenset({"k", "eps", "direction", "min_norm_iters", "leader_state"}),
    ),
    "gda_k": SolverSpec(
        lambda cfg: gda_k(*_players(cfg), inner_steps=cfg.inner_steps), frozenset({"inner_steps"})
    ),
    "extragradient": SolverSpec(lambda cfg: extragradient(*_players(cfg))),
    "optimistic_gda": SolverSpec(lambda cfg: optimistic_gda(*_players(cfg))),
    "unrolled": SolverSpec(
        lambda cfg: unrolled(*_players(cfg), inner_steps=cfg.inner_steps),
        frozenset({"inner_steps"}),
    ),
    "consensus": SolverSpec(
        lambda cfg: consensus(*_players(cfg), gamma=cfg.gamma), frozenset({"gamma"})
    ),
    "sga": SolverSpec(lambda cfg: sga(*_players(cfg), gamma=cfg.gamma), frozenset({"gamma"})),
    "follow_the_ridge": SolverSpec(
        lambda cfg: follow_the_ridge(*_players(cfg), cg_iters=cfg.cg_iters, damping=cfg.damping),
        frozenset({"cg_iters", "damping"}),
    ),
    # bilevel solvers: the follower takes plain steps of size opt_v.lr (differentiable)
    "penalty": SolverSpec(
        lambda cfg: penalty(
            make_optimizer(cfg.opt_u),
            cfg.opt_v.lr,
            cfg.inner_steps,
            cfg.penalty_rho,
            cfg.penalty_lambda,
            cfg.penalty_eps,
        ),
        frozenset({"inner_steps", "penalty_rho", "penalty_lambda", "penalty_eps"}),
    ),
    "approxgrad": SolverSpec(
        lambda cfg: approxgrad(
            make_optimizer(cfg.opt_u), cfg.opt_v.lr, cfg.inner_steps, cfg.cg_iters, cfg.eta
        ),
        frozenset({"inner_steps", "cg_iters", "eta"}),
    ),
    "implicit": SolverSpec(
        lambda cfg: implicit(
            make_optimizer(cfg.opt_u),
            cfg.opt_v.lr,
            cfg.inner_steps,
            _name(cfg.linear_solver),
            cfg.cg_iters,
        ),
        frozenset({"inner_steps", "linear_solver", "cg_iters"}),
    ),
    "rmd": SolverSpec(
        lambda cfg: rmd(make_optimizer(cfg.opt_u), cfg.opt_v.lr, cfg.inner_steps, cfg.truncate),
        frozenset({"inner_steps", "truncate"}),
    ),
    "fmd": SolverSpec(
        lambda cfg: fmd(make_optimizer(cfg.opt_u), cfg.opt_v.lr, cfg.inner_steps),
        frozenset({"inner_steps"}),
    ),
    "bda": SolverSpec(
        lambda cfg: bda(make_optimizer(cfg.opt_u), cfg.opt_v.lr, cfg.inner_steps, cfg.alpha),
        frozenset({"inner_steps", "alpha"}),
    ),
    "iaptt_gm": SolverSpec(
        lambda cfg: iaptt_gm(
            make_optimizer(cfg.opt_u), cfg.opt_v.lr, cfg.inner_steps, make_optimizer(cfg.opt_v)
        ),
        frozenset({"inner_steps"}),
    ),
    "danskin": SolverSpec(
        lambda cfg: danskin(*_players(cfg), inner_steps=cfg.inner_steps, eta=cfg.eta),
        frozenset({"inner_steps", "eta"}),
    ),
    "cgd": SolverSpec(
        lambda cfg: cgd(*_players(cfg), eta=cfg.eta, cg_iters=cfg.cg_iters),
        frozenset({"eta", "cg_iters"}),
    ),
    "baseline": SolverSpec(lambda cfg: baseline(cfg.baseline), frozenset({"baseline"})),
}


def make_solver(cfg: Any) -> Solver:
    if cfg.name not in SOLVERS:
        raise ValueError(f"unknown solver {cfg.name!r}; allowed: {', '.join(sorted(SOLVERS))}")
    return SOLVERS[cfg.name].build(cfg)


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
    "sga",
    "unrolled",
]
