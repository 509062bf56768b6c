"""The game interface every family imports: a `Problem` is a game as data plus pure functions, a
`Solver` is a NamedTuple of pure functions built by a factory (the optax pattern).

Players are `u` (the leader, minimises `f`) and `v` (the follower). Both players *minimise their
own loss*: the follower's loss is `g` when given (bilevel and general-sum games) and `-f`
otherwise (zero-sum minimax). That sign flip lives in `follower_loss` and nowhere else.

    init(problem, key) -> state
    step(problem, state, key) -> (state, info)     info: the costs of this step (metrics.COSTS):
                                                   "grad_evals" gradients, "hvps" second-order
                                                   products, "jvps" forward-mode products
    readout(problem, state) -> (u, v)              the pair the metrics are taken at

`state` is a NamedTuple of arrays whose structure `step` preserves, so the runner can `lax.scan` it.
problems/ and solvers/ import this module; it imports neither.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import numpy as np

Array = jax.Array
Params = Any  # a pytree of arrays
Batch = Any  # whatever `sample_batch` returns; None for deterministic games


def identity(x: Params) -> Params:
    return x


def no_batch(key: Array) -> None:
    del key
    return None


def no_metrics(u: Params, v: Params, key: Array) -> dict[str, Array]:
    del u, v, key
    return {}


@dataclass(frozen=True)
class Solution:
    """The known minimax answer, as data.

    points: (m, dim_u) float array, the leader's minimax set (or a finite set that represents it).
    value: phi(u*) = min_u max_v f(u, v), the minimax value.
    """

    points: np.ndarray
    value: float


@dataclass(frozen=True, eq=False)
class Problem:
    """A two-player game min_u max_v f(u, v) (or bilevel, when `g` is given).

    Frozen and compared by identity: a Problem is closed over by compiled functions, never traced.
    """

    name: str
    f: Callable[[Params, Params, Batch], Array]  # leader's loss, scalar
    init_u: Callable[[Array], Params]  # key -> initial u
    init_v: Callable[[Array], Params]  # key -> one initial follower candidate
    g: Callable[[Params, Params, Batch], Array] | None = None  # follower's own loss; None: g = -f
    project_u: Callable[[Params], Params] = identity  # applied after every u update
    project_v: Callable[[Params], Params] = identity  # applied after every v update
    sample_batch: Callable[[Array], Batch] = no_batch  # drawn inside the compiled loop
    # extra metrics at log points: scalars go to the rows; arrays (e.g. sample snapshots) are kept
    # apart by the runner's callers. `key` draws any randomness the evaluation needs.
    metrics: Callable[[Params, Params, Array], dict[str, Array]] = no_metrics
    worst_case: Callable[[Params], Array] | None = None  # phi(u) = max_v f(u, v), if computable
    solution: Solution | None = None
    headline: str | None = None  # metric for the summary line and progress; None: dist or f
    info: dict[str, Any] = field(default_factory=dict)  # plotting hints (box, dims), not traced
    # reference players computed, not learned (closed-form filters, fits on chosen data): name ->
    # key -> (u, v). The `baseline` solver evaluates them as jobs with no iterations, so a paper's
    # baselines are rows of the same sweep; ProblemSpec.baselines lists the names for validation.
    baselines: dict[str, Callable[[Array], tuple[Params, Params]]] = field(default_factory=dict)
    # Problems that carry datasets: `data` is a pytree of arrays and `bind(data)` rebuilds this
    # problem around the arrays it is given. The runner passes `data` into the compiled program as
    # an argument and binds the traced copy, so XLA never embeds the dataset as a constant (a closed-
    # over 140 MB array made a 280 MB program and a 12 s compile).
    data: Any = None
    bind: Callable[[Any], Problem] | None = None
    # Games whose payoff follows the training schedule (DANN's adaptation factor): at_progress(p)
    # is this game at training progress p = t / steps in [0, 1), a traced scalar. The runner hands
    # each solver step the game at its step's progress; metrics see the game itself (p = 1).
    at_progress: Callable[[Array], Problem] | None = None
    # N-player general-sum games (gamebench.problems.nplayer): u is the strategy profile, every
    # player's strategy stacked on axis 0, v is unused (an empty array), and player_losses(u, batch)
    # is the (N,) vector of each player's own loss; only the N-player solvers read it.
    player_losses: Callable[[Params, Batch], Array] | None = None
    # The follower belongs to the step's batch (few-shot learning: each step's tasks are new): the
    # bilevel solvers start its inner loop at init_v every leader step instead of warm-starting it.
    restart_v: bool = False


def headline_metric(problem: Problem) -> str:
    """The metric a run is summarised by: the problem's choice, else the distance to the known
    solution, else the payoff f."""
    if problem.headline is not None:
        return problem.headline
    return "dist" if problem.solution is not None else "f"


def at_step(problem: Problem, t: Array, steps: int) -> Problem:
    """The game a solver steps on at iteration t of `steps`: itself unless its payoff follows the
    training schedule (Problem.at_progress)."""
    if problem.at_progress is None:
        return problem
    return problem.at_progress(t / steps)


def follower_loss(problem: Problem) -> Callable[[Params, Params, Batch], Array]:
    """The loss the follower minimises: `g`, or `-f` for a zero-sum game."""
    if problem.g is not None:
        return problem.g
    f = problem.f
    return lambda u, v, batch: -f(u, v, batch)


State = Any
Info = dict[str, jax.Array]


class Solver(NamedTuple):
    init: Callable[[Problem, jax.Array], State]
    step: Callable[[Problem, State, jax.Array], tuple[State, Info]]
    readout: Callable[[Problem, State], tuple[Params, Params]]
