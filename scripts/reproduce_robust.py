"""Robust training on MNIST: standard training, FGSM-RS, PGD-AT, Fast-BAT and Machine vs Machine.

    python scripts/reproduce_robust.py --out results/robust [--trials 2] [--steps 3000]

Runs `gamebench -m experiment=robust_mnist` and `gamebench -m experiment=mvm_mnist` with their sweep
dirs in OUT/.sweep/robust and OUT/.sweep/mvm (a second run skips the jobs already done), then builds
the report (gamebench/reports/adversarial.py) from both sweeps' rows into OUT: robust_table.csv
(method, trial, clean_acc, robust_acc, robust_acc_large, grad_evals_per_step, hvps_per_step),
robust_table.md, robust_accuracy.png and robust_meta.json. Needs GAMEBENCH_DATA (mnist).
"""

from __future__ import annotations

import argparse
import sys

from gamebench.argtypes import positive_int, writable_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--trials", type=positive_int, default=None, help="trials (config's: 2)")
    parser.add_argument("--steps", type=positive_int, default=None, help="steps (config's: 3000)")
    parser.add_argument("--seed", type=int, default=0, help="seed (0)")
    args = parser.parse_args(argv)

    from gamebench.artefacts import reproduce

    scale = [f"seed={args.seed}"]
    scale += [f"trials={args.trials}"] if args.trials else []
    scale += [f"steps={args.steps}", f"log_every={args.steps // 6 or 1}"] if args.steps else []
    sweeps = {
        "robust": ["experiment=robust_mnist", *scale],
        "mvm": ["experiment=mvm_mnist", *scale],
    }
    meta = {"trials": args.trials, "steps": args.steps, "seed": args.seed}
    return reproduce("adversarial", sweeps, args.out, "robust_meta.json", **meta)


if __name__ == "__main__":
    sys.exit(main())
