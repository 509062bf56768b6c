"""The K-beam paper's GAN experiment: JSD of a GAN on a mixture of 8 Gaussians for several K.

    python scripts/reproduce_mog.py --out results/mog_jsd --steps 50000 --trials 10 --k 1,2,5,10

Runs `gamebench -m experiment=mog_jsd solver.k=K1,K2,... steps=T trials=N log_every=L seed=S`
(one compiled group per K, all trials vmapped) with its sweep dir in DIR/.sweep (a second run skips
the K already done), then builds the report (gamebench/reports/mog_jsd.py) into DIR: mog_jsd.csv
(K,trial,step,jsd,modes_covered,high_quality), mog_jsd.png (from that CSV), mog_samples.csv and
mog_samples.png (generated samples of trial 0 at 1/5, 2/5 and all of the steps), mog_table.csv and
mog_table.md (final values per K) and mog_meta.json. --replot redraws both figures and the table
from the CSVs and runs nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gamebench.argtypes import positive_int, positive_int_list, writable_dir
from gamebench.problems.mog_gan import LAYOUTS
from gamebench.solvers.kbeam import LEADER_STATES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--steps", type=positive_int, default=50_000, help="iterations (50000)")
    parser.add_argument("--trials", type=positive_int, default=10, help="trials per K (10)")
    parser.add_argument(
        "--k", type=positive_int_list, default=[1, 2, 5, 10], help="K values (1,2,5,10)"
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    parser.add_argument("--log-every", type=positive_int, default=1000, help="JSD every (1000)")
    parser.add_argument("--layout", choices=LAYOUTS, default="even")
    parser.add_argument("--leader-state", choices=LEADER_STATES, default="shared")
    parser.add_argument("--replot", action="store_true", help="redraw the figures; run nothing")
    args = parser.parse_args(argv)
    if args.replot:
        return replot(args.out)
    if args.steps % args.log_every:
        parser.error(f"--log-every {args.log_every} must divide --steps {args.steps}")

    from gamebench.artefacts import reproduce

    overrides = [
        "experiment=mog_jsd",
        f"solver.k={','.join(map(str, args.k))}",
        f"trials={args.trials}",
        f"steps={args.steps}",
        f"log_every={args.log_every}",
        f"seed={args.seed}",
        f"problem.layout={args.layout}",
        f"solver.leader_state={args.leader_state}",
    ]
    meta = {"steps": args.steps, "trials": args.trials, "k": args.k, "seed": args.seed}
    meta |= {"log_every": args.log_every, "layout": args.layout}
    meta |= {"leader_state": args.leader_state}
    code = reproduce("mog_jsd", overrides, args.out, "mog_meta.json", **meta)
    if code == 0:
        print((args.out / "mog_table.md").read_text())
    return code


def replot(out: Path) -> int:
    import pandas as pd

    from gamebench import io
    from gamebench.reports.mog_jsd import final_table, markdown, write_figures

    missing = [n for n in ("mog_jsd.csv", "mog_samples.csv") if not (out / n).is_file()]
    if missing:
        print(
            f"reproduce_mog: error: {out / missing[0]} is missing: nothing to replot",
            file=sys.stderr,
        )
        return 2
    curves, samples = pd.read_csv(out / "mog_jsd.csv"), pd.read_csv(out / "mog_samples.csv")
    write_figures(out, curves, samples, _modes(out))
    table = final_table(curves)
    io.write_csv(out / "mog_table.csv", table)
    io.write_text(out / "mog_table.md", markdown(table, _scale(out, curves)))
    print(f"drew {out}/mog_jsd.png, mog_samples.png and mog_table.csv, .md from the CSV rows")
    return 0


def _scale(out: Path, curves) -> dict:
    """The scale the table states: steps from the rows, the command from mog_meta.json."""
    import json
    import shlex

    meta = out / "mog_meta.json"
    command = json.loads(meta.read_text()).get("command") if meta.is_file() else None
    return {
        "steps": int(curves.step.max()),
        "command": shlex.join(command) if command else "python scripts/reproduce_mog.py ...",
    }


def _modes(out: Path):
    import json

    import numpy as np

    meta = out / "mog_meta.json"
    modes = json.loads(meta.read_text()).get("modes") if meta.is_file() else None
    return None if modes is None else np.asarray(modes)


if __name__ == "__main__":
    sys.exit(main())
