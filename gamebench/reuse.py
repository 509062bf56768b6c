"""A lone run that repeats a finished one copies its files instead of recomputing them.

`gamebench problem=anti_saddle solver=kbeam` run twice computes the same numbers twice (runs are
deterministic: same config, code and seed, same bits). A finished lone run is recorded under its
command key: a hash of the command line, the working directory, the package's code, the configs,
the JAX/XLA versions and GAMEBENCH_/JAX_ environment settings. The next identical command, before
Hydra, JAX or pandas is imported, finds the record, checks that the earlier run is complete (its
meta.json names the job's key, its status is ok or diverged, every file it lists exists), copies its
files into a new run dir named as Hydra would name it, notes the source in meta.json
(`reused_from`) and prints the summary line. `reuse=false` on the command line recomputes; runs
whose config sets reuse false are never recorded. Multiruns use the sweep's
own done-job index (gamebench.sweep.find_done), and any command with flags (-m, --cfg, --help),
+/~ edits, hydra.* or tracking overrides takes the normal path.

Standard library only: this is what makes a repeated run cost about a Python start-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from gamebench.paths import cache_root, code_version, config_dir, package_versions

RUNS_DIR = "runs"  # under the cache root: one record per command key
LEAF = re.compile(r"^\$\{now:([^}]*)\}-\$\{gamebench_pid:\}$")  # the default run dir's last part
ENV_PREFIXES = ("GAMEBENCH_", "JAX_", "XLA_")
VERSIONED = ("jax", "jaxlib", "optax", "numpy")


def eligible(argv: list[str]) -> bool:
    """Plain `key=value` overrides of a single run, and not `reuse=false`."""
    for arg in argv:
        key, equals, value = arg.partition("=")
        if not equals or arg.startswith(("-", "+", "~")):
            return False
        if key.startswith(("hydra", "tracking")) or (key == "reuse" and value != "true"):
            return False
    return True


def _configs_digest(digest) -> None:
    root = config_dir()
    for path in sorted(root.rglob("*.yaml")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())


def command_key(argv: list[str]) -> str:
    digest = hashlib.sha256()
    env = {k: v for k, v in sorted(os.environ.items()) if k.startswith(ENV_PREFIXES)}
    env.pop("GAMEBENCH_CACHE", None)  # it only says where this record lives
    versions = package_versions(VERSIONED)
    record = {"argv": argv, "cwd": os.getcwd(), "code": code_version(), "env": env, **versions}
    digest.update(json.dumps(record, sort_keys=True).encode())
    _configs_digest(digest)
    return digest.hexdigest()[:24]


def _record_path(key: str) -> Path:
    return cache_root() / RUNS_DIR / f"{key}.json"


def complete(out_dir: Path, job_key: str) -> bool:
    """meta.json is written last and atomically: a job is done when it names this key, finished
    (ok or diverged) and every file it lists exists."""
    try:
        meta = json.loads((out_dir / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        meta.get("key") == job_key
        and meta.get("status") in ("ok", "diverged")
        and all((out_dir / name).is_file() for name in meta.get("files", []))
    )


def remember(argv: list[str], out_dir: Path, job_key: str, summary_line: str, run_dir: str) -> None:
    """Record a finished lone run under its command key. `run_dir` is Hydra's unresolved
    hydra.run.dir: the record is kept only when a new dir can be named from it without Hydra (its
    last part is ${now:...}-${gamebench_pid:}, the default)."""
    head, _, leaf = run_dir.rpartition("/")
    match = LEAF.match(leaf)
    if not eligible(argv) or match is None or "${now" in head or "gamebench_pid" in head:
        return
    from gamebench.files import write_json

    record = {
        "dir": str(out_dir.resolve()),
        "key": job_key,
        "summary_line": summary_line,
        "leaf_format": match.group(1),
    }
    write_json(_record_path(command_key(argv)), record)


def try_reuse(argv: list[str]) -> bool:
    """Copy the finished run recorded for this command into a new run dir and print its summary
    line; False (and nothing done) when there is none."""
    if not eligible(argv):
        return False
    try:
        record = json.loads(_record_path(command_key(argv)).read_text())
        earlier = Path(record["dir"])
        leaf = time.strftime(record["leaf_format"]) + f"-{os.getpid()}"
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not complete(earlier, record["key"]):
        return False
    out_dir = earlier.parent / leaf
    staging = earlier.parent / f".{leaf}.reuse.tmp"
    try:
        shutil.copytree(earlier, staging, ignore=shutil.ignore_patterns("*.tmp", "*.lock"))
        meta_path = staging / "meta.json"
        meta = json.loads(meta_path.read_text())
        meta["reused_from"] = str(earlier)
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        os.replace(staging, out_dir)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        return False
    print(
        f"gamebench: note: the same command finished in {earlier} (same config, code and data "
        "settings): its files were copied; reuse=false recomputes",
        file=sys.stderr,
    )
    print(record["summary_line"].replace(str(earlier), str(out_dir)), flush=True)
    return True
