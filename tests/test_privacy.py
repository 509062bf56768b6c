"""Privacy filter: baselines on constructed data with known answers, the evaluation protocol, the
minimax filter against PCA, and HAR windowing."""

from __future__ import annotations

import os

import jax
import numpy as np
import optax
import pytest

from gamebench.data.privacy import PrivacyData, activity_windows
from gamebench.problems import make_privacy_filter
from gamebench.problems.privacy_filter import baseline_filter, filter_output, protocol_accuracies
from gamebench.run import make_final_players, make_run, trial_keys
from gamebench.solvers import baseline, danskin

REAL = os.environ.get("GAMEBENCH_DATA")


def planted(n: int = 400, dim: int = 6, seed: int = 0) -> PrivacyData:
    """Private label along e0 with a large shift, utility label along e1 with a smaller one."""
    rng = np.random.default_rng(seed)

    def split(n):
        util, priv = rng.integers(0, 2, n), rng.integers(0, 2, n)
        x = 0.3 * rng.standard_normal((n, dim))
        x[:, 0] += 3.0 * (2 * priv - 1)
        x[:, 1] += 1.0 * (2 * util - 1)
        return x.astype(np.float32), util.astype(np.int32), priv.astype(np.int32)

    (xa, ua, pa), (xb, ub, pb) = split(n), split(n)
    return PrivacyData("planted", xa, ua, pa, xb, ub, pb, 2, 2)


def direction(u: np.ndarray) -> np.ndarray:
    return np.abs(u[:, 0]) / np.linalg.norm(u[:, 0])


def test_pca_recovers_the_top_principal_direction():
    assert direction(baseline_filter("pca", planted(), 1))[0] > 0.99


@pytest.mark.parametrize("method", ["plda", "ppls"])
def test_privacy_baselines_remove_the_planted_private_direction(method):
    u = direction(baseline_filter(method, planted(), 1))
    assert u[1] > 0.95 and u[0] < 0.1


def evaluate_filters(data, z_train, z_test):
    """Protocol accuracies for a stack of filtered datasets shaped (filters, n, d)."""
    labels = [
        jax.numpy.asarray(a, jax.numpy.int32)
        for a in (data.utility_train, data.utility_test, data.private_train, data.private_test)
    ]
    classes = (data.utility_classes, data.private_classes)
    run = jax.jit(jax.vmap(lambda a, b: protocol_accuracies(a, b, *labels, classes=classes)))
    util, priv = run(np.asarray(z_train, np.float32), np.asarray(z_test, np.float32))
    return np.asarray(util), np.asarray(priv)


def test_random_baseline_is_the_untrained_orthonormal_filter_and_d_is_checked():
    data = planted()
    problem = make_privacy_filter(data, filter="linear", d=3)
    state = baseline("initial").init(problem, jax.random.PRNGKey(1))
    u = np.asarray(state.u["filter"]["U"])
    np.testing.assert_allclose(u.T @ u, np.eye(3), atol=1e-5)
    again = baseline("initial").init(problem, jax.random.PRNGKey(1))
    np.testing.assert_array_equal(u, np.asarray(again.u["filter"]["U"]))
    with pytest.raises(ValueError, match="d=7 is out of range: at most the data dimension 6"):
        baseline_filter("pca", data, 7)


def test_protocol_accuracies_and_chance_on_a_noise_filter():
    data = planted()
    rng = np.random.default_rng(3)
    noise_train = rng.standard_normal((1, 400, 2)).astype(np.float32)
    noise_test = rng.standard_normal((1, 400, 2)).astype(np.float32)
    identity_train, identity_test = data.x_train[None], data.x_test[None]
    util, priv = evaluate_filters(
        data,
        np.concatenate([noise_train, identity_train[..., :2]]),
        np.concatenate([noise_test, identity_test[..., :2]]),
    )
    assert abs(util[0] - 0.5) < 0.08 and abs(priv[0] - 0.5) < 0.08  # noise: chance
    assert util[1] > 0.95 and priv[1] > 0.99  # the two informative coordinates: both labels
    nan_train = np.full((1, 400, 2), np.nan, np.float32)  # a diverged filter: NaN, not a score
    util, priv = evaluate_filters(data, nan_train, noise_test)
    assert np.isnan(util[0]) and np.isnan(priv[0])


def test_closed_form_baselines_run_as_jobs_with_the_protocol():
    """solver=baseline: no updates, no gradients; the protocol scores the closed-form filter."""
    data = planted()
    problem = make_privacy_filter(data, filter="linear", d=1, protocol=True)
    assert set(problem.baselines) == {"pca", "ppls", "plda"}
    out = {}
    for name in ("pca", "plda"):
        run = make_run(problem, baseline(name), steps=4, log_every=2, headline="private_acc")
        out[name] = jax.jit(run)(trial_keys(0, 2), problem.data)
        assert (np.asarray(out[name]["grad_evals"]) == 0).all()
    # PCA keeps the planted private direction, PLDA removes it and keeps the utility one
    assert (np.asarray(out["pca"]["protocol_private_acc"]) > 0.95).all()
    assert (np.asarray(out["plda"]["protocol_private_acc"]) < 0.65).all()
    assert (np.asarray(out["plda"]["protocol_utility_acc"]) > 0.85).all()
    with pytest.raises(ValueError, match="has no baseline 'oracle'; allowed: initial, pca"):
        baseline("oracle").init(problem, jax.random.PRNGKey(0))


def test_minimax_filter_hides_the_private_label_better_than_pca():
    data = planted()
    problem = make_privacy_filter(data, filter="linear", d=1, rho=10.0, weight_decay=1e-3)
    solver = danskin(optax.adam(0.05), optax.adam(0.05), inner_steps=10, eta=1.0)
    train = jax.jit(make_final_players(problem, solver, steps=60))
    u, _ = train(trial_keys(0, 2), problem.data)
    z = jax.vmap(lambda u, x: filter_output(problem, u, x), in_axes=(0, None))
    pca = baseline_filter("pca", data, 1)
    util, priv = evaluate_filters(
        data,
        np.concatenate([np.asarray(z(u, data.x_train)), (data.x_train @ pca)[None]]),
        np.concatenate([np.asarray(z(u, data.x_test)), (data.x_test @ pca)[None]]),
    )
    assert priv[2] > 0.95  # PCA keeps the private direction
    assert (priv[:2] < 0.65).all() and (util[:2] > 0.85).all()


@pytest.mark.parametrize("name", ["gda", "alt_gda", "kbeam", "kbeam_eps", "danskin"])
def test_core_solvers_run_the_privacy_filter(compose, name):
    from gamebench.run import make_run
    from gamebench.solvers import make_solver

    problem = make_privacy_filter(planted(n=100), filter="linear", d=2)
    cfg = compose([f"solver={name}", "solver.opt_u.lr=0.05", "solver.opt_v.lr=0.05"])
    run = make_run(problem, make_solver(cfg.solver), steps=4, log_every=2, headline="private_acc")
    out = jax.jit(run)(trial_keys(0, 2), problem.data)
    for metric in ("f", "utility_acc", "private_acc"):
        assert np.isfinite(np.asarray(out[metric])).all(), metric


def test_har_windows_count_per_activity_run():
    # runs: activity 1 for 300 samples, unlabelled 50, activity 4 for 200, then a new experiment
    # with activity 4 for 127 samples (too short) and activity 7 (a transition, not used)
    label = np.array([1] * 300 + [-1] * 50 + [4] * 200 + [4] * 127 + [7] * 200, np.int8)
    experiment = np.array([1] * 550 + [2] * 327, np.int16)
    starts = activity_windows(label, experiment)
    # (300 - 128) // 64 + 1 = 3 windows in the first run, (200 - 128) // 64 + 1 = 2 in the second
    assert np.bincount(label[starts], minlength=8)[[1, 4]].tolist() == [3, 2]
    assert starts.tolist() == [0, 64, 128, 350, 414]


@pytest.mark.skipif(
    not REAL, reason="GAMEBENCH_DATA is not set: no real dataset directory configured"
)
def test_real_privacy_datasets_load():
    from gamebench.data.privacy import genki, har

    faces = genki()
    assert faces.x_train.shape == (1740, 256) and faces.x_test.shape == (200, 256)
    assert np.bincount(faces.utility_train).tolist() == [870, 870]
    windows = har()
    assert windows.x_train.shape[0] + windows.x_test.shape[0] == 10_411
    assert windows.x_train.shape[1] == 112
    assert set(np.unique(windows.private_test)) == set(range(30))
    assert set(np.unique(windows.utility_train)) == set(range(6))
