"""The min-norm direction of kbeam_eps against brute force, and the simplex projection it uses."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gamebench.solvers.hull import min_norm_weights, project_to_simplex, random_convex_weights


def sorted_projection(y: np.ndarray) -> np.ndarray:
    """Textbook sort-based Euclidean projection onto the simplex (Duchi et al. 2008)."""
    s = np.sort(y)[::-1]
    css = np.cumsum(s) - 1.0
    rank = np.arange(1, y.size + 1)
    rho = np.nonzero(s - css / rank > 0)[0][-1] + 1
    return np.maximum(y - css[rho - 1] / rho, 0.0)


def brute_force_min_norm(vectors: np.ndarray) -> float:
    """min ||w @ G|| over the simplex: the optimum lies in the affine hull of some subset with
    positive weights, so try every subset's affine min-norm point and keep the feasible best."""
    best = np.inf
    k = vectors.shape[0]
    for size in range(1, k + 1):
        for subset in itertools.combinations(range(k), size):
            g = vectors[list(subset)]
            # minimise ||w g||^2 s.t. sum w = 1: KKT system [2 G G^T, 1; 1^T, 0]
            kkt = np.zeros((size + 1, size + 1))
            kkt[:size, :size] = 2 * g @ g.T
            kkt[:size, size] = kkt[size, :size] = 1.0
            rhs = np.zeros(size + 1)
            rhs[size] = 1.0
            try:
                w = np.linalg.solve(kkt, rhs)[:size]
            except np.linalg.LinAlgError:
                continue
            if np.all(w >= -1e-12):
                best = min(best, float(np.linalg.norm(w @ g)))
    return best


def test_projection_matches_sort_based_reference_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(100):
        y = rng.normal(size=7) * rng.choice([0.1, 1.0, 10.0])
        y[rng.integers(7)] = y[0]  # a tie
        got = np.asarray(project_to_simplex(jnp.asarray(y, jnp.float32), jnp.ones(7, bool)))
        np.testing.assert_allclose(got, sorted_projection(y), atol=2e-5)


def test_projection_respects_the_active_mask():
    y = jnp.array([0.3, 2.0, 0.1, -1.0])
    active = jnp.array([True, False, True, True])
    w = np.asarray(project_to_simplex(y, active))
    assert w[1] == 0.0
    np.testing.assert_allclose(w.sum(), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        w[[0, 2, 3]], sorted_projection(np.array([0.3, 0.1, -1.0])), atol=1e-6
    )


@pytest.mark.parametrize("k,n", [(2, 2), (3, 2), (4, 3), (5, 2), (6, 4)])
def test_min_norm_matches_brute_force(k, n):
    rng = np.random.default_rng(k * 10 + n)
    solve = jax.jit(min_norm_weights, static_argnums=2)
    for _ in range(5):
        vectors = rng.normal(size=(k, n)) + rng.normal(size=(1, n))  # correlated, like gradients
        w = np.asarray(solve(jnp.asarray(vectors, jnp.float32), jnp.ones(k, bool), 300))
        assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-5
        np.testing.assert_allclose(
            np.linalg.norm(w @ vectors), brute_force_min_norm(vectors), atol=2e-3
        )


def test_min_norm_uses_only_active_vectors():
    vectors = jnp.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]])
    w = min_norm_weights(vectors, jnp.array([True, False, True]))
    assert float(w[1]) == 0.0
    np.testing.assert_allclose(
        np.linalg.norm(np.asarray(w) @ np.asarray(vectors)),
        brute_force_min_norm(np.array([[1.0, 0.0], [0.0, 2.0]])),
        atol=1e-4,
    )


def test_single_active_vector_gets_all_the_weight():
    vectors = jnp.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]])
    w = min_norm_weights(vectors, jnp.array([False, True, False]))
    np.testing.assert_array_equal(np.asarray(w), [0.0, 1.0, 0.0])


def test_random_weights_lie_on_the_active_simplex():
    active = jnp.array([True, False, True, True, False])
    w = jax.vmap(lambda key: random_convex_weights(key, active))(
        jax.random.split(jax.random.PRNGKey(1), 200)
    )
    w = np.asarray(w)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(w[:, [1, 4]] == 0) and np.all(w >= 0)
    assert np.all(w[:, [0, 2, 3]].std(axis=0) > 0.1)  # genuinely random
