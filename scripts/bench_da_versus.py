"""Benchmark: the DA step of this tree against an earlier revision's, on the same machine.

    python scripts/bench_da_versus.py --rev bf0259a [--k 1,10] [--trials 1] [--repeats 1]
                                      [--json FILE]

Speed-ups measured against a number taken on another machine say little (the same code ran at 2.06
iterations per second where issue 14 was filed and at 5.3 on a later machine), so this extracts
revision REV with `git archive` into a temporary directory and runs `scripts/bench_da.py` of both
trees alternately (REV first), each in its own process with its own tree on PYTHONPATH and the same
arguments, then reports iterations per second per (K, trials) for both and their ratio (median over
--repeats). Needs git, the repository's history and GAMEBENCH_DATA (mnist, bsds500, mnistm).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from gamebench.argtypes import positive_int, positive_int_list

ROOT = Path(__file__).resolve().parents[1]


def bench(tree: Path, args: list[str], json_path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, "scripts/bench_da.py", *args, "--json", str(json_path)]
    subprocess.run(command, cwd=tree, env=env, check=True)
    record = json.loads(json_path.read_text())
    return {(run["k"], run["trials"]): run["iterations_per_second"] for run in record["runs"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", required=True, help="the earlier revision (a git commit)")
    parser.add_argument("--k", type=positive_int_list, default=[1, 10])
    parser.add_argument("--trials", type=positive_int, default=1)
    parser.add_argument("--repeats", type=positive_int, default=1, help="alternations (1)")
    parser.add_argument("--json", help="also write the numbers to this JSON file")
    args = parser.parse_args(argv)

    from gamebench.io import environment, write_json

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--verify", f"{args.rev}^{{commit}}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        parser.error(f"--rev {args.rev!r} is not a commit of {ROOT}")
    bench_args = ["--k", ",".join(map(str, args.k)), "--trials", str(args.trials)]
    speeds = {"earlier": [], "this": []}
    with tempfile.TemporaryDirectory() as tmp:
        earlier_tree = Path(tmp) / "earlier"
        earlier_tree.mkdir()
        archive = subprocess.run(
            ["git", "archive", commit], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(earlier_tree)], input=archive.stdout, check=True)
        for repeat in range(args.repeats):
            for name, tree in (("earlier", earlier_tree), ("this", ROOT)):
                print(f"bench_da_versus: {name} tree, repeat {repeat + 1}", flush=True)
                speeds[name].append(bench(tree, bench_args, Path(tmp) / f"{name}{repeat}.json"))

    rows = []
    for key in speeds["this"][0]:
        earlier = statistics.median(s[key] for s in speeds["earlier"])
        this = statistics.median(s[key] for s in speeds["this"])
        rows.append(
            {
                "k": key[0],
                "trials": key[1],
                "earlier_it_per_s": earlier,
                "this_it_per_s": this,
                "speedup": this / earlier,
            }
        )
        print(
            f"K={key[0]:2d} trials={key[1]}: {args.rev} {earlier:.2f} it/s, this tree "
            f"{this:.2f} it/s, x{this / earlier:.2f}"
        )
    if args.json:
        write_json(
            args.json,
            {
                "command": ["python", "scripts/bench_da_versus.py", *sys.argv[1:]],
                "rev": commit,
                "rows": rows,
                "all_runs": {
                    n: [[[*k, v] for k, v in s.items()] for s in runs] for n, runs in speeds.items()
                },
                **environment(),
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
