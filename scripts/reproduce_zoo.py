"""Every solver on every 2D surface: the solver-zoo table and its error-against-cost figure.

    python scripts/reproduce_zoo.py --out results/solver_zoo --trials 100 --seed 0

Writes DIR/zoo_table.csv (surface,solver,mean_dist,std_dist,mean_gap,frac_within_0.01,grad_evals,
hvps; one row per surface and solver at the end of the run), DIR/zoo_error_vs_cost.png,
DIR/zoo_curves.csv (the rows the figure is drawn from: error every 50 steps with the costs so far),
DIR/zoo_trials.csv (final metrics per trial) and DIR/zoo_meta.json.
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
    parser.add_argument("--log-every", type=positive_int, default=50, help="curve resolution (50)")
    parser.add_argument("--surfaces", nargs="+", metavar="NAME", help="a subset of the surfaces")
    parser.add_argument("--solvers", nargs="+", metavar="NAME", help="a subset of the solvers")
    parser.add_argument(
        "--replot",
        action="store_true",
        help="redraw the figure from DIR/zoo_curves.csv; run nothing",
    )
    args = parser.parse_args(argv)
    if args.replot:
        return replot(args.out)

    from gamebench.problems.surfaces import SURFACES
    from gamebench.solvers import SOLVERS

    surfaces = chosen_names(parser, "surface", args.surfaces, SURFACES)
    solvers = chosen_names(parser, "solver", args.solvers, SOLVERS)
    if args.steps % args.log_every:
        parser.error(f"--log-every {args.log_every} must divide --steps {args.steps}")

    from gamebench.experiment import configure_jax

    configure_jax(devices=0, compile_cache=True)

    from gamebench import io
    from gamebench.zoo import run_zoo, zoo_table
    from gamebench.zoo_figure import error_vs_cost_figure

    start = time.perf_counter()
    result = run_zoo(args.trials, args.seed, args.steps, args.log_every, surfaces, solvers)
    table = zoo_table(result.final)
    args.out.mkdir(parents=True, exist_ok=True)
    io.write_csv(args.out / "zoo_table.csv", table)
    io.write_csv(args.out / "zoo_curves.csv", result.curves)
    io.write_csv(args.out / "zoo_trials.csv", result.final)
    fig = error_vs_cost_figure(result.curves)
    io.save_figure(args.out / "zoo_error_vs_cost.png", fig)
    io.write_json(
        args.out / "zoo_meta.json",
        {
            "command": ["python", "scripts/reproduce_zoo.py", *sys.argv[1:]],
            "trials": args.trials,
            "seed": args.seed,
            "steps": args.steps,
            "surfaces": list(surfaces),
            "solvers": list(solvers),
            "compile_seconds": result.compile_seconds,
            "run_seconds": result.run_seconds,
            "wall_seconds": time.perf_counter() - start,
            **io.environment(),
        },
    )
    with_pd_options = table.to_string(index=False, float_format=lambda x: f"{x:.4f}")
    print(with_pd_options)
    print(f"wrote {args.out}/zoo_table.csv, zoo_error_vs_cost.png, zoo_curves.csv, zoo_trials.csv")
    return 0


def replot(out: Path) -> int:
    import pandas as pd

    from gamebench import io
    from gamebench.zoo_figure import error_vs_cost_figure

    io.save_figure(
        out / "zoo_error_vs_cost.png", error_vs_cost_figure(pd.read_csv(out / "zoo_curves.csv"))
    )
    print(f"redrew {out}/zoo_error_vs_cost.png from {out}/zoo_curves.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
