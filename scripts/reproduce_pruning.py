"""Bilevel pruning (BiP) against iterative magnitude pruning (IMP) on an MNIST MLP at 50, 80, 90
and 95 % sparsity.

    python scripts/reproduce_pruning.py --out results/pruning [--trials 2] [--steps 4000]

Runs `gamebench -m experiment=pruning` with its sweep dir in DIR/.sweep (a second run reuses
finished jobs), then builds the report (gamebench/reports/pruning.py) into DIR:
pruning_table.csv, pruning_table.md, pruning.png and pruning_meta.json.
"""

from __future__ import annotations

import argparse
import sys

from gamebench.argtypes import positive_int, writable_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--trials", type=positive_int, default=2, help="trials per job (2)")
    parser.add_argument("--steps", type=positive_int, default=4000, help="BiP steps (4000)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    args = parser.parse_args(argv)
    if args.steps % 500:
        parser.error(f"--steps {args.steps} must be a multiple of 500 (the log interval)")

    from gamebench.artefacts import reproduce

    overrides = [
        "experiment=pruning",
        f"trials={args.trials}",
        f"steps={args.steps}",
        f"seed={args.seed}",
    ]
    meta = {"steps": args.steps, "trials": args.trials, "seed": args.seed}
    code = reproduce("pruning", overrides, args.out, "pruning_meta.json", **meta)
    if code == 0:
        print((args.out / "pruning_table.md").read_text())
    return code


if __name__ == "__main__":
    sys.exit(main())
