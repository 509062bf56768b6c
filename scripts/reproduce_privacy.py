"""The minimax filter's utility-privacy trade-off on GENKI or HAR (Hamm, JMLR 2017).

    python scripts/reproduce_privacy.py --out results/privacy --dataset genki --d 10,20,50,100 --trials 5

Runs `gamebench -m experiment=privacy_tradeoff problem.dataset=DATASET problem.d=D1,D2,...` with its
sweep dir in DIR/.sweep/DATASET (a second run skips the jobs already done): for every d the minimax
filters (linear and nn, Danskin descent, trials vmapped in one program per filter and d) and the
baselines as jobs of the same sweep (solver=baseline: random = the untrained random orthonormal
filter, pca, ppls, plda; the deterministic ones repeat one value over the trials), every filter
scored by the same protocol (fresh logistic regressions for both labels on its standardised
outputs; test accuracies). Then builds the report (gamebench/reports/privacy_tradeoff.py) from the
rows of every dataset run into DIR so far: DIR/privacy_table.csv (dataset,method,d,trial,
utility_acc,private_acc), privacy_table.md, privacy_tradeoff.png and privacy_meta_<dataset>.json.
--replot redraws from the CSV and runs nothing. Needs GAMEBENCH_DATA (genki, hapt).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gamebench.argtypes import positive_int, positive_int_list, writable_dir
from gamebench.data.privacy import PRIVACY_DATASETS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--dataset", choices=tuple(PRIVACY_DATASETS), default="genki")
    parser.add_argument("--d", type=positive_int_list, default=[10, 20, 50, 100])
    parser.add_argument("--trials", type=positive_int, default=5, help="trials (5)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    parser.add_argument("--steps", type=positive_int, default=None, help="filter steps (config's)")
    parser.add_argument("--replot", action="store_true", help="redraw from the CSV; run nothing")
    args = parser.parse_args(argv)
    if args.replot:
        return replot(args.out)

    from gamebench.artefacts import reproduce

    steps = [f"steps={args.steps}", f"log_every={args.steps}"] if args.steps else []
    overrides = [
        "experiment=privacy_tradeoff",
        f"problem.dataset={args.dataset}",
        f"problem.d={','.join(map(str, args.d))}",
        f"trials={args.trials}",
        f"seed={args.seed}",
        *steps,
    ]
    meta = {"dataset": args.dataset, "d": args.d, "trials": args.trials, "seed": args.seed}
    return reproduce(
        "privacy_tradeoff",
        {args.dataset: overrides},
        args.out,
        f"privacy_meta_{args.dataset}.json",
        include_earlier=True,
        **meta,
    )


def replot(out: Path) -> int:
    import json

    import pandas as pd

    from gamebench.reports.privacy_tradeoff import write

    if not (out / "privacy_table.csv").is_file():
        print(
            f"reproduce_privacy: error: {out / 'privacy_table.csv'} is missing: nothing to replot",
            file=sys.stderr,
        )
        return 2
    chance = {}
    for meta in sorted(out.glob("privacy_meta_*.json")):
        record = json.loads(meta.read_text())
        if "chance" in record:
            chance[record["dataset"]] = (record["chance"]["utility"], record["chance"]["private"])
    write(out, pd.read_csv(out / "privacy_table.csv"), chance, None)
    print(f"drew {out}/privacy_tradeoff.png and privacy_table.md from the rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
