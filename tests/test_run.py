"""The compiled runner: batching, determinism, divergence, and the files a job writes."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from gamebench import io
from gamebench.optim import paper_sgd
from gamebench.problems import Problem, make_surface
from gamebench.run import compile_and_run, diverged, log_steps, make_run, trial_keys
from gamebench.solvers import gda, kbeam


@pytest.fixture(scope="module")
def seesaw_run():
    problem = make_surface("seesaw")
    return jax.jit(make_run(problem, kbeam(paper_sgd(), paper_sgd(), 3), steps=40, log_every=10))


def test_batched_trials_equal_trials_run_one_at_a_time(seesaw_run):
    keys = trial_keys(0, 4)
    batched = seesaw_run(keys)
    for i in range(4):
        single = seesaw_run(keys[i : i + 1])
        for name, values in batched.items():
            np.testing.assert_allclose(
                values[i], single[name][0], rtol=1e-6, atol=1e-7, err_msg=name
            )


def test_same_seed_same_numbers_and_trial_keys_are_prefix_stable(seesaw_run):
    first, again = seesaw_run(trial_keys(7, 6)), seesaw_run(trial_keys(7, 6))
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    np.testing.assert_array_equal(trial_keys(7, 3), trial_keys(7, 6)[:3])
    other = seesaw_run(trial_keys(8, 6))
    assert not np.array_equal(first["u"], other["u"])


def test_log_points_and_shapes(seesaw_run):
    out = seesaw_run(trial_keys(0, 5))
    assert set(out) >= {"f", "grad_norm", "dist", "gap", "u", "v", "grad_evals"}
    assert all(v.shape == (5, 5) for v in out.values())  # steps 0, 10, 20, 30, 40
    np.testing.assert_array_equal(log_steps(40, 10), [0, 10, 20, 30, 40])
    # K-beam with 3 candidates uses 1 leader gradient + 3 follower gradients per step
    np.testing.assert_array_equal(np.asarray(out["grad_evals"][0]), [0, 40, 80, 120, 160])
    assert np.all(np.asarray(out["gap"]) >= -1e-6)


def test_steps_must_be_a_multiple_of_log_every():
    with pytest.raises(ValueError, match="log_every"):
        make_run(make_surface("saddle"), gda(paper_sgd(), paper_sgd()), steps=10, log_every=3)


def exploding_problem() -> Problem:
    """f = exp(u) v^2-ish blow-up for large initial u, finite for small: trials diverge selectively."""
    return Problem(
        name="explode",
        f=lambda u, v, batch: jnp.sum(u**4) - jnp.sum(v**2),
        init_u=lambda key: jnp.where(jax.random.bernoulli(key), 5.0, 0.01) * jnp.ones(1),
        init_v=lambda key: jnp.zeros(1),
    )


def test_divergent_trials_are_flagged_and_the_others_kept():
    sgd = optax.sgd(0.5)
    timed = compile_and_run(
        make_run(exploding_problem(), gda(sgd, sgd), steps=20, log_every=5), trial_keys(0, 16)
    )
    bad = diverged(timed.outputs)
    big_start = np.abs(timed.outputs["u"][:, 0]) > 1
    np.testing.assert_array_equal(bad, big_start)
    assert 0 < bad.sum() < 16
    assert np.all(np.isfinite(timed.outputs["u"][~bad]))
    summary = io.trial_summary({"problem": "explode"}, log_steps(20, 5), timed.outputs, bad)
    assert set(summary.status) == {"ok", "diverged"}
    assert (summary.diverged_at_step[bad] > 0).all() and (
        summary.diverged_at_step[~bad] == -1
    ).all()


def test_long_rows_are_one_row_per_trial_and_step():
    metrics = {"dist": np.arange(6, dtype=np.float32).reshape(2, 3)}
    rows = io.long_rows({"problem": "p", "solver.k": 3}, np.array([0, 5, 10]), metrics)
    assert list(rows.columns) == ["problem", "solver.k", "trial", "step", "dist"]
    assert rows.trial.tolist() == [0, 0, 0, 1, 1, 1] and rows.step.tolist() == [0, 5, 10] * 2
    assert rows.dist.tolist() == [0, 1, 2, 3, 4, 5]


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "table.csv"
    io.write_csv(target, pd.DataFrame({"a": [1]}))

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half a fi")
            raise Boom
    assert target.read_text().startswith("a\n1")  # the old file, untouched
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]  # no temporary left


@pytest.mark.optimized  # bitwise, as XLA compiles users' runs (tests/conftest.py)
def test_the_first_trials_of_a_larger_run_are_the_smaller_run():
    """The prefix property as run.make_run states it: bitwise where a trial's arithmetic is
    elementwise (a surface); the GAN's case is the next test."""
    surface = jax.jit(make_run(make_surface("weapons"), gda(paper_sgd(), paper_sgd()), steps=40,
                               log_every=10))  # fmt: skip
    large, small = surface(trial_keys(3, 8)), surface(trial_keys(3, 3))
    for name in small:
        np.testing.assert_array_equal(large[name][:3], small[name], err_msg=name)


def test_the_first_trials_of_a_larger_gan_run_are_the_smaller_run_to_round_off():
    """To float round-off where the program reduces over arrays whose vectorisation depends on
    the batch (the GAN's networks)."""
    import dataclasses

    from gamebench.config import compose_config
    from gamebench.game import no_metrics
    from gamebench.problems import PROBLEMS, make_problem

    cfg = compose_config(["problem=mog_gan", *PROBLEMS["mog_gan"].smoke])
    gan = dataclasses.replace(make_problem(cfg.problem), metrics=no_metrics)  # f and grads only
    adam = optax.adam(1e-3)
    run = jax.jit(make_run(gan, gda(adam, adam), steps=10, log_every=10, headline="f"))
    large, small = run(trial_keys(0, 4)), run(trial_keys(0, 2))
    for name in ("f", "grad_norm"):
        np.testing.assert_allclose(large[name][:2], small[name], rtol=1e-5, err_msg=name)


def test_a_game_that_follows_the_schedule_gets_each_steps_training_progress():
    # f = p * u with p = t / steps: plain unit steps move u by -t / steps at step t, so after
    # `steps` steps u = -(steps - 1) / 2; the runner's metrics see the game itself (p = 1)
    steps = 8

    def game_at(progress):
        return Problem(
            name="scheduled",
            f=lambda u, v, batch: progress * u + 0.0 * v,
            init_u=lambda key: jnp.float32(0.0),
            init_v=lambda key: jnp.float32(0.0),
        )

    problem = dataclasses.replace(game_at(1.0), at_progress=game_at)
    run = jax.jit(make_run(problem, gda(optax.sgd(1.0), optax.sgd(1.0)), steps=steps, log_every=4))
    metrics = run(trial_keys(0, 1))
    assert float(metrics["f"][0, -1]) == pytest.approx(-(steps - 1) / 2)
    # at log point 1 (after steps 0..3): u = -(0 + 1 + 2 + 3) / 8
    assert float(metrics["f"][0, 1]) == pytest.approx(-6 / 8)


def test_dann_learning_rate_schedule_and_its_horizon():
    from types import SimpleNamespace

    from gamebench.optim import learning_rate, make_optimizer

    schedule = learning_rate(0.01, "dann", horizon=100)
    assert float(schedule(0)) == pytest.approx(0.01)
    assert float(schedule(100)) == pytest.approx(0.01 / 11**0.75)
    cfg = SimpleNamespace(name="sgd", lr=1.0, schedule="dann", horizon=0, momentum=0.9)
    params = jnp.float32(0.0)
    optimizer = make_optimizer(cfg, steps=10)  # horizon 0: the job's steps
    state = optimizer.init(params)
    for _ in range(5):
        updates, state = optimizer.update(jnp.float32(1.0), state)
    assert float(updates) == pytest.approx(-1.0 / 5**0.75)  # p = 4 / 10 at the fifth update
    with pytest.raises(ValueError, match="horizon"):
        make_optimizer(cfg)
