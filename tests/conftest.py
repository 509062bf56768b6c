"""Shared test settings: strict rank promotion (as equinox tests run) and config composition."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import pytest

from gamebench.config import compose_config

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def compose():
    return compose_config


def gamebench_cli(tmp_path, *args, env=None, **kwargs):
    """`gamebench ARGS` as a user runs it: a subprocess in tmp_path with its own cache."""
    env = {**os.environ, "GAMEBENCH_CACHE": str(tmp_path / "cache"), **(env or {})}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, "-m", "gamebench.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )
