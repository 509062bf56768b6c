"""Few-shot sinusoid regression as a bilevel problem: MAML (rmd), truncated rmd, iMAML (implicit),
penalty and bda against one model trained on all tasks.

    python scripts/reproduce_few_shot.py --out results/few_shot [--trials 4] [--steps 10000]

Runs `gamebench -m experiment=few_shot` with its sweep dir in DIR/.sweep (a second run reuses
finished jobs), then builds the report (gamebench/reports/few_shot.py) into DIR:
few_shot_table.csv, few_shot_table.md, few_shot_mse.png and few_shot_meta.json.
"""

from __future__ import annotations

import argparse
import sys

from gamebench.argtypes import positive_int, writable_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--trials", type=positive_int, default=4, help="trials per job (4)")
    parser.add_argument("--steps", type=positive_int, default=10000, help="leader steps (10000)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    args = parser.parse_args(argv)
    if args.steps % 500:
        parser.error(f"--steps {args.steps} must be a multiple of 500 (the log interval)")

    from gamebench.artefacts import reproduce

    overrides = [
        "experiment=few_shot",
        f"trials={args.trials}",
        f"steps={args.steps}",
        f"seed={args.seed}",
    ]
    meta = {"steps": args.steps, "trials": args.trials, "seed": args.seed}
    code = reproduce("few_shot", overrides, args.out, "few_shot_meta.json", **meta)
    if code == 0:
        print((args.out / "few_shot_table.md").read_text())
    return code


if __name__ == "__main__":
    sys.exit(main())
