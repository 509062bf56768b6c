"""Constrained learning by primal-dual methods: the fairness-constrained smile classifier on GENKI
and the Neyman-Pearson classifier on MNIST 9 vs 4, against the unconstrained fit and a grid of fixed
penalties.

    python scripts/reproduce_constrained.py --out results/constrained [--trials 2] [--steps 5000]

Runs `gamebench -m experiment=constrained` (2 tasks x 2 formulations x 4 solvers) and
`gamebench -m experiment=constrained_penalty` (2 tasks x 6 penalties) with their sweep dirs in
DIR/.sweep/{primal_dual,penalty} (a second run reuses finished jobs), then builds the report
(gamebench/reports/constrained.py) into DIR: constrained_table.csv, constrained_table.md,
constrained.png and constrained_meta.json. Needs GAMEBENCH_DATA (genki, mnist).
"""

from __future__ import annotations

import argparse
import sys

from gamebench.argtypes import positive_int, writable_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--trials", type=positive_int, default=2, help="trials per job (2)")
    parser.add_argument("--steps", type=positive_int, default=5000, help="steps (5000)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    args = parser.parse_args(argv)
    if args.steps % 250:
        parser.error(f"--steps {args.steps} must be a multiple of 250 (the log interval)")

    from gamebench.artefacts import reproduce

    common = [f"trials={args.trials}", f"steps={args.steps}", f"seed={args.seed}"]
    overrides = {
        "primal_dual": ["experiment=constrained", *common],
        "penalty": ["experiment=constrained_penalty", *common],
    }
    meta = {"steps": args.steps, "trials": args.trials, "seed": args.seed}
    code = reproduce("constrained", overrides, args.out, "constrained_meta.json", **meta)
    if code == 0:
        print((args.out / "constrained_table.md").read_text())
    return code


if __name__ == "__main__":
    sys.exit(main())
