"""Locks on output directories: a run locks its dir (a multirun its sweep dir) before anything is
written there, so two runs never mix their files. Standard library only: the CLI takes the lock at
start-up, before anything heavy is imported."""

from __future__ import annotations

import os
import platform
from pathlib import Path

LOCK = ".gamebench.lock"


class LockError(RuntimeError):
    """Another live gamebench process is writing into the directory."""


def take_lock(directory: str | os.PathLike) -> Path:
    """Mark `directory` as written by this process (file .gamebench.lock: pid and host); refuse
    with LockError when another live process holds it. A lock left by a killed run is stale and
    taken over, so `kill -9` and the same command still resume."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / LOCK
    me = f"{os.getpid()} {platform.node()}"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = lock.read_text().strip() if lock.exists() else ""
            if holder != me and _alive(holder):
                pid = holder.split()[0]
                raise LockError(
                    f"another gamebench run (pid {pid}) is writing into {directory}; "
                    "wait for it or choose another directory"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(me)
        _HELD.add(directory)
        return lock
    raise LockError(f"could not lock {directory}")


_HELD: set[Path] = set()  # directories this process has locked


def release_all_locks() -> None:
    for directory in list(_HELD):
        release_lock(directory)


def release_lock(directory: str | os.PathLike) -> None:
    _HELD.discard(Path(directory))
    lock = Path(directory) / LOCK
    try:
        if lock.read_text().strip() == f"{os.getpid()} {platform.node()}":
            lock.unlink()
    except OSError:
        pass


def _alive(holder: str) -> bool:
    try:
        pid, host = holder.split(maxsplit=1)
        if host != platform.node():
            return True  # another machine's process: assume alive (shared file systems)
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (ValueError, PermissionError):
        return True
    return True
