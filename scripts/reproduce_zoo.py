"""Every solver on every 2D surface: the solver-zoo table and its error-against-cost figure.

    python scripts/reproduce_zoo.py --out results/solver_zoo --trials 100 --seed 0

Runs `gamebench -m experiment=solver_zoo trials=N seed=S steps=T log_every=L [problem=...]
[solver=...]` with its sweep dir in DIR/.sweep (a second run skips the jobs already done), then
builds the report (gamebench/reports/solver_zoo.py) into DIR: zoo_table.csv (surface,solver,
mean_dist,std_dist,mean_gap,frac_within_0.01,grad_evals,hvps; one row per surface and solver at the
end of the run), zoo_error_vs_cost.png, zoo_curves.csv (the rows the figure is drawn from: error
every 50 steps with the costs so far), zoo_trials.csv (final metrics per trial) and zoo_meta.json.
--replot redraws the figure from DIR/zoo_curves.csv and runs nothing.
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

    from gamebench.artefacts import swept_values

    surfaces = chosen_names(parser, "surface", args.surfaces, swept_values("solver_zoo", "problem"))
    solvers = chosen_names(parser, "solver", args.solvers, swept_values("solver_zoo", "solver"))
    if args.steps % args.log_every:
        parser.error(f"--log-every {args.log_every} must divide --steps {args.steps}")

    from gamebench.artefacts import reproduce

    overrides = [
        "experiment=solver_zoo",
        f"trials={args.trials}",
        f"seed={args.seed}",
        f"steps={args.steps}",
        f"log_every={args.log_every}",
        f"problem={','.join(surfaces)}",
        f"solver={','.join(solvers)}",
    ]
    meta = {"trials": args.trials, "seed": args.seed, "steps": args.steps}
    meta |= {"surfaces": surfaces, "solvers": solvers}
    return reproduce("solver_zoo", overrides, args.out, "zoo_meta.json", **meta)


def replot(out: Path) -> int:
    import pandas as pd

    from gamebench import io
    from gamebench.reports.solver_zoo import error_vs_cost_figure

    curves = out / "zoo_curves.csv"
    if not curves.is_file():
        print(f"reproduce_zoo: error: {curves} is missing: nothing to replot", file=sys.stderr)
        return 2
    io.save_figure(out / "zoo_error_vs_cost.png", error_vs_cost_figure(pd.read_csv(curves)))
    print(f"redrew {out}/zoo_error_vs_cost.png from {curves}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
