"""Where the seconds of `gamebench solver=kbeam problem=anti_saddle` go.

    python scripts/breakdown_default_job.py [--out results/startup/breakdown.txt]

Runs the default job's phases one by one in this process, timed (cold: no persistent compilation
cache), with the code the CLI runs (gamebench.sweep.run_group's pieces): imports, composition,
problem and solver construction, lowering, XLA compilation, the run, rows and files, the figure.
Then runs the real CLI in a subprocess: cold (an empty persistent compilation cache), so the rest
(Python start-up, Hydra's job set-up) shows as the difference; again with reuse=false (the cache
the cold run filled serves the compile; everything else is redone); and again as is (the finished
run is found by its key and its files copied, gamebench.reuse, before JAX is imported).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OVERRIDES = ["problem=anti_saddle", "solver=kbeam"]


class Clock:
    def __init__(self):
        self.rows: list[tuple[str, float]] = []
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.rows.append((name, now - self.last))
        self.last = now


def phases(work: Path) -> list[tuple[str, float]]:
    clock = Clock()
    import gamebench.cli  # noqa: F401 - Hydra, OmegaConf, the schemas (their checks import JAX)

    clock.lap("import gamebench.cli (Hydra, OmegaConf, JAX, optax, schemas)")
    from omegaconf import OmegaConf

    from gamebench.config import compose_config, validate

    cfg = compose_config(OVERRIDES)
    validate(cfg)
    container = OmegaConf.to_container(cfg, resolve=True)
    clock.lap("compose and validate the config")
    import jax

    from gamebench.experiment import configure_jax

    configure_jax(container["devices"], compile_cache=False)
    jax.devices()
    clock.lap("start JAX's CPU backend")
    from gamebench import sweep

    member = sweep.Member(0, str(work / "job"), container, sweep.job_key(container))
    part = sweep._build_part([member], {})
    clock.lap("build Problem, Solver and the program (Python)")
    lowered = jax.jit(part.program).lower(*part.args)
    clock.lap("trace and lower to StableHLO")
    compiled = lowered.compile()
    clock.lap("XLA compile")
    outputs = jax.block_until_ready(compiled(*part.args))
    clock.lap("run (100 trials x 1000 steps)")
    outputs = jax.tree.map(lambda a: jax.device_get(a)[0], outputs)
    from gamebench.experiment import write_job

    group = {"id": "g0", "size": 1, "compile_seconds": 0.0, "run_seconds": 0.0}
    write_job(member, part.problem, outputs, group, None)
    clock.lap("rows, summary, config, meta (files)")
    from gamebench import io
    from gamebench.plots import TrajectoryFigure, payoff_grid

    figure = TrajectoryFigure(part.problem, "dist", 8, payoff_grid(part.problem))
    import pandas as pd

    figure.draw(pd.read_parquet(work / "job" / "trajectories.parquet"), "anti_saddle x kbeam(k=5)")
    io.write_png(work / "job" / "trajectories.png", figure.render())
    clock.lap("figure (payoff grid, contours, PNG)")
    return clock.rows


def cli_wall(work: Path, cache: Path, *extra: str) -> float:
    env = {**os.environ, "GAMEBENCH_CACHE": str(cache)}
    env.pop("GAMEBENCH_COMPILE_CACHE", None)  # the compiled programs live in `cache` too
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gamebench.cli", *OVERRIDES, *extra],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="also write the breakdown to this text file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = phases(work)
        cold = cli_wall(work, work / "cache")
        warm = cli_wall(work, work / "cache", "reuse=false")
        reused = cli_wall(work, work / "cache")
    total = sum(seconds for _, seconds in rows)
    lines = [f"{seconds:7.2f} s  {name}" for name, seconds in rows]
    lines += [
        f"{total:7.2f} s  sum of the phases above (one process, cold)",
        f"{cold:7.2f} s  the CLI, cold compilation cache (subprocess: adds Python start-up and",
        "           Hydra's job set-up, logging and .hydra files)",
        f"{warm:7.2f} s  the CLI again with reuse=false: compile served by the persistent cache,",
        "           everything else redone",
        f"{reused:7.2f} s  the CLI again: the finished run found by its key, its files copied",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        from gamebench import io

        command = " ".join(["python scripts/breakdown_default_job.py", *(argv or sys.argv[1:])])
        io.write_text(args.out, f"# {command}\n# gamebench {' '.join(OVERRIDES)}\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
