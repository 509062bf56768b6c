"""The K-beam paper's domain adaptation experiment: MNIST -> MNIST-M, source-only, GDA and K-beam.

    python scripts/reproduce_da.py --out results/da_mnistm --steps 10000 --trials 2 \
        --methods source_only,gda,gda_dann,kbeam1,kbeam2,kbeam5,kbeam10

Runs `gamebench -m experiment=da_mnistm` once per method asked for (source_only is
problem.adversarial=false, kbeamK is solver=kbeam solver.k=K, gda_dann is GDA with DANN's
adaptation factor and learning-rate annealing, gda_grl the same with the factor in a gradient
reversal layer as DANN's code has it; one compiled job per method, trials vmapped) with
its sweep dir in DIR/.sweep/METHOD (a second run skips the methods already done; with
--include-earlier the report also takes the methods run into DIR before, at the same scale), then
builds the report (gamebench/reports/da_mnistm.py) into DIR: da_curves.csv (method,trial,step,source_acc,
target_acc,target_official_acc), da_table.csv (the final step), da_table.md (mean ± std),
da_target_acc.png, mnistm_stats.csv (per-channel statistics of synthesised vs official MNIST-M) and
da_meta.json. --replot redraws the table and the figure from da_curves.csv and runs nothing. Needs
GAMEBENCH_DATA (mnist, bsds500, mnistm).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gamebench.argtypes import positive_int, writable_dir
from gamebench.reports.da_mnistm import SCHEDULED_ADAPTATIONS

DEFAULT_METHODS = "source_only,gda,gda_dann,kbeam1,kbeam2,kbeam5,kbeam10"


# DANN's schedules (Ganin & Lempitsky 2015): the adaptation factor and the annealed learning rate
# of both players, over the job's steps; _dann puts the factor on the payoff's domain terms (the
# paper's eqs. 13-15), _grl on their gradient into the features only (DANN's gradient reversal layer)
LR_SCHEDULES = ["solver.opt_u.schedule=dann", "solver.opt_v.schedule=dann"]
SCHEDULE_SUFFIXES = {
    f"_{adaptation}": [f"problem.adaptation={adaptation}", *LR_SCHEDULES]
    for adaptation in SCHEDULED_ADAPTATIONS
}


def method_overrides(name: str) -> list[str]:
    """The overrides of `experiment=da_mnistm` that make method NAME one job; a `_dann` or `_grl`
    suffix (gda_dann, kbeamK_grl, ...) trains with DANN's schedules."""
    base, schedules = name, []
    for suffix, overrides in SCHEDULE_SUFFIXES.items():
        if name.endswith(suffix):
            base, schedules = name.removesuffix(suffix), overrides
    if name == "source_only":
        return ["problem.adversarial=false", "solver=gda", "solver.k=1"]
    if base == "gda":
        return ["problem.adversarial=true", "solver=gda", "solver.k=1", *schedules]
    if base.startswith("kbeam") and base[5:].isdigit() and int(base[5:]) >= 1:
        return ["problem.adversarial=true", "solver=kbeam", f"solver.k={int(base[5:])}", *schedules]
    raise ValueError(
        f"unknown method {name!r}; allowed: source_only, gda, kbeamK (K >= 1), "
        "each with a _dann or _grl suffix (DANN's schedules)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=writable_dir, required=True, help="output directory")
    parser.add_argument("--steps", type=positive_int, default=10_000, help="iterations (10000)")
    parser.add_argument("--trials", type=positive_int, default=2, help="trials per method (2)")
    parser.add_argument("--methods", default=DEFAULT_METHODS, help=f"({DEFAULT_METHODS})")
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    parser.add_argument(
        "--log-every", type=positive_int, default=100, help="accuracies every (100)"
    )
    parser.add_argument(
        "--eval-size",
        type=positive_int,
        default=10_000,
        help="test examples scored per set (10000)",
    )
    parser.add_argument(
        "--replot", action="store_true", help="redraw table and figure; run nothing"
    )
    parser.add_argument(
        "--include-earlier",
        action="store_true",
        help="the report also reads the methods run into OUT/.sweep before, and the rows of "
        "OUT/da_curves.csv of methods found in neither, which must share --steps, --trials, "
        "--seed, --log-every and --eval-size (a table grown method by method)",
    )
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    for name in methods:
        try:
            method_overrides(name)
        except ValueError as error:
            parser.error(str(error))
    if args.replot:
        return replot(args.out)
    if args.steps % args.log_every:
        parser.error(f"--log-every {args.log_every} must divide --steps {args.steps}")

    from gamebench.artefacts import reproduce

    common = [
        "experiment=da_mnistm",
        f"trials={args.trials}",
        f"steps={args.steps}",
        f"log_every={args.log_every}",
        f"seed={args.seed}",
        f"problem.eval_size={args.eval_size}",
    ]
    # one sweep (of one job) per method, each in DIR/.sweep/METHOD: a subset of methods is not a
    # Cartesian product; the command line overrides the experiment's swept values
    overrides = {m: [*common, *method_overrides(m)] for m in methods}
    meta = {"steps": args.steps, "trials": args.trials, "methods": methods, "seed": args.seed}
    meta |= {"log_every": args.log_every, "eval_size": args.eval_size}
    carried = None
    if args.include_earlier:
        earlier = earlier_methods(args.out, methods)
        scale = {k: meta[k] for k in ("steps", "trials", "seed", "log_every", "eval_size")}
        for name, their_scale in earlier.items():
            if their_scale != scale:
                parser.error(f"--include-earlier: {name} was run at {their_scale}, not {scale}")
        meta["earlier_methods"] = sorted(earlier)
        try:
            carried = carried_rows(args.out, [*methods, *earlier], scale)
        except ValueError as error:
            parser.error(f"--include-earlier: {error}")
    code = reproduce(
        "da_mnistm",
        overrides,
        args.out,
        "da_meta.json",
        include_earlier=args.include_earlier,
        **meta,
    )
    if carried is not None and code in (0, 1):
        add_carried_rows(args.out, *carried)
    if code == 0:
        print((args.out / "da_table.md").read_text())
    return code


def carried_rows(out: Path, methods: list[str], scale: dict):
    """The rows of OUT/da_curves.csv for methods neither run now nor found in OUT/.sweep (a table
    whose sweep dirs are gone, grown by one method), with the record of the run that made them;
    None when there are none. Their scale (OUT/da_meta.json) must be the same."""
    import json

    import pandas as pd

    curves_csv, meta_json = out / "da_curves.csv", out / "da_meta.json"
    if not (curves_csv.is_file() and meta_json.is_file()):
        return None
    curves = pd.read_csv(curves_csv)
    curves = curves[~curves.method.isin(methods)]
    if curves.empty:
        return None
    record = json.loads(meta_json.read_text())
    their_scale = {k: record.get(k) for k in scale}
    if their_scale != scale:
        raise ValueError(f"{curves_csv} was made at {their_scale}, not {scale}")
    provenance_keys = ("command", "sweep", "earlier_methods", "carried_over")
    made_by = {k: record[k] for k in provenance_keys if k in record}
    return curves, {"methods": sorted(set(curves.method)), "made_by": made_by}


def add_carried_rows(out: Path, curves, provenance: dict) -> None:
    """Rewrite OUT's tables and figure with the carried rows beside the new ones, and record
    where the carried rows came from in OUT/da_meta.json (a chain, for tables grown repeatedly)."""
    import json

    import pandas as pd

    from gamebench import io
    from gamebench.reports.da_mnistm import curves_in_order, write_tables

    merged = curves_in_order(pd.concat([pd.read_csv(out / "da_curves.csv"), curves]))
    write_tables(out, merged, _scale(out))
    record = json.loads((out / "da_meta.json").read_text())
    io.write_json(out / "da_meta.json", {**record, "carried_over": provenance})
    print(f"{out}: carried over {', '.join(provenance['methods'])} from its earlier da_curves.csv")


def earlier_methods(out: Path, methods: list[str]) -> dict[str, dict]:
    """{method: its scale} of the methods run into OUT/.sweep before, other than `methods`."""
    from omegaconf import OmegaConf

    found = {}
    for config in sorted((out / ".sweep").glob("*/0/config.yaml")):
        name = config.parent.parent.name
        if name in methods:
            continue
        cfg = OmegaConf.load(config)
        found[name] = {
            "steps": cfg.steps,
            "trials": cfg.trials,
            "seed": cfg.seed,
            "log_every": cfg.log_every,
            "eval_size": cfg.problem.eval_size,
        }
    return found


def replot(out: Path) -> int:
    import pandas as pd

    from gamebench.reports.da_mnistm import write_tables

    if not (out / "da_curves.csv").is_file():
        print(
            f"reproduce_da: error: {out / 'da_curves.csv'} is missing: nothing to replot",
            file=sys.stderr,
        )
        return 2
    write_tables(out, pd.read_csv(out / "da_curves.csv"), _scale(out))
    print(f"wrote {out}/da_table.csv, da_table.md and da_target_acc.png from the rows")
    return 0


def _scale(out: Path) -> dict | None:
    import json
    import shlex

    meta = out / "da_meta.json"
    if not meta.is_file():
        return None
    record = json.loads(meta.read_text())
    return {
        "steps": record["steps"],
        "trials": record["trials"],
        "command": shlex.join(record["command"]),
    }


if __name__ == "__main__":
    sys.exit(main())
