"""matplotlib for files only (no display on servers and CI)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


def close(fig) -> None:
    plt.close(fig)
