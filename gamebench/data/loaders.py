"""Loaders: dataset files -> numpy arrays (uint8 images, integer labels), never traced.

Every loader reads from the data directory through `require`, so a missing dataset ends in one line
naming it, the directory searched and the command that fetches it.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from gamebench import files
from gamebench.data.store import DataError, derived_dir, load_derived, require

SPLITS = ("train", "test")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format: big-endian dims after a magic number), gzip or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: {data.size} bytes of data for shape {shape}")
    return data.reshape(shape)


def mnist(split: str, root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 28, 28), labels uint8 (n,)); n = 60000 (train) or 10000 (test)."""
    _check_split(split)
    root = require("mnist", root)
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(root / "mnist" / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(root / "mnist" / f"{prefix}-labels-idx1-ubyte.gz")
    return images, labels


def bsds500_train(root: Path | None = None) -> list[np.ndarray]:
    """The 200 BSDS500 training photographs as uint8 (h, w, 3) arrays, in file-name order."""
    from PIL import Image  # matplotlib's dependency; imported late to keep `import gamebench` light

    root = require("bsds500", root)
    paths = sorted((root / "bsds500" / "train").glob("*.jpg"))
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (n, h, w, c) -> (n, size, size, c) by bilinear interpolation with antialiasing (PIL)."""
    from PIL import Image

    return np.stack(
        [
            np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.BILINEAR))
            for im in images
        ]
    )


def mnistm_official(size: int = 28, root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The official MNIST-M test split, (9001, size, size, 3) uint8 and labels; resized from 32x32
    once and cached in the derived directory."""
    root = require("mnistm", root)
    with np.load(root / "mnistm" / "mnistm_test.npz") as archive:
        x, y = archive["x_test"], archive["y_test"]
    if size == x.shape[1]:
        return x, y
    cached = derived_dir() / f"mnistm_official_test_{size}.npz"
    if (arrays := load_derived(cached, len(x))) is not None:
        return arrays["x"], arrays["y"]
    resized = resize_images(x, size)
    files.write_npz(cached, x=resized, y=y)
    return resized, y
