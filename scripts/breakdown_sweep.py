"""Where a multirun's seconds go: the CLI run in this process with a timer on each phase.

    python scripts/breakdown_sweep.py [--out FILE] -- -m experiment=surfaces

Everything after `--` is the gamebench command line (default: `-m experiment=surfaces`). The
sweep goes to a fresh temporary sweep dir with a fresh GAMEBENCH_CACHE (no compiled program or
finished job is reused). Prints, per phase, the seconds summed over its calls and the call count:
importing the CLI, the sweeper's composition of every job's config, planning, building the parts,
tracing and lowering plus XLA's compile plus the run (and XLA's compile alone), writing the job
dirs, and the launcher's whole share.
"""

from __future__ import annotations

import argparse
import collections
import functools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

START = time.perf_counter()
IMPORT = "import the CLI (Hydra, JAX, the package)"


def _timed(owner, name: str, label: str, totals: dict, counts: collections.Counter) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - start
            counts[label] += 1

    setattr(owner, name, wrapper)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    ours, command = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="also write the breakdown here")
    args = parser.parse_args(ours)
    command = command or ["-m", "experiment=surfaces"]

    work = Path(tempfile.mkdtemp(prefix="gamebench-breakdown-"))
    os.environ["GAMEBENCH_CACHE"] = str(work / "cache")
    os.environ.pop("GAMEBENCH_COMPILE_CACHE", None)

    totals: dict[str, float] = collections.defaultdict(float)
    counts: collections.Counter = collections.Counter()
    start = time.perf_counter()
    import jax._src.stages as stages

    import gamebench.cli as cli
    import gamebench.sweep as sweep
    from hydra_plugins.gamebench_sweeper.gamebench_sweeper import GamebenchSweeper

    totals[IMPORT], counts[IMPORT] = time.perf_counter() - start, 1
    phases = [
        (GamebenchSweeper, "compose", "compose every job's config (sweeper)"),
        (sweep, "plan_sweep", "plan: keys, done jobs, groups"),
        (sweep, "_build_parts", "build problems, solvers and parts (Python)"),
        (sweep, "_compile_and_run", "trace, lower, XLA compile and run"),
        (stages.Lowered, "compile", "  of which XLA's compile"),
        (sweep, "_write_parts", "write the job dirs (rows, summaries, figures)"),
        (GamebenchSweeper, "_launch", "launch every group (Hydra's job set-up and the above)"),
    ]
    for owner, name, label in phases:
        _timed(owner, name, label, totals, counts)

    sys.argv = ["gamebench", *command, f"hydra.sweep.dir={work / 'sweep'}"]
    code = 0
    try:
        cli.main()
    except SystemExit as exit_:
        code = exit_.code or 0
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the sweep's files are not what is measured
    lines = [f"# python scripts/breakdown_sweep.py {' '.join(argv)}"]
    labels = [label for *_, label in phases if label in totals]
    for label in [IMPORT, *labels]:
        lines.append(f"{totals[label]:7.2f} s  x{counts[label]:<4d} {label}")
    lines.append(f"{time.perf_counter() - START:7.2f} s  in all (this process, from its start)")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        from gamebench import io

        io.write_text(args.out, text)
    return code


if __name__ == "__main__":
    sys.exit(main())
