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
import shlex
import sys
import time
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

    from gamebench.reports.surfaces import PAPER_SURFACES

    surfaces = chosen_names(parser, "surface", args.surfaces, PAPER_SURFACES)
    from gamebench import io
    from gamebench.reports import build_report
    from gamebench.sweep import run_sweep

    start = time.perf_counter()
    sweep_dir = args.out / ".sweep"
    overrides = [
        "experiment=surfaces",
        f"trials={args.trials}",
        f"seed={args.seed}",
        f"steps={args.steps}",
        f"problem={','.join(surfaces)}",
    ]
    code = run_sweep(overrides, sweep_dir)
    if code != 0:
        print(f"reproduce_surfaces: the sweep exited {code}; see {sweep_dir}", file=sys.stderr)
        return code
    script = shlex.join(["python", "scripts/reproduce_surfaces.py", *sys.argv[1:]])
    build_report("surfaces", sweep_dir, args.out, command=script)
    groups = {m["group"]["id"]: m["group"] for m in _metas(sweep_dir)}
    io.write_json(
        args.out / "surfaces_meta.json",
        {
            "command": ["python", "scripts/reproduce_surfaces.py", *sys.argv[1:]],
            "sweep": ["gamebench", "-m", *overrides],
            "trials": args.trials,
            "seed": args.seed,
            "steps": args.steps,
            "surfaces": list(surfaces),
            "groups": list(groups.values()),
            "wall_seconds": time.perf_counter() - start,
            **io.environment(),
        },
    )
    print((args.out / "surfaces_table.md").read_text())
    print(
        f"wrote {args.out}/surfaces_table.csv, .md, .png, surfaces_trials.csv, surfaces_meta.json"
    )
    return 0


def _metas(sweep_dir: Path) -> list[dict]:
    import json

    from gamebench import io

    metas = []
    for job_dir in io.sweep_job_dirs(sweep_dir):
        meta = json.loads((job_dir / io.JOB_META).read_text())
        if meta.get("group"):
            metas.append(meta)
    return metas


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
