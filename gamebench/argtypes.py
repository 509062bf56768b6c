"""argparse types shared by the scripts in scripts/: bad values end in argparse's one-line error."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is out of range: must be >= 1")
    return value


def positive_int_list(text: str) -> list[int]:
    """'1,2,5,10' -> [1, 2, 5, 10], each >= 1."""
    return [positive_int(part) for part in text.split(",")]
