"""Datasets: a cache directory, download with sha256 verification, loaders, synthesised MNIST-M.

gamebench-data list | verify [NAME...] | fetch NAME... [--mirror URL]
"""

from gamebench.data.loaders import bsds500_train, mnist, mnistm_official, read_idx, resize_images
from gamebench.data.mnistm import blend_with_backgrounds, channel_stats, mnistm_synthetic
from gamebench.data.store import (
    DATASETS,
    ChecksumError,
    DataError,
    DownloadError,
    MissingData,
    data_dir,
    derived_dir,
    download,
    fetch,
    require,
    sha256_of,
    verify,
)

__all__ = [
    "DATASETS",
    "ChecksumError",
    "DataError",
    "DownloadError",
    "MissingData",
    "blend_with_backgrounds",
    "bsds500_train",
    "channel_stats",
    "data_dir",
    "derived_dir",
    "download",
    "fetch",
    "mnist",
    "mnistm_official",
    "mnistm_synthetic",
    "read_idx",
    "require",
    "resize_images",
    "sha256_of",
    "verify",
]
