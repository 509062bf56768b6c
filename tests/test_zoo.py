"""Textbook behaviour of the zoo's solvers, their cost accounting, the bilinear and quadratic
games, and the zoo script's outputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from gamebench.problems import make_bilinear, make_quadratic
from gamebench.run import compile_and_run, diverged, make_run, trial_keys
from gamebench.solvers import (
    cgd,
    consensus,
    extragradient,
    follow_the_ridge,
    gda,
    optimistic_gda,
    sga,
    unrolled,
)
from gamebench.solvers.curvature import conjugate_gradient


def sgd():
    return optax.sgd(0.1)


def distances(problem, solver, steps=400, trials=8):
    """Distance of the joint point (u, v) to the solution (0, 0) at the start and the end."""
    out = compile_and_run(
        make_run(problem, solver, steps=steps, log_every=steps), trial_keys(0, trials)
    ).outputs
    coords = [v for k, v in out.items() if k.startswith(("u_", "v_"))]
    radius = np.sqrt(sum(c.astype(np.float64) ** 2 for c in coords))
    return radius[:, 0], radius[:, -1], diverged(out)


def test_gda_spirals_out_on_the_bilinear_game():
    start, end, _ = distances(make_bilinear(2), gda(sgd(), sgd()))
    assert np.all(end > 5 * start)


@pytest.mark.parametrize(
    "name, build",
    [
        ("extragradient", lambda: extragradient(sgd(), sgd())),
        ("optimistic_gda", lambda: optimistic_gda(sgd(), sgd())),
        ("consensus", lambda: consensus(sgd(), sgd(), gamma=0.5)),
        ("sga", lambda: sga(sgd(), sgd(), gamma=1.0)),
        ("cgd", lambda: cgd(sgd(), sgd(), eta=0.1, cg_iters=5)),
    ],
)
def test_converges_on_the_bilinear_game(name, build):
    start, end, bad = distances(make_bilinear(2), build())
    assert not bad.any()
    assert np.all(end < 0.3 * start), (name, end / start)


def test_follow_the_ridge_finds_the_local_minimax_point_gda_is_repelled_from():
    problem = make_quadratic("ridge", dim=2)
    _, ridge_end, ridge_bad = distances(
        problem, follow_the_ridge(sgd(), sgd(), cg_iters=2), steps=200
    )
    assert not ridge_bad.any() and np.all(ridge_end < 1e-6)
    gda_start, gda_end, gda_bad = distances(problem, gda(sgd(), sgd()), steps=200)
    assert np.all(gda_bad | (gda_end > gda_start))


def test_strongly_convex_concave_quadratic_is_solved_by_plain_gda():
    problem = make_quadratic("strongly_convex_concave", dim=4, matrix_seed=1)
    start, end, _ = distances(problem, gda(sgd(), sgd()), steps=400)
    assert np.all(end < 1e-3 * start)


@pytest.mark.parametrize("kind", ["strongly_convex_concave", "ridge"])
def test_quadratic_solution_is_the_minimax_point(kind):
    problem = make_quadratic(kind, dim=3, matrix_seed=2)
    u = jax.random.normal(jax.random.PRNGKey(0), (200, 3))
    phi = jax.vmap(problem.worst_case)(u)
    assert float(problem.worst_case(jnp.zeros(3))) == problem.solution.value == 0.0
    assert np.all(np.asarray(phi) > 0)
    # phi really is max_v f: the maximiser solves grad_v f = 0, and f there equals phi
    v_star = jax.vmap(
        lambda uu: jnp.linalg.solve(
            jax.hessian(problem.f, 1)(uu, jnp.zeros(3), None),
            -jax.grad(problem.f, 1)(uu, jnp.zeros(3), None),
        )
    )(u)
    f_at = jax.vmap(lambda a, b: problem.f(a, b, None))(u, v_star)
    np.testing.assert_allclose(f_at, phi, rtol=1e-4, atol=1e-5)


def test_unknown_quadratic_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown quadratic kind 'cubic'"):
        make_quadratic("cubic")


def test_conjugate_gradient_solves_a_definite_system():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    matrix = (q * np.linspace(1.0, 4.0, 6)) @ q.T
    rhs = rng.normal(size=6)
    x = conjugate_gradient(
        lambda y: jnp.asarray(matrix, jnp.float32) @ y, jnp.asarray(rhs, jnp.float32), 6
    )
    np.testing.assert_allclose(x, np.linalg.solve(matrix, rhs), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(conjugate_gradient(lambda y: y, jnp.zeros(3), 4), np.zeros(3))


def test_cgd_step_matches_the_closed_form_on_a_bilinear_game():
    """f = u' A v: D_uv = A, so du = -eta (I + eta^2 A A')^{-1} (A v + eta A A' u)."""
    problem = make_bilinear(3, matrix_seed=5)
    eta = 0.2
    solver = cgd(optax.sgd(eta), optax.sgd(eta), eta=eta, cg_iters=6)
    state = solver.init(problem, jax.random.PRNGKey(0))
    new, info = solver.step(problem, state, jax.random.PRNGKey(1))
    a = np.asarray(jax.hessian(lambda z: problem.f(z[:3], z[3:], None))(jnp.zeros(6)))[:3, 3:]
    u, v = np.asarray(state.u, np.float64), np.asarray(state.v, np.float64)
    du = -eta * np.linalg.solve(np.eye(3) + eta**2 * a @ a.T, a @ v + eta * a @ a.T @ u)
    dv = eta * np.linalg.solve(np.eye(3) + eta**2 * a.T @ a, a.T @ u - eta * a.T @ a @ v)
    np.testing.assert_allclose(new.u - state.u, du, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(new.v - state.v, dv, rtol=1e-3, atol=1e-5)
    assert int(info["hvps"]) == 2 + 4 * 6 and int(info["grad_evals"]) == 2


def test_costs_accumulate_over_steps():
    out = compile_and_run(
        make_run(make_bilinear(2), unrolled(sgd(), sgd(), inner_steps=3), steps=20, log_every=10),
        trial_keys(0, 2),
    ).outputs
    np.testing.assert_array_equal(out["grad_evals"][0], [0, 50, 100])  # 3 unrolled + 2 per step
    np.testing.assert_array_equal(out["hvps"][0], [0, 30, 60])


def test_reproduce_zoo_writes_the_promised_columns(tmp_path):
    script = Path(__file__).resolve().parent.parent / "scripts" / "reproduce_zoo.py"
    spec = importlib.util.spec_from_file_location("reproduce_zoo", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = ["--out", str(tmp_path), "--trials", "4", "--steps", "100", "--log-every", "50"]
    assert module.main([*args, "--surfaces", "seesaw", "--solvers", "gda", "sga", "cgd"]) == 0
    table = pd.read_csv(tmp_path / "zoo_table.csv")
    assert list(table.columns) == [
        "surface", "solver", "mean_dist", "std_dist", "mean_gap", "frac_within_0.01", "grad_evals", "hvps",
    ]  # fmt: skip
    assert table.solver.tolist() == ["gda", "sga", "cgd"]
    assert table.set_index("solver").loc["cgd", "hvps"] == 100 * (2 + 4 * 10)
    curves = pd.read_csv(tmp_path / "zoo_curves.csv")
    assert curves.step.unique().tolist() == [0, 50, 100]
    assert (tmp_path / "zoo_error_vs_cost.png").stat().st_size > 10_000
