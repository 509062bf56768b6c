"""Time to first result: the default job through the CLI against the same job as a bare JAX script.

    python scripts/bench_startup.py [--repeats 3] [--json results/startup/bench_cpu.json]

Runs, alternating, each in a fresh working dir: the bare script (scripts/bare_default_job.py, a
fresh process: import JAX, one jit(vmap) of a scan over scans, no files), the CLI from a cold
compilation cache (`gamebench problem=anti_saddle solver=kbeam`, a fresh GAMEBENCH_CACHE), and the
CLI again on the compilation cache the cold run filled (warm: a single run never reuses a finished
job's files, so it computes and writes everything again). Prints medians and the ratios CLI / bare.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "gamebench.cli", "problem=anti_saddle", "solver=kbeam"]
BARE = [sys.executable, str(ROOT / "scripts" / "bare_default_job.py")]


def timed(command: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()[-400:]}")
    return wall


def one_round() -> dict[str, float]:
    import os

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        env = {**os.environ, "GAMEBENCH_CACHE": str(work / "cache")}
        env.pop("GAMEBENCH_COMPILE_CACHE", None)
        bare = timed(BARE, work, env)
        cold = timed([*CLI, "hydra.run.dir=cold"], work, env)
        warm = timed([*CLI, "hydra.run.dir=warm"], work, env)
        files = sorted(p.name for p in (work / "warm").iterdir() if p.is_file())
    return {"bare": bare, "cli_cold": cold, "cli_warm": warm, "files": files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds (median over them)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    rounds = [one_round() for _ in range(args.repeats)]
    walls = {k: [r[k] for r in rounds] for k in ("bare", "cli_cold", "cli_warm")}
    median = {k: statistics.median(v) for k, v in walls.items()}
    ratios = {k: median[k] / median["bare"] for k in ("cli_cold", "cli_warm")}
    for name, value in median.items():
        print(f"{value:6.2f} s  {name}  ({', '.join(f'{w:.2f}' for w in walls[name])})")
    print(f"CLI / bare: cold {ratios['cli_cold']:.2f}x, warm {ratios['cli_warm']:.2f}x")
    if args.json:
        from gamebench import io

        record = {"command": ["python", *sys.argv], "walls": walls, "median": median}
        record |= {"ratio_to_bare": ratios, "warm_files": rounds[-1]["files"], **io.environment()}
        io.write_json(args.json, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
