"""Benchmark: milliseconds per K-beam iteration on the mixture-of-Gaussians GAN.

    python scripts/bench_mog.py [--k 1,2,5,10] [--trials 1 10] [--steps 200] [--json FILE]

For each (K, trials): compile seconds, then the best of --repeats runs of --steps iterations
(metrics off, so only the training step is timed) as ms per iteration, and the program's
arithmetic from XLA's cost analysis (GFLOP per iteration) with the achieved GFLOP/s. On a GPU the
K candidates run in parallel and the paper expects sublinear cost in K; on a CPU the cost should
follow the arithmetic: one generator pass plus K discriminator passes per step.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys


def step_flops(problem, solver, trials: int) -> float:
    """FLOPs of one vmapped solver step, from XLA's cost analysis of that step compiled alone (the
    analysis of the whole run counts a loop body once, whatever its trip count)."""
    import jax

    keys = jax.random.split(jax.random.PRNGKey(0), trials)
    states = jax.vmap(lambda key: solver.init(problem, key))(keys)
    step = jax.vmap(lambda state, key: solver.step(problem, state, key))
    cost = jax.jit(step).lower(states, keys).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", float("nan")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", default="1,2,5,10")
    parser.add_argument("--trials", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--devices", type=int, default=0, help="CPU devices; 0 = one per core")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    parser.add_argument(
        "--overhead-steps",
        type=int,
        default=2000,
        help="also time K=1, 10 trials with and without the JSD metrics every 1000 steps over "
        "this many steps (0: skip)",
    )
    args = parser.parse_args(argv)

    from gamebench.experiment import configure_jax

    configure_jax(devices=args.devices, compile_cache=False)

    import jax

    from gamebench.config import compose_config
    from gamebench.game import no_metrics
    from gamebench.io import environment, write_json
    from gamebench.problems import make_problem
    from gamebench.run import compile_trials, execute, make_run, trial_keys
    from gamebench.solvers import make_solver

    print(f"devices: {jax.devices()}")
    print(
        f"{'K':>3} {'trials':>6} {'compile s':>9} {'ms/iter':>8} {'GFLOP/iter':>10} {'GFLOP/s':>8}"
    )
    records = []
    for trials in args.trials:
        for k in (int(x) for x in args.k.split(",")):
            cfg = compose_config(["experiment=mog_jsd", f"solver.k={k}"])
            problem = dataclasses.replace(make_problem(cfg.problem), metrics=no_metrics)
            run = make_run(problem, make_solver(cfg.solver), steps=args.steps, log_every=args.steps)
            program = compile_trials(run, trial_keys(0, trials))
            seconds = min(execute(program).run_seconds for _ in range(args.repeats))
            flops = step_flops(problem, make_solver(cfg.solver), trials)
            ms = 1000 * seconds / args.steps
            print(
                f"{k:>3} {trials:>6} {program.compile_seconds:>9.1f} {ms:>8.2f} "
                f"{flops / 1e9:>10.3f} {flops / 1e6 / ms:>8.1f}"
            )
            records.append(
                {
                    "k": k,
                    "trials": trials,
                    "compile_seconds": program.compile_seconds,
                    "ms_per_iteration": ms,
                    "gflop_per_iteration": flops / 1e9,
                }
            )
    overhead = None
    if args.overhead_steps:
        # metrics at the paper's frequency (every 1000 steps, at least twice per measurement)
        cfg = compose_config(["experiment=mog_jsd", "solver.k=1"])
        full = make_problem(cfg.problem)
        every = min(1000, args.overhead_steps // 2)
        timings = {}
        for label, problem in (
            ("with", full),
            ("without", dataclasses.replace(full, metrics=no_metrics)),
        ):
            run = make_run(
                problem, make_solver(cfg.solver), steps=args.overhead_steps, log_every=every
            )
            program = compile_trials(run, trial_keys(0, 10))
            timings[label] = min(execute(program).run_seconds for _ in range(2))
        overhead = timings["with"] / timings["without"] - 1
        print(
            f"metrics every {every} steps (K=1, 10 trials, {args.overhead_steps} steps): "
            f"{timings['with']:.2f} s with, {timings['without']:.2f} s without: "
            f"+{100 * overhead:.1f} %"
        )
    if args.json:
        write_json(
            args.json,
            {
                "steps": args.steps,
                "results": records,
                "metrics_overhead": overhead,
                **environment(),
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
