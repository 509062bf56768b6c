"""Bilevel solvers against closed forms and known answers."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gamebench.problems import make_quadratic
from gamebench.problems.bilevel import make_iaptt_toy, make_quadratic_bilevel, make_smd
from gamebench.run import make_final_players, trial_keys
from gamebench.solvers import gda
from gamebench.solvers.bilevel import (
    approxgrad,
    bda,
    fmd,
    implicit,
    penalty,
    rmd,
)

REAL = os.environ.get("GAMEBENCH_DATA")

# each builds a solver whose leader takes exactly one step of -1 x its hypergradient estimate
HYPERGRADIENT_SOLVERS = {
    "approxgrad": lambda: approxgrad(optax.sgd(1.0), 0.1, 200, 500, 0.02),
    "implicit_cg": lambda: implicit(optax.sgd(1.0), 0.1, 200, "cg", 20),
    "implicit_neumann": lambda: implicit(optax.sgd(1.0), 0.1, 200, "neumann", 300),
    "rmd": lambda: rmd(optax.sgd(1.0), 0.1, 300),
    "rmd_truncated": lambda: rmd(optax.sgd(1.0), 0.1, 300, truncate=150),
    "fmd": lambda: fmd(optax.sgd(1.0), 0.1, 300),
    "bda_alpha0": lambda: bda(optax.sgd(1.0), 0.1, 300, alpha=0.0),
}


@pytest.mark.parametrize("name", sorted(HYPERGRADIENT_SOLVERS))
def test_hypergradient_matches_the_closed_form_on_a_quadratic(name):
    problem = make_quadratic_bilevel(dim=5, matrix_seed=0, mu=0.1)
    solver = HYPERGRADIENT_SOLVERS[name]()
    u = jax.random.normal(jax.random.PRNGKey(1), (5,))
    v0 = problem.info["best_response"](u) + 0.01
    state = solver.init(problem, jax.random.PRNGKey(0))._replace(u=u, v=v0)
    new, info = jax.jit(lambda s, k: solver.step(problem, s, k))(state, jax.random.PRNGKey(0))
    estimate = u - new.u
    exact = problem.info["hypergradient"](u)
    assert float(jnp.linalg.norm(estimate - exact) / jnp.linalg.norm(exact)) < 1e-4
    assert int(info["grad_evals"]) > 0
    if name == "fmd":
        assert int(info["jvps"]) == 300 * 5  # one JVP per step and leader coordinate
    else:
        assert int(info["jvps"]) == 0


@pytest.mark.parametrize(
    "which, lr_v, tolerance",
    [("smd20", 0.02, 0.01), ("smd21", 0.02, 0.05), ("smd23", 3e-4, 0.25), ("smd24", 3e-4, 0.01)],
)
def test_penalty_reaches_the_synthetic_problems_solutions(which, lr_v, tolerance):
    problem = make_smd(which)
    solver = penalty(optax.sgd(0.01), lr_v, inner_steps=10)
    train = jax.jit(make_final_players(problem, solver, steps=5000))
    u, v = train(trial_keys(0, 2))
    dist = jax.vmap(lambda u, v: problem.metrics(u, v, None)["dist"])(u, v)
    start = jax.vmap(lambda k: problem.metrics(problem.init_u(k), problem.init_v(k), None)["dist"])(
        trial_keys(0, 2)
    )
    assert (np.asarray(start) > 5).all() and (np.asarray(dist) < tolerance).all(), dist


def test_iaptt_gm_reaches_the_global_optimum_of_its_example():
    from gamebench.solvers.bilevel import iaptt_gm

    problem = make_iaptt_toy()
    train = jax.jit(
        make_final_players(problem, iaptt_gm(optax.sgd(0.01), 0.01, 1, optax.sgd(0.01)), steps=3000)
    )
    (x,), (y,) = (a[0] for a in train(trial_keys(0, 1)))
    assert abs(float(x) - 11 * np.pi / 4) < 0.05 and float(y) < -1.98
    # unrolled differentiation from the same start stays at the weaker local optimum x = 1
    (x_rmd,), _ = (
        a[0]
        for a in jax.jit(make_final_players(problem, rmd(optax.sgd(0.01), 0.01, 1), steps=3000))(
            trial_keys(0, 1)
        )
    )
    assert float(x_rmd) < 3.0


def test_a_minimax_game_through_a_bilevel_solver_behaves_like_its_minimax_counterpart():
    # g = -f (no g given): the implicit hypergradient is Danskin's gradient of max_v f; on a strongly
    # convex-concave quadratic both it and GDA reach the saddle point (0, 0)
    problem = make_quadratic("strongly_convex_concave", 2, 0, 1.0)
    for solver in (
        implicit(optax.sgd(0.1), 0.1, 20, "cg", 10),
        gda(optax.sgd(0.1), optax.sgd(0.1)),
    ):
        u, v = jax.jit(make_final_players(problem, solver, steps=500))(trial_keys(0, 3))
        assert float(jnp.abs(u).max()) < 1e-3 and float(jnp.abs(v).max()) < 1e-3


@pytest.mark.skipif(
    not REAL, reason="GAMEBENCH_DATA is not set: no real dataset directory configured"
)
def test_hypercleaning_at_smoke_size_beats_training_on_the_noisy_set():
    from gamebench.problems.hypercleaning import (
        hypercleaning_arrays,
        make_hypercleaning_from_arrays,
    )
    from gamebench.solvers import baseline

    # 5 noisy training examples per clean validation one, as in the experiment (5,000 / 1,000): the
    # noisy baseline fits the validation set too, so with as many clean examples it is strong
    arrays = hypercleaning_arrays(n_train=1000, n_val=200, noise=0.5, seed=0)
    problem = make_hypercleaning_from_arrays(arrays, mu=1e-3, refit_steps=100)
    solver = rmd(optax.sgd(100.0), 1.0, inner_steps=10)
    u, v = jax.jit(make_final_players(problem, solver, steps=100))(trial_keys(0, 1), problem.data)
    metrics = problem.metrics(u[0], jax.tree.map(lambda a: a[0], v), None)
    fits = {}
    for name in ("noisy", "oracle"):  # the baselines as the `baseline` solver runs them
        u_b, v_b = jax.jit(make_final_players(problem, baseline(name), steps=1))(
            trial_keys(0, 1), problem.data
        )
        fits[name] = problem.metrics(u_b[0], jax.tree.map(lambda a: a[0], v_b), None)
    assert float(metrics["test_acc"]) > float(fits["noisy"]["test_acc"]) + 0.03
    assert float(metrics["refit_acc"]) > float(fits["noisy"]["test_acc"]) + 0.03
    assert float(metrics["precision"]) > 0.7 and float(metrics["recall"]) > 0.5
    # the oracle knows which labels were changed: its u flags exactly those, and it fits best
    assert float(fits["oracle"]["precision"]) == 1.0 and float(fits["oracle"]["recall"]) == 1.0
    assert float(fits["oracle"]["test_acc"]) > float(metrics["test_acc"])
