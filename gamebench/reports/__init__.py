"""Paper artefacts built from a sweep's rows: one module per artefact, no JAX.

An experiment config names its report (`report: surfaces`); `gamebench -m experiment=NAME` builds it
into the sweep dir when the sweep ends, and `gamebench-report SWEEP_DIR` rebuilds it from the rows.
Each module has build(sweeps, out=None, command=None) -> list of written paths, where `sweeps` is
one sweep dir or several (whose rows are read together).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from gamebench.reports.rows import Sweeps

REPORTS = (
    "surfaces", "solver_zoo", "mog_jsd", "da_mnistm", "privacy_tradeoff", "bilevel", "search",
    "adversarial",
    "nplayer", "few_shot", "constrained", "pruning",
)  # fmt: skip


def build_report(
    name: str, sweeps: Sweeps, out: str | Path | None = None, command: str | None = None
) -> list[Path]:
    """Build report `name` from the sweeps' rows into `out` (default: the first sweep dir); `command`,
    when given, is the command the report names as its source (default: the sweep's own)."""
    if name not in REPORTS:
        raise ValueError(f"unknown report {name!r}; allowed: {', '.join(REPORTS)}")
    return import_module(f"gamebench.reports.{name}").build(sweeps, out, command)
