"""Where gamebench keeps things, and the version of its code: standard library only, so the CLI's
fast path (gamebench.reuse) can use them before importing JAX, pandas or Hydra."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CONFIG_DIR = PACKAGE_DIR.parent / "configs"  # editable install / source tree


def config_dir() -> Path:
    """The directory of the YAML configs, for editable and regular installs alike."""
    if (CONFIG_DIR / "config.yaml").is_file():
        return CONFIG_DIR
    from importlib.resources import files

    return Path(str(files("gamebench.configs")))


def cache_root() -> Path:
    """$GAMEBENCH_CACHE, else ~/.cache/gamebench: derived data, the XLA cache, the job index."""
    return Path(os.environ.get("GAMEBENCH_CACHE") or Path.home() / ".cache" / "gamebench")


@cache
def code_version() -> str:
    """sha256 of the package's Python sources: a job's outputs are reused only under the same code."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def package_versions(names) -> dict[str, str | None]:
    """Installed versions of the named distributions (None where one is missing)."""
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
