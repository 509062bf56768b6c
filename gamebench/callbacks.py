"""Hydra callbacks named in configs/config.yaml: lock a run's or a sweep's output dir while it is
written, and at the end of a multirun gather the jobs' rows and build the experiment's report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from gamebench.locks import LockError, release_lock, take_lock


class GatherSummaries(Callback):
    """Hydra callback: after a multirun, gather the jobs' rows (write_gathered) and build the
    experiment's report (config `report`, gamebench.reports) into the sweep directory."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        from gamebench.io import write_gathered  # pandas: imported once there is something to read

        print(write_gathered(sweep_dir))
        name = config.get("report")
        if name:
            from gamebench.reports import build_report

            try:
                written = build_report(name, sweep_dir)
            except (OSError, ValueError) as error:
                print(f"gamebench: report {name} not built: {error}")
                return
            print(f"gamebench: report {name}: " + ", ".join(p.name for p in written))


class LockOutputs(Callback):
    """Hydra callback: a run locks its output dir and a multirun its sweep dir before Hydra writes
    anything there, so two runs never mix their files in one directory."""

    def on_run_start(self, config: Any, **kwargs: Any) -> None:
        self._lock(Path(config.hydra.run.dir))

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        self._lock(Path(config.hydra.sweep.dir))

    def on_run_end(self, config: Any, **kwargs: Any) -> None:
        release_lock(config.hydra.run.dir)

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        release_lock(config.hydra.sweep.dir)

    @staticmethod
    def _lock(directory: Path) -> None:
        import atexit
        import sys

        try:
            take_lock(directory)
        except LockError as error:
            print(f"gamebench: error: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        atexit.register(release_lock, directory)
