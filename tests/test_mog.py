"""The mixture-of-Gaussians GAN: its JSD estimator, mode metrics, K-beam initialisation and a short
training run, on reduced network and sample sizes so the suite stays fast."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gamebench.nn import mlp_init, orthogonal
from gamebench.problems import make_mog_gan
from gamebench.problems.mog_gan import (
    distinct_modes,
    histogram_probabilities,
    jensen_shannon,
    mixture_centres,
    mode_metrics,
    sample_mixture,
)
from gamebench.run import compile_and_run, make_run, trial_keys
from gamebench.solvers import kbeam


def test_layouts():
    even = mixture_centres(8, "even")
    paper = mixture_centres(8, "paper_code")
    assert len(distinct_modes(even)) == 8
    assert len(distinct_modes(paper)) == 7  # linspace(0, 2 pi, 8) repeats its first angle
    np.testing.assert_allclose(np.linalg.norm(even, axis=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="unknown layout 'grid'"):
        mixture_centres(8, "grid")


def test_histogram_matches_numpy_histogram2d():
    points = np.random.default_rng(0).uniform(-2.5, 2.5, size=(5000, 2)).astype(np.float32)
    counts, _, _ = np.histogram2d(points[:, 0], points[:, 1], bins=20, range=[[-2, 2], [-2, 2]])
    expected = (counts + 1).reshape(-1) / (counts + 1).sum()
    np.testing.assert_allclose(histogram_probabilities(jnp.asarray(points)), expected, rtol=1e-5)


def test_jsd_is_near_its_floor_for_data_and_large_for_one_collapsed_mode():
    centres = jnp.asarray(mixture_centres(8, "even"))
    p_data = histogram_probabilities(sample_mixture(jax.random.PRNGKey(0), centres, 0.01, 640_000))
    fresh = histogram_probabilities(sample_mixture(jax.random.PRNGKey(1), centres, 0.01, 64_000))
    collapsed = histogram_probabilities(
        centres[3][None, :] + 0.01 * jax.random.normal(jax.random.PRNGKey(2), (64_000, 2))
    )
    floor, bad = float(jensen_shannon(p_data, fresh)), float(jensen_shannon(p_data, collapsed))
    assert floor < 0.01
    assert bad > 0.4  # one of eight modes: most mass disagrees
    assert float(jensen_shannon(p_data, p_data)) == pytest.approx(0.0, abs=1e-7)


def test_mode_metrics_on_constructed_samples():
    modes = jnp.asarray(mixture_centres(8, "even"))
    key = jax.random.PRNGKey(0)
    on_three = modes[jnp.arange(3000) % 3] + 0.01 * jax.random.normal(key, (3000, 2))
    m = mode_metrics(on_three, modes, std=0.01)
    assert float(m["modes_covered"]) == 3
    assert float(m["high_quality"]) > 0.97  # 3 std covers 98.9 % of a 2D Gaussian's mass... nearly
    far = jnp.zeros((1000, 2))  # all samples at the centre of the circle: none is high quality
    m = mode_metrics(far, modes, std=0.01)
    assert float(m["high_quality"]) == 0.0 and float(m["modes_covered"]) == 0


def test_orthogonal_init_has_orthonormal_columns_and_gain():
    for shape in [(128, 128), (256, 128), (2, 128)]:
        w = np.asarray(orthogonal(jax.random.PRNGKey(0), shape, gain=1.4)) / 1.4
        gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
        np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-5)
    layers = mlp_init(jax.random.PRNGKey(1), [4, 8, 1], gain=1.0)
    assert [w.shape for w, _ in layers] == [(4, 8), (8, 1)]
    assert all(float(jnp.abs(b).max()) == 0.0 for _, b in layers)


def small_gan(**overrides):
    settings = dict(z_dim=16, hidden=32, batch=64, jsd_data_samples=64_000, jsd_gen_samples=8_000)
    return make_mog_gan(**(settings | overrides))


def test_kbeam_candidates_start_from_different_discriminators():
    solver = kbeam(optax.adam(1e-3), optax.adam(1e-3), k=3)
    problem = small_gan()
    state = jax.jit(lambda key: solver.init(problem, key))(jax.random.PRNGKey(0))
    first_layer = np.asarray(state.candidates[0][0])  # (k, 2, hidden)
    assert first_layer.shape[0] == 3
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.allclose(first_layer[i], first_layer[j])


def test_per_candidate_leader_state_has_one_adam_state_per_candidate():
    problem = small_gan()
    solver = kbeam(optax.adam(1e-3), optax.adam(1e-3), k=3, leader_state="per_candidate")
    state = jax.jit(lambda key: solver.init(problem, key))(jax.random.PRNGKey(0))
    mu = state.opt_state_u[0].mu[0][0]  # adam's first moment of the generator's first weight
    assert mu.shape[0] == 3
    new, _ = jax.jit(lambda s, key: solver.step(problem, s, key))(state, jax.random.PRNGKey(1))
    moved = [not np.allclose(new.opt_state_u[0].mu[0][0][i], 0.0) for i in range(3)]
    assert sum(moved) == 1 and moved[int(new.selected)]  # only the selected candidate's state


def test_a_short_training_run_lowers_the_jsd():
    problem = small_gan()
    solver = kbeam(optax.adam(3e-3, b1=0.5), optax.adam(1e-3, b1=0.5), k=2)
    out = compile_and_run(
        make_run(problem, solver, steps=600, log_every=300, headline="jsd"), trial_keys(0, 2)
    ).outputs
    assert out["samples"].shape == (2, 3, 256, 2)
    assert np.all(out["jsd"][:, -1] < out["jsd"][:, 0] - 0.02), out["jsd"]


def test_core_solvers_run_the_gan_without_special_cases():
    from gamebench.solvers import alt_gda, gda, kbeam_eps

    problem = small_gan(jsd_gen_samples=2_000)
    adam = optax.adam(1e-3, b1=0.5)
    solvers = {
        "gda": gda(adam, adam),
        "alt_gda": alt_gda(adam, adam),
        "kbeam": kbeam(adam, adam, k=2),
        "kbeam_eps": kbeam_eps(adam, adam, k=2, eps=0.1),
    }
    runs = {
        name: make_run(problem, s, steps=4, log_every=2, headline="jsd")
        for name, s in solvers.items()
    }
    out = compile_and_run(
        lambda keys: {n: r(keys) for n, r in runs.items()}, trial_keys(0, 1)
    ).outputs
    for name, metrics in out.items():
        assert np.isfinite(metrics["jsd"]).all() and np.isfinite(metrics["f"]).all(), name
