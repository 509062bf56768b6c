"""MNIST-M synthesised as the K-beam paper did (the recipe of pumpikano/tf-dann, after Ganin &
Lempitsky 2015): each MNIST digit is binarised (pixel > 0 -> 255) and repeated over three channels;
a BSDS500 training photograph is drawn at random and a random 28x28 crop taken from it; the image
is |crop - digit|. Deterministic given the seed; cached in the derived directory as uint8 arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gamebench import files
from gamebench.data.loaders import bsds500_train, mnist
from gamebench.data.store import derived_dir, load_derived

RECIPE_VERSION = 1  # bump when the recipe changes, so stale caches are not reused


def blend_with_backgrounds(
    digits: np.ndarray, backgrounds: list[np.ndarray], seed: int
) -> np.ndarray:
    """uint8 (n, 28, 28) digits -> uint8 (n, 28, 28, 3) MNIST-M images.

    One generator draws, per image in order, the background index and the crop's corner.
    """
    rng = np.random.default_rng(seed)
    n, h, w = digits.shape
    mask = np.where(digits > 0, 255, 0).astype(np.int16)[..., None]  # (n, h, w, 1)
    which = rng.integers(0, len(backgrounds), size=n)
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        background = backgrounds[which[i]]
        top = rng.integers(0, background.shape[0] - h + 1)
        left = rng.integers(0, background.shape[1] - w + 1)
        crop = background[top : top + h, left : left + w].astype(np.int16)
        out[i] = np.abs(crop - mask[i]).astype(np.uint8)
    return out


def mnistm_synthetic(
    split: str, seed: int = 0, root: Path | None = None, limit: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 28, 28, 3), labels) synthesised from MNIST `split`; cached per seed.

    Train and test use different generator streams (seed, split) so their crops are independent.
    `limit` > 0 synthesises the first `limit` digits only (the same images as the first `limit` of
    the full split would be only for limit = 0; smoke runs use it to skip most of the work).
    """
    part = f"_first{limit}" if limit else ""
    cached = derived_dir() / f"mnistm_synthetic_v{RECIPE_VERSION}_{split}_seed{seed}{part}.npz"
    digits, labels = mnist(split, root)
    if limit:
        digits, labels = digits[:limit], labels[:limit]
    if (arrays := load_derived(cached, len(digits))) is not None:
        return arrays["x"], labels
    stream = seed * 2 + (0 if split == "train" else 1)
    images = blend_with_backgrounds(digits, bsds500_train(root), stream)
    files.write_npz(cached, x=images)
    return images, labels


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of uint8 images, on the [0, 1] scale.

    From each channel's histogram of the 256 levels: 20x faster than converting the 23 million
    values of a test set to float64 (1.1 s per DA job), and within 1e-12 of that (exact sums of
    counts instead of a long floating-point sum)."""
    flat = images.reshape(-1, images.shape[-1])
    levels = np.arange(256) / 255.0
    counts = np.stack([np.bincount(flat[:, c], minlength=256) for c in range(flat.shape[1])])
    mean = counts @ levels / len(flat)
    variance = (counts * (levels[None, :] - mean[:, None]) ** 2).sum(axis=1) / len(flat)
    return mean, np.sqrt(variance)
