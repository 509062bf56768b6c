"""Regenerate the K-beam paper's surface table (Hamm & Noh, ICML 2018, Table 1).

    python scripts/reproduce_surfaces.py --out results/surfaces --trials 100 --seed 0

Writes DIR/surfaces_table.csv (surface,method,mean,std,n_trials), DIR/surfaces_table.md,
DIR/surfaces_trials.csv (one row per surface, method and trial: the rows the table is made from),
DIR/surfaces_table.png (final distance per method, every trial) and DIR/surfaces_meta.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gamebench.argtypes import chosen_names, positive_int


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
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

    from gamebench.surface_table import PAPER_SURFACES as SURFACES

    surfaces = chosen_names(parser, "surface", args.surfaces, SURFACES)

    from gamebench.experiment import configure_jax

    configure_jax(devices=0, compile_cache=True)

    from gamebench import io
    from gamebench.surface_figure import surface_table_figure
    from gamebench.surface_table import markdown, run_surface_table, summarize

    start = time.perf_counter()
    result = run_surface_table(args.trials, seed=args.seed, steps=args.steps, surfaces=surfaces)
    table = summarize(result.trials)
    args.out.mkdir(parents=True, exist_ok=True)
    io.write_csv(args.out / "surfaces_trials.csv", result.trials)
    io.write_csv(args.out / "surfaces_table.csv", table)
    header = (
        f"# Surface table: |u_T - u*| after {args.steps} iterations, mean ± std over "
        f"{args.trials} trials (seed {args.seed})\n\n"
        f"Regenerate: `python scripts/reproduce_surfaces.py --out {args.out} --trials {args.trials}"
        f" --seed {args.seed}`\n\n"
    )
    io.write_text(args.out / "surfaces_table.md", header + markdown(table))
    fig = surface_table_figure(result.trials)
    io.save_figure(args.out / "surfaces_table.png", fig)
    io.write_json(
        args.out / "surfaces_meta.json",
        {
            "command": ["python", "scripts/reproduce_surfaces.py", *sys.argv[1:]],
            "trials": args.trials,
            "seed": args.seed,
            "steps": args.steps,
            "surfaces": list(surfaces),
            "compile_seconds": result.compile_seconds,
            "run_seconds": result.run_seconds,
            "wall_seconds": time.perf_counter() - start,
            **io.environment(),
        },
    )
    print(markdown(table))
    print(
        f"wrote {args.out}/surfaces_table.csv, .md, .png, surfaces_trials.csv, surfaces_meta.json"
    )
    return 0


def replot(out: Path) -> int:
    import pandas as pd

    from gamebench import io
    from gamebench.surface_figure import surface_table_figure
    from gamebench.surface_table import markdown, summarize

    trials = pd.read_csv(out / "surfaces_trials.csv")
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
