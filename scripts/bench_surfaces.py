"""Benchmark: the whole surface table (6 surfaces x 6 methods x 1000 iterations) at 100 and 10,000 trials.

    python scripts/bench_surfaces.py [--trials 100 10000] [--repeats 3]

Prints, per trial count, compile seconds (6 programs, persistent cache off) and run seconds (the best
of --repeats executions of the compiled programs, outputs copied to the host), and trial-steps per
second: trials x 1000 iterations x 36 (surface, method) cells / run seconds. Trials are sharded over
one CPU device per core (JAX_NUM_CPU_DEVICES); pass --devices 1 for a single device.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--devices", type=int, default=0, help="CPU devices; 0 = one per core")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)

    from gamebench.experiment import configure_jax

    configure_jax(devices=args.devices, compile_cache=False)

    import jax

    from gamebench.io import environment
    from gamebench.run import compile_trials, execute, trial_keys
    from gamebench.surface_table import METHODS, surface_program
    from gamebench.surface_table import PAPER_SURFACES as SURFACES

    cells = len(SURFACES) * len(METHODS)
    print(f"devices: {jax.devices()}")
    print(f"{'trials':>8} {'compile s':>10} {'run s':>8} {'trial-steps/s':>14}")
    records = []
    for trials in args.trials:
        keys = trial_keys(0, trials)
        programs = [compile_trials(surface_program(s, args.steps), keys) for s in SURFACES]
        compile_s = sum(p.compile_seconds for p in programs)
        run_s = min(sum(execute(p).run_seconds for p in programs) for _ in range(args.repeats))
        rate = trials * args.steps * cells / run_s
        print(f"{trials:>8} {compile_s:>10.2f} {run_s:>8.3f} {rate:>14.3e}")
        records.append(
            {
                "trials": trials,
                "compile_seconds": compile_s,
                "run_seconds": run_s,
                "trial_steps_per_second": rate,
            }
        )
    if args.json:
        from gamebench.io import write_json

        write_json(
            args.json, {"steps": args.steps, "cells": cells, "results": records, **environment()}
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
