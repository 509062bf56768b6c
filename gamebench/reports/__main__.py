"""`gamebench-report SWEEP_DIR [SWEEP_DIR ...]`: rebuild a sweep's jobs.csv, summary_all.csv and its artefact's
tables and figures from the rows its jobs wrote. Imports no JAX and runs nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml


def report_name(sweep_dir: Path) -> str | None:
    """The report the sweep's experiment config names (its multirun.yaml), if any."""
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return None
    return (yaml.safe_load(path.read_text()) or {}).get("report")


def main(argv: list[str] | None = None) -> int:
    from gamebench.reports import REPORTS, build_report

    parser = argparse.ArgumentParser(prog="gamebench-report", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "sweep_dirs", type=Path, nargs="+", help="sweep directories (multirun/...), read together"
    )
    parser.add_argument("--report", choices=REPORTS, help="override the experiment's report")
    parser.add_argument("--out", type=Path, help="write there instead of the sweep dir")
    args = parser.parse_args(argv)
    for sweep_dir in args.sweep_dirs:
        if not sweep_dir.is_dir():
            print(f"gamebench-report: error: {sweep_dir} is not a directory", file=sys.stderr)
            return 2
    from gamebench.io import write_gathered

    try:
        for sweep_dir in args.sweep_dirs:
            print(write_gathered(sweep_dir))
        name = args.report or report_name(args.sweep_dirs[0])
        if name is None:
            print("no report named by the sweep's experiment (use --report NAME)")
        else:
            written = build_report(name, args.sweep_dirs, args.out)
            print(f"report {name}: wrote " + ", ".join(str(p) for p in written))
        from gamebench.reports.page import write_page

        for sweep_dir in args.sweep_dirs:  # after the report: the page shows its tables
            out = None if args.out is None or len(args.sweep_dirs) > 1 else args.out / "index.html"
            try:
                print(f"page: {write_page(sweep_dir, out)}")
            except (OSError, ValueError, KeyError) as error:  # the tables above are written
                print(
                    f"gamebench-report: page for {sweep_dir} not written: {error}", file=sys.stderr
                )
    except (OSError, ValueError) as error:
        print(f"gamebench-report: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
