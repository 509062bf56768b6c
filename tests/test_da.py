"""Domain-adversarial training on tiny synthetic images: the game's terms, its gradients, the
accuracy metric, the im2col convolution, and the dataset entering the program as an argument."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gamebench.config import validate
from gamebench.nn import conv_same, cross_entropy, max_pool_2x2
from gamebench.problems import make_domain_adaptation
from gamebench.problems.domain_adaptation import features
from gamebench.run import make_run, trial_keys
from gamebench.solvers import kbeam
from gamebench.sweep import ignored_settings

SIZE = 12


def tiny_game(adversarial: bool = True, n: int = 48, adaptation: str = "constant"):
    rng = np.random.default_rng(0)
    source = rng.integers(0, 256, (n, SIZE, SIZE, 1)).astype(np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    target = rng.integers(0, 256, (n, SIZE, SIZE, 3)).astype(np.uint8)
    evals = {"source_acc": (source[:20], labels[:20]), "target_acc": (target[:30], labels[:30])}
    return make_domain_adaptation(
        (source, labels), target, evals, batch=6, adversarial=adversarial, adaptation=adaptation
    )


@pytest.mark.parametrize("shape", [(2, 7, 7, 3), (1, 6, 9, 2)])
def test_im2col_convolution_equals_lax_conv(shape):
    key_x, key_w = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(key_x, shape)
    w = jax.random.normal(key_w, (5, 5, shape[-1], 4))
    im2col = jax.jit(lambda x, w: conv_same(x, w, "im2col"))(x, w)
    np.testing.assert_allclose(im2col, conv_same(x, w, "xla"), atol=1e-4)
    pooled = jax.jit(max_pool_2x2)(x)
    assert pooled.shape == (shape[0], -(-shape[1] // 2), -(-shape[2] // 2), shape[3])
    assert float(pooled[0, 0, 0, 0]) == float(jnp.max(x[0, :2, :2, 0]))


@pytest.mark.optimized  # bitwise, as XLA compiles users' runs
def test_im2col_patches_under_vmap_and_grad_equal_the_plain_concatenation():
    """The patch extractor folds a vmapped axis into the image axis (a speed-up on XLA:CPU) and
    writes out its gradient: values and gradients must be bitwise those of the concatenation,
    batched or not, with the batch axis anywhere vmap puts it."""
    from gamebench.nn import _patch_extractor, _shifted_copies

    key_x, key_g = jax.random.split(jax.random.PRNGKey(1))
    padded = jax.random.normal(key_x, (3, 2, 9, 11, 4))  # (trials, images, h + 4, w + 4, c)
    weights = jax.random.normal(key_g, (3, 2, 5, 7, 100))

    def loss(extract, padded, weights):
        return jnp.sum(jnp.tanh(extract(padded)) * weights)

    extractor = _patch_extractor(5, 5, 5, 7)

    def plain(padded):
        return _shifted_copies(padded, 5, 5, 5, 7)

    for in_axes in (0, 1):
        moved = jnp.moveaxis(padded, 0, in_axes)
        ours = jax.jit(jax.vmap(jax.value_and_grad(partial(loss, extractor)), (in_axes, 0)))
        reference = jax.jit(jax.vmap(jax.value_and_grad(partial(loss, plain)), (in_axes, 0)))
        for a, b in zip(
            jax.tree.leaves(ours(moved, weights)), jax.tree.leaves(reference(moved, weights))
        ):
            np.testing.assert_array_equal(a, b)

    def batched_loss(extract, padded):  # vmap inside grad
        return jnp.sum(jnp.tanh(jax.vmap(extract)(padded)) * weights)

    np.testing.assert_array_equal(
        jax.jit(jax.grad(partial(batched_loss, extractor)))(padded),
        jax.jit(jax.grad(partial(batched_loss, plain)))(padded),
    )
    tangent = jnp.ones_like(padded)  # forward mode too (fmd, forward-over-reverse HVPs)
    np.testing.assert_array_equal(
        jax.jit(lambda p, t: jax.jvp(jax.vmap(extractor), (p,), (t,)))(padded, tangent)[1],
        jax.vmap(plain)(tangent),
    )
    np.testing.assert_array_equal(jax.jit(extractor)(padded[0]), plain(padded[0]))
    np.testing.assert_array_equal(jax.jit(jax.vmap(extractor))(padded), jax.vmap(plain)(padded))


def test_payoff_terms_gradients_finite_source_only_ignores_follower():
    from gamebench.nn import mlp_apply

    games = {adversarial: tiny_game(adversarial) for adversarial in (True, False)}

    @jax.jit  # one program for both games: op-by-op execution compiles every conv slice apart
    def evaluate(key):
        out = {}
        for adversarial, game in games.items():
            u, v, batch = game.init_u(key), game.init_v(key), game.sample_batch(key)
            xs, ys, xt = batch
            h_s, h_t = features(u, xs), features(u, xt)
            label = cross_entropy(mlp_apply(u["classifier"], h_s, jax.nn.relu), ys)
            dom_s = cross_entropy(mlp_apply(v, h_s, jax.nn.relu), jnp.zeros(6, jnp.int32))
            dom_t = cross_entropy(mlp_apply(v, h_t, jax.nn.relu), jnp.ones(6, jnp.int32))
            decay = 1e-12 * sum(jnp.sum(w**2) for w, _ in u["features"] + u["classifier"])
            weight = 0.5 if adversarial else 0.0
            expected = label - weight * dom_s - weight * dom_t + decay
            value, grads = jax.value_and_grad(game.f, argnums=(0, 1))(u, v, batch)
            out[adversarial] = (value, expected, grads)
        return out

    xs, ys, _ = jax.eval_shape(games[True].sample_batch, jax.random.PRNGKey(0))
    assert xs.shape == (6, SIZE, SIZE, 3) and ys.shape == (6,)
    for adversarial, (value, expected, (grad_u, grad_v)) in evaluate(jax.random.PRNGKey(2)).items():
        np.testing.assert_allclose(value, expected, rtol=1e-5)
        leaves_u, leaves_v = jax.tree.leaves(grad_u), jax.tree.leaves(grad_v)
        assert all(bool(jnp.isfinite(g).all()) for g in leaves_u + leaves_v)
        follower_moves = any(bool(jnp.any(g != 0)) for g in leaves_v)
        assert follower_moves == adversarial


def test_accuracy_metric_counts_correct_predictions_across_padded_chunks():
    from gamebench.nn import mlp_apply
    from gamebench.problems.domain_adaptation import _as_float

    game = tiny_game()

    @jax.jit
    def both(key):
        u = game.init_u(key)
        images, labels = game.data["eval"]["target_acc"]
        x = _as_float(images, game.data["mean"])
        logits = mlp_apply(u["classifier"], features(u, x), jax.nn.relu)
        return game.metrics(u, None, key)["target_acc"], jnp.mean(
            jnp.argmax(logits, axis=1) == labels
        )

    metric, expected = both(jax.random.PRNGKey(3))
    assert float(metric) == pytest.approx(float(expected))


def test_dataset_is_a_program_argument_not_a_constant():
    # the experiment's smoke run (tests/test_cli.py, with real data) compiles and runs this program
    game = tiny_game(n=3000)  # 3000 x 12 x 12 x 4 bytes of images: 1.7 MB
    solver = kbeam(optax.sgd(1e-2, momentum=0.9), optax.sgd(1e-2, momentum=0.9), k=2)
    run = make_run(game, solver, steps=1, log_every=1, headline="target_acc")
    keys = trial_keys(0, 2)
    as_argument = jax.jit(run).lower(keys, game.data).as_text()
    closed_over = jax.jit(run).lower(keys).as_text()
    assert len(as_argument) < 1_000_000 < len(closed_over)


def test_source_only_needs_gda(compose):
    validate(compose(["experiment=da_mnistm", "problem.adversarial=false", "solver=gda"]))
    source_only_kbeam = compose(["experiment=da_mnistm", "problem.adversarial=false"])
    validate(source_only_kbeam)
    (reason,) = ignored_settings(source_only_kbeam)
    assert "problem.adversarial=false makes solver 'kbeam' train the same leader as 'gda'" in reason


def test_dann_adaptation_weights_the_domain_terms_by_training_progress():
    from gamebench.problems.domain_adaptation import dann_adaptation_factor

    game = tiny_game(adaptation="dann")
    assert (
        tiny_game().at_progress is None and tiny_game(False, adaptation="dann").at_progress is None
    )

    @jax.jit
    def payoffs(key):
        u, v, batch = game.init_u(key), game.init_v(key), game.sample_batch(key)
        return [game.at_progress(p).f(u, v, batch) for p in (0.0, 0.3)] + [game.f(u, v, batch)]

    at_start, at_03, full = payoffs(jax.random.PRNGKey(1))
    factor = float(dann_adaptation_factor(jnp.float32(0.3)))
    assert factor == pytest.approx(2 / (1 + np.exp(-3)) - 1)
    # the factor scales the domain terms only: f_p = f_0 + factor(p) (f_1 - f_0)
    np.testing.assert_allclose(at_03, at_start + factor * (full - at_start), rtol=1e-5)
    assert float(full) < float(at_start)  # the domain terms enter with a minus sign


def test_grl_adaptation_scales_only_the_features_gradient_of_the_domain_terms():
    """DANN's gradient reversal layer: the leader's gradient is that of the `dann` payoff at the
    same progress, the follower's that of the constant game, the value the constant game's."""
    games = {a: tiny_game(adaptation=a) for a in ("constant", "dann", "grl")}

    @jax.jit
    def values_and_grads(key):
        game = games["constant"]
        u, v, batch = game.init_u(key), game.init_v(key), game.sample_batch(key)
        fs = {
            "constant": game.f,
            "dann": games["dann"].at_progress(0.3).f,
            "grl": games["grl"].at_progress(0.3).f,
        }
        return {a: jax.value_and_grad(f, argnums=(0, 1))(u, v, batch) for a, f in fs.items()}

    out = values_and_grads(jax.random.PRNGKey(2))
    (value, (grad_u, grad_v)) = out["grl"]
    assert float(value) == float(out["constant"][0])
    close = partial(np.testing.assert_allclose, rtol=1e-5, atol=1e-7)
    jax.tree.map(close, grad_v, out["constant"][1][1])
    jax.tree.map(close, grad_u, out["dann"][1][0])
    # and the scale matters: the leader's gradient is not the constant game's
    differs = jax.tree.map(
        lambda a, b: bool(np.abs(a - b).max() > 1e-4), grad_u, out["constant"][1][0]
    )
    assert any(jax.tree.leaves(differs))


def test_source_only_has_no_adaptation_schedule(compose):
    cfg = compose(
        [
            "experiment=da_mnistm",
            "problem.adversarial=false",
            "solver=gda",
            "problem.adaptation=dann",
        ]
    )
    (reason,) = ignored_settings(cfg)
    assert "no adaptation schedule" in reason


def reproduce_da_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "scripts" / "reproduce_da.py"
    spec = importlib.util.spec_from_file_location("reproduce_da", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_every_adaptation_schedule_is_a_method_the_script_runs_and_the_report_names():
    from gamebench.problems.domain_adaptation import ADAPTATIONS
    from gamebench.reports.da_mnistm import SCHEDULED_ADAPTATIONS, method_of, method_order

    assert set(SCHEDULED_ADAPTATIONS) == set(ADAPTATIONS) - {"constant"}
    script = reproduce_da_script()
    for adaptation in ADAPTATIONS:
        for solver, k in (("gda", 1), ("kbeam", 5)):
            name = method_of(True, solver, k, adaptation)
            overrides = script.method_overrides(name)
            assert f"solver={solver}" in overrides and f"solver.k={k}" in overrides
            scheduled = adaptation != "constant"
            assert (f"problem.adaptation={adaptation}" in overrides) == scheduled
            assert ("solver.opt_u.schedule=dann" in overrides) == scheduled
    names = ["kbeam2_grl", "kbeam2", "gda_grl", "source_only", "gda", "kbeam10", "gda_dann"]
    assert method_order(names) == [
        "source_only", "gda", "gda_dann", "gda_grl", "kbeam2", "kbeam2_grl", "kbeam10"
    ]  # fmt: skip


def test_reproduce_da_includes_earlier_methods_only_at_the_same_scale(tmp_path, capsys):
    from omegaconf import OmegaConf

    script = reproduce_da_script()
    job = tmp_path / ".sweep" / "gda_dann" / "0"
    job.mkdir(parents=True)
    scale = {"steps": 2000, "trials": 2, "seed": 0, "log_every": 100}
    OmegaConf.save({**scale, "problem": {"eval_size": 2000}}, job / "config.yaml")
    assert script.earlier_methods(tmp_path, ["kbeam1"]) == {
        "gda_dann": {**scale, "eval_size": 2000}
    }
    assert script.earlier_methods(tmp_path, ["gda_dann", "kbeam1"]) == {}
    args = ["--out", str(tmp_path), "--methods", "kbeam1", "--include-earlier", "--trials", "2"]
    args += ["--log-every", "100", "--eval-size", "2000", "--steps", "1000"]
    with pytest.raises(SystemExit) as stopped:
        script.main(args)  # refused before anything runs
    assert stopped.value.code == 2
    assert "gda_dann was run at" in capsys.readouterr().err


def test_reproduce_da_carries_over_rows_whose_sweep_dirs_are_gone(tmp_path):
    """A committed table grows by one method: the earlier rows come from OUT/da_curves.csv at the
    same scale, and OUT/da_meta.json says which command made them."""
    import json

    import pandas as pd

    from gamebench.reports.da_mnistm import CURVE_COLUMNS

    script = reproduce_da_script()
    scale = {"steps": 200, "trials": 2, "seed": 0, "log_every": 100, "eval_size": 50}

    def curves(methods, accuracy):
        rows = [
            [m, t, s, 0.9, accuracy + 0.01 * t, accuracy]
            for m in methods
            for t in range(2)
            for s in (0, 100, 200)
        ]
        return pd.DataFrame(rows, columns=CURVE_COLUMNS)

    curves(["kbeam1", "source_only"], 0.5).to_csv(tmp_path / "da_curves.csv", index=False)
    earlier = {"command": ["python", "scripts/reproduce_da.py", "earlier"], **scale}
    (tmp_path / "da_meta.json").write_text(json.dumps(earlier))
    assert script.carried_rows(tmp_path, ["kbeam1", "source_only"], scale) is None
    with pytest.raises(ValueError, match="was made at"):
        script.carried_rows(tmp_path, ["gda_grl"], {**scale, "steps": 300})
    carried = script.carried_rows(tmp_path, ["gda_grl", "kbeam1"], scale)
    assert carried[1] == {"methods": ["source_only"], "made_by": {"command": earlier["command"]}}

    # what the new run of gda_grl leaves before its rows are merged
    curves(["gda_grl"], 0.6).to_csv(tmp_path / "da_curves.csv", index=False)
    now = {"command": ["python", "scripts/reproduce_da.py", "now"], **scale}
    (tmp_path / "da_meta.json").write_text(json.dumps(now))
    script.add_carried_rows(tmp_path, *carried)
    merged = pd.read_csv(tmp_path / "da_curves.csv")
    assert list(merged.method.unique()) == ["source_only", "gda_grl"]
    assert len(merged) == 12
    table = (tmp_path / "da_table.md").read_text()
    assert "| source_only | 2 | 0.900 ± 0.000 | 0.505 ± 0.005 | 0.500 ± 0.000 |" in table
    assert "| gda_grl | 2 |" in table
    record = json.loads((tmp_path / "da_meta.json").read_text())
    assert record["command"] == now["command"]
    assert record["carried_over"]["made_by"]["command"] == earlier["command"]
