"""Optuna search over K-beam's step sizes on the seesaw, against the default step sizes.

    python scripts/reproduce_search.py --out results/search [--n-trials 32] [--batch 8]

Runs `gamebench -m experiment=lr_search_seesaw` (TPE, seed 0; job 0 = the default step sizes
0.1/sqrt(t)) with its sweep dir in DIR/.sweep (the study in DIR/.sweep/optuna.db: a killed run
resumes), then builds the report (gamebench/reports/search.py) into DIR: search_trials.csv (one
row per job: searched values, final mean distance to u*, state), search.png and search_table.md
(job 0 against the best job), and search_meta.json (command, scale, versions).
"""

from __future__ import annotations

import argparse
import sys

from gamebench.argtypes import positive_int, writable_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--n-trials", type=positive_int, default=32, help="jobs in all (32)")
    parser.add_argument("--batch", type=positive_int, default=8, help="jobs per round (8)")
    args = parser.parse_args(argv)

    from gamebench.artefacts import reproduce

    overrides = [
        "experiment=lr_search_seesaw",
        f"hydra.sweeper.search.n_trials={args.n_trials}",
        f"hydra.sweeper.search.batch={args.batch}",
    ]
    scale = {"n_trials": args.n_trials, "batch": args.batch, "trials": 100, "steps": 1000}
    return reproduce("search", overrides, args.out, "search_meta.json", **scale)


if __name__ == "__main__":
    sys.exit(main())
