"""Bilevel solvers on problems with known answers, on data hyper-cleaning, and their costs.

    python scripts/reproduce_bilevel.py --out results/bilevel --trials 4 [--seed S]

Runs up to three sweeps, each with its sweep dir in DIR/.sweep/PART (a second run skips the jobs
already done): synthetic = `gamebench -m experiment=bilevel_synthetic` (SMD20/21/23/24 of the
penalty paper and the IAPTT-GM example, every solver, T in --T, trials vmapped), cost =
`experiment=bilevel_cost` (each solver and T in --cost-T on a bilevel problem with a nonlinear
follower, dim u in 10, 100, 400, each job compiled and timed alone) and cleaning =
`experiment=hypercleaning` (every solver but fmd and the baselines noisy, val_only, oracle as jobs;
one label corruption per trial, label seeds S, S+1, ...). Then builds the report
(gamebench/reports/bilevel.py) from the rows of every part run into DIR so far: bilevel_synthetic.csv
(problem,solver,T,trial,step,dist,upper_value), hypercleaning.csv (method,trial,test_acc,precision,
recall), bilevel_cost.csv (solver,T,ms_per_step,peak_bytes,grad_evals,hvps,jvps), bilevel_cost_dim.csv
(the same by dim_u at T = 10), bilevel_synthetic.png, bilevel_cost.png, bilevel_tables.md and
bilevel_meta.json. --parts runs some parts only; --replot redraws figures and tables from the CSVs.
Hyper-cleaning needs GAMEBENCH_DATA (mnist): without it those jobs fail with a message and the
other parts' tables are still written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gamebench.argtypes import positive_int, positive_int_list, writable_dir

PARTS = ("synthetic", "cost", "cleaning")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--trials", type=positive_int, default=4, help="trials (4)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    parser.add_argument("--T", type=positive_int_list, default=[1, 5, 10], help="follower steps")
    parser.add_argument("--steps", type=positive_int, default=5000, help="synthetic leader steps")
    parser.add_argument(
        "--clean-steps", type=positive_int, default=1000, help="hyper-cleaning steps"
    )
    parser.add_argument("--clean-trials", type=positive_int, default=None, help="(--trials)")
    parser.add_argument("--cost-T", type=positive_int_list, default=[1, 10, 50, 100])
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="which parts to run (synthetic,cost,cleaning); the others' rows are kept",
    )
    parser.add_argument("--replot", action="store_true", help="redraw from the CSVs; run nothing")
    args = parser.parse_args(argv)
    if args.replot:
        return replot(args.out)
    parts = args.parts.split(",")
    if not set(parts) <= set(PARTS):
        parser.error(f"--parts {args.parts!r}: allowed parts are synthetic, cost, cleaning")
    log_every = max(1, args.steps // 50)
    if args.steps % log_every:
        parser.error(f"--steps {args.steps} must be a multiple of {log_every} (steps // 50)")

    from gamebench.artefacts import reproduce

    clean_trials = args.clean_trials or args.trials
    label_seeds = ",".join(str(args.seed + t) for t in range(clean_trials))
    sweeps = {
        "synthetic": [
            "experiment=bilevel_synthetic",
            f"solver.inner_steps={','.join(map(str, args.T))}",
            f"trials={args.trials}",
            f"steps={args.steps}",
            f"log_every={log_every}",
            f"seed={args.seed}",
        ],
        "cost": [
            "experiment=bilevel_cost",
            f"solver.inner_steps={','.join(map(str, args.cost_T))}",
        ],
        "cleaning": [
            "experiment=hypercleaning",
            f"problem.label_seed={label_seeds}",
            f"steps={args.clean_steps}",
            f"log_every={args.clean_steps}",
            f"seed={args.seed}",
        ],
    }
    settings = {k: v for k, v in vars(args).items() if k not in ("out", "replot")}
    return reproduce(
        "bilevel",
        {part: sweeps[part] for part in parts},
        args.out,
        "bilevel_meta.json",
        include_earlier=True,
        **settings,
    )


def replot(out: Path) -> int:
    import pandas as pd

    from gamebench import io
    from gamebench.reports.bilevel import tables_markdown, write_figures

    def read(name):
        return pd.read_csv(out / name) if (out / name).is_file() else None

    synthetic, cost = read("bilevel_synthetic.csv"), read("bilevel_cost.csv")
    cost_dim, cleaning = read("bilevel_cost_dim.csv"), read("hypercleaning.csv")
    if all(frame is None for frame in (synthetic, cost, cost_dim, cleaning)):
        print(
            f"reproduce_bilevel: error: no bilevel CSV in {out}: nothing to replot", file=sys.stderr
        )
        return 2
    write_figures(out, synthetic, cost)
    io.write_text(out / "bilevel_tables.md", tables_markdown(synthetic, cost, cost_dim, cleaning))
    print(f"drew {out}/bilevel_synthetic.png, bilevel_cost.png and bilevel_tables.md from the rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
