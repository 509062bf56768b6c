"""Tiny neural networks on plain pytrees (lists of (W, b) pairs), so that K copies of a network
stack on a leading axis with `jax.vmap(init)` and every solver treats them like any parameter."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

Array = jax.Array
Layer = tuple[Array, Array]  # W (in, out), b (out,)


def orthogonal(key: Array, shape: tuple[int, int], gain: float = 1.0, iters: int = 40) -> Array:
    """A uniformly random matrix with orthonormal columns (or rows, if wide), times `gain`.

    The orthogonal polar factor of a Gaussian matrix is Haar-distributed; we compute it by the
    Newton-Schulz iteration X <- X (3 I - X'X) / 2 from X = A / |A|_F (matrix products only). We do
    not call jax.nn.initializers.orthogonal: with jax 0.10.2 on CPU, its LAPACK QR for a generator
    vmapped over trials and for discriminators vmapped over trials x candidates, in one program,
    never returned (each alone ran fine).
    """
    rows, cols = shape
    tall = (max(rows, cols), min(rows, cols))
    a = jax.random.normal(key, tall, jnp.float32)
    x = a / jnp.linalg.norm(a)

    def newton_schulz(_, x):
        return 1.5 * x - 0.5 * x @ (x.T @ x)

    q = jax.lax.fori_loop(0, iters, newton_schulz, x)
    return gain * (q if rows >= cols else q.T)


def mlp_init(key: Array, sizes: Sequence[int], gain: float = 1.0) -> list[Layer]:
    """Dense layers sizes[0] -> sizes[1] -> ... with orthogonal weights of the given gain (Saxe et
    al. 2014; the K-beam and unrolled-GAN code use gain 1.4) and zero biases."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        (orthogonal(k, (fan_in, fan_out), gain), jnp.zeros((fan_out,), jnp.float32))
        for k, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:])
    ]


def mlp_apply(
    params: list[Layer], x: Array, activation: Callable[[Array], Array] = jnp.tanh
) -> Array:
    """x (batch, sizes[0]) -> (batch, sizes[-1]); `activation` on every hidden layer, none on the output."""
    for w, b in params[:-1]:
        x = activation(x @ w + b[None, :])
    w, b = params[-1]
    return x @ w + b[None, :]


def parameter_count(params) -> int:
    return sum(leaf.size for leaf in jax.tree.leaves(params))


def normal_layer(key: Array, shape: tuple[int, ...], std: float) -> Layer:
    """Weights N(0, std^2) of `shape` (dense (in, out) or conv (h, w, in, out)), zero biases."""
    return std * jax.random.normal(key, shape, jnp.float32), jnp.zeros((shape[-1],), jnp.float32)


def normal_mlp_init(key: Array, sizes: Sequence[int], std: float) -> list[Layer]:
    """Dense layers sizes[0] -> ... -> sizes[-1] with N(0, std^2) weights and zero biases."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [normal_layer(k, (a, b), std) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


CONV_IMPLS = ("im2col", "xla")


def conv_same(x: Array, w: Array, impl: str = "im2col") -> Array:
    """'SAME' convolution, stride 1: x (batch, h, w, c_in), w (kh, kw, c_in, c_out), odd kh, kw.

    impl = "im2col" stacks the kh*kw shifted copies of the zero-padded input and multiplies once by
    the reshaped kernel: slices, pads and one matmul, whose gradients are slices, pads and matmuls.
    We use it on CPU because XLA:CPU 0.10.2 runs the *gradient* convolutions of `lax.conv` inside a
    `lax.scan` body 15-50x slower than at top level (scripts/bench_da.py --conv measures it: a
    weight-gradient step of this network took 8 s in a scan vs 0.45 s outside; im2col 0.3 s).
    impl = "xla" is `lax.conv_general_dilated`, the right choice on GPU (cuDNN).
    """
    if impl == "xla":
        return jax.lax.conv_general_dilated(
            x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
    if impl != "im2col":
        raise ValueError(f"unknown convolution {impl!r}; allowed: {', '.join(CONV_IMPLS)}")
    kh, kw, c_in, c_out = w.shape
    n, h, width, _ = x.shape
    padded = jnp.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    patches = _patch_extractor(kh, kw, h, width)(padded)
    y = patches.reshape(n * h * width, kh * kw * c_in) @ w.reshape(kh * kw * c_in, c_out)
    return y.reshape(n, h, width, c_out)


def _shifted_copies(padded: Array, kh: int, kw: int, h: int, w: int) -> Array:
    """(n, h + kh - 1, w + kw - 1, c) -> (n, h, w, kh * kw * c): the im2col patches."""
    return jnp.concatenate(
        [padded[:, i : i + h, j : j + w, :] for i in range(kh) for j in range(kw)], axis=-1
    )


@functools.cache
def _patch_extractor(kh: int, kw: int, h: int, w: int) -> Callable[[Array], Array]:
    """`_shifted_copies` with a batching rule that folds a vmapped axis into the image axis.

    Why: the runner vmaps over trials, and with one trial per device the patches gain a leading
    axis of size 1. XLA:CPU 0.10.2 splits a concatenation over threads along its outermost axis
    only, so (1, 256, 14, 14, 800) was built on one core: 43 ms against 18 ms for
    (256, 14, 14, 800), measured inside a DA training step. Folding the axis away is pure data
    movement, so the numbers are bitwise those of the plain concatenation. Derivatives go through
    the plain concatenation (its transpose, a sum of padded slices, in reverse mode), stated as
    the JVP because custom_vmap has no reverse mode of its own.
    """

    def plain(padded: Array) -> Array:
        return _shifted_copies(padded, kh, kw, h, w)

    @jax.custom_batching.custom_vmap
    def folded(padded: Array) -> Array:
        return plain(padded)

    @folded.def_vmap
    def _fold_batch_axis(axis_size: int, in_batched: list[bool], padded: Array):
        if not in_batched[0]:
            return folded(padded), False
        batch, images = padded.shape[:2]
        patches = folded(padded.reshape(batch * images, *padded.shape[2:]))
        return patches.reshape(batch, images, *patches.shape[1:]), True

    @jax.custom_jvp
    def extract(padded: Array) -> Array:
        return folded(padded)

    @extract.defjvp
    def _linear(primals, tangents):
        # the tangent map is the plain concatenation, which JAX transposes for reverse mode
        return folded(primals[0]), plain(tangents[0])

    return extract


def max_pool_2x2(x: Array) -> Array:
    """2x2 max-pool, stride 2, 'SAME' (odd sides padded with -inf), by a reshape."""
    n, h, w, c = x.shape
    x = jnp.pad(x, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), constant_values=-jnp.inf)
    return jnp.max(x.reshape(n, (h + 1) // 2, 2, (w + 1) // 2, 2, c), axis=(2, 4))


def conv_relu_pool(layer: Layer, x: Array, impl: str = "im2col") -> Array:
    """x (batch, h, w, c) -> 'SAME' convolution, ReLU, 2x2 max-pool with stride 2."""
    w, b = layer
    y = jax.nn.relu(conv_same(x, w, impl) + b[None, None, None, :])
    return max_pool_2x2(y)


def cross_entropy(logits: Array, labels: Array) -> Array:
    """Mean cross-entropy of integer labels under the softmax of `logits` (batch, classes)."""
    log_p = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=1))
