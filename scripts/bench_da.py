"""Benchmark: iterations per second of MNIST -> MNIST-M domain-adversarial training, per K.

    python scripts/bench_da.py [--k 1,10] [--trials 1 2] [--steps 20] [--json FILE] [--conv]
                               [--gemms] [--impls im2col,xla]

For each (convolution, K, trials) one program of --steps iterations and one of 3 x --steps are compiled and
run (metrics off: only the training step is timed); iterations per second is the slope between
them, so the fixed cost of a call (moving the 200 MB dataset arguments in, reading outputs back)
is not counted as training. Compile seconds are reported apart. --conv also times one weight-
gradient step of the feature extractor inside a 3-step lax.scan with lax.conv versus im2col (the
reason the problem defaults to im2col on CPU). --gemms times the step's matmul shapes alone, a
4096^2 matmul and an elementwise pass over conv2's 160 MB patches (what bounds the step). Needs
GAMEBENCH_DATA (mnist, bsds500, mnistm).
"""

from __future__ import annotations

import argparse
import itertools
import math
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


def gemm_rates(repeats: int = 5) -> dict:
    """GFLOP/s of the step's matmul shapes run alone (256 images: conv1 and conv2 as im2col
    products, their gradients, the K = 10 domain heads' first layer), of a 4096^2 matmul as the
    machine's reference, and GB/s of an elementwise pass over an array of conv2's patch size."""
    import jax
    import jax.numpy as jnp

    images, conv1_rows, conv2_rows = 256, 256 * 28 * 28, 256 * 14 * 14
    shapes = {  # name: (lhs shape, rhs shape, contraction as einsum)
        "conv1 forward (200704x75 @ 75x32)": ((conv1_rows, 75), (75, 32), "mk,kn->mn"),
        "conv1 weight gradient": ((conv1_rows, 75), (conv1_rows, 32), "mk,mn->kn"),
        "conv2 forward (50176x800 @ 800x48)": ((conv2_rows, 800), (800, 48), "mk,kn->mn"),
        "conv2 weight gradient": ((conv2_rows, 800), (conv2_rows, 48), "mk,mn->kn"),
        "conv2 input gradient (50176x48 @ 48x800)": ((conv2_rows, 48), (800, 48), "mn,kn->mk"),
        "domain heads, K=10 (256x2352 @ 2352x1000)": ((images, 2352), (2352, 1000), "mk,kn->mn"),
        "reference 4096^3": ((4096, 4096), (4096, 4096), "mk,kn->mn"),
    }

    def best_seconds(fn, *args):
        jax.block_until_ready(fn(*args))
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            best = min(best, time.perf_counter() - start)
        return best

    out = {}
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 2 * len(shapes) + 1))
    for name, (lhs, rhs, spec) in shapes.items():
        a, b = jax.random.normal(next(keys), lhs), jax.random.normal(next(keys), rhs)
        seconds = best_seconds(jax.jit(lambda a, b, spec=spec: jnp.einsum(spec, a, b)), a, b)
        inputs = spec.split("->")[0].split(",")
        sizes = {c: n for term, shape in zip(inputs, (lhs, rhs)) for c, n in zip(term, shape)}
        flops = 2 * math.prod(sizes.values())  # a multiply and an add per (m, k, n)
        out[name] = {"seconds": seconds, "gflop_per_s": flops / seconds / 1e9}
        print(f"{name:45s} {seconds * 1e3:7.2f} ms {flops / seconds / 1e9:6.0f} GFLOP/s")
    patches = jax.random.normal(next(keys), (conv2_rows, 800))
    seconds = best_seconds(jax.jit(lambda x: x * 1.5), patches)
    gb = 2 * patches.size * 4 / 1e9  # read and write
    out["elementwise pass over conv2 patches"] = {"seconds": seconds, "gb_per_s": gb / seconds}
    print(
        f"{'elementwise pass over conv2 patches':45s} {seconds * 1e3:7.2f} ms {gb / seconds:6.1f} GB/s"
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
        "--gemms", action="store_true", help="also time the step's matmul shapes run alone"
    )
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
    if args.gemms:
        record["gemms"] = gemm_rates()
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
