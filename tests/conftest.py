"""Shared test settings: strict rank promotion (as equinox tests run) and config composition."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import pytest

from gamebench.config import compose_config

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(scope="session", autouse=True)
def shared_compilation_cache(tmp_path_factory):
    """One XLA compilation cache for every CLI run of the session (the xdist workers included:
    the parent of a worker's basetemp is the session's), while each run keeps its own job index
    (GAMEBENCH_CACHE): a program the suite compiled once is loaded, not compiled, again."""
    if "GAMEBENCH_COMPILE_CACHE" not in os.environ:
        session = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):  # a worker's basetemp: pytest-N/popen-gwK
            session = session.parent
        os.environ["GAMEBENCH_COMPILE_CACHE"] = str(session / "xla-cache")
    yield


@pytest.fixture
def compose():
    return compose_config


def _environment(tmp_path, extra: dict | None) -> dict:
    env = {**os.environ, "GAMEBENCH_CACHE": str(tmp_path / "cache"), **(extra or {})}
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def gamebench_cli(tmp_path, *args, env=None, **kwargs):
    """`gamebench ARGS` as a user runs it: a subprocess in tmp_path with its own cache (and the
    environment variables in `env` on top of this process's)."""
    command = [sys.executable, "-m", "gamebench.cli", *args]
    return subprocess.run(
        command, cwd=tmp_path, env=_environment(tmp_path, env), capture_output=True, text=True,
        timeout=300, **kwargs,
    )  # fmt: skip


def start_gamebench(tmp_path, *args, env=None, **kwargs) -> subprocess.Popen:
    """The same, started in the background (output piped unless kwargs say otherwise)."""
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **kwargs}
    command = [sys.executable, "-m", "gamebench.cli", *args]
    return subprocess.Popen(command, cwd=tmp_path, env=_environment(tmp_path, env), **options)
