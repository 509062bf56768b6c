"""Shared test settings: strict rank promotion (as equinox tests run) and config composition."""

from __future__ import annotations

import jax
import pytest
from hydra import compose as hydra_compose
from hydra import initialize_config_dir

from gamebench.config import config_dir

jax.config.update("jax_numpy_rank_promotion", "raise")


def compose_config(overrides: list[str]):
    """The real configs/ composed as the CLI composes them (without the hydra node)."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


@pytest.fixture
def compose():
    return compose_config
