"""A process that has imported what every `gamebench` run imports and forks one child per CLI run.

The suite runs the CLI about a hundred times as a subprocess, as a user would. Each fresh
interpreter spent about 3 s importing JAX, Hydra, pandas, pyarrow and matplotlib before doing
anything, a quarter of the suite's time on two cores. A child forked from this process starts
with those modules loaded and then does exactly what `python -m gamebench.cli ARGS` does: the same
argv, working directory, environment and exit status, stdout and stderr in files. JAX's backend
(whose threads would not survive a fork) is never started here: each child starts its own.

Protocol (one JSON object per line): the test writes {"args", "cwd", "env", "stdout", "stderr"};
this process answers {"pid"} at once and {"code"} when the child ends (Popen's returncode: the
exit status, or minus the signal that ended it).
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
import threading
import traceback

# what `python -m gamebench.cli` imports on the way to a job (gamebench.config is left out: it
# reads GAMEBENCH_PLUGINS when imported, which differs between runs)
import hydra  # noqa: F401
import jax  # noqa: F401
import jax.numpy  # noqa: F401
import matplotlib
import omegaconf  # noqa: F401
import optax  # noqa: F401
import pandas  # noqa: F401
import pyarrow.parquet  # noqa: F401

matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402, F401

BASE_PATH = list(sys.path)


def _run_child(request: dict) -> None:
    """In the forked child: become `python -m gamebench.cli ARGS`, then exit with its status."""
    code = 0
    try:
        for fd, name in ((1, "stdout"), (2, "stderr")):
            target = os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[:] = [request["cwd"], *BASE_PATH[1:]]  # as `python -m` sets it up
        sys.argv = ["gamebench.cli", *request["args"]]
        runpy.run_module("gamebench.cli", run_name="__main__", alter_sys=True)
    except SystemExit as done:
        if done.code is None:
            code = 0
        elif isinstance(done.code, int):
            code = done.code
        else:
            print(done.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 - an uncaught error, as the interpreter reports it
        traceback.print_exc()
        code = 1
    # the interpreter's own exit: non-daemon threads joined, atexit handlers run, stdio flushed
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    answers = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        answers.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _run_child(request)
        answers.write(json.dumps({"pid": pid}) + "\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n")
        answers.flush()


if __name__ == "__main__":
    assert threading.active_count() == 1, "a thread started by an import would not survive fork"
    main()
