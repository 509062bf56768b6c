"""Where datasets live, what they consist of, and how they are fetched and verified.

    data directory   $GAMEBENCH_DATA, else ~/.cache/gamebench/data; may be a read-only,
                     pre-populated copy (CI points it at ../shared/data)
    derived cache    $GAMEBENCH_CACHE/derived, else ~/.cache/gamebench/derived: files we compute
                     from the raw data (synthesised MNIST-M, resized images), never in the data dir

Downloads stream into a temporary file beside the target while hashing; the file is renamed into
place only when its length and sha256 match. A checksum mismatch, a connection cut midway or an
interrupt leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gamebench.files import atomic_path
from gamebench.files import write_json as atomic_write_json
from gamebench.paths import cache_root

_CHUNK = 1 << 20
_MANIFESTS = Path(__file__).resolve().parent


class DataError(RuntimeError):
    """A dataset problem the user can fix; the message is one line."""


class MissingData(DataError):
    """A dataset file is not in the data directory."""


class ChecksumError(DataError):
    """A file's sha256 differs from the one on record."""


class DownloadError(DataError):
    """No source delivered the file."""


def data_dir() -> Path:
    return Path(os.environ.get("GAMEBENCH_DATA") or Path.home() / ".cache" / "gamebench" / "data")


def derived_dir() -> Path:
    return cache_root() / "derived"


@dataclass(frozen=True)
class DataFile:
    path: str  # relative to the data directory
    sha256: str
    urls: tuple[str, ...] = ()  # tried in order; empty: comes from the dataset's archive or by hand


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    files: tuple[DataFile, ...]
    # (url, prefix inside the archive) when the files come from one tar archive (BSDS500)
    archive: tuple[str, str] | None = None
    manual: str | None = None  # how to obtain it where no public URL serves the exact file


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}


def _manifest(name: str) -> dict[str, str]:
    """file name -> sha256 from a `sha256sum`-format manifest shipped with the package."""
    lines = (_MANIFESTS / name).read_text().splitlines()
    return {line.split()[1]: line.split()[0] for line in lines if line.strip()}


DATASETS: dict[str, Dataset] = {
    "mnist": Dataset(
        "mnist",
        "MNIST handwritten digits, 60k train / 10k test, 28x28 grey (LeCun et al.), IDX gzip files",
        tuple(
            DataFile(f"mnist/{name}", digest, tuple(m + name for m in _MNIST_MIRRORS))
            for name, digest in _MNIST_FILES.items()
        ),
    ),
    "bsds500": Dataset(
        "bsds500",
        "BSDS500 training photographs (200 RGB JPEGs), the backgrounds of synthesised MNIST-M",
        tuple(
            DataFile(f"bsds500/train/{name}", digest)
            for name, digest in _manifest("bsds500_train.sha256").items()
        ),
        archive=(
            "https://www2.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/BSR/BSR_bsds500.tgz",
            "BSR/BSDS500/data/images/train/",
        ),
    ),
    "mnistm": Dataset(
        "mnistm",
        "official MNIST-M test split (Ganin & Lempitsky 2015): x_test (9001, 32, 32, 3), y_test",
        (
            DataFile(
                "mnistm/mnistm_test.npz",
                "92545d4e826f471584625c98dc5dec68d142d4667f5c3fce1160ed95634a241e",
            ),
        ),
        manual=(
            "MNIST-M is distributed by its authors as a tarball of PNGs on a file-sharing page "
            "(see http://yaroslav.ganin.net/); pack the first 9001 test images and labels as "
            "mnistm/mnistm_test.npz with arrays x_test (uint8, N x 32 x 32 x 3) and y_test"
        ),
    ),
    "genki": Dataset(
        "genki",
        "GENKI faces 16x16 grey, smile and gender labels, 1740 train / 200 test (MinimaxFilter)",
        (
            DataFile(
                "genki/genki.mat",
                "2dc259ffd1434d59d57eb03024aa17fb075f8636ac854e5ea6f7e765892155e8",
                ("https://github.com/hammlab/MinimaxFilter/raw/master/test/genki.mat",),
            ),
        ),
    ),
    "hapt": Dataset(
        "hapt",
        "UCI HAPT raw smartphone recordings, 30 subjects, 50 Hz acc+gyro with activity labels",
        (
            DataFile(
                "hapt/hapt_raw.npz",
                "e5fc42182be8922ce0317c670ebea06dcc27077489a76cd773f40b39848c1b6d",
            ),
        ),
        manual=(
            "download the UCI archive 'Smartphone-Based Recognition of Human Activities and "
            "Postural Transitions' (https://archive.ics.uci.edu/dataset/341) and pack RawData/ as "
            "hapt/hapt_raw.npz with arrays signal, label, subject, experiment (see "
            "../shared/data/README.md of the gamebench workspace for the layout)"
        ),
    ),
}


def dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def require(name: str, root: Path | None = None) -> Path:
    """The data directory holding every file of dataset `name`, each checked against its sha256;
    MissingData or ChecksumError in one line naming the file and the command that fixes it.

    A file's checksum is computed once per (size, mtime) and remembered in the cache root
    (verified.json), so loading stays cheap and a file changed since is checked again."""
    root = Path(root) if root is not None else data_dir()
    verified = _verified()
    changed = False
    for file in dataset(name).files:
        path = root / file.path
        if not path.is_file():
            raise MissingData(
                f"dataset {name!r} not found: {file.path} is missing in {root} "
                f"(set GAMEBENCH_DATA to a directory that has it, or run: gamebench-data fetch {name})"
            )
        stat = path.stat()
        seen = [stat.st_size, stat.st_mtime_ns, file.sha256]
        if verified.get(str(path.resolve())) == seen:
            continue
        if (actual := sha256_of(path)) != file.sha256:
            raise ChecksumError(
                f"dataset {name!r} is corrupt: {path} has sha256 {actual[:16]}..., expected "
                f"{file.sha256[:16]}... (run: gamebench-data fetch {name})"
            )
        verified[str(path.resolve())] = seen
        changed = True
    if changed:
        try:
            atomic_write_json(cache_root() / "verified.json", verified)
        except OSError:
            pass  # a read-only cache: the files are checked again next time
    return root


def _verified() -> dict:
    try:
        return json.loads((cache_root() / "verified.json").read_text())
    except (OSError, ValueError):
        return {}


def load_derived(path: Path, rows: int) -> dict | None:
    """The arrays of a derived-cache file (.npz) when it is whole and holds `rows` examples; else
    None, the file removed, so the caller rebuilds it (an interrupted or corrupt cache file is
    never read as data)."""
    import numpy as np

    if not path.is_file():
        return None
    try:
        with np.load(path) as archive:
            arrays = {name: archive[name] for name in archive.files}
        if all(len(a) == rows for a in arrays.values()):
            return arrays
    except Exception:  # noqa: BLE001 - truncated zip, bad header, missing member: rebuild
        pass
    path.unlink(missing_ok=True)
    return None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify(name: str, root: Path | None = None) -> list[str]:
    """Problems with dataset `name` in `root` (missing files, checksum mismatches); [] if intact."""
    root = Path(root) if root is not None else data_dir()
    problems = []
    for file in dataset(name).files:
        path = root / file.path
        if not path.is_file():
            problems.append(f"{file.path}: missing")
        elif (actual := sha256_of(path)) != file.sha256:
            problems.append(f"{file.path}: sha256 {actual}, expected {file.sha256}")
    return problems


def download(
    urls: tuple[str, ...] | list[str],
    dest: Path,
    sha256: str | None,
    *,
    timeout: float = 60.0,
    report: Callable[[str], None] | None = None,
) -> Path:
    """Fetch `dest` from the first of `urls` that delivers it whole and with the right sha256.

    `sha256=None` accepts any content (archives whose members are checked one by one instead).
    """
    errors = []
    for url in urls:
        try:
            with atomic_path(dest) as tmp:
                _stream(url, tmp, sha256, timeout, report)
            return dest
        except (ChecksumError, DownloadError) as error:
            errors.append(str(error))
        except (OSError, http.client.HTTPException, urllib.error.URLError) as error:
            errors.append(f"{url}: {type(error).__name__}: {error}")
    raise DownloadError(f"could not fetch {dest.name}: " + "; ".join(errors))


def _stream(url, tmp: Path, sha256, timeout, report) -> None:
    digest = hashlib.sha256()
    written = 0
    with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
        length = response.headers.get("Content-Length")
        while block := response.read(_CHUNK):
            out.write(block)
            digest.update(block)
            written += len(block)
            if report is not None and length:
                report(f"{url}: {written / 1e6:.1f} / {int(length) / 1e6:.1f} MB")
    # http.client returns a short body without error when the peer closes early
    if length is not None and written != int(length):
        raise DownloadError(f"{url}: connection closed after {written} of {length} bytes")
    if sha256 is not None and digest.hexdigest() != sha256:
        raise ChecksumError(f"{url}: sha256 {digest.hexdigest()}, expected {sha256}")


def fetch(
    name: str,
    root: Path | None = None,
    *,
    mirror: str | None = None,
    timeout: float = 60.0,
    report: Callable[[str], None] | None = None,
) -> Path:
    """Download dataset `name` into `root` (files already present and intact are kept).

    `mirror`: a base URL that serves the data-directory layout (mirror + file.path), used instead
    of the canonical sources (an institutional mirror, or a test server).
    """
    spec = dataset(name)
    root = Path(root) if root is not None else data_dir()
    todo = [f for f in spec.files if not _intact(root / f.path, f.sha256)]
    if not todo:
        return root
    if mirror is not None:
        base = mirror if mirror.endswith("/") else mirror + "/"
        for file in todo:
            download(
                (base + file.path,), root / file.path, file.sha256, timeout=timeout, report=report
            )
        return root
    if spec.archive is not None:
        _fetch_from_archive(spec, todo, root, timeout, report)
        return root
    for file in todo:
        if not file.urls:
            raise DownloadError(
                f"dataset {name!r} has no public URL for {file.path}: {spec.manual}"
            )
        download(file.urls, root / file.path, file.sha256, timeout=timeout, report=report)
    return root


def _intact(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_of(path) == sha256


def _fetch_from_archive(spec: Dataset, todo, root: Path, timeout, report) -> None:
    url, prefix = spec.archive
    with tempfile.TemporaryDirectory(dir=_existing_parent(root)) as scratch:
        archive = download(
            (url,), Path(scratch) / Path(url).name, None, timeout=timeout, report=report
        )
        wanted = {Path(f.path).name: f for f in todo}
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                name = member.name[len(prefix) :] if member.name.startswith(prefix) else None
                if name not in wanted or not member.isfile():
                    continue
                file = wanted.pop(name)
                with atomic_path(root / file.path) as tmp:
                    with tar.extractfile(member) as source, open(tmp, "wb") as out:
                        shutil.copyfileobj(source, out)
                    if (actual := sha256_of(tmp)) != file.sha256:
                        raise ChecksumError(
                            f"{url}:{member.name}: sha256 {actual}, expected {file.sha256}"
                        )
        if wanted:
            raise DownloadError(
                f"{url} lacks {len(wanted)} expected files, e.g. {next(iter(wanted))}"
            )


def _existing_parent(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return root


def print_progress(line: str) -> None:
    print(f"\r{line}", end="", file=sys.stderr, flush=True)
