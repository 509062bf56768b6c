"""N-player games with known Nash equilibria: every N-player solver on a strongly and a merely
monotone 4-player quadratic game and a 5-firm Cournot oligopoly.

    python scripts/reproduce_nplayer.py --out results/nplayer [--trials 20] [--steps 4000]

Runs `gamebench -m experiment=nplayer` (15 jobs, one fused program) with its sweep dir in
DIR/.sweep, then builds the report (gamebench/reports/nplayer.py) into DIR: nplayer_table.csv,
nplayer_table.md, nplayer_dist.png and nplayer_meta.json.
"""

from __future__ import annotations

import argparse
import sys

from gamebench.argtypes import positive_int, writable_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--trials", type=positive_int, default=20, help="trials per job (20)")
    parser.add_argument("--steps", type=positive_int, default=4000, help="steps (4000)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    args = parser.parse_args(argv)
    if args.steps % 100:
        parser.error(f"--steps {args.steps} must be a multiple of 100 (the log interval)")

    from gamebench.artefacts import reproduce

    overrides = [
        "experiment=nplayer",
        f"trials={args.trials}",
        f"steps={args.steps}",
        f"seed={args.seed}",
    ]
    meta = {"steps": args.steps, "trials": args.trials, "seed": args.seed}
    code = reproduce("nplayer", overrides, args.out, "nplayer_meta.json", **meta)
    if code == 0:
        print((args.out / "nplayer_table.md").read_text())
    return code


if __name__ == "__main__":
    sys.exit(main())
