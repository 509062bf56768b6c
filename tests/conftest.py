"""Shared test settings: strict rank promotion (as equinox tests run) and config composition."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from gamebench.config import compose_config

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(scope="session", autouse=True)
def shared_compilation_cache(tmp_path_factory):
    """One XLA compilation cache for the session: every CLI run and every test's own compiles
    (the xdist workers included: the parent of a worker's basetemp is the session's), while each
    CLI run keeps its own job index (GAMEBENCH_CACHE): a program the suite compiled once, in any
    process, is loaded, not compiled, again (the suite's user time 597 s -> 524 s). Derived
    datasets (the synthesised MNIST-M, 2 s per domain-adaptation run) are shared the same way."""
    session = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a worker's basetemp: pytest-N/popen-gwK
        session = session.parent
    os.environ.setdefault("GAMEBENCH_COMPILE_CACHE", str(session / "xla-cache"))
    os.environ.setdefault("GAMEBENCH_TEST_DERIVED", str(session / "derived"))
    jax.config.update("jax_compilation_cache_dir", os.environ["GAMEBENCH_COMPILE_CACHE"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.3)
    _compile_fully(False)
    yield


# The tests' own programs compile at XLA's lowest optimisation level, as `debug=smoke` compiles
# the CLI runs': their seconds are mostly compilation (in-process tests 341 s -> 265 s, one
# process, the same tests passing). Tests marked `optimized` (or in a module marked so) compile
# as users' runs do: those that assert bitwise facts of the compiled program, and those whose
# tolerance was set at full optimisation. The level is not part of JAX's in-memory cache key, so
# a switch clears that cache (the persistent one keys on it).
_FULL = [None]


def _compile_fully(full: bool) -> None:
    if _FULL[0] is full:
        return
    if _FULL[0] is not None:
        jax.clear_caches()
    jax.config.update("jax_disable_most_optimizations", not full)
    _FULL[0] = full


@pytest.fixture(scope="module", autouse=True)
def module_optimisation_level(request):
    """Before the module's own fixtures compile anything (autouse fixtures of a scope come first)."""
    _compile_fully(request.node.get_closest_marker("optimized") is not None)
    yield


@pytest.fixture(autouse=True)
def optimisation_level(request):
    _compile_fully(request.node.get_closest_marker("optimized") is not None)
    yield


@pytest.fixture
def compose():
    return compose_config


def _environment(tmp_path, extra: dict | None) -> dict:
    env = {**os.environ, "GAMEBENCH_CACHE": str(tmp_path / "cache"), **(extra or {})}
    derived = Path(env["GAMEBENCH_CACHE"]) / "derived"
    if "GAMEBENCH_TEST_DERIVED" in os.environ and not os.path.lexists(derived):
        derived.parent.mkdir(parents=True, exist_ok=True)
        Path(os.environ["GAMEBENCH_TEST_DERIVED"]).mkdir(parents=True, exist_ok=True)
        derived.symlink_to(os.environ["GAMEBENCH_TEST_DERIVED"], target_is_directory=True)
    env.pop("HYDRA_FULL_ERROR", None)
    return env


class _Zygote:
    """This worker's cli_zygote process (started on first use): it forks one child per CLI run,
    so a run does not spend seconds importing what every run imports (tests/cli_zygote.py)."""

    process: subprocess.Popen | None = None
    pending = b""
    # read when imported, so a run that sets them differently needs an interpreter of its own
    IMPORT_TIME = ("JAX_", "XLA_", "GAMEBENCH_PLUGINS", "PYTHON", "MPL", "OMP_", "TF_")

    @classmethod
    def serves(cls, args, env: dict) -> bool:
        if not hasattr(os, "fork") or os.environ.get("GAMEBENCH_TEST_NO_ZYGOTE"):
            return False
        # launchers start worker processes of their own (joblib's loky hung in a forked child)
        if any(a.startswith(("hydra/launcher=", "+hydra/launcher=")) for a in args):
            return False
        keys = {k for k in {*env, *os.environ} if k.startswith(cls.IMPORT_TIME)}
        return all(env.get(k) == os.environ.get(k) for k in keys)

    @classmethod
    def _answer(cls, timeout: float | None) -> dict | None:
        """The zygote's next line, or None when none came within `timeout` seconds."""
        import json
        import select
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        fd = cls.process.stdout.fileno()
        while b"\n" not in cls.pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("tests/cli_zygote.py ended unexpectedly")
            cls.pending += chunk
        line, cls.pending = cls.pending.split(b"\n", 1)
        return json.loads(line)

    @classmethod
    def run(cls, tmp_path, args, env: dict, timeout: float) -> subprocess.CompletedProcess:
        import json
        import signal
        import tempfile

        if cls.process is None or cls.process.poll() is not None:
            script = os.path.join(os.path.dirname(__file__), "cli_zygote.py")
            cls.process = subprocess.Popen(
                [sys.executable, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            cls.pending = b""
        captured = []
        for name in ("out", "err"):
            fd, path = tempfile.mkstemp(prefix=f"gamebench-std{name}-")
            os.close(fd)
            captured.append(Path(path))
        out, err = captured
        request = {"args": list(args), "cwd": str(tmp_path), "env": env}
        request |= {"stdout": str(out), "stderr": str(err)}
        cls.process.stdin.write(json.dumps(request).encode() + b"\n")
        cls.process.stdin.flush()
        pid = cls._answer(None)["pid"]
        done = cls._answer(timeout)
        if done is None:
            os.kill(pid, signal.SIGKILL)
            cls._answer(None)
            raise subprocess.TimeoutExpired(["gamebench", *args], timeout)
        stdout, stderr = out.read_text(), err.read_text()
        out.unlink()
        err.unlink()
        return subprocess.CompletedProcess(["gamebench", *args], done["code"], stdout, stderr)


def gamebench_cli(tmp_path, *args, env=None, timeout=300):
    """`gamebench ARGS` as a user runs it: a process in tmp_path with its own cache (and the
    environment variables in `env` on top of this process's), forked from a process that has
    imported JAX, Hydra and pandas already (set GAMEBENCH_TEST_NO_ZYGOTE=1 for a fresh
    interpreter per run; runs that set import-time variables always get one)."""
    environment = _environment(tmp_path, env)
    if _Zygote.serves(args, environment):
        return _Zygote.run(tmp_path, args, environment, timeout)
    command = [sys.executable, "-m", "gamebench.cli", *args]
    return subprocess.run(
        command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=timeout
    )


def start_gamebench(tmp_path, *args, env=None, **kwargs) -> subprocess.Popen:
    """The same, started in the background (output piped unless kwargs say otherwise)."""
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **kwargs}
    command = [sys.executable, "-m", "gamebench.cli", *args]
    return subprocess.Popen(command, cwd=tmp_path, env=_environment(tmp_path, env), **options)
