"""Benchmark: fused sweeps against one job run alone, all from a cold compilation cache.

    python scripts/bench_sweep.py [--repeats 3] [--json results/sweeps/bench_cpu.json]

Runs, as a user would (subprocesses of the real CLI, each in a fresh working dir with a fresh
GAMEBENCH_CACHE, so no compiled program or finished job is reused), in alternation:
  lone:      gamebench problem=anti_saddle solver=kbeam                  (1 job, the default)
  sweep64:   gamebench -m problem=anti_saddle solver=kbeam solver.opt_u.lr=0.025,0.05,0.1,0.2
                 solver.opt_v.lr=0.025,0.05,0.1,0.2 seed=0,1,2,3           (64 jobs, one structure)
  surfaces:  gamebench -m experiment=surfaces                            (72 jobs: 36 run, 36
                                                                          duplicates skipped)
and prints the median wall seconds of each and the ratios sweep / lone. It checks that every job
dir of the sweeps has its files (rows, summary, config, meta, figure) and that the surface report
was written.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LR = "0.025,0.05,0.1,0.2"
CASES = {
    "lone": ["problem=anti_saddle", "solver=kbeam"],
    "sweep64": [
        "-m",
        "problem=anti_saddle",
        "solver=kbeam",
        f"solver.opt_u.lr={LR}",
        f"solver.opt_v.lr={LR}",
        "seed=0,1,2,3",
    ],
    "surfaces": ["-m", "experiment=surfaces"],
}
JOB_FILES = ("trajectories.parquet", "summary.csv", "config.yaml", "meta.json", "trajectories.png")


def run_case(name: str) -> tuple[float, str]:
    """Wall seconds of one cold run, and a problem found in its outputs ('' if none)."""
    with tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "GAMEBENCH_CACHE": str(Path(work) / "cache")}
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "gamebench.cli", *CASES[name], "hydra.sweep.dir=sweep"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            return wall, f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
        return wall, check_outputs(name, Path(work))


def check_outputs(name: str, work: Path) -> str:
    if name == "lone":
        dirs = list((work / "outputs").glob("*/*/*"))
    else:
        jobs = json.loads((work / "sweep" / "sweep.json").read_text())["jobs"]
        dirs = [work / "sweep" / job["dir"] for job in jobs if job["status"] != "skipped"]
        if name == "surfaces" and not (work / "sweep" / "surfaces_table.md").is_file():
            return "surfaces_table.md missing"
    for job_dir in dirs:
        missing = [f for f in JOB_FILES if not (job_dir / f).is_file()]
        if missing:
            return f"{job_dir} lacks {missing}"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each case (median)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)

    walls: dict[str, list[float]] = {name: [] for name in CASES}
    for repeat in range(args.repeats):
        for name in CASES:  # alternating, so a drift in machine load hits every case alike
            wall, problem = run_case(name)
            if problem:
                print(f"{name}: {problem}", file=sys.stderr)
                return 1
            walls[name].append(wall)
            print(f"repeat {repeat + 1}: {name:9s} {wall:6.2f} s", flush=True)
    median = {name: statistics.median(values) for name, values in walls.items()}
    ratios = {name: median[name] / median["lone"] for name in CASES if name != "lone"}
    print(f"median wall seconds: {json.dumps({k: round(v, 2) for k, v in median.items()})}")
    print(f"sweep / lone: {json.dumps({k: round(v, 2) for k, v in ratios.items()})}")
    if args.json:
        from gamebench import io

        io.write_json(
            args.json,
            {
                "command": ["python", "scripts/bench_sweep.py", *(argv or sys.argv[1:])],
                "cases": {name: ["gamebench", *CASES[name]] for name in CASES},
                "walls": walls,
                "median": median,
                "ratio_to_lone": ratios,
                "cpu_count": os.cpu_count(),
                **io.environment(),
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
