"""Shared conformance suite (every registered solver, built from its real config) and the
textbook behaviour of each method."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gamebench.optim import paper_sgd
from gamebench.problems import Problem, make_surface
from gamebench.run import make_run, trial_keys
from gamebench.solvers import SOLVERS, alt_gda, gda, kbeam, kbeam_eps, make_solver


@pytest.fixture(scope="module")
def anti_saddle():
    return make_surface("anti_saddle")


@pytest.fixture(scope="module")
def games(anti_saddle):
    """The game each solver's conformance checks run on: anti_saddle, or for the N-player solvers
    a 4-player quadratic game."""
    from gamebench.problems import make_quadratic_nplayer

    nplayer = make_quadratic_nplayer()
    return lambda name: nplayer if SOLVERS[name].n_player else anti_saddle


def solver_from_config(compose, name: str):
    return make_solver(compose([f"solver={name}"]).solver)


def structure(tree):
    return jax.tree.structure(tree), [(x.shape, x.dtype) for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_step_preserves_state_structure(compose, games, name):
    anti_saddle = games(name)
    solver = solver_from_config(compose, name)
    # compiled, not op by op: one program each instead of one per primitive
    state = jax.jit(lambda key: solver.init(anti_saddle, key))(jax.random.PRNGKey(0))
    step = jax.jit(lambda state, key: solver.step(anti_saddle, state, key))
    new_state, info = step(state, jax.random.PRNGKey(1))
    assert structure(new_state) == structure(state)
    if name == "baseline":  # no iterations: the players stay and cost nothing
        assert int(info["grad_evals"]) == 0
        for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(state)):
            np.testing.assert_array_equal(a, b)
    else:
        assert int(info["grad_evals"]) >= (1 if name == "standard_training" else 2)
    u, v = solver.readout(anti_saddle, new_state)
    if SOLVERS[name].n_player:  # the profile of 4 players' strategies; no follower
        assert u.shape == (4, 2) and v.shape == (0,)
    else:
        assert u.shape == v.shape == (1,)


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_step_compiles_once_and_runs_under_jit_vmap_scan(compose, games, name):
    anti_saddle = games(name)
    solver = solver_from_config(compose, name)
    traces = []

    def step(state, key):
        traces.append(1)  # runs only while tracing
        return solver.step(anti_saddle, state, key)

    jitted = jax.jit(step)
    state = solver.init(anti_saddle, jax.random.PRNGKey(0))
    state, _ = jitted(state, jax.random.PRNGKey(1))
    state, _ = jitted(state, jax.random.PRNGKey(2))
    assert len(traces) == 1, "second call recompiled"

    states = jax.vmap(solver.init, in_axes=(None, 0))(
        anti_saddle, jax.random.split(jax.random.PRNGKey(3), 4)
    )
    scanned, _ = jax.lax.scan(
        lambda s, k: jax.vmap(lambda si, ki: solver.step(anti_saddle, si, ki))(
            s, jax.random.split(k, 4)
        ),
        states,
        jax.random.split(jax.random.PRNGKey(4), 5),
    )
    assert all(
        np.isfinite(np.asarray(x)).all()
        for x in jax.tree.leaves(scanned)
        if jnp.issubdtype(x.dtype, jnp.floating)
    )
    u, _ = jax.vmap(solver.readout, in_axes=(None, 0))(anti_saddle, scanned)
    if SOLVERS[name].n_player:  # 4 runs of a 4-player game in R^2 (no box)
        assert u.shape == (4, 4, 2)
    else:
        assert u.shape == (4, 1) and np.all(np.abs(np.asarray(u)) <= 0.5)


def bilinear(dim: int = 2) -> Problem:
    """f(u, v) = u . v, unconstrained: the unique saddle point is (0, 0)."""
    return Problem(
        name="bilinear",
        f=lambda u, v, batch: jnp.dot(u, v),
        init_u=lambda key: jax.random.normal(key, (dim,)),
        init_v=lambda key: jax.random.normal(key, (dim,)),
    )


def test_gda_spirals_out_on_bilinear_game():
    problem = bilinear()
    sgd = optax.sgd(0.1)
    solver = gda(sgd, sgd)

    def radius(steps):
        state = solver.init(problem, jax.random.PRNGKey(0))
        step = jax.jit(lambda s, k: solver.step(problem, s, k))
        r0 = float(jnp.sqrt(jnp.sum(state.u**2) + jnp.sum(state.v**2)))
        for t in range(steps):
            state, _ = step(state, jax.random.PRNGKey(t))
        return r0, float(jnp.sqrt(jnp.sum(state.u**2) + jnp.sum(state.v**2)))

    r0, r = radius(100)
    # each simultaneous step multiplies the radius by sqrt(1 + lr^2) exactly
    np.testing.assert_allclose(r / r0, (1 + 0.1**2) ** 50, rtol=1e-3)
    assert r > 1.6 * r0


def test_alternating_gda_stays_bounded_on_bilinear_game():
    problem = bilinear()
    sgd = optax.sgd(0.1)
    solver = alt_gda(sgd, sgd)
    state = solver.init(problem, jax.random.PRNGKey(0))
    r0 = float(jnp.sqrt(jnp.sum(state.u**2) + jnp.sum(state.v**2)))
    final, _ = jax.lax.scan(
        lambda s, k: solver.step(problem, s, k),
        state,
        jax.random.split(jax.random.PRNGKey(1), 1000),
    )
    r = float(jnp.sqrt(jnp.sum(final.u**2) + jnp.sum(final.v**2)))
    assert r < 1.5 * r0  # alternating updates are symplectic: no outward spiral


def final_dist(problem, solver, trials=64, steps=400):
    run = jax.jit(make_run(problem, solver, steps=steps, log_every=steps))
    return np.asarray(run(trial_keys(0, trials))["dist"][:, -1])


def test_kbeam_with_ten_candidates_beats_one_on_anti_saddle(anti_saddle):
    one = final_dist(anti_saddle, kbeam(paper_sgd(), paper_sgd(), 1))
    ten = final_dist(anti_saddle, kbeam(paper_sgd(), paper_sgd(), 10))
    # one candidate follows a single local maximiser and the leader drifts to the box edge
    assert one.mean() > 0.4
    assert ten.mean() < 0.1 and ten.mean() < one.mean() / 4


@pytest.mark.optimized  # bitwise, as XLA compiles users' runs (AVX-512 FMA contraction)
def test_kbeam_eps_with_zero_eps_matches_kbeam(anti_saddle):
    steps, trials = 100, 16
    plain = jax.jit(
        make_run(anti_saddle, kbeam(paper_sgd(), paper_sgd(), 5), steps=steps, log_every=10)
    )
    eps0 = jax.jit(
        make_run(
            anti_saddle, kbeam_eps(paper_sgd(), paper_sgd(), 5, eps=0.0), steps=steps, log_every=10
        )
    )
    keys = trial_keys(1, trials)
    a, b = plain(keys), eps0(keys)
    for metric in ("u", "v", "f", "dist"):
        np.testing.assert_allclose(a[metric], b[metric], rtol=1e-6, atol=1e-6)


@pytest.mark.optimized  # bitwise, as XLA compiles users' runs (AVX-512 FMA contraction)
def test_kbeam_eps_with_zero_eps_breaks_exact_ties_as_kbeam(anti_saddle):
    """At u = 0 the candidates v = -1/2 and v = +1/2 tie exactly (f = 1/4). eps = 0 must step at
    the first argmax alone, as kbeam does; eps > 0 takes the hull, whose min-norm point is 0."""
    sgd = optax.sgd(0.1)

    def first_step(solver):
        state = solver.init(anti_saddle, jax.random.PRNGKey(0))
        state = state._replace(u=jnp.zeros(1), candidates=jnp.array([[-0.5], [0.5]]))
        return solver.step(anti_saddle, state, jax.random.PRNGKey(1))[0].u

    plain = first_step(kbeam(sgd, sgd, 2))
    np.testing.assert_allclose(plain, [0.1], rtol=1e-6)  # grad_u f(0, -1/2) = -1
    np.testing.assert_array_equal(first_step(kbeam_eps(sgd, sgd, 2, eps=0.0)), plain)
    for direction in ("min_norm", "random"):
        np.testing.assert_array_equal(
            first_step(kbeam_eps(sgd, sgd, 2, eps=0.0, direction=direction)), plain
        )
    np.testing.assert_allclose(first_step(kbeam_eps(sgd, sgd, 2, eps=0.1)), [0.0], atol=1e-6)


def test_kbeam_with_one_candidate_is_alternating_with_min_step_first(anti_saddle):
    sgd = optax.sgd(0.05)
    solver = kbeam(sgd, sgd, 1)
    state = solver.init(anti_saddle, jax.random.PRNGKey(0))
    u0, v0 = state.u, state.candidates[0]
    state, info = solver.step(anti_saddle, state, jax.random.PRNGKey(1))
    u1 = jnp.clip(u0 - 0.05 * (-2 * u0 + 2 * v0), -0.5, 0.5)
    v1 = jnp.clip(v0 + 0.05 * (2 * v0 + 2 * u1), -0.5, 0.5)
    np.testing.assert_allclose(state.u, u1, rtol=1e-6)
    np.testing.assert_allclose(state.candidates[0], v1, rtol=1e-6)
    assert int(info["grad_evals"]) == 2


def test_kbeam_eps_reaches_the_minimax_point_with_both_directions(anti_saddle):
    """At u* = 0 the two maximisers v = +-0.5 give gradients +-1 whose hull holds 0: u* is
    eps-stationary, and both leader directions must settle there."""
    min_norm = final_dist(
        anti_saddle, kbeam_eps(paper_sgd(), paper_sgd(), 10, eps=0.05), trials=32, steps=300
    )
    random = final_dist(
        anti_saddle,
        kbeam_eps(paper_sgd(), paper_sgd(), 10, eps=0.05, direction="random"),
        trials=32,
        steps=300,
    )
    assert min_norm.mean() < 0.1 and random.mean() < 0.2


def test_factories_reject_bad_parameters():
    with pytest.raises(ValueError, match="k=0"):
        kbeam(paper_sgd(), paper_sgd(), 0)
    with pytest.raises(ValueError, match="eps=-0.1"):
        kbeam_eps(paper_sgd(), paper_sgd(), 2, eps=-0.1)
    with pytest.raises(ValueError, match="direction"):
        kbeam_eps(paper_sgd(), paper_sgd(), 2, eps=0.1, direction="sideways")


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_every_float_hyperparameter_can_be_traced(compose, games, name):
    """A fused sweep passes the solver config's floats into the program as traced values: every
    factory must build and step with them, and give the numbers it gives with constants."""
    from omegaconf import OmegaConf

    from gamebench.sweep import Member, _Namespace, _set, group_parameters

    anti_saddle = games(name)
    problem = "quadratic_nplayer" if SOLVERS[name].n_player else "anti_saddle"
    config = OmegaConf.to_container(compose([f"solver={name}", f"problem={problem}"]), resolve=True)
    _, params = group_parameters([Member(0, "", config, "")])

    def first_steps(values):
        solver_cfg = json.loads(json.dumps(config["solver"]))
        for path, value in values.items():
            _set(solver_cfg, path, value[0])
        solver = make_solver(_Namespace.of(solver_cfg))
        state = solver.init(anti_saddle, jax.random.PRNGKey(0))
        for t in range(3):
            state, _ = solver.step(anti_saddle, state, jax.random.PRNGKey(t))
        return solver.readout(anti_saddle, state)

    traced = jax.jit(first_steps)(params)
    # the same values as Python floats: constants of the program, not its arguments
    constant = jax.jit(lambda: first_steps({path: [float(v[0])] for path, v in params.items()}))()
    for a, b in zip(jax.tree.leaves(traced), jax.tree.leaves(constant)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
