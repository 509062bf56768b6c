"""The two datasets of the minimax privacy filter (Hamm, JMLR 2017): GENKI faces and UCI HAR windows.

Each loader returns a `PrivacyData`: float32 features (n, D) and integer utility and private labels
(0-based) for a train and a test split.

GENKI (genki/genki.mat): 16x16 grey faces as 256 features in [0, 1], centred by the training mean;
utility = smile, private = gender; the 1740 / 200 split of the file.

HAR (hapt/hapt_raw.npz, UCI HAPT raw 50 Hz recordings): inside each recording session, every run of
constant activity 1-6 (WALKING, UPSTAIRS, DOWNSTAIRS, SITTING, STANDING, LAYING) is cut into windows
of 128 samples (2.56 s) with stride 64; utility = activity (6 classes), private = subject (30).
Feature map (documented, fixed): for 8 signals (acc x/y/z, gyro x/y/z, |acc|, |gyro|) the mean,
standard deviation, minimum, maximum, 25th and 75th percentiles of the window and the log energy in
8 equal-width frequency bands of its spectrum (0-25 Hz): 8 x 14 = 112 features, standardised with
the training mean and deviation. Split within subjects so both labels are learnable: for every
subject, windows of its last recording session are the test set and its earlier sessions train.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gamebench.data.store import DataError, require

WINDOW, STRIDE = 128, 64
ACTIVITIES = ("WALKING", "UPSTAIRS", "DOWNSTAIRS", "SITTING", "STANDING", "LAYING")
FREQUENCY_BANDS = 8


@dataclass(frozen=True)
class PrivacyData:
    name: str
    x_train: np.ndarray  # float32 (n, D)
    utility_train: np.ndarray  # int32 (n,), 0-based
    private_train: np.ndarray
    x_test: np.ndarray
    utility_test: np.ndarray
    private_test: np.ndarray
    utility_classes: int
    private_classes: int


def genki(root: Path | None = None) -> PrivacyData:
    from scipy.io import loadmat  # scipy comes with jax

    root = require("genki", root)
    mat = loadmat(root / "genki" / "genki.mat")
    x_train = mat["Xtrain"].T.astype(np.float32)
    x_test = mat["Xtest"].T.astype(np.float32)
    mean = x_train.mean(axis=0)

    def labels(key):
        return mat[key].ravel().astype(np.int32) - 1  # stored as 1/2

    return PrivacyData(
        "genki",
        x_train - mean,
        labels("y1_train"),
        labels("y2_train"),
        x_test - mean,
        labels("y1_test"),
        labels("y2_test"),
        2,
        2,
    )


def activity_windows(
    label: np.ndarray, experiment: np.ndarray, window: int = WINDOW, stride: int = STRIDE
) -> np.ndarray:
    """Start indices of windows inside runs of constant activity 1-6 within one experiment."""
    change = np.flatnonzero(
        (np.diff(label.astype(np.int32)) != 0) | (np.diff(experiment.astype(np.int32)) != 0)
    )
    starts = np.concatenate([[0], change + 1])
    ends = np.concatenate([change + 1, [label.size]])
    out = []
    for start, end in zip(starts, ends):
        if 1 <= label[start] <= 6 and end - start >= window:
            out.append(np.arange(start, end - window + 1, stride))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def window_features(windows: np.ndarray) -> np.ndarray:
    """(n, 128, 6) raw windows -> (n, 112) statistics described in the module docstring."""
    acc, gyro = windows[..., :3], windows[..., 3:]
    signals = np.concatenate(
        [
            windows,
            np.linalg.norm(acc, axis=-1, keepdims=True),
            np.linalg.norm(gyro, axis=-1, keepdims=True),
        ],
        axis=-1,
    )  # (n, 128, 8)
    stats = [
        signals.mean(1),
        signals.std(1),
        signals.min(1),
        signals.max(1),
        np.percentile(signals, 25, axis=1),
        np.percentile(signals, 75, axis=1),
    ]
    power = np.abs(np.fft.rfft(signals - signals.mean(1, keepdims=True), axis=1)) ** 2  # (n, 65, 8)
    bands = np.array_split(np.arange(1, power.shape[1]), FREQUENCY_BANDS)
    stats += [np.log(power[:, band].sum(1) + 1e-6) for band in bands]
    return np.concatenate(stats, axis=1).astype(np.float32)


def har(root: Path | None = None) -> PrivacyData:
    root = require("hapt", root)
    with np.load(root / "hapt" / "hapt_raw.npz") as raw:
        signal, label = raw["signal"], raw["label"]
        subject, experiment = raw["subject"], raw["experiment"]
    starts = activity_windows(label, experiment)
    if starts.size == 0:
        raise DataError(f"{root / 'hapt' / 'hapt_raw.npz'}: no activity windows found")
    windows = signal[starts[:, None] + np.arange(WINDOW)[None, :]]  # (n, 128, 6)
    x = window_features(windows)
    activity = label[starts].astype(np.int32) - 1
    person = subject[starts].astype(np.int32) - 1
    session = experiment[starts]
    last_session = np.zeros(30, np.int64)
    np.maximum.at(last_session, person, session)
    test = session == last_session[person]
    mean, std = x[~test].mean(0), x[~test].std(0) + 1e-6
    x = (x - mean) / std
    return PrivacyData(
        "har",
        x[~test],
        activity[~test],
        person[~test],
        x[test],
        activity[test],
        person[test],
        6,
        30,
    )


PRIVACY_DATASETS = {"genki": genki, "har": har}


def privacy_dataset(name: str, root: Path | None = None) -> PrivacyData:
    if name not in PRIVACY_DATASETS:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(PRIVACY_DATASETS)}")
    return PRIVACY_DATASETS[name](root)
