"""Time to first result: the default job through the CLI against the same job as a bare JAX script.

    python scripts/bench_startup.py [--repeats 3] [--json results/startup/bench_cpu.json]

Runs, alternating, each in a fresh working dir: the bare script (scripts/bare_default_job.py, a
fresh process: import JAX, one jit(vmap) of a scan over scans, no files), the CLI from a cold
compilation cache (`gamebench problem=anti_saddle solver=kbeam`, a fresh GAMEBENCH_CACHE), the same
command again (warm: it finds the finished run and copies its files, gamebench.reuse, before
importing JAX), and the command with reuse=false on the compilation cache the cold run filled
(warm_recompute: it computes and writes everything again). Prints medians and the ratios CLI /
bare, and checks that every run wrote the same files.

Two floors are timed in the same rounds: a process that only imports JAX and starts its CPU
backend (import_jax), and one that imports the whole stack the CLI runs on (JAX, Hydra, OmegaConf,
optax, pandas, pyarrow, matplotlib) and starts the backend (import_stack). Any run of the job that
computes anything costs at least import_jax.
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
IMPORT_JAX = [sys.executable, "-c", "import jax; jax.devices()"]
STACK = "import jax, hydra, omegaconf, optax, pandas, pyarrow, matplotlib.pyplot; jax.devices()"
IMPORT_STACK = [sys.executable, "-c", STACK]


def timed(command: list[str], cwd: Path, env: dict) -> tuple[float, list[str]]:
    """Wall seconds, and the files of the run dir the CLI names last on its summary line."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()[-400:]}")
    if command in (BARE, IMPORT_JAX, IMPORT_STACK):
        return wall, []
    run_dir = Path(done.stdout.strip().rsplit("| ", 1)[1])
    return wall, sorted(p.name for p in run_dir.iterdir() if p.is_file())


def one_round() -> dict[str, float]:
    import os

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        env = {**os.environ, "GAMEBENCH_CACHE": str(work / "cache")}
        env.pop("GAMEBENCH_COMPILE_CACHE", None)
        bare, _ = timed(BARE, work, env)
        import_jax, _ = timed(IMPORT_JAX, work, env)
        import_stack, _ = timed(IMPORT_STACK, work, env)
        cold, files = timed(CLI, work, env)
        warm, warm_files = timed(CLI, work, env)
        recompute, recompute_files = timed([*CLI, "reuse=false"], work, env)
        if not files == warm_files == recompute_files:
            raise SystemExit(
                f"the runs wrote different files: {files}, {warm_files}, {recompute_files}"
            )
    return {"bare": bare, "cli_cold": cold, "cli_warm": warm, "cli_warm_recompute": recompute,
            "import_jax": import_jax, "import_stack": import_stack,
            "files": files}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds (median over them)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    rounds = [one_round() for _ in range(args.repeats)]
    cases = ("bare", "cli_cold", "cli_warm", "cli_warm_recompute", "import_jax", "import_stack")
    walls = {k: [r[k] for r in rounds] for k in cases}
    median = {k: statistics.median(v) for k, v in walls.items()}
    ratios = {k: median[k] / median["bare"] for k in cases[1:]}
    for name, value in median.items():
        print(f"{value:6.2f} s  {name}  ({', '.join(f'{w:.2f}' for w in walls[name])})")
    print(
        f"CLI / bare: cold {ratios['cli_cold']:.2f}x, warm {ratios['cli_warm']:.2f}x, "
        f"warm with reuse=false {ratios['cli_warm_recompute']:.2f}x; floors: importing JAX "
        f"{ratios['import_jax']:.2f}x, the stack {ratios['import_stack']:.2f}x"
    )
    if args.json:
        from gamebench import io

        record = {"command": ["python", *sys.argv], "walls": walls, "median": median}
        record |= {"ratio_to_bare": ratios, "files": rounds[-1]["files"], **io.environment()}
        io.write_json(args.json, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
