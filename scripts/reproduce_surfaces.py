"""Regenerate the K-beam paper's surface table (Hamm & Noh, ICML 2018, Table 1) through its sweep.

    python scripts/reproduce_surfaces.py --out results/surfaces --trials 100 --seed 0

Runs `gamebench -m experiment=surfaces trials=N seed=S steps=T [problem=...]` with its sweep dir in
DIR/.sweep (ignored by git; a second run skips the jobs already done), then builds the report
(gamebench/reports/surfaces.py) into DIR: surfaces_table.csv (surface,method,mean,std,n_trials),
surfaces_table.md, surfaces_trials.csv (one row per surface, method and trial: the rows the table is
made from), surfaces_table.png (final distance per method, every trial) and surfaces_meta.json.
--replot rebuilds the table and figure from DIR/surfaces_trials.csv and runs nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gamebench.argtypes import chosen_names, positive_int, writable_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--trials", type=positive_int, default=100, help="trials per cell (100)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    parser.add_argument("--steps", type=positive_int, default=1000, help="iterations (1000)")
    parser.add_argument(
        "--surfaces", nargs="+", metavar="NAME", help="a subset of the six surfaces"
    )
    parser.add_argument(
        "--replot",
        action="store_true",
        help="rebuild the table and figure from DIR/surfaces_trials.csv; run nothing",
    )
    args = parser.parse_args(argv)
    if args.replot:
        return replot(args.out)

    from gamebench.artefacts import reproduce, swept_values

    surfaces = chosen_names(parser, "surface", args.surfaces, swept_values("surfaces", "problem"))
    overrides = [
        "experiment=surfaces",
        f"trials={args.trials}",
        f"seed={args.seed}",
        f"steps={args.steps}",
        f"problem={','.join(surfaces)}",
    ]
    meta = {"trials": args.trials, "seed": args.seed, "steps": args.steps, "surfaces": surfaces}
    code = reproduce("surfaces", overrides, args.out, "surfaces_meta.json", **meta)
    if code == 0:
        print((args.out / "surfaces_table.md").read_text())
    return code


def replot(out: Path) -> int:
    import pandas as pd

    from gamebench import io
    from gamebench.reports.surfaces import markdown, summarize, surface_table_figure

    trials_path = out / "surfaces_trials.csv"
    if not trials_path.is_file():
        print(
            f"reproduce_surfaces: error: {trials_path} is missing: nothing to replot",
            file=sys.stderr,
        )
        return 2
    trials = pd.read_csv(trials_path)
    table = summarize(trials)
    io.write_csv(out / "surfaces_table.csv", table)
    md_path = out / "surfaces_table.md"
    header = md_path.read_text().split("| surface |")[0] if md_path.exists() else ""
    io.write_text(md_path, header + markdown(table))
    io.save_figure(out / "surfaces_table.png", surface_table_figure(trials))
    print(f"rebuilt {out}/surfaces_table.csv, .md, .png from {out}/surfaces_trials.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
