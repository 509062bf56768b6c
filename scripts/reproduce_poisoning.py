"""Training-data poisoning on MNIST as a bilevel problem, against the poison budget.

    python scripts/reproduce_poisoning.py --out results/poisoning [--steps 200]

Runs `gamebench -m experiment=poisoning` with its sweep dir in OUT/.sweep (a second run skips the
jobs already done): poison shares 1 %, 3 %, 6 % of 1,000 training images, poison seeds 0 and 1,
solvers penalty, approxgrad, implicit, rmd and truncated rmd, the label_flip and clean baselines.
Then builds the report (gamebench/reports/adversarial.py) into OUT: poisoning_table.csv (method,
poison_share, n_poison, trial, refit_acc, clean_acc, drop, grad_evals_per_step, hvps_per_step),
poisoning_table.md, poisoning.png and poisoning_meta.json. Needs GAMEBENCH_DATA (mnist).
"""

from __future__ import annotations

import argparse
import sys

from gamebench.argtypes import positive_int, writable_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--steps", type=positive_int, default=None, help="leader steps (200)")
    args = parser.parse_args(argv)

    from gamebench.artefacts import reproduce

    steps = [f"steps={args.steps}", f"log_every={args.steps // 4 or 1}"] if args.steps else []
    return reproduce(
        "adversarial", ["experiment=poisoning", *steps], args.out, "poisoning_meta.json",
        steps=args.steps,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
