"""`gamebench-data`: list, verify and fetch the datasets gamebench reads.

    gamebench-data list
    gamebench-data verify mnist bsds500
    gamebench-data fetch mnist [--dir DIR] [--mirror URL]

Exit codes: 0 all well, 1 a dataset is missing or corrupt / a fetch failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gamebench.data.store import DATASETS, DataError, data_dir, fetch, print_progress, verify


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gamebench-data", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="data directory (default: $GAMEBENCH_DATA or ~/.cache/gamebench/data)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="datasets, their files and whether they are present")
    check = sub.add_parser("verify", help="check presence and sha256 of every file")
    check.add_argument("names", nargs="*", help="datasets (default: all)")
    get = sub.add_parser("fetch", help="download datasets with sha256 verification")
    get.add_argument("names", nargs="+")
    get.add_argument("--mirror", default=None, help="base URL serving the data-directory layout")
    args = parser.parse_args(argv)
    root = args.dir if args.dir is not None else data_dir()

    names = getattr(args, "names", None) or sorted(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        print(
            f"gamebench-data: unknown dataset {unknown[0]!r}; allowed: {', '.join(sorted(DATASETS))}",
            file=sys.stderr,
        )
        return 2
    if args.command == "list":
        print(f"data directory: {root}")
        for name in names:
            spec = DATASETS[name]
            present = sum((root / f.path).is_file() for f in spec.files)
            print(f"  {name:8s} {present}/{len(spec.files)} files  {spec.description}")
        return 0
    if args.command == "verify":
        status = 0
        for name in names:
            problems = verify(name, root)
            print(
                f"{name}: "
                + ("ok" if not problems else f"{len(problems)} problem(s): {problems[0]}")
            )
            status |= bool(problems)
        return status
    for name in names:
        try:
            fetch(name, root, mirror=args.mirror, report=print_progress)
        except DataError as error:
            print(f"\ngamebench-data: {error}", file=sys.stderr)
            return 1
        print(f"\n{name}: ok in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
