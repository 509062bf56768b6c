"""Solvers of N-player general-sum games (gamebench/problems/nplayer.py) in their N-player forms.

Every player i descends its own loss l_i in its own strategy x_i, all at once; the profile
x = (x_1, ..., x_N) moves along the game gradient xi(x) = (grad_{x_i} l_i(x))_i, one optax
transformation (`opt_u`) applied to the whole profile, then the problem's projection:

    sim_gradient_play   x+ = P(x - eta xi(x))
    nplayer_extragradient  x' = P(x - eta xi(x)),  x+ = P(x - eta xi(x'))        (Korpelevich 1976)
    nplayer_optimistic  x+ = P(x - eta (2 xi(x_t) - xi(x_{t-1})))    (Popov 1980; Daskalakis et al.)
    nplayer_sga         x+ = P(x - eta (xi + lambda A^T xi)),  A = (J - J^T) / 2
                        (symplectic gradient adjustment, Balduzzi et al., ICML 2018)
    nplayer_consensus   x+ = P(x - eta (xi + gamma J^T xi))   (Mescheder et al., NeurIPS 2017)

with J the Jacobian of xi. J^T xi is one VJP of xi and J xi one JVP (each counted as one HVP).
`grad_evals` counts one gradient per player per evaluation of xi (N per xi, as a two-player GDA
step counts 2).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from gamebench.game import Info, Params, Problem, Solver
from gamebench.problems.nplayer import game_gradient
from gamebench.solvers.base import descend


class ProfileState(NamedTuple):
    x: Params  # the strategy profile (N, d)
    opt_state: optax.OptState
    previous_xi: Params  # optimistic: the game gradient of the last step (zeros elsewhere)


def _needs_players(problem: Problem) -> None:
    if problem.player_losses is None:
        raise ValueError(
            f"problem {problem.name!r} is a two-player game; the N-player solvers need a game with "
            "player_losses (gamebench.problems.nplayer)"
        )


def _profile_solver(opt: optax.GradientTransformation, direction, xi_evals: int, hvps: int = 0):
    """A solver whose step is one projected optimiser step along direction(problem, state, batch)."""

    def init(problem: Problem, key: jax.Array) -> ProfileState:
        _needs_players(problem)
        x = problem.project_u(problem.init_u(key))
        return ProfileState(x, opt.init(x), jnp.zeros_like(x))

    def step(problem: Problem, state: ProfileState, key: jax.Array) -> tuple[ProfileState, Info]:
        batch = problem.sample_batch(key)
        move, xi = direction(problem, state, batch)
        x, opt_state = descend(opt, problem.project_u, state.x, move, state.opt_state)
        players = jax.tree.leaves(state.x)[0].shape[0]
        info = {"grad_evals": jnp.int32(xi_evals * players), "hvps": jnp.int32(hvps)}
        return ProfileState(x, opt_state, xi), info

    def readout(problem: Problem, state: ProfileState) -> tuple[Params, Params]:
        return state.x, problem.init_v(jax.random.PRNGKey(0))

    return Solver(init, step, readout)


def sim_gradient_play(opt_u: optax.GradientTransformation) -> Solver:
    """Simultaneous gradient play: every player takes a step on its own loss at the current
    profile, x+ = P(x - eta xi(x)). Converges on strongly monotone games for a small step; spirals
    out on merely monotone (skew) ones."""

    def direction(problem, state, batch):
        xi = game_gradient(problem, state.x, batch)
        return xi, xi

    return _profile_solver(opt_u, direction, 1)


def nplayer_extragradient(opt_u: optax.GradientTransformation) -> Solver:
    """Extragradient (Korpelevich 1976): extrapolate x' = P(x - eta xi(x)) with the optimiser's
    update from the current state (its new state discarded), then step from x with xi(x').
    Converges on monotone games, skew ones included, for eta below 1 / |J|."""

    def direction(problem, state, batch):
        xi = game_gradient(problem, state.x, batch)
        x_half, _ = descend(opt_u, problem.project_u, state.x, xi, state.opt_state)
        xi_half = game_gradient(problem, x_half, batch)
        return xi_half, xi_half

    return _profile_solver(opt_u, direction, 2)


def nplayer_optimistic(opt_u: optax.GradientTransformation) -> Solver:
    """Optimistic gradient (Popov 1980; Daskalakis et al., ICLR 2018): x+ = P(x - eta (2 xi(x_t) -
    xi(x_{t-1}))), one game gradient per step, the last one kept in the state (xi(x_{-1}) = 0)."""

    def direction(problem, state, batch):
        xi = game_gradient(problem, state.x, batch)
        return 2.0 * xi - state.previous_xi, xi

    return _profile_solver(opt_u, direction, 1)


def _jacobian_products(problem, x, batch):
    """(xi, J^T xi, J xi) at x."""
    field = lambda x: game_gradient(problem, x, batch)  # noqa: E731
    xi, pullback = jax.vjp(field, x)
    (jt_xi,) = pullback(xi)
    _, j_xi = jax.jvp(field, (x,), (xi,))
    return xi, jt_xi, j_xi


def nplayer_sga(opt_u: optax.GradientTransformation, gamma: float) -> Solver:
    """Symplectic gradient adjustment (Balduzzi et al., ICML 2018) for N players:
    x+ = P(x - eta (xi + lambda A^T xi)) with A = (J - J^T) / 2 the antisymmetric part of the game
    Jacobian, so A^T xi = (J^T xi - J xi) / 2; lambda = gamma (fixed sign)."""

    def direction(problem, state, batch):
        xi, jt_xi, j_xi = _jacobian_products(problem, state.x, batch)
        return xi + gamma * 0.5 * (jt_xi - j_xi), xi

    return _profile_solver(opt_u, direction, 1, hvps=2)


def nplayer_consensus(opt_u: optax.GradientTransformation, gamma: float) -> Solver:
    """Consensus optimisation (Mescheder, Nowozin & Geiger, NeurIPS 2017) for N players:
    x+ = P(x - eta (xi + gamma J^T xi)), the game gradient plus gamma times the gradient of
    |xi|^2 / 2."""

    def direction(problem, state, batch):
        field = lambda x: game_gradient(problem, x, batch)  # noqa: E731
        xi, pullback = jax.vjp(field, state.x)
        (jt_xi,) = pullback(xi)
        return xi + gamma * jt_xi, xi

    return _profile_solver(opt_u, direction, 1, hvps=1)
