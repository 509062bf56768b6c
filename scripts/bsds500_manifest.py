"""Write the sha256 manifest of the BSDS500 training photographs that gamebench.data verifies.

    python scripts/bsds500_manifest.py ../shared/data > gamebench/data/bsds500_train.sha256

The BSDS500 archive has no published checksum; we check each extracted photograph instead, against
this manifest made once from a trusted copy (`sha256sum` format, sorted by name).
"""

from __future__ import annotations

import sys
from pathlib import Path

from gamebench.data.store import sha256_of


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    for path in sorted((Path(argv[0]) / "bsds500" / "train").glob("*.jpg")):
        print(f"{sha256_of(path)}  {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
