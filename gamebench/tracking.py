"""MLflow tracking as an option: `+tracking=mlflow` (pip install -e '.[tracking]').

A Hydra callback (configs/tracking/mlflow.yaml). When a run or a multirun ends, every job it wrote
becomes one MLflow run: its parameters (every config value, flattened: `solver.opt_u.lr`, ...), its
metrics at every log point (the mean over trials of each logged metric, with the log point as the
MLflow step; with `per_trial`, also one series per trial as `METRIC/trial_I`), tags (status, job
number, fused group) and its files as artefacts. The store is `sqlite:///<sweep or run dir>/
mlflow.db` by default (MLflow's file store is in maintenance mode), or any tracking URI.
Nothing changes when the option is off, and the package works without mlflow installed.

The jobs are logged from their files after they finished, not from inside the compiled run: the
rows are the record, and logging them costs no host round trip in the hot loop.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from gamebench import io


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out |= _flat(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}")
    return out


class MLflowTracking(Callback):
    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment: str = "gamebench",
        per_trial: bool = False,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.per_trial = per_trial

    def on_run_start(self, config: Any, **kwargs: Any) -> None:
        self._require_mlflow()

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        self._require_mlflow()

    def on_run_end(self, config: Any, **kwargs: Any) -> None:
        run_dir = Path(config.hydra.run.dir)
        self._log(run_dir, [run_dir])

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        self._log(sweep_dir, io.sweep_job_dirs(sweep_dir))

    @staticmethod
    def _require_mlflow() -> None:
        try:
            import mlflow  # noqa: F401
        except ImportError:
            print(
                "gamebench: error: +tracking=mlflow needs mlflow: pip install -e '.[tracking]'",
                file=sys.stderr,
            )
            raise SystemExit(2) from None

    def _log(self, where: Path, job_dirs: list[Path]) -> None:
        from mlflow.tracking import MlflowClient

        uri = self.tracking_uri or f"sqlite:///{(where / 'mlflow.db').resolve()}"
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(self.experiment)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(
                self.experiment, artifact_location=(where / "mlruns").resolve().as_uri()
            )
        )
        logged = 0
        for job_dir in job_dirs:
            try:
                meta = json.loads((job_dir / io.JOB_META).read_text())
            except (OSError, ValueError):
                continue
            if meta.get("status") == "skipped":
                continue
            self._log_job(client, experiment_id, job_dir, meta)
            logged += 1
        print(f"gamebench: {logged} job(s) logged to MLflow at {uri}")

    def _log_job(self, client, experiment_id: str, job_dir: Path, meta: dict) -> None:
        from mlflow.entities import Metric, Param, RunTag

        config_path = job_dir / "config.yaml"
        if config_path.is_file():
            import yaml

            params = _flat(yaml.safe_load(config_path.read_text()))
        else:
            params = dict(meta.get("identity", {}))
        group = meta.get("group") or {}
        tags = {"status": meta.get("status", ""), "job": job_dir.name, "group": group.get("id", "")}
        run = client.create_run(experiment_id, run_name=job_dir.name, tags=tags)
        now = int(time.time() * 1000)
        metrics = []
        rows_path = job_dir / "trajectories.parquet"
        if rows_path.is_file():
            import pandas as pd

            rows = pd.read_parquet(rows_path)
            logged = [
                c for c in rows.select_dtypes("number").columns if c not in params and c != "trial"
            ]
            logged = [c for c in logged if c != "step" and "." not in c]
            means = rows.groupby("step")[logged].mean()
            for step, values in means.iterrows():
                metrics += [Metric(k, float(v), now, int(step)) for k, v in values.items()]
            if self.per_trial:
                for (trial, step), values in (
                    rows.groupby(["trial", "step"])[logged].first().iterrows()
                ):
                    metrics += [
                        Metric(f"{k}/trial_{trial}", float(v), now, int(step))
                        for k, v in values.items()
                    ]
        run_id = run.info.run_id
        client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
        param_list = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for start in range(0, len(param_list), 100):  # MLflow's limits per batch
            client.log_batch(run_id, params=param_list[start : start + 100])
        for start in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[start : start + 1000])
        client.log_artifacts(run_id, str(job_dir))
        status = "FAILED" if meta.get("status") == "failed" else "FINISHED"
        client.set_terminated(run_id, status=status)
