"""The K-beam paper's domain adaptation experiment: MNIST -> MNIST-M, source-only, GDA and K-beam.

    python scripts/reproduce_da.py --out results/da_mnistm --steps 10000 --trials 2 \
        --methods source_only,gda,kbeam1,kbeam2,kbeam5,kbeam10

Each method is one compiled program (trials vmapped and sharded over the CPU cores), built from
`experiment=da_mnistm` exactly as `gamebench -m experiment=da_mnistm` builds it. Writes
DIR/da_curves.csv (method,trial,step,source_acc,target_acc,target_official_acc), DIR/da_table.csv
(the final step), DIR/da_table.md (mean ± std), DIR/da_target_acc.png, DIR/mnistm_stats.csv
(per-channel statistics of synthesised vs official MNIST-M) and DIR/da_meta.json. --replot redraws
the table and the figure from da_curves.csv and runs nothing. Needs GAMEBENCH_DATA (mnist, bsds500,
mnistm).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gamebench.argtypes import positive_int

DEFAULT_METHODS = "source_only,gda,kbeam1,kbeam2,kbeam5,kbeam10"


def main(argv: list[str] | None = None) -> int:
    from gamebench.da import method_overrides

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
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
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    for name in methods:
        try:
            method_overrides(name)
        except ValueError as error:
            parser.error(str(error))
    if args.replot:
        return replot(args.out, methods)
    if args.steps % args.log_every:
        parser.error(f"--log-every {args.log_every} must divide --steps {args.steps}")

    from gamebench.experiment import configure_jax

    configure_jax(devices=0, compile_cache=False)

    import numpy as np
    import pandas as pd

    from gamebench import io
    from gamebench.config import compose_config, validate
    from gamebench.da import ACCURACIES, CURVE_COLUMNS
    from gamebench.data import DataError, channel_stats, mnistm_official, mnistm_synthetic
    from gamebench.problems import make_problem
    from gamebench.run import compile_and_run, log_steps, make_run, trial_keys
    from gamebench.solvers import make_solver

    try:
        synthetic, _ = mnistm_synthetic("test", 0)
        official, _ = mnistm_official(28)
    except DataError as error:
        print(f"reproduce_da: {error}", file=sys.stderr)
        return 2
    stats = []
    for name, images in (("synthesised_test", synthetic), ("official_test_28", official)):
        mean, std = channel_stats(images)
        stats += [
            {"set": name, "channel": c, "mean": mean[i], "std": std[i]} for i, c in enumerate("RGB")
        ]

    at = log_steps(args.steps, args.log_every)
    rows, timing = [], {}
    start = time.perf_counter()
    for method in methods:
        cfg = compose_config(
            [
                "experiment=da_mnistm",
                *method_overrides(method),
                f"trials={args.trials}",
                f"steps={args.steps}",
                f"log_every={args.log_every}",
                f"seed={args.seed}",
                f"problem.eval_size={args.eval_size}",
            ]
        )
        validate(cfg)
        problem = make_problem(cfg.problem)
        t0 = time.perf_counter()

        def progress(step, value, method=method, t0=t0):
            print(
                f"  {method} step {step}/{args.steps} mean target_acc {value:.3f} "
                f"elapsed {time.perf_counter() - t0:.0f} s",
                flush=True,
            )

        run = make_run(
            problem,
            make_solver(cfg.solver),
            steps=args.steps,
            log_every=args.log_every,
            progress=progress,
            headline="target_acc",
        )
        timed = compile_and_run(run, trial_keys(args.seed, args.trials), problem.data)
        out = timed.outputs
        timing[method] = {
            "compile_seconds": timed.compile_seconds,
            "run_seconds": timed.run_seconds,
        }
        final = {c: out[c][:, -1] for c in ACCURACIES}
        print(
            f"{method}: "
            + ", ".join(f"{c} {v.mean():.3f} ± {v.std():.3f}" for c, v in final.items())
            + f" | compile {timed.compile_seconds:.1f} s, run {timed.run_seconds:.1f} s",
            flush=True,
        )
        frame = {
            "method": method,
            "trial": np.repeat(np.arange(args.trials), len(at)),
            "step": np.tile(at, args.trials),
        }
        frame.update({c: out[c].reshape(-1).astype(np.float64) for c in ACCURACIES})
        rows.append(pd.DataFrame(frame))

    args.out.mkdir(parents=True, exist_ok=True)
    io.write_csv(args.out / "da_curves.csv", pd.concat(rows, ignore_index=True)[CURVE_COLUMNS])
    io.write_csv(args.out / "mnistm_stats.csv", pd.DataFrame(stats))
    io.write_json(
        args.out / "da_meta.json",
        {
            "command": ["python", "scripts/reproduce_da.py", *sys.argv[1:]],
            "steps": args.steps,
            "trials": args.trials,
            "methods": methods,
            "seed": args.seed,
            "log_every": args.log_every,
            "eval_size": args.eval_size,
            "timing": timing,
            "wall_seconds": time.perf_counter() - start,
            **io.environment(),
        },
    )
    return replot(args.out, methods)


def replot(out: Path, methods: list[str]) -> int:
    import pandas as pd

    from gamebench import io
    from gamebench.da import final_table, summary_markdown, target_accuracy_figure

    curves = pd.read_csv(out / "da_curves.csv")
    methods = [m for m in methods if m in set(curves.method)]
    table = final_table(curves)
    io.write_csv(out / "da_table.csv", table)
    io.write_text(out / "da_table.md", summary_markdown(table, methods))
    io.save_figure(out / "da_target_acc.png", target_accuracy_figure(curves, methods))
    print(f"wrote {out}/da_table.csv, da_table.md and da_target_acc.png from the rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
