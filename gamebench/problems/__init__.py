"""Problem registry: a config's `name` picks the factory that builds the `Problem`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gamebench.game import Problem, Solution, follower_loss
from gamebench.problems.bilevel import make_iaptt_toy, make_quadratic_bilevel, make_smd
from gamebench.problems.domain_adaptation import make_da_mnist_mnistm, make_domain_adaptation
from gamebench.problems.hypercleaning import HYPERCLEANING_BASELINES, make_hypercleaning
from gamebench.problems.mog_gan import make_mog_gan
from gamebench.problems.privacy_filter import (
    PRIVACY_BASELINES,
    make_privacy_filter,
    make_privacy_filter_from_dataset,
)
from gamebench.problems.quadratic import make_bilinear, make_quadratic
from gamebench.problems.surfaces import SURFACES, make_surface


def _name(value: Any) -> str:
    """An enum member's name, or the string itself (configs built without the schema)."""
    return str(getattr(value, "name", value))


def _surface_from_config(cfg: Any) -> Problem:
    return make_surface(cfg.name, dim=cfg.dim, init_radius=cfg.init_radius, phi_grid=cfg.phi_grid)


# name -> factory(config) -> Problem. A new problem is one factory here and one configs/problem/*.yaml.
PROBLEMS: dict[str, Callable[[Any], Problem]] = {name: _surface_from_config for name in SURFACES}
PROBLEMS["bilinear"] = lambda cfg: make_bilinear(cfg.dim, cfg.matrix_seed, cfg.init_scale)
PROBLEMS["quadratic"] = lambda cfg: make_quadratic(
    _name(cfg.kind), cfg.dim, cfg.matrix_seed, cfg.init_scale
)
PROBLEMS["mog_gan"] = lambda cfg: make_mog_gan(
    n_modes=cfg.n_modes,
    layout=_name(cfg.layout),
    std=cfg.std,
    radius=cfg.radius,
    z_dim=cfg.z_dim,
    hidden=cfg.hidden,
    layers=cfg.layers,
    batch=cfg.batch,
    gain=cfg.gain,
    jsd_data_samples=cfg.jsd_data_samples,
    jsd_gen_samples=cfg.jsd_gen_samples,
)

PROBLEMS["da_mnist_mnistm"] = lambda cfg: make_da_mnist_mnistm(
    batch=cfg.batch,
    rho=cfg.rho,
    weight_decay=cfg.weight_decay,
    adversarial=cfg.adversarial,
    init_std=cfg.init_std,
    eval_size=cfg.eval_size,
    mnistm_seed=cfg.mnistm_seed,
    conv=_name(cfg.conv),
    train_size=cfg.train_size,
)

PROBLEMS["privacy_filter"] = lambda cfg: make_privacy_filter_from_dataset(
    _name(cfg.dataset),
    filter=_name(cfg.filter),
    d=cfg.d,
    rho=cfg.rho,
    weight_decay=cfg.weight_decay,
    hidden=cfg.hidden,
    protocol=cfg.protocol,
)

PROBLEMS["smd"] = lambda cfg: make_smd(_name(cfg.which), cfg.dim, cfg.matrix_seed)
PROBLEMS["quadratic_bilevel"] = lambda cfg: make_quadratic_bilevel(
    cfg.dim, cfg.matrix_seed, cfg.mu, cfg.curvature
)
PROBLEMS["iaptt_toy"] = lambda cfg: make_iaptt_toy()
PROBLEMS["hypercleaning"] = lambda cfg: make_hypercleaning(
    cfg.n_train, cfg.n_val, cfg.noise, cfg.label_seed, cfg.mu
)


# the named baselines of each problem (Problem.baselines), for the `baseline` solver; every problem
# also has `initial`, its untrained initial players
BASELINES: dict[str, tuple[str, ...]] = {
    "privacy_filter": PRIVACY_BASELINES,
    "hypercleaning": HYPERCLEANING_BASELINES,
}

# games of a few scalars whose programs run in milliseconds: a sweep merges their jobs of different
# structures into one compiled program (gamebench.sweep.batch_key)
SMALL_PROBLEMS = frozenset(
    [*SURFACES, "bilinear", "quadratic", "smd", "quadratic_bilevel", "iaptt_toy"]
)


def make_problem(cfg: Any) -> Problem:
    if cfg.name not in PROBLEMS:
        raise ValueError(f"unknown problem {cfg.name!r}; allowed: {', '.join(sorted(PROBLEMS))}")
    return PROBLEMS[cfg.name](cfg)


__all__ = [
    "BASELINES",
    "PROBLEMS",
    "SMALL_PROBLEMS",
    "Problem",
    "Solution",
    "follower_loss",
    "make_bilinear",
    "make_da_mnist_mnistm",
    "make_domain_adaptation",
    "make_mog_gan",
    "make_privacy_filter",
    "make_problem",
    "make_quadratic",
    "make_surface",
]
