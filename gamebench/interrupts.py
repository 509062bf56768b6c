"""Ctrl-C that is never lost.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT arrives. Inside
a garbage-collection callback (JAX registers one) the exception is printed as "Exception ignored"
and swallowed, and the run would go on as if nothing had happened. The CLI's handler therefore
also records the request, and the runner checks it between the pieces of its work (before and
after a group's compile and run), so a swallowed Ctrl-C still stops the run at the next check.
"""

from __future__ import annotations

import signal

requested = False  # set by the handler; read by check() and by the CLI at exit


def _handler(signum, frame) -> None:
    global requested
    requested = True
    raise KeyboardInterrupt


def install() -> None:
    signal.signal(signal.SIGINT, _handler)


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed, even where its exception was swallowed."""
    if requested:
        raise KeyboardInterrupt
