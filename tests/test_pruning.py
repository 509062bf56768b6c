"""Bilevel pruning (issue 17): the top-k mask and its straight-through gradient, BiP's
hypergradient where its Hessian assumption is exact, and the IMP baseline's mask."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gamebench.game import Problem
from gamebench.problems.pruning import (
    SIZES,
    imp_rounds_for,
    make_pruning_from_arrays,
    straight_through_mask,
    top_k_mask,
)
from gamebench.solvers import bip


def test_top_k_mask_keeps_exactly_k_over_all_layers():
    scores = [jnp.asarray([[0.1, 0.9], [0.5, 0.2]]), jnp.asarray([0.8, 0.3, 0.7])]
    masks = top_k_mask(scores, 3)
    np.testing.assert_array_equal(masks[0], [[0, 1], [0, 0]])
    np.testing.assert_array_equal(masks[1], [1, 0, 1])
    # forward: the binary mask; backward: the identity to the scores
    value, grad = jax.value_and_grad(lambda s: jnp.sum(straight_through_mask(s, 3)[1] * 2.0))(
        scores
    )
    assert float(value) == 4.0
    np.testing.assert_array_equal(grad[1], [2.0, 2.0, 2.0])


def test_bip_is_the_exact_hypergradient_when_the_follower_hessian_is_gamma_identity():
    """g = (gamma / 2)|v - A u|^2 has Hess_vv g = gamma I: BiP's assumption holds, and after the
    inner loop converges its direction is d/du f(u, A u) exactly."""
    gamma = 2.0
    a = jnp.asarray([[1.0, 0.5], [-0.3, 2.0], [0.7, 0.1]])
    c = jnp.asarray([0.2, -1.0, 0.4])
    problem = Problem(
        name="gamma_quadratic",
        f=lambda u, v, batch: jnp.sum((v - c) ** 2) + jnp.sum(u**2),
        g=lambda u, v, batch: 0.5 * gamma * jnp.sum((v - a @ u) ** 2),
        init_u=lambda key: jnp.asarray([0.3, -0.6]),
        init_v=lambda key: jnp.zeros(3),
    )
    solver = bip(optax.sgd(1.0), lr_v=0.25, inner_steps=200, gamma=gamma)
    state = solver.init(problem, jax.random.PRNGKey(0))
    new, info = solver.step(problem, state, jax.random.PRNGKey(1))
    u = jnp.asarray([0.3, -0.6])
    expected = jax.grad(lambda u: jnp.sum((a @ u - c) ** 2) + jnp.sum(u**2))(u)
    np.testing.assert_allclose(u - new.u, expected, rtol=1e-5, atol=1e-6)
    assert int(info["hvps"]) == 1 and int(info["grad_evals"]) == 202


def _tiny_arrays(n=256, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n).astype(np.int32)
    x = rng.normal(0, 0.1, (n, 784)).astype(np.float32)
    x[np.arange(n), y * 70] += 3.0  # one informative pixel per class
    return {"x_train": x, "y_train": y, "x_test": x, "y_test": y}


@pytest.mark.parametrize("sparsity", [0.5, 0.9])
def test_the_imp_baseline_prunes_to_the_target_and_learns(sparsity):
    problem = make_pruning_from_arrays(
        _tiny_arrays(), sparsity=sparsity, batch=32, imp_round_steps=40, imp_lr=0.05
    )
    masks, theta = jax.jit(problem.baselines["imp"])(jax.random.PRNGKey(0))
    kept = sum(float(jnp.sum(m)) for m in masks)
    n = sum(a * b for a, b in zip(SIZES, SIZES[1:]))
    assert kept == round((1 - sparsity) * n)
    metrics = problem.metrics(masks, theta, jax.random.PRNGKey(0))
    assert abs(float(metrics["sparsity"]) - sparsity) < 1e-4
    assert float(metrics["test_acc"]) > 0.5  # chance is 0.1
    assert problem.info["imp_rounds"] == imp_rounds_for(sparsity)


def test_the_report_counts_imp_rounds_as_the_problem_runs_them():
    from gamebench.reports import pruning as report

    for sparsity in (0.5, 0.8, 0.9, 0.95, 0.99):
        assert report.imp_rounds_for(sparsity) == imp_rounds_for(sparsity)
    assert [imp_rounds_for(s) for s in (0.5, 0.8, 0.9, 0.95)] == [4, 8, 11, 14]
