"""Each player's update rule is an optax transformation chosen in config.

The solver decides the game structure (simultaneous, alternating, K-beam); the transformation decides
how one player turns its gradient into a step. Every player *minimises its own loss*, so the follower
of a zero-sum game gets the gradient of -f and these transformations never see a sign flip.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from gamebench.params import Param, at_least, one_of, within

SCHEDULES = ("constant", "inv_sqrt", "dann")
OPTIMIZERS = ("sgd", "momentum", "adam")

# a player's optimiser config (solver.opt_u, solver.opt_v), as gamebench.params declares fields
OPTIMIZER_PARAMS = {
    "name": Param("sgd", "update rule", one_of(*OPTIMIZERS)),
    "lr": Param(0.1, "learning rate", at_least(0)),
    "schedule": Param(
        "inv_sqrt",
        "constant: lr; inv_sqrt: lr / sqrt(t); dann: lr / (1 + 10 t / horizon)^0.75",
        one_of(*SCHEDULES),
    ),
    "horizon": Param(
        0, "dann schedule: iterations of the whole run; 0: the job's steps", at_least(0)
    ),
    "momentum": Param(0.9, "momentum only", within(0, 1, high_open=True)),
    "b1": Param(0.9, "adam only", within(0, 1, high_open=True)),
    "b2": Param(0.999, "adam only", within(0, 1, high_open=True)),
}


def learning_rate(lr: float, schedule: str, horizon: int = 0) -> optax.ScalarOrSchedule:
    """`constant`: lr. `inv_sqrt`: lr / sqrt(t) with t = 1, 2, ... (the K-beam paper's step size).
    `dann`: lr / (1 + 10 p)^0.75 with p = t / horizon the training progress (Ganin & Lempitsky
    2015, Sec. 5.2.2: mu_0 = 0.01, alpha = 10, beta = 0.75)."""
    if schedule == "constant":
        return lr
    if schedule == "inv_sqrt":
        # optax counts updates from 0, the paper counts iterations from 1
        return lambda count: lr / jnp.sqrt(count + 1.0)
    if schedule == "dann":
        if horizon < 1:
            raise ValueError(f"schedule 'dann' needs horizon >= 1 iterations (got {horizon})")
        return lambda count: lr / (1.0 + 10.0 * count / horizon) ** 0.75
    raise ValueError(f"unknown schedule {schedule!r}; allowed: {', '.join(SCHEDULES)}")


def make_optimizer(cfg: Any, steps: int = 0) -> optax.GradientTransformation:
    """Build a player's optax transformation from its config (name, lr, schedule, horizon,
    momentum, b1, b2); `steps`, the job's iterations, is the dann schedule's horizon where the
    config leaves it at 0."""
    name, schedule = str(cfg.name), str(cfg.schedule)
    horizon = int(cfg.horizon or steps)
    lr = learning_rate(_scalar(cfg.lr), schedule, horizon)
    if name == "sgd":
        return optax.sgd(lr)
    if name == "momentum":
        return optax.sgd(lr, momentum=_scalar(cfg.momentum))
    if name == "adam":
        return optax.adam(lr, b1=_scalar(cfg.b1), b2=_scalar(cfg.b2))
    raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}")


def _scalar(value: Any) -> Any:
    """A config number as a float; a traced value (a fused sweep's hyperparameter) stays traced."""
    return value if isinstance(value, jax.Array) else float(value)


def paper_sgd(lr: float = 0.1) -> optax.GradientTransformation:
    """Plain gradient steps of size lr / sqrt(t): the K-beam paper's protocol for the surfaces."""
    return optax.sgd(learning_rate(lr, "inv_sqrt"))
