"""Datasets layer: IDX parsing, missing-data errors, downloads against a local HTTP server,
MNIST-M synthesis, and (with GAMEBENCH_DATA set) the real files."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from gamebench import data
from gamebench.data import store

REAL = os.environ.get("GAMEBENCH_DATA")
needs_real_data = pytest.mark.skipif(
    not REAL, reason="GAMEBENCH_DATA is not set: no real dataset directory configured"
)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files from `directory`; paths under /cut/ send the full Content-Length, then half the
    body, then close the connection (a transfer cut midway)."""

    def do_GET(self):  # noqa: N802 - the http.server API
        if self.path.startswith("/cut/"):
            body = (Path(self.directory) / self.path[len("/cut/") :]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    servers = []

    def start(directory: Path) -> str:
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(_Handler, directory=str(directory))
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_read_idx_round_trips(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    write_idx(tmp_path / "x.gz", images)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "x.gz"), images)


def test_missing_dataset_is_one_line_naming_dataset_directory_and_command(tmp_path):
    with pytest.raises(data.MissingData) as error:
        data.mnist("train", root=tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert "'mnist'" in message and str(tmp_path) in message
    assert "gamebench-data fetch mnist" in message


def test_unknown_split_and_dataset_are_rejected(tmp_path):
    with pytest.raises(data.DataError, match="unknown split 'val'; allowed: train, test"):
        data.mnist("val", root=tmp_path)
    with pytest.raises(data.DataError, match="unknown dataset 'cifar'; allowed: bsds500"):
        data.fetch("cifar", tmp_path)


def test_download_verifies_checksum_and_writes_atomically(tmp_path, serve):
    served = tmp_path / "served"
    served.mkdir()
    payload = os.urandom(300_000)
    (served / "blob.bin").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    url = serve(served)
    target = tmp_path / "cache" / "blob.bin"

    data.download((url + "blob.bin",), target, digest)
    assert target.read_bytes() == payload

    bad = tmp_path / "cache" / "bad.bin"
    with pytest.raises(data.DownloadError, match="sha256 .* expected 0+"):
        data.download((url + "blob.bin",), bad, "0" * 64)
    with pytest.raises(data.DownloadError, match="connection closed after 150000 of 300000 bytes"):
        data.download((url + "cut/blob.bin",), bad, digest)
    # neither failure left a file or a temporary behind
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["blob.bin"]


def test_download_falls_back_to_the_next_mirror(tmp_path, serve):
    served = tmp_path / "served"
    served.mkdir()
    (served / "a.bin").write_bytes(b"hello")
    url = serve(served)
    digest = hashlib.sha256(b"hello").hexdigest()
    target = data.download((url + "missing.bin", url + "a.bin"), tmp_path / "a.bin", digest)
    assert target.read_bytes() == b"hello"


@needs_real_data
def test_fetch_mnist_from_a_local_mirror_of_the_real_files(tmp_path, serve):
    url = serve(Path(REAL))
    root = data.fetch("mnist", tmp_path / "data", mirror=url)
    assert data.verify("mnist", root) == []
    # the same real file with a wrong checksum, and cut midway: nothing is left behind
    labels = "mnist/t10k-labels-idx1-ubyte.gz"
    wrong = tmp_path / "wrong" / "labels.gz"
    with pytest.raises(data.DownloadError, match="sha256"):
        data.download((url + labels,), wrong, "0" * 64)
    with pytest.raises(data.DownloadError, match="connection closed after"):
        data.download((url + "cut/" + labels,), wrong, data.DATASETS["mnist"].files[3].sha256)
    assert list((tmp_path / "wrong").iterdir()) == []
    images, labels = data.mnist("test", root)
    assert images.shape == (10_000, 28, 28) and labels.shape == (10_000,)


@needs_real_data
def test_real_files_shapes_label_counts_and_checksums():
    for name in ("mnist", "bsds500", "mnistm"):
        assert data.verify(name) == [], name
    train_x, train_y = data.mnist("train")
    test_x, test_y = data.mnist("test")
    assert train_x.shape == (60_000, 28, 28) and test_x.shape == (10_000, 28, 28)
    # the canonical MNIST class counts
    assert np.bincount(train_y).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(test_y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    official_x, official_y = data.mnistm_official(28)
    assert official_x.shape == (9001, 28, 28, 3) and official_x.dtype == np.uint8
    np.testing.assert_array_equal(official_y, test_y[:9001])


def test_mnistm_blend_follows_the_recipe_and_is_deterministic():
    rng = np.random.default_rng(1)
    digits = np.where(rng.random((6, 28, 28)) > 0.7, rng.integers(1, 256, (6, 28, 28)), 0).astype(
        np.uint8
    )
    backgrounds = [rng.integers(0, 256, (40, 50, 3)).astype(np.uint8) for _ in range(3)]
    first = data.blend_with_backgrounds(digits, backgrounds, seed=3)
    np.testing.assert_array_equal(first, data.blend_with_backgrounds(digits, backgrounds, seed=3))
    assert not np.array_equal(first, data.blend_with_backgrounds(digits, backgrounds, seed=4))
    assert first.shape == (6, 28, 28, 3) and first.dtype == np.uint8
    # off the digit the image is a crop of some background; on it, 255 minus that crop
    stroke = digits[0] > 0
    for background in backgrounds:
        for top in range(background.shape[0] - 27):
            for left in range(background.shape[1] - 27):
                crop = background[top : top + 28, left : left + 28]
                if np.array_equal(first[0][~stroke], crop[~stroke]):
                    np.testing.assert_array_equal(first[0][stroke], 255 - crop[stroke])
                    return
    pytest.fail("image 0 is not |crop - digit| for any crop of the backgrounds")


def test_channel_stats_are_the_float_mean_and_std_of_the_scaled_pixels():
    images = np.random.default_rng(0).integers(0, 256, (50, 7, 5, 3)).astype(np.uint8)
    images[..., 1] = 255  # a constant channel: std exactly 0
    mean, std = data.channel_stats(images)
    scaled = images.reshape(-1, 3).astype(np.float64) / 255.0
    np.testing.assert_allclose(mean, scaled.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(std, scaled.std(axis=0), rtol=1e-12)
    assert std[1] == 0.0 and mean[1] == 1.0


@needs_real_data
def test_synthesised_mnistm_matches_official_channel_statistics(tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEBENCH_CACHE", str(tmp_path))
    digits, _ = data.mnist("test")
    backgrounds = data.bsds500_train()
    synthetic = data.blend_with_backgrounds(digits[:3000], backgrounds, seed=0)
    official, _ = data.mnistm_official(28)
    mean_s, std_s = data.channel_stats(synthetic)
    mean_o, std_o = data.channel_stats(official)
    assert np.abs(mean_s - mean_o).max() < 0.02
    assert np.abs(std_s - std_o).max() < 0.03


def test_data_command_lists_verifies_and_rejects(tmp_path):
    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "gamebench.data", "--dir", str(tmp_path), *args],
            capture_output=True,
            text=True,
        )

    listing = cli("list")
    assert listing.returncode == 0 and "mnist" in listing.stdout and "0/4 files" in listing.stdout
    missing = cli("verify", "genki")
    assert missing.returncode == 1 and "genki/genki.mat: missing" in missing.stdout
    bad = cli("fetch", "cifar")
    assert bad.returncode == 2 and "unknown dataset 'cifar'" in bad.stderr
    manual = cli("fetch", "mnistm")
    assert manual.returncode == 1 and "no public URL" in manual.stderr


def test_data_dir_and_derived_dir_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GAMEBENCH_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("GAMEBENCH_CACHE", str(tmp_path / "c"))
    assert store.data_dir() == tmp_path / "d"
    assert store.derived_dir() == tmp_path / "c" / "derived"


@pytest.mark.skipif(
    not REAL, reason="GAMEBENCH_DATA is not set: no real dataset directory configured"
)
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_corrupt_data_file_is_named_and_a_corrupt_derived_file_rebuilt(
    tmp_path, monkeypatch, damage
):
    import shutil

    monkeypatch.setenv("GAMEBENCH_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "data"
    shutil.copytree(Path(REAL) / "mnist", root / "mnist")
    data.mnist("test", root)  # intact: checked once, then remembered by size and mtime
    victim = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(victim.read_bytes())
    if damage == "truncate":
        content = content[: len(content) // 2]
    else:
        content[len(content) // 2] ^= 0xFF
    victim.write_bytes(bytes(content))
    with pytest.raises(data.ChecksumError, match="t10k-labels-idx1-ubyte.gz has sha256") as error:
        data.mnist("test", root)
    assert "gamebench-data fetch mnist" in str(error.value) and "\n" not in str(error.value)
    # a derived-cache file cut short is rebuilt, not read
    from gamebench.data.store import load_derived

    cached = tmp_path / "cache" / "derived.npz"
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cached, x=np.arange(10))
    cached.write_bytes(cached.read_bytes()[:-20])
    assert load_derived(cached, 10) is None and not cached.exists()
