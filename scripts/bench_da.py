"""Benchmark: iterations per second of MNIST -> MNIST-M domain-adversarial training, per K.

    python scripts/bench_da.py [--k 1,10] [--trials 1 2] [--steps 20] [--json FILE] [--conv]
                               [--impls im2col,xla]

For each (convolution, K, trials) one program of --steps iterations and one of 3 x --steps are compiled and
run (metrics off: only the training step is timed); iterations per second is the slope between
them, so the fixed cost of a call (moving the 200 MB dataset arguments in, reading outputs back)
is not counted as training. Compile seconds are reported apart. --conv also times one weight-
gradient step of the feature extractor inside a 3-step lax.scan with lax.conv versus im2col (the
reason the problem defaults to im2col on CPU). Needs GAMEBENCH_DATA (mnist, bsds500, mnistm).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

from gamebench.argtypes import positive_int, positive_int_list


def conv_comparison(repeats: int = 2) -> dict:
    import jax
    import jax.numpy as jnp

    from gamebench.nn import CONV_IMPLS
    from gamebench.problems.domain_adaptation import features, init_leader

    u = init_leader(jax.random.PRNGKey(0), 28, 10, 0.1)
    x = jax.random.normal(jax.random.PRNGKey(1), (256, 28, 28, 3))
    out = {}
    for impl in CONV_IMPLS:

        def loss(u, impl=impl):
            return jnp.sum(jnp.tanh(features(u, x, impl)))

        def three_steps(u, loss=loss):
            def body(u, _):
                g = jax.grad(loss)(u)
                return jax.tree.map(lambda a, b: a - 1e-4 * b, u, g), None

            return jax.lax.scan(body, u, None, length=3)[0]

        for where, fn in (("top_level", jax.grad(loss)), ("in_scan", three_steps)):
            compiled = jax.jit(fn).lower(u).compile()
            jax.block_until_ready(compiled(u))
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                jax.block_until_ready(compiled(u))
                best = min(best, time.perf_counter() - start)
            per_step = best / (3 if where == "in_scan" else 1)
            out[f"{impl}_{where}_s_per_step"] = per_step
            print(
                f"conv={impl:6s} {where:9s}: {per_step:.3f} s per weight-gradient step", flush=True
            )
    return out


def without_metrics(problem):
    """The problem with its log-point metrics off (only the training step is timed)."""
    import dataclasses

    from gamebench.game import no_metrics

    def rebind(data, bind=problem.bind):
        return dataclasses.replace(bind(data), metrics=no_metrics, bind=rebind)

    return dataclasses.replace(problem, metrics=no_metrics, bind=rebind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=positive_int_list, default=[1, 10])
    parser.add_argument("--trials", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=positive_int, default=20)
    parser.add_argument("--devices", type=int, default=0, help="CPU devices; 0 = one per core")
    parser.add_argument("--conv", action="store_true", help="also compare lax.conv and im2col")
    parser.add_argument(
        "--impls",
        default="im2col",
        help="convolution implementations to time, comma-separated (im2col, the problem's "
        "default; xla: lax.conv, slow inside a scan on CPU)",
    )
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)

    from gamebench.experiment import configure_jax

    configure_jax(devices=args.devices, compile_cache=False)

    import jax

    from gamebench.config import compose_config
    from gamebench.data import DataError
    from gamebench.io import environment, write_json
    from gamebench.nn import CONV_IMPLS
    from gamebench.problems import make_problem
    from gamebench.run import compile_trials, execute, make_run, trial_keys
    from gamebench.solvers import make_solver

    record = {"command": ["python", "scripts/bench_da.py", *sys.argv[1:]], "runs": []}
    if args.conv:
        record["conv"] = conv_comparison()
    impls = args.impls.split(",")
    for impl in impls:
        if impl not in CONV_IMPLS:
            parser.error(f"--impls: unknown {impl!r}; allowed: {', '.join(CONV_IMPLS)}")
    problems = {}
    for impl in impls:
        try:
            cfg = compose_config(
                ["experiment=da_mnistm", "problem.eval_size=1", f"problem.conv={impl}"]
            )
            problems[impl] = without_metrics(make_problem(cfg.problem))
        except DataError as error:
            print(f"bench_da: {error}", file=sys.stderr)
            return 2

    for k, impl in itertools.product(args.k, impls):
        problem = problems[impl]
        solver_cfg = compose_config(["experiment=da_mnistm", f"solver.k={k}"]).solver
        solver = make_solver(solver_cfg)
        for trials in args.trials:
            seconds, compile_s = {}, {}
            for steps in (args.steps, 3 * args.steps):
                run = make_run(problem, solver, steps=steps, log_every=steps, headline="f")
                compiled = compile_trials(run, trial_keys(0, trials), problem.data)
                execute(compiled)  # warm-up: first call moves the data and allocates
                seconds[steps] = execute(compiled).run_seconds
                compile_s[steps] = compiled.compile_seconds
            per_iteration = (seconds[3 * args.steps] - seconds[args.steps]) / (2 * args.steps)
            entry = {
                "conv": impl,
                "k": k,
                "trials": trials,
                "iterations_per_second": 1.0 / per_iteration,
                "trial_iterations_per_second": trials / per_iteration,
                "compile_seconds": compile_s[args.steps],
                "run_seconds": seconds,
            }
            record["runs"].append(entry)
            print(
                f"conv={impl:6s} K={k:2d} trials={trials}: "
                f"{entry['iterations_per_second']:.2f} it/s "
                f"({entry['trial_iterations_per_second']:.2f} trial-it/s) | "
                f"compile {compile_s[args.steps]:.1f} s",
                flush=True,
            )
    record["device"] = str(jax.devices()[0].device_kind)
    record["device_count"] = jax.device_count()
    record.update(environment())
    if args.json:
        write_json(args.json, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
