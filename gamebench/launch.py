"""The `gamebench` command: a run that repeats a finished one is copied (gamebench.reuse) before
Hydra, JAX or pandas is imported; everything else is gamebench.cli."""

from __future__ import annotations

import sys


def main() -> None:
    from gamebench.reuse import try_reuse

    if try_reuse(sys.argv[1:]):
        return
    from gamebench.cli import main as cli_main

    cli_main()
