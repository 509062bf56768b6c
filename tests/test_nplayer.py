"""N-player games: the game gradient, the known equilibria, and what each N-player solver does on
a strongly monotone game, a merely monotone one and a Cournot oligopoly (issue 17's criteria)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gamebench.config import ConfigError, validate
from gamebench.problems.nplayer import game_gradient, make_cournot, make_quadratic_nplayer
from gamebench.run import make_run, trial_keys
from gamebench.solvers.nplayer import (
    nplayer_consensus,
    nplayer_extragradient,
    nplayer_optimistic,
    nplayer_sga,
    sim_gradient_play,
)

SOLVERS = {
    "sim_gradient_play": lambda lr, gamma=None: sim_gradient_play(optax.sgd(lr)),
    "nplayer_extragradient": lambda lr, gamma=None: nplayer_extragradient(optax.sgd(lr)),
    "nplayer_optimistic": lambda lr, gamma=None: nplayer_optimistic(optax.sgd(lr)),
    "nplayer_sga": lambda lr, gamma=1.0: nplayer_sga(optax.sgd(lr), gamma),
    "nplayer_consensus": lambda lr, gamma=1.0: nplayer_consensus(optax.sgd(lr), gamma),
}


def final_distances(problem, solver, steps: int) -> np.ndarray:
    metrics = jax.jit(make_run(problem, solver, steps=steps, log_every=steps))(trial_keys(0, 4))
    return np.asarray(metrics["dist"][:, -1])


def test_game_gradient_is_each_players_own_gradient_and_vanishes_at_the_equilibrium():
    problem = make_quadratic_nplayer(players=3, dim=2, monotone="strong")
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 2))
    xi = game_gradient(problem, x)
    for i in range(3):
        own = jax.grad(lambda xi_, i=i: problem.player_losses(x.at[i].set(xi_), None)[i])(x[i])
        np.testing.assert_allclose(xi[i], own, rtol=1e-5, atol=1e-6)
    for game in (problem, make_quadratic_nplayer(monotone="merely"), make_cournot()):
        star = jnp.asarray(game.solution.points[0]).reshape(
            game.init_u(jax.random.PRNGKey(0)).shape
        )
        assert float(jnp.linalg.norm(game_gradient(game, star))) < 1e-4


def test_cournot_equilibrium_is_the_closed_form_and_no_firm_gains_by_deviating():
    game = make_cournot(players=4, intercept=12.0, slope=0.5, cost_low=1.0, cost_high=3.0)
    star = jnp.asarray(game.solution.points[0]).reshape(4, 1)
    losses = game.player_losses(star, None)
    for i in range(4):
        for delta in (-0.1, 0.1):
            deviated = game.player_losses(star.at[i, 0].add(delta), None)
            assert float(deviated[i]) > float(losses[i])  # every firm's best response is q_i*
    with pytest.raises(ValueError, match="produces nothing"):
        make_cournot(intercept=2.0, cost_high=3.0)


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_every_solver_reaches_the_equilibrium_of_strongly_monotone_games(name):
    strong = make_quadratic_nplayer(players=4, dim=2, monotone="strong")
    assert final_distances(strong, SOLVERS[name](0.1), 1000).max() <= 1e-3
    # the Cournot game Jacobian has norm slope (N + 1) = 6: steps below 1 / 6, and consensus's
    # J^T xi term (|J^T J| = 36) weighted down to match
    cournot = SOLVERS[name](0.05, 0.01)
    assert final_distances(make_cournot(), cournot, 1000).max() <= 1e-3


def test_on_a_merely_monotone_game_simultaneous_play_fails_and_extrapolation_converges():
    merely = make_quadratic_nplayer(players=4, dim=2, monotone="merely")
    simultaneous = final_distances(merely, SOLVERS["sim_gradient_play"](0.3), 4000)
    assert not (np.nan_to_num(simultaneous, nan=np.inf) <= 1e-3).any()
    for name in ("nplayer_extragradient", "nplayer_optimistic"):
        assert final_distances(merely, SOLVERS[name](0.3), 4000).max() <= 1e-3, name


def test_two_player_solvers_and_n_player_games_do_not_mix(compose):
    validate(compose(["problem=cournot", "solver=nplayer_extragradient"]))
    with pytest.raises(ConfigError, match="solver=gda is not allowed on problem cournot"):
        validate(compose(["problem=cournot", "solver=gda"]))
    with pytest.raises(
        ConfigError, match="solver=sim_gradient_play is not allowed on problem seesaw"
    ):
        validate(compose(["problem=seesaw", "solver=sim_gradient_play"]))
    with pytest.raises(ValueError, match="two-player game"):
        sim_gradient_play(optax.sgd(0.1)).init(make_quadratic_nplayer().__class__(
            name="two", f=lambda u, v, b: u * v, init_u=lambda k: 0.0, init_v=lambda k: 0.0
        ), jax.random.PRNGKey(0))  # fmt: skip
    with pytest.raises(ValueError, match="singular"):
        make_quadratic_nplayer(players=3, dim=1, monotone="merely")
