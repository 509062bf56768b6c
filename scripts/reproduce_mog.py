"""The K-beam paper's GAN experiment: JSD of a GAN on a mixture of 8 Gaussians for several K.

    python scripts/reproduce_mog.py --out results/mog_jsd --steps 50000 --trials 10 --k 1,2,5,10

Each K is one compiled program (all trials vmapped), built from `experiment=mog_jsd` exactly as
`gamebench -m experiment=mog_jsd` builds it. Writes DIR/mog_jsd.csv (K,trial,step,jsd,modes_covered,
high_quality), DIR/mog_jsd.png (from that CSV), DIR/mog_samples.csv and DIR/mog_samples.png
(generated samples of trial 0 at 1/5, 2/5 and all of the steps: 10k, 20k and 50k at full scale)
and DIR/mog_meta.json. --replot redraws both figures from the CSVs and runs nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gamebench.argtypes import positive_int, positive_int_list

COLUMNS = ["K", "trial", "step", "jsd", "modes_covered", "high_quality"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--steps", type=positive_int, default=50_000, help="iterations (50000)")
    parser.add_argument("--trials", type=positive_int, default=10, help="trials per K (10)")
    parser.add_argument(
        "--k", type=positive_int_list, default=[1, 2, 5, 10], help="K values (1,2,5,10)"
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    parser.add_argument("--log-every", type=positive_int, default=1000, help="JSD every (1000)")
    parser.add_argument("--layout", choices=["even", "paper_code"], default="even")
    parser.add_argument("--leader-state", choices=["shared", "per_candidate"], default="shared")
    parser.add_argument("--replot", action="store_true", help="redraw the figures; run nothing")
    args = parser.parse_args(argv)
    if args.replot:
        return replot(args.out)
    if args.steps % args.log_every:
        parser.error(f"--log-every {args.log_every} must divide --steps {args.steps}")

    from gamebench.experiment import configure_jax

    configure_jax(devices=0, compile_cache=False)

    import numpy as np
    import pandas as pd

    from gamebench import io
    from gamebench.config import compose_config, validate
    from gamebench.problems import make_problem
    from gamebench.run import compile_and_run, log_steps, make_run, trial_keys
    from gamebench.solvers import make_solver

    at = log_steps(args.steps, args.log_every)
    wanted = [args.steps // 5, 2 * args.steps // 5, args.steps]
    snapshot_steps = sorted({int(at[np.argmin(np.abs(at - s))]) for s in wanted})
    rows, snaps, timing = [], [], {}
    start = time.perf_counter()
    for k in args.k:
        cfg = compose_config(
            [
                "experiment=mog_jsd",
                f"solver.k={k}",
                f"trials={args.trials}",
                f"steps={args.steps}",
                f"log_every={args.log_every}",
                f"seed={args.seed}",
                f"problem.layout={args.layout}",
                f"solver.leader_state={args.leader_state}",
            ]
        )
        validate(cfg)
        problem = make_problem(cfg.problem)

        t0 = time.perf_counter()

        def progress(step, value, k=k, t0=t0):
            print(
                f"  K={k} step {step}/{args.steps} mean jsd {value:.4f} "
                f"elapsed {time.perf_counter() - t0:.0f} s",
                flush=True,
            )

        run = make_run(
            problem,
            make_solver(cfg.solver),
            steps=args.steps,
            log_every=args.log_every,
            progress=progress,
            headline="jsd",
        )
        timed = compile_and_run(run, trial_keys(args.seed, args.trials))
        out = timed.outputs
        timing[k] = {
            "compile_seconds": timed.compile_seconds,
            "run_seconds": timed.run_seconds,
            "ms_per_iteration": 1000 * timed.run_seconds / args.steps,
        }
        print(
            f"K={k}: final jsd {out['jsd'][:, -1].mean():.4f} ± {out['jsd'][:, -1].std():.4f} "
            f"| compile {timed.compile_seconds:.1f} s, run {timed.run_seconds:.1f} s",
            flush=True,
        )
        rows.append(
            pd.DataFrame(
                {
                    "K": k,
                    "trial": np.repeat(np.arange(args.trials), len(at)),
                    "step": np.tile(at, args.trials),
                    "jsd": out["jsd"].reshape(-1).astype(np.float64),
                    "modes_covered": out["modes_covered"].reshape(-1).astype(np.int64),
                    "high_quality": out["high_quality"].reshape(-1).astype(np.float64),
                }
            )
        )
        for step in snapshot_steps:
            points = out["samples"][0, int(np.flatnonzero(at == step)[0])]
            snaps.append(
                pd.DataFrame(
                    {"K": k, "trial": 0, "step": step, "x": points[:, 0], "y": points[:, 1]}
                )
            )

    args.out.mkdir(parents=True, exist_ok=True)
    io.write_csv(args.out / "mog_jsd.csv", pd.concat(rows, ignore_index=True)[COLUMNS])
    io.write_csv(args.out / "mog_samples.csv", pd.concat(snaps, ignore_index=True))
    io.write_json(
        args.out / "mog_meta.json",
        {
            "command": ["python", "scripts/reproduce_mog.py", *sys.argv[1:]],
            "steps": args.steps,
            "trials": args.trials,
            "k": args.k,
            "seed": args.seed,
            "log_every": args.log_every,
            "layout": args.layout,
            "leader_state": args.leader_state,
            "modes": problem.info["modes"].tolist(),
            "timing": timing,
            "wall_seconds": time.perf_counter() - start,
            **io.environment(),
        },
    )
    return replot(args.out)


def replot(out: Path) -> int:
    import json

    import numpy as np
    import pandas as pd

    from gamebench import io
    from gamebench.mog_figure import jsd_figure, samples_figure

    io.save_figure(out / "mog_jsd.png", jsd_figure(pd.read_csv(out / "mog_jsd.csv")))
    meta = out / "mog_meta.json"
    modes = np.array(json.loads(meta.read_text())["modes"]) if meta.exists() else None
    io.save_figure(
        out / "mog_samples.png", samples_figure(pd.read_csv(out / "mog_samples.csv"), modes)
    )
    print(f"drew {out}/mog_jsd.png and mog_samples.png from the CSV rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
