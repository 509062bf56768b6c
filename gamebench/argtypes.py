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


def chosen_names(parser: argparse.ArgumentParser, kind: str, chosen, known) -> tuple[str, ...]:
    """`chosen` (or every name in `known` when None), rejecting an unknown one with one line."""
    names = tuple(chosen or known)
    unknown = [name for name in names if name not in known]
    if unknown:
        parser.error(f"unknown {kind} {unknown[0]!r}; allowed: {', '.join(known)}")
    return names


def writable_dir(text: str):
    """An output directory that exists or can be made, and can be written: checked before any
    computing, so a run never dies at its end with its results lost."""
    import os
    from pathlib import Path

    path = Path(text)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot create {text}: {error.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text} is not writable")
    return path
