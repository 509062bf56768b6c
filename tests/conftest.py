"""Shared test settings: strict rank promotion (as equinox tests run) and config composition."""

from __future__ import annotations

import jax
import pytest

from gamebench.config import compose_config

jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def compose():
    return compose_config
