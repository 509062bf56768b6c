"""The `gamebench` command end to end, in subprocesses (as a user runs it)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import gamebench_cli as gamebench
from conftest import start_gamebench


def test_single_run_writes_every_output(tmp_path):
    result = gamebench(tmp_path, "problem=seesaw", "solver=kbeam", "solver.k=2", "debug=smoke")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seesaw x kbeam(k=2): final dist")
    (job_dir,) = (tmp_path / "outputs" / "default" / "seesaw-kbeam").iterdir()
    for name in (
        "trajectories.parquet",
        "summary.csv",
        "config.yaml",
        "meta.json",
        "trajectories.png",
    ):
        assert (job_dir / name).is_file(), name
    rows = pd.read_parquet(job_dir / "trajectories.parquet")
    assert len(rows) == 4 * 3 and {"trial", "step", "dist", "gap", "solver.k"} <= set(rows.columns)
    meta = json.loads((job_dir / "meta.json").read_text())
    assert meta["status"] == "ok" and meta["compile_seconds"] > 0 and meta["run_seconds"] > 0
    assert meta["versions"]["jax"] and meta["git_commit"]
    summary = pd.read_csv(job_dir / "summary.csv")
    assert summary.status.eq("ok").all() and len(summary) == 4


def test_a_repeated_run_copies_the_finished_one_and_reuse_false_recomputes(tmp_path):
    args = ("problem=seesaw", "solver=kbeam", "solver.k=2", "debug=smoke")
    first = gamebench(tmp_path, *args)
    assert first.returncode == 0, first.stderr
    second = gamebench(tmp_path, *args)
    assert second.returncode == 0, second.stderr
    assert "its files were copied" in second.stderr
    runs = sorted((tmp_path / "outputs" / "default" / "seesaw-kbeam").iterdir())
    assert len(runs) == 2
    first_dir, copy_dir = runs
    assert second.stdout.strip().endswith(str(copy_dir))
    assert first.stdout.split("|")[0] == second.stdout.split("|")[0]  # the same numbers
    meta = json.loads((copy_dir / "meta.json").read_text())
    assert meta["reused_from"] == str(first_dir)
    for name in meta["files"]:
        assert (copy_dir / name).read_bytes() == (first_dir / name).read_bytes(), name
    # an incomplete earlier run is never taken: the next identical command recomputes
    (first_dir / "summary.csv").unlink()
    (copy_dir / "summary.csv").unlink()
    third = gamebench(tmp_path, *args)
    assert third.returncode == 0 and "copied" not in third.stderr
    # another seed is another run; reuse=false recomputes even when a finished one exists
    assert "copied" not in gamebench(tmp_path, *args, "seed=3").stderr
    forced = gamebench(tmp_path, *args, "reuse=false")
    assert forced.returncode == 0 and "copied" not in forced.stderr
    forced_dir = Path(forced.stdout.strip().rsplit("| ", 1)[1])
    assert "reused_from" not in json.loads((forced_dir / "meta.json").read_text())


def test_multirun_skips_duplicates_and_gathers_one_table(tmp_path):
    result = gamebench(
        tmp_path, "-m", "problem=anti_saddle", "solver=gda,kbeam", "solver.k=1,2", "debug=smoke"
    )
    assert result.returncode == 0, result.stderr
    assert (
        "job 1 skipped: same run as job 0: solver.k=2 has no effect on solver 'gda'"
        in result.stdout
    )
    (sweep,) = (tmp_path / "multirun" / "default").iterdir()
    jobs = pd.read_csv(sweep / "jobs.csv")
    assert jobs.status.tolist() == ["ok", "skipped", "ok", "ok"]
    assert jobs["solver.k"].tolist() == [1, 2, 1, 2]
    rows = pd.read_csv(sweep / "summary_all.csv")
    assert len(rows) == 3 * 4 and set(rows.solver) == {"gda", "kbeam"}


def test_a_diverging_run_is_recorded_not_crashed(tmp_path):
    result = gamebench(
        tmp_path,
        "problem=bilinear",
        "solver=gda",
        "solver.opt_u.lr=100",
        "solver.opt_u.schedule=constant",
        "solver.opt_v.lr=100",
        "solver.opt_v.schedule=constant",
        "debug=smoke",
    )
    assert result.returncode == 0, result.stderr
    assert "(4 diverged)" in result.stdout
    (job_dir,) = (tmp_path / "outputs" / "default" / "bilinear-gda").iterdir()
    assert json.loads((job_dir / "meta.json").read_text())["status"] == "diverged"
    summary = pd.read_csv(job_dir / "summary.csv")
    assert (summary.status == "diverged").all() and (summary.diverged_at_step > 0).all()
    assert len(pd.read_parquet(job_dir / "trajectories.parquet")) == 4 * 3


def test_a_failing_job_does_not_lose_the_sweep(tmp_path):
    """A job that raises (here a plugin problem whose factory breaks for one value) is recorded
    with its traceback in error.log; the sweep's other jobs keep their results."""
    import shutil

    plugin = tmp_path / "plugin"
    shutil.copytree(Path(__file__).parent / "plugin_example", plugin)
    (plugin / "breaks_at_13.py").write_text(
        "import dataclasses\n"
        "from gamebench.problems import PROBLEMS\n"
        "spec = PROBLEMS['toy_quadratic']\n"
        "def factory(curvature):\n"
        "    if curvature == 13.0:\n"
        "        raise RuntimeError('a bug for curvature 13')\n"
        "    return spec.factory(curvature)\n"
        "PROBLEMS['toy_quadratic'] = dataclasses.replace(spec, factory=factory)\n"
    )
    env = {"GAMEBENCH_PLUGINS": "toy_plugin,breaks_at_13", "PYTHONPATH": str(plugin)}
    result = gamebench(
        tmp_path, "-m", "problem=toy_quadratic", "solver=gda", "problem.curvature=2.0,13.0",
        f"hydra.searchpath=[file://{plugin / 'configs'}]", "debug=smoke", env=env,
    )  # fmt: skip
    assert result.returncode == 1
    assert "job 1 failed: RuntimeError: a bug for curvature 13" in result.stderr
    (sweep,) = (tmp_path / "multirun" / "default").iterdir()
    jobs = pd.read_csv(sweep / "jobs.csv")
    assert jobs.status.tolist() == ["ok", "failed"]
    assert len(pd.read_csv(sweep / "summary_all.csv")) == 4
    assert (sweep / "1" / "error.log").read_text().startswith("Traceback")


def _experiments():
    from gamebench.config import config_dir

    return sorted(p.stem for p in (config_dir() / "experiment").glob("*.yaml"))


# one test per experiment, so pytest-xdist spreads these subprocess runs over the cores
@pytest.mark.parametrize("experiment", _experiments())
def test_every_experiment_runs_at_smoke_size(tmp_path, experiment):
    from gamebench.config import compose_config
    from gamebench.problems import PROBLEMS

    spec = PROBLEMS[compose_config([f"experiment={experiment}"]).problem.name]
    if spec.datasets and not os.environ.get("GAMEBENCH_DATA"):
        pytest.skip("GAMEBENCH_DATA is not set: this experiment needs a real dataset")
    result = gamebench(tmp_path, f"experiment={experiment}", "debug=smoke", *spec.smoke)
    assert result.returncode == 0, (experiment, result.stderr)
    assert " final " in result.stdout and "0 diverged" in result.stdout


def test_missing_dataset_is_one_line_and_exit_2(tmp_path):
    env_data = {"GAMEBENCH_DATA": str(tmp_path / "empty")}
    result = gamebench(tmp_path, "experiment=da_mnistm", "debug=smoke", env=env_data)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "dataset 'mnist' not found" in line and "gamebench-data fetch mnist" in line


def test_two_runs_started_together_keep_both_results(tmp_path):
    runs = [
        start_gamebench(tmp_path, "problem=seesaw", f"seed={seed}", "debug=smoke")
        for seed in (0, 1)
    ]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read()
    dirs = list((tmp_path / "outputs" / "default" / "seesaw-kbeam").iterdir())
    assert len(dirs) == 2
    assert sorted(json.loads((d / "meta.json").read_text())["seed"] for d in dirs) == [0, 1]


def test_a_second_run_into_a_directory_in_use_is_refused(tmp_path):
    first = start_gamebench(
        tmp_path, "problem=seesaw", "steps=200000", "compile=fast", "hydra.run.dir=shared"
    )
    lock = tmp_path / "shared" / ".gamebench.lock"
    deadline = time.monotonic() + 120
    while not lock.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    second = gamebench(tmp_path, "problem=seesaw", "seed=1", "debug=smoke", "hydra.run.dir=shared")
    first.kill()
    first.wait()
    assert second.returncode == 2
    (line,) = second.stderr.strip().splitlines()
    assert line.startswith("gamebench: error: another gamebench run (pid ")
    assert "is writing into shared" in line
    # the lock of the killed run is stale: the same command now runs
    again = gamebench(tmp_path, "problem=seesaw", "seed=1", "debug=smoke", "hydra.run.dir=shared")
    assert again.returncode == 0, again.stderr


def test_a_solver_and_a_problem_from_outside_the_package_run_through_the_cli(tmp_path):
    """The README's worked example: a module that registers a factory with its declared fields,
    and one YAML each; nothing in the package changes."""
    import shutil

    plugin = tmp_path / "plugin"
    shutil.copytree(Path(__file__).parent / "plugin_example", plugin)
    env = {"GAMEBENCH_PLUGINS": "toy_plugin", "PYTHONPATH": str(plugin)}
    search = f"hydra.searchpath=[file://{plugin / 'configs'}]"
    result = gamebench(
        tmp_path, "-m", "solver=damped_gda", "problem=toy_quadratic", "solver.damping=0.2,0.6",
        "problem.curvature=2.0", search, "debug=smoke", "hydra.sweep.dir=sweep", env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 to run in 1 compiled group" in result.stdout
    rows = pd.read_csv(tmp_path / "sweep" / "summary_all.csv")
    assert set(rows["solver.damping"]) == {0.2, 0.6} and (rows["problem.curvature"] == 2.0).all()
    assert np.isfinite(rows.dist).all()
    refused = gamebench(
        tmp_path, "solver=damped_gda", "problem=toy_quadratic", "solver.damping=1.5", search,
        "debug=smoke", env=env,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "solver.damping=1.5 is out of range: must be in [0, 1]" in refused.stderr


def test_fields_lists_every_declared_field_and_refuses_unknown_names(tmp_path):
    listed = gamebench(tmp_path, "--fields", "solver", "kbeam_eps", "problem", "smd")
    assert listed.returncode == 0, listed.stderr
    assert "  eps = 0.0 (must be >= 0): kbeam_eps: near-best threshold" in listed.stdout
    assert "  which = 'smd20' (allowed: smd20, smd21, smd23, smd24)" in listed.stdout
    unknown = gamebench(tmp_path, "--fields", "solver", "nope")
    assert unknown.returncode == 2 and "unknown solver 'nope'; allowed: alt_gda" in unknown.stderr


def test_mlflow_tracking_logs_each_job_with_the_params_and_final_metrics_of_its_rows(tmp_path):
    pytest.importorskip("mlflow", reason="pip install '.[tracking]'")
    result = gamebench(
        tmp_path, "-m", "problem=seesaw", "solver.opt_u.lr=0.05,0.1", "debug=smoke",
        "+tracking=mlflow", "hydra.sweep.dir=sweep",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 job(s) logged to MLflow" in result.stdout
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'sweep' / 'mlflow.db'}")
    (experiment,) = [e for e in client.search_experiments() if e.name == "default"]
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2
    final = (
        pd.read_csv(tmp_path / "sweep" / "summary_all.csv")
        .groupby("solver.opt_u.lr")
        .mean(numeric_only=True)
    )
    for run in runs:
        lr = float(run.data.params["solver.opt_u.lr"])
        assert run.data.params["problem.name"] == "seesaw" and run.data.tags["status"] == "ok"
        for metric in ("dist", "gap", "f"):
            assert run.data.metrics[metric] == pytest.approx(final.loc[lr, metric], rel=1e-6)
        history = client.get_metric_history(run.info.run_id, "dist")
        assert [m.step for m in history] == [0, 10, 20]
        files = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"trajectories.parquet", "summary.csv", "meta.json"} <= files
