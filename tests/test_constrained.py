"""Constrained learning as a game on the Lagrangian (issue 17): the formulations' updates, the
proxy dual player, feasibility under the primal-dual solvers on a synthetic fairness task, and the
report's choice of the tuned penalty."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from gamebench.game import follower_loss
from gamebench.problems.constrained import make_constrained_from_arrays, skewed_subsample
from gamebench.reports.constrained import summary, table_from_rows, tuned_penalty
from gamebench.solvers import alt_gda, gda


def _synthetic_fairness(n=600, seed=0):
    """Labels correlated with the group through one feature: an unconstrained fit uses it."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 2, n)
    y = (rng.random(n) < np.where(group == 1, 0.8, 0.2)).astype(np.float32)
    x = np.stack(
        [
            2.0 * y - 1.0 + rng.normal(0, 1.5, n),  # a noisy view of the label
            2.0 * group - 1.0 + rng.normal(0, 0.3, n),  # the group, sharply
            rng.normal(0, 1, n),
        ],
        axis=1,
    ).astype(np.float32)
    arrays = {"x_train": x, "y_train": y, "group_train": group.astype(np.float32)}
    return arrays | {"x_test": x, "y_test": y, "group_test": group.astype(np.float32)}


def _run(problem, solver, steps=3000, seed=0):
    def run(key):
        state = solver.init(problem, key)
        state, _ = jax.lax.scan(
            lambda s, k: (solver.step(problem, s, k)[0], None), state, jax.random.split(key, steps)
        )
        u, v = solver.readout(problem, state)
        return problem.metrics(u, v, key)

    return {k: float(v) for k, v in jax.jit(run)(jax.random.PRNGKey(seed)).items()}


def test_skewed_subsample_sets_the_conditional_label_rates():
    rng = np.random.default_rng(1)
    y, group = rng.integers(0, 2, 4000), rng.integers(0, 2, 4000)
    keep = skewed_subsample(y, group, 0.25, seed=0)
    assert np.isclose(y[keep][group[keep] == 1].mean(), 0.75, atol=0.01)
    assert np.isclose(y[keep][group[keep] == 0].mean(), 0.25, atol=0.01)


def test_the_dual_player_sees_the_thresholded_rates():
    arrays = _synthetic_fairness()
    problem = make_constrained_from_arrays("fairness", arrays, bound=0.05, proxy=True)
    u = (jnp.asarray([0.1, 2.0, 0.0]), jnp.zeros(()))
    lam = jnp.asarray([0.3, 0.0])
    grad = jax.grad(follower_loss(problem), argnums=1)(u, lam, None)
    scores = arrays["x_train"] @ np.asarray(u[0])
    group = arrays["group_train"] > 0.5
    gap = (scores[group] > 0).mean() - (scores[~group] > 0).mean()
    np.testing.assert_allclose(-np.asarray(grad), [gap - 0.05, -gap - 0.05], atol=1e-6)


def test_one_dual_step_of_size_rho_is_the_method_of_multipliers():
    arrays = _synthetic_fairness()
    rho = 0.7
    problem = make_constrained_from_arrays("fairness", arrays, "augmented", 0.05, rho=rho)
    solver = alt_gda(optax.sgd(0.0), optax.sgd(rho))  # the primal player held still
    state = solver.init(problem, jax.random.PRNGKey(0))
    state = state._replace(
        u=(jnp.asarray([0.1, 2.0, 0.0]), jnp.zeros(())), v=jnp.asarray([0.2, 0.4])
    )
    new, _ = solver.step(problem, state, jax.random.PRNGKey(1))
    scores = arrays["x_train"] @ np.asarray([0.1, 2.0, 0.0])
    group = arrays["group_train"] > 0.5
    gap = (scores[group] > 0).mean() - (scores[~group] > 0).mean()
    c = np.asarray([gap - 0.05, -gap - 0.05])
    np.testing.assert_allclose(new.v, np.maximum(0.0, [0.2, 0.4] + rho * c), atol=1e-6)


@pytest.mark.parametrize("formulation", ["lagrangian", "augmented"])
def test_primal_dual_ends_feasible_where_the_unconstrained_fit_is_not(formulation):
    arrays = _synthetic_fairness()
    free = make_constrained_from_arrays("fairness", arrays, "penalty", 0.05, penalty=0.0)
    unconstrained = _run(free, gda(optax.sgd(0.5), optax.sgd(0.5)))
    assert unconstrained["violation"] > 0.2  # the group feature carries the label
    # a dual step of 0.5 leaves the last iterate oscillating around the boundary on this data
    problem = make_constrained_from_arrays("fairness", arrays, formulation, 0.05, rho=0.1)
    constrained = _run(problem, gda(optax.sgd(0.5), optax.sgd(0.1)))
    assert constrained["violation"] <= 0.01
    assert constrained["lambda_max"] > 0
    assert constrained["objective"] > unconstrained["objective"]  # the constraint costs something


def test_the_tuned_penalty_is_the_best_one_at_least_as_feasible():
    rows = []
    fits = {  # method -> (objective, violation), made up to exercise the choice
        ("lagrangian", "gda", 0.0): (0.50, 0.001),
        ("penalty", "gda", 0.0): (0.20, 0.40),
        ("penalty", "gda", 10.0): (0.40, 0.05),
        ("penalty", "gda", 100.0): (0.55, 0.002),
        ("penalty", "gda", 1000.0): (0.60, 0.0),
    }
    for job, ((formulation, solver, penalty), (objective, violation)) in enumerate(fits.items()):
        for trial in (0, 1):
            rows.append(
                {
                    "job": str(job), "trial": trial, "step": 100, "solver": solver,
                    "problem.task": "fairness", "problem.formulation": formulation,
                    "problem.penalty": penalty, "problem.bound": 0.05, "objective": objective,
                    "violation": violation, "smooth_violation": 0.0, "lambda_max": 1.0,
                    "train_acc": 0.9, "test_acc": 0.9, "train_parity_gap": 0.05,
                    "test_parity_gap": 0.05,
                }
            )  # fmt: skip
    table = summary(table_from_rows(pd.DataFrame(rows)))
    assert list(table.method) == [
        "unconstrained", "lagrangian/gda", "penalty c=10", "penalty c=100", "penalty c=1000",
    ]  # fmt: skip
    best = tuned_penalty(table, "fairness", violation=0.001)
    assert best.method == "penalty c=100"  # 0.002 is within EQUAL_FEASIBILITY of 0.001
    assert tuned_penalty(table, "fairness", violation=-1.0) is None
