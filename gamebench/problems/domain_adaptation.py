"""Domain-adversarial training as a minimax game: MNIST -> MNIST-M (Ganin & Lempitsky, ICML 2015;
Hamm & Noh, ICML 2018, Sec. 5.3).

Players: u = (u1, u2) = (feature extractor, label classifier) minimises, v = domain classifier
maximises
    f(u, v) = rho * CE_label(source) - 0.5 * CE_domain(source, 0) - 0.5 * CE_domain(target, 1)
              + lambda * |u|^2
so the follower's best response is the best domain classifier on the current features and the
leader learns features that classify labels and hide the domain. `adversarial=False` drops the
domain terms: source-only training, the lower baseline. `adaptation="dann"` multiplies the domain
terms by DANN's adaptation factor 2 / (1 + exp(-10 p)) - 1 at training progress p (Ganin &
Lempitsky 2015, Sec. 5.2.2: it grows from 0 to 1 so the domain classifier's noisy signal does not
swamp the features early); simultaneous GDA on that payoff is exactly DANN's gradient-reversal
update, eqs. (13)-(15), with the domain classifier's step scaled by the factor too. `constant`
(the default, the K-beam paper's protocol) keeps the factor at 1.

    u1: conv 5x5x32 + ReLU + maxpool 2 -> conv 5x5x48 + ReLU + maxpool 2 -> 7*7*48 features
    u2: FC 100 ReLU -> FC 100 ReLU -> 10          v: FC 100 ReLU -> 2
    every weight N(0, 0.1^2), biases 0 (the paper's code)

The images live on the device as uint8 and enter the compiled program as an argument (`data`);
every step gathers a batch of `batch` source and `batch` target images by index inside the loop.
Pixels are scaled to [0, 1] and centred by the per-channel mean of source and target training images
(as tf-dann does); grey MNIST is repeated over three channels. Metrics at log points: accuracy of the
label classifier on each evaluation set (the first `eval_size` examples), by chunks of 500.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from gamebench.game import Problem
from gamebench.nn import (
    CONV_IMPLS,
    conv_relu_pool,
    cross_entropy,
    mlp_apply,
    normal_layer,
    normal_mlp_init,
)
from gamebench.params import Param, above, at_least, one_of

EVAL_CHUNK = 500
ADAPTATIONS = ("constant", "dann", "grl")
HIDDEN = 100
CONV_CHANNELS = (32, 48)
KERNEL = 5


def feature_size(image_size: int) -> int:
    side = image_size
    for _ in CONV_CHANNELS:
        side = -(-side // 2)  # 'SAME' pooling rounds up
    return side * side * CONV_CHANNELS[-1]


def init_leader(key: jax.Array, image_size: int, classes: int, std: float) -> dict:
    key_c1, key_c2, key_mlp = jax.random.split(key, 3)
    return {
        "features": [
            normal_layer(key_c1, (KERNEL, KERNEL, 3, CONV_CHANNELS[0]), std),
            normal_layer(key_c2, (KERNEL, KERNEL, CONV_CHANNELS[0], CONV_CHANNELS[1]), std),
        ],
        "classifier": normal_mlp_init(
            key_mlp, (feature_size(image_size), HIDDEN, HIDDEN, classes), std
        ),
    }


def features(u: dict, x: jax.Array, conv: str = "im2col") -> jax.Array:
    for layer in u["features"]:
        x = conv_relu_pool(layer, x, conv)
    return x.reshape(x.shape[0], -1)


def _as_float(images: jax.Array, mean: jax.Array) -> jax.Array:
    """uint8 (n, h, w, 1 or 3) -> float32 (n, h, w, 3), scaled to [0, 1] and centred."""
    x = images.astype(jnp.float32) / 255.0
    x = jnp.broadcast_to(x, x.shape[:3] + (3,))
    return x - mean[None, None, None, :]


def _check_shapes(named_images: list[tuple[str, np.ndarray]], image_size: int) -> None:
    for what, images in named_images:
        if (
            images.ndim != 4
            or images.shape[1:3] != (image_size, image_size)
            or images.shape[3] not in (1, 3)
        ):
            raise ValueError(
                f"{what} images have shape {images.shape}; need (n, {image_size}, {image_size}, 1 or 3)"
            )


def accuracy(u: dict, images: jax.Array, labels: jax.Array, mean: jax.Array, conv: str):
    """Share of `images` the leader's label classifier gets right, scored in chunks of EVAL_CHUNK
    (lax.map) so an evaluation set never sits in memory as one batch of activations."""
    n = images.shape[0]
    size = min(EVAL_CHUNK, n)
    chunks = -(-n // size)
    pad = chunks * size - n  # padded images carry label -1 and never count as correct
    images = jnp.pad(images, [(0, pad)] + [(0, 0)] * (images.ndim - 1))
    labels = jnp.pad(labels, (0, pad), constant_values=-1)

    def chunk_correct(chunk):
        x, y = chunk
        logits = mlp_apply(u["classifier"], features(u, _as_float(x, mean), conv), jax.nn.relu)
        # non-finite logits (a diverged run) score NaN, not argmax's arbitrary class
        correct = jnp.sum(jnp.argmax(logits, axis=1) == y).astype(jnp.float32)
        return jnp.where(jnp.isfinite(logits).all(), correct, jnp.nan)

    chunked = (images.reshape((chunks, size) + images.shape[1:]), labels.reshape(chunks, size))
    return jnp.sum(jax.lax.map(chunk_correct, chunked)) / n


def dann_adaptation_factor(progress: jax.Array) -> jax.Array:
    """DANN's schedule of the domain terms' weight: 2 / (1 + exp(-10 p)) - 1, 0 at p = 0 -> 1."""
    return 2.0 / (1.0 + jnp.exp(-10.0 * progress)) - 1.0


def _device_data(source_x, source_y, target, eval_sets) -> dict:
    """The images (uint8) and labels on the device, with the per-channel mean of source and target
    together (the images are centred by it when they are sampled)."""
    both = [source_x.reshape(-1, source_x.shape[3]), target.reshape(-1, target.shape[3])]
    mean = np.mean([np.broadcast_to(a.mean(axis=0), (3,)) for a in both], axis=0) / 255.0
    return {
        "source_x": jnp.asarray(source_x),
        "source_y": jnp.asarray(source_y, jnp.int32),
        "target_x": jnp.asarray(target),
        "mean": jnp.asarray(mean, jnp.float32),
        "eval": {k: (jnp.asarray(x), jnp.asarray(y, jnp.int32)) for k, (x, y) in eval_sets.items()},
    }


def _payoff(
    conv: str, rho: float, adversary_weight: float, weight_decay: float, reversal_scale=None
):
    """f(u, v; source batch, target batch) = rho * label loss - w * domain loss + weight decay.
    `reversal_scale` (the gradient reversal layer): the domain terms see the features through a map
    that is the identity forward and multiplies their gradient by the scale."""

    def f(u, v, batch_):
        xs, ys, xt = batch_
        h = features(u, jnp.concatenate([xs, xt]), conv)
        h_source = h[: xs.shape[0]]
        label_loss = cross_entropy(mlp_apply(u["classifier"], h_source, jax.nn.relu), ys)
        if reversal_scale is not None:
            # h - stop_gradient(h) is exactly 0 forward, so the value is bitwise the unscaled one
            h = jax.lax.stop_gradient(h) + reversal_scale * (h - jax.lax.stop_gradient(h))
        domain_logits = mlp_apply(v, h, jax.nn.relu)
        domain = jnp.concatenate(
            [jnp.zeros(xs.shape[0], jnp.int32), jnp.ones(xt.shape[0], jnp.int32)]
        )
        domain_loss = 2.0 * cross_entropy(domain_logits, domain)  # = CE(source) + CE(target)
        decay = sum(jnp.sum(jnp.square(w)) for w, _ in u["features"] + u["classifier"])
        return rho * label_loss - adversary_weight * domain_loss + weight_decay * decay

    return f


def make_domain_adaptation(
    source: tuple[np.ndarray, np.ndarray],
    target: np.ndarray,
    eval_sets: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    name: str = "domain_adaptation",
    batch: int = 128,
    rho: float = 1.0,
    weight_decay: float = 1e-12,
    adversarial: bool = True,
    init_std: float = 0.1,
    classes: int = 10,
    conv: str = "im2col",
    adaptation: str = "constant",
) -> Problem:
    """The DA game on arrays: source (images uint8 (n, s, s, 1|3), labels), unlabelled target
    images (m, s, s, 1|3), and named evaluation sets {metric name: (images, labels)}."""
    if conv not in CONV_IMPLS:
        raise ValueError(f"unknown conv {conv!r}; allowed: {', '.join(CONV_IMPLS)}")
    if adaptation not in ADAPTATIONS:
        raise ValueError(f"unknown adaptation {adaptation!r}; allowed: {', '.join(ADAPTATIONS)}")
    source_x, source_y = source
    image_size = source_x.shape[1]
    _check_shapes(
        [("source", source_x), ("target", target)] + [(k, v[0]) for k, v in eval_sets.items()],
        image_size,
    )
    data = _device_data(source_x, source_y, target, eval_sets)
    adversary_weight = 0.5 if adversarial else 0.0
    size = feature_size(image_size)

    def bind(data: dict) -> Problem:
        mean = data["mean"]

        def sample_batch(key):
            key_s, key_t = jax.random.split(key)
            i = jax.random.randint(key_s, (batch,), 0, data["source_x"].shape[0])
            j = jax.random.randint(key_t, (batch,), 0, data["target_x"].shape[0])
            return (
                _as_float(data["source_x"][i], mean),
                data["source_y"][i],
                _as_float(data["target_x"][j], mean),
            )

        def metrics(u, v, key):
            del v, key
            return {name: accuracy(u, x, y, mean, conv) for name, (x, y) in data["eval"].items()}

        def at_progress(progress):
            factor = dann_adaptation_factor(progress)
            if adaptation == "grl":
                f = _payoff(conv, rho, adversary_weight, weight_decay, reversal_scale=factor)
            else:
                f = _payoff(conv, rho, adversary_weight * factor, weight_decay)
            return dataclasses.replace(game, f=f, at_progress=None)

        game = Problem(
            name=name,
            f=_payoff(conv, rho, adversary_weight, weight_decay),
            init_u=lambda key: init_leader(key, image_size, classes, init_std),
            init_v=lambda key: normal_mlp_init(key, (size, HIDDEN, 2), init_std),
            sample_batch=sample_batch,
            metrics=metrics,
            headline="target_acc" if "target_acc" in eval_sets else None,
            info={"adversarial": adversarial, "adaptation": adaptation},
            data=data,
            bind=bind,
            at_progress=at_progress if adversarial and adaptation != "constant" else None,
        )
        return game

    return bind(data)


# the config fields make_da_mnist_mnistm reads (gamebench.params)
PARAMS = {
    "batch": Param(128, "source and target images per step", at_least(1)),
    "rho": Param(1.0, "weight of the label loss", above(0)),
    "weight_decay": Param(1.0e-12, "lambda on |u|^2", at_least(0)),
    "adversarial": Param(True, "false: source-only training (the domain terms dropped)"),
    "init_std": Param(0.1, "weights N(0, init_std^2)", above(0)),
    "eval_size": Param(
        10_000, "examples of each test set scored at log points (first n)", at_least(1)
    ),
    "mnistm_seed": Param(0, "synthesised MNIST-M (gamebench.data.mnistm)"),
    "adaptation": Param(
        "constant",
        "weight of the domain terms over training: constant 1, dann: 2/(1+exp(-10p))-1 on the "
        "payoff's domain terms, grl: that factor on their gradient into the features only",
        one_of(*ADAPTATIONS),
    ),
    "conv": Param("im2col", "im2col on CPU; xla (lax.conv, cuDNN) on GPU", one_of(*CONV_IMPLS)),
    "train_size": Param(
        0, "> 0: the first n training images of each domain (smoke runs)", at_least(0)
    ),
}


def same_run(problem: dict, solver: dict) -> tuple[dict, dict, list[str]]:
    """Without the domain terms the follower never touches the leader's loss: every solver moves u
    exactly as gda does, so a source-only job is gda's (config.effective_config)."""
    if problem.get("adversarial", True):
        return problem, solver, []
    reasons = []
    if problem.get("adaptation", "constant") != "constant":
        reasons.append(
            "problem.adversarial=false drops the domain terms, so no adaptation schedule"
        )
        problem = {**problem, "adaptation": "constant"}
    if solver["name"] != "gda":
        reasons.append(
            f"problem.adversarial=false makes solver {solver['name']!r} train the same leader as "
            "'gda' (source-only training)"
        )
        solver = {**solver, "name": "gda"}
    return problem, solver, reasons


def make_da_mnist_mnistm(
    *,
    batch: int = 128,
    rho: float = 1.0,
    weight_decay: float = 1e-12,
    adversarial: bool = True,
    init_std: float = 0.1,
    eval_size: int = 10_000,
    mnistm_seed: int = 0,
    conv: str = "im2col",
    train_size: int = 0,
    adaptation: str = "constant",
) -> Problem:
    """MNIST (source, labelled) -> synthesised MNIST-M (target, unlabelled), with source_acc on
    MNIST test, target_acc on synthesised MNIST-M test and target_official_acc on the official
    MNIST-M test split resized to 28x28, each on its first `eval_size` examples. `train_size` > 0
    uses the first `train_size` training images of each domain only (smoke runs)."""
    from gamebench.data import channel_stats, mnist, mnistm_official, mnistm_synthetic

    source_x, source_y = mnist("train")
    # labels of the target never reach the learner
    target_x, _ = mnistm_synthetic("train", mnistm_seed, limit=train_size)
    if train_size:
        source_x, source_y = source_x[:train_size], source_y[:train_size]
    test_x, test_y = mnist("test")
    target_test_x, target_test_y = mnistm_synthetic("test", mnistm_seed)
    official_x, official_y = mnistm_official(28)
    eval_sets = {
        "source_acc": (test_x[:eval_size, :, :, None], test_y[:eval_size]),
        "target_acc": (target_test_x[:eval_size], target_test_y[:eval_size]),
        "target_official_acc": (official_x[:eval_size], official_y[:eval_size]),
    }
    problem = make_domain_adaptation(
        (source_x[:, :, :, None], source_y),
        target_x,
        eval_sets,
        name="da_mnist_mnistm",
        batch=batch,
        rho=rho,
        weight_decay=weight_decay,
        adversarial=adversarial,
        init_std=init_std,
        conv=conv,
        adaptation=adaptation,
    )
    # how close the synthesised target is to the official one, for the report's mnistm_stats.csv
    stats = []
    for set_name, images in (("synthesised_test", target_test_x), ("official_test_28", official_x)):
        mean, std = channel_stats(images)
        stats += [
            {"set": set_name, "channel": c, "mean": float(mean[i]), "std": float(std[i])}
            for i, c in enumerate("RGB")
        ]
    return dataclasses.replace(problem, info={**problem.info, "channel_stats": stats})
