"""Fused sweeps through the real CLI: one compiled program per structure, jobs equal to lone runs,
resume after kill -9, and a diverging job that leaves its group's other jobs intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import gamebench_cli as gamebench
from conftest import start_gamebench

from gamebench.sweep import structure_key, traced_solver_fields

SWEEP = ["problem=anti_saddle", "solver=kbeam", "solver.k=2", "debug=smoke"]


def meta(job_dir):
    return json.loads((job_dir / "meta.json").read_text())


def kill_9_when(tmp_path, args, ready, timeout: float = 240) -> None:
    """Start `gamebench ARGS` in its own process group and kill -9 the group as soon as
    `ready()` holds (or the run ends, or `timeout` passes)."""
    process = start_gamebench(
        tmp_path, *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None and not ready():
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_traced_fields_are_the_solver_floats():
    fields = traced_solver_fields()
    assert {"opt_u.lr", "opt_v.lr", "opt_u.b1", "eps", "gamma", "alpha"} <= set(fields)
    assert not {"k", "inner_steps", "direction", "opt_u.name"} & set(fields)


def test_structure_ignores_traced_values_and_seed_only():
    base = {
        "seed": 0,
        "experiment": "x",
        "trials": 4,
        "solver": {"name": "kbeam", "k": 2, "eps": 0.0, "opt_u": {"lr": 0.1}},
    }
    other = json.loads(json.dumps(base))
    other["seed"], other["solver"]["opt_u"]["lr"], other["solver"]["eps"] = 3, 0.5, 0.2
    assert structure_key(base) == structure_key(other)
    other["solver"]["k"] = 5
    assert structure_key(base) != structure_key(other)


def test_fused_jobs_equal_lone_runs_bitwise(tmp_path):
    result = gamebench(
        tmp_path, "-m", *SWEEP, "solver.opt_u.lr=0.05,0.1", "seed=0,1", "hydra.sweep.dir=sweep"
    )
    assert result.returncode == 0, result.stderr
    assert (
        "sweep of 4 jobs: 0 of 4 jobs already done, 4 to run in 1 compiled group" in result.stdout
    )
    sweep = tmp_path / "sweep"
    for job in range(4):
        names = {p.name for p in (sweep / str(job)).iterdir()}
        assert {"trajectories.parquet", "summary.csv", "config.yaml", "meta.json"} <= names
        assert "trajectories.png" in names
        assert meta(sweep / str(job))["group"]["size"] == 4
    lone = gamebench(tmp_path, *SWEEP, "solver.opt_u.lr=0.05", "seed=1", "hydra.run.dir=lone")
    assert lone.returncode == 0, lone.stderr
    fused = pd.read_parquet(sweep / "1" / "trajectories.parquet")  # jobs: lr-major, then seed
    alone = pd.read_parquet(tmp_path / "lone" / "trajectories.parquet")
    assert fused["solver.opt_u.lr"].eq(0.05).all() and fused["seed"].eq(1).all()
    pd.testing.assert_frame_equal(fused, alone, check_exact=True)
    assert meta(tmp_path / "lone")["group"]["size"] == 1


def test_a_second_run_skips_done_jobs_and_rerun_forces_them(tmp_path):
    args = ["-m", *SWEEP, "seed=0,1"]
    first = gamebench(tmp_path, *args, "hydra.sweep.dir=a")
    assert first.returncode == 0, first.stderr
    again = gamebench(tmp_path, *args, "hydra.sweep.dir=b")  # a new dir: finished jobs are copied
    assert again.returncode == 0, again.stderr
    assert "2 of 2 jobs already done, 0 to run" in again.stdout
    for job in ("0", "1"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "a" / job / "trajectories.parquet"),
            pd.read_parquet(tmp_path / "b" / job / "trajectories.parquet"),
        )
    assert len(pd.read_csv(tmp_path / "b" / "summary_all.csv")) == 2 * 4
    forced = gamebench(tmp_path, *args, "hydra.sweep.dir=b", "hydra.sweeper.rerun=true")
    assert "0 of 2 jobs already done, 2 to run" in forced.stdout


def test_kill_9_then_the_same_command_completes_every_job_once(tmp_path):
    # 16 jobs in four structures (k), each group a few seconds; killed after the first group
    args = [
        "-m",
        "problem=anti_saddle",
        "solver=kbeam",
        "solver.k=1,2,3,4",
        "seed=0,1,2,3",
        "trials=4",
        "steps=2000",
        "log_every=1000",
        "plot=false",
        "compile=fast",  # what is tested is the resume, not the numbers: compiled quickly
        "hydra.sweep.dir=sweep",
    ]
    sweep = tmp_path / "sweep"

    def a_job_finished() -> bool:
        metas = [p for p in sweep.glob("*/meta.json") if p.is_file()]
        return any(meta(p.parent).get("status") == "ok" for p in metas)

    kill_9_when(tmp_path, args, a_job_finished)

    result = gamebench(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    done = int(result.stdout.split("sweep of 16 jobs: ")[1].split(" of 16")[0])
    assert 1 <= done <= 16
    rows = pd.read_csv(sweep / "summary_all.csv")
    assert len(rows) == 16 * 4
    assert not rows.duplicated(["solver.k", "seed", "trial"]).any()
    jobs = pd.read_csv(sweep / "jobs.csv")
    assert jobs.status.eq("ok").all() and len(jobs) == 16


# split and whole runs compile alike, so the quick compile keeps the bitwise comparison exact
SHARDED = ["trials=2000", "steps=2000", "log_every=1000", "plot=false", "compile=fast"]


def test_trial_shards_merge_to_the_unsplit_run_bitwise(tmp_path):
    # two structures in one merged group: 4 launcher jobs of 500 trials, then one merge
    args = ["-m", "problem=seesaw,anti_saddle", "solver=kbeam", *SHARDED]
    split = gamebench(tmp_path, *args, "trials_per_shard=500", "hydra.sweep.dir=split")
    assert split.returncode == 0, split.stderr
    shard_specs = sorted(p.name for p in (tmp_path / "split" / ".groups").glob("*.json"))
    assert shard_specs == [f"g0.t{a}-{a + 500}.json" for a in (0, 1000, 1500, 500)]
    whole = gamebench(tmp_path, *args, "hydra.sweep.dir=whole", "hydra.sweeper.rerun=true")
    assert whole.returncode == 0, whole.stderr
    for job in ("0", "1"):
        split_rows = pd.read_parquet(tmp_path / "split" / job / "trajectories.parquet")
        assert split_rows.trial.nunique() == 2000
        pd.testing.assert_frame_equal(
            split_rows,
            pd.read_parquet(tmp_path / "whole" / job / "trajectories.parquet"),
            check_exact=True,
        )
        assert meta(tmp_path / "split" / job)["group"]["shards"][-1] == [1500, 2000]
        assert not (tmp_path / "split" / job / ".shards").exists()  # merged, then removed


def test_a_killed_sharded_sweep_runs_only_its_missing_shards_again(tmp_path):
    args = ["-m", "problem=seesaw", *SHARDED, "trials_per_shard=500", "hydra.sweep.dir=sweep"]
    shards = tmp_path / "sweep" / "0" / ".shards"
    kill_9_when(tmp_path, args, lambda: bool(list(shards.glob("*"))))
    finished = len(list(shards.glob("*.npz"))) if shards.exists() else 0

    again = gamebench(tmp_path, *args)
    assert again.returncode == 0, again.stderr
    if not (tmp_path / "sweep" / "0" / "meta.json").exists() or finished:
        launched = (again.stdout + again.stderr).count("sweep_group=")
        assert launched == 4 - finished  # the finished shards are not run again
    lone = gamebench(tmp_path, "problem=seesaw", *SHARDED, "hydra.run.dir=lone")
    assert lone.returncode == 0, lone.stderr
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "sweep" / "0" / "trajectories.parquet"),
        pd.read_parquet(tmp_path / "lone" / "trajectories.parquet"),
        check_exact=True,
    )


def test_a_diverging_job_is_recorded_and_its_group_keeps_the_others(tmp_path):
    result = gamebench(
        tmp_path,
        "-m",
        "problem=bilinear",
        "solver=gda",
        "solver.opt_u.lr=0.01,1e30",
        "solver.opt_u.schedule=constant",
        "debug=smoke",
        "hydra.sweep.dir=sweep",
    )
    assert result.returncode == 0, result.stderr
    jobs = pd.read_csv(tmp_path / "sweep" / "jobs.csv")
    assert jobs.status.tolist() == ["ok", "diverged"]
    assert jobs.group.nunique() == 1
    rows = pd.read_csv(tmp_path / "sweep" / "summary_all.csv")
    assert rows.groupby("solver.opt_u.lr").status.first().tolist() == ["ok", "diverged"]


def test_a_refused_value_fails_its_job_before_compiling(tmp_path):
    result = gamebench(tmp_path, "-m", *SWEEP, "solver.opt_u.lr=0.1,nan", "hydra.sweep.dir=sweep")
    assert result.returncode == 1  # the sweep ran; a job of it failed
    jobs = pd.read_csv(tmp_path / "sweep" / "jobs.csv")
    assert jobs.status.tolist() == ["ok", "failed"]
    assert "solver.opt_u.lr" in jobs.message[1]


def test_an_experiment_sweep_writes_its_report_and_gamebench_report_rebuilds_it(tmp_path):
    result = gamebench(
        tmp_path,
        "-m",
        "experiment=surfaces",
        "problem=seesaw,anti_saddle",
        "debug=smoke",
        "hydra.sweep.dir=sweep",
    )
    assert result.returncode == 0, result.stderr
    assert (
        "sweep of 24 jobs: 0 of 24 jobs already done, 12 to run in 1 compiled group"
        in result.stdout
    )
    sweep = tmp_path / "sweep"
    table = pd.read_csv(sweep / "surfaces_table.csv")
    assert table.surface.unique().tolist() == ["seesaw", "anti_saddle"] and len(table) == 12
    assert (table.n_trials == 4).all()
    # rebuilt from the rows alone, in a process that never imports JAX
    code = (
        "import sys; from gamebench.reports.__main__ import main; "
        "rc = main(['sweep', '--out', 'rebuilt']); sys.exit(rc or 'jax' in sys.modules)"
    )
    rebuilt = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True)
    assert rebuilt.returncode == 0, rebuilt.stderr
    for name in ("surfaces_table.csv", "surfaces_trials.csv"):
        assert (tmp_path / "rebuilt" / name).read_bytes() == (sweep / name).read_bytes()
    assert (
        "Regenerate: `gamebench -m experiment=surfaces" in (sweep / "surfaces_table.md").read_text()
    )


@pytest.mark.parametrize(
    "launcher, plugin",
    [
        ("joblib", "hydra_joblib_launcher"),
        ("submitit_local", "hydra_plugins.hydra_submitit_launcher"),
        ("ray", "hydra_plugins.hydra_ray_launcher"),  # starts a local Ray cluster, stops at exit
    ],
)
def test_groups_run_under_other_launchers_with_the_basic_launchers_rows(tmp_path, launcher, plugin):
    name = plugin.rsplit(".", 1)[-1]
    pytest.importorskip(f"hydra_plugins.{name}", reason="pip install '.[scale]'")
    # two trial counts: two compiled groups, run as two launcher jobs (processes)
    args = ["-m", "problem=seesaw,anti_saddle", "solver=gda,kbeam", "trials=2,4", "debug=smoke"]
    other = gamebench(tmp_path, *args, f"hydra/launcher={launcher}", "hydra.sweep.dir=other")
    assert other.returncode == 0, other.stderr
    assert "to run in 2 compiled group(s)" in other.stdout
    basic = gamebench(tmp_path, *args, "hydra.sweep.dir=basic", "hydra.sweeper.rerun=true")
    assert basic.returncode == 0, basic.stderr
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "other" / "summary_all.csv"),
        pd.read_csv(tmp_path / "basic" / "summary_all.csv"),
    )


def test_the_mog_sweep_writes_its_report_from_rows_and_snapshots(tmp_path):
    # the smoke sizes of test_every_experiment_runs_at_smoke_size[mog_jsd]: its k=5 program is
    # then in the session's compilation cache for whichever of the two runs second
    small = ["problem.jsd_data_samples=20000", "problem.jsd_gen_samples=2000"]
    result = gamebench(
        tmp_path, "-m", "experiment=mog_jsd", "solver.k=1,5", "debug=smoke", *small,
        "hydra.sweep.dir=sweep",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sweep = tmp_path / "sweep"
    curves = pd.read_csv(sweep / "mog_jsd.csv")
    assert list(curves.columns) == ["K", "trial", "step", "jsd", "modes_covered", "high_quality"]
    assert sorted(curves.K.unique()) == [1, 5] and curves.step.max() == 20
    samples = pd.read_csv(sweep / "mog_samples.csv")
    assert sorted(samples.step.unique()) == [0, 10, 20] and len(samples) == 2 * 3 * 256
    assert "| 5 |" in (sweep / "mog_table.md").read_text()
    assert (sweep / "mog_samples.png").stat().st_size > 10_000


def test_a_long_sweep_prints_progress_after_each_group_and_a_short_one_stays_quiet():
    from gamebench.sweep import progress_line

    position = {"index": 1, "groups": 4, "size": 8, "jobs_before": 8, "jobs": 32, "started": 0.0}
    assert progress_line(position, now=60.0) == (
        "gamebench: 2 of 4 groups done (16 of 32 jobs), 60 s elapsed, about 60 s left"
    )
    assert progress_line(position, now=5.0) is None  # a short sweep: quiet
    assert progress_line({**position, "index": 3}, now=60.0) is None  # the last: the summary says


def test_ctrl_c_stops_in_one_line_keeps_finished_jobs_and_the_same_command_resumes(tmp_path):
    # groups that run for seconds after their compile: the Ctrl-C lands while there is work left
    args = ["-m", "problem=seesaw,anti_saddle", "solver=gda,kbeam", "trials=2,4,8",
            "steps=200000", "log_every=100000", "plot=false", "compile=fast"]  # fmt: skip
    run = start_gamebench(tmp_path, *args, "hydra.sweep.dir=sweep")
    for line in run.stdout:  # interrupt once the sweep is planned and its first group runs
        if "sweep of 12 jobs" in line:
            break
    time.sleep(0.5)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("gamebench: interrupted; finished jobs gathered")
    statuses = set(pd.read_csv(tmp_path / "sweep" / "jobs.csv").status)
    assert (
        statuses <= {"ok", "interrupted", "missing"}
        and not (tmp_path / "sweep" / ".gamebench.lock").exists()
    )
    again = gamebench(tmp_path, *args, "hydra.sweep.dir=sweep")
    assert again.returncode == 0, again.stderr
    assert set(pd.read_csv(tmp_path / "sweep" / "jobs.csv").status) == {"ok"}


def test_trials_sharded_over_several_cpu_devices_equal_one_device_bitwise(tmp_path):
    # 10 trials over 3 XLA CPU devices: padded to 12, sharded, the padding dropped
    runs = {}
    for devices in (1, 3):
        args = ["problem=seesaw", "trials=10", "debug=smoke", f"devices={devices}"]
        result = gamebench(tmp_path, *args, f"hydra.run.dir=d{devices}")
        assert result.returncode == 0, result.stderr
        runs[devices] = pd.read_parquet(tmp_path / f"d{devices}" / "trajectories.parquet")
        assert len(meta(tmp_path / f"d{devices}")["devices"]) == devices
    assert runs[1].trial.nunique() == 10
    pd.testing.assert_frame_equal(runs[1], runs[3], check_exact=True)


SEARCH = [
    "-m",
    "problem=seesaw",
    "solver.opt_u.lr=tag(log, interval(0.01, 1))",
    "solver.opt_v.lr=tag(log, interval(0.01, 1))",
    "+hydra.sweeper.search.n_trials=6",
    "+hydra.sweeper.search.batch=3",
    "trials=4",
    "steps=4000",
    "log_every=2000",
    "plot=false",
    "compile=fast",
    "hydra.sweep.dir=search",
]


def test_an_optuna_search_runs_fused_rounds_and_resumes_after_kill_9(tmp_path):
    pytest.importorskip("optuna", reason="pip install '.[scale]'")
    search = tmp_path / "search"
    # killed once the first round's first job is written
    kill_9_when(tmp_path, SEARCH, lambda: (search / "0" / "meta.json").is_file())

    again = gamebench(tmp_path, *SEARCH)
    assert again.returncode == 0, again.stderr
    assert "gamebench: search: 6 of 6 jobs, best dist" in again.stdout
    trials = pd.read_csv(search / "search_trials.csv")
    assert trials.job.tolist() == list(range(6)) and trials.state.eq("COMPLETE").all()
    # job 0 ran the config's own step sizes; each round of 3 was one fused program
    assert trials.loc[0, "solver.opt_u.lr"] == 0.1 and trials.loc[0, "solver.opt_v.lr"] == 0.1
    sizes = [meta(search / str(job))["group"]["size"] for job in range(6)]
    assert max(sizes) >= 2 and max(sizes) <= 3, sizes
    jobs = pd.read_csv(search / "jobs.csv")
    assert jobs.job.tolist() == list(range(6)) and jobs.status.eq("ok").all()
    rows = pd.read_csv(search / "summary_all.csv")
    assert len(rows) == 6 * 4
    # each job's objective is its final mean distance
    for _, trial in trials.iterrows():
        final = rows[rows["solver.opt_u.lr"] == trial["solver.opt_u.lr"]].dist.mean()
        assert final == pytest.approx(trial.value, rel=1e-6)
    assert (search / "search.png").is_file() and (search / "optuna.db").is_file()


def test_a_ctrl_c_swallowed_in_a_gc_callback_still_stops_the_run():
    """Python swallows an exception raised inside a garbage-collection callback (JAX has one):
    the handler records the Ctrl-C, and the runner's next check raises it."""
    code = (
        "import gc, os, signal, sys, time\n"
        "from gamebench import interrupts\n"
        "interrupts.install()\n"
        "def callback(phase, info):\n"
        "    if phase == 'start':\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(0.05)  # the handler runs here, inside the callback\n"
        "gc.callbacks.append(callback)\n"
        "gc.collect()\n"
        "gc.callbacks.remove(callback)\n"
        "print('still running')\n"
        "try:\n"
        "    interrupts.check()\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "Exception ignored" in done.stderr and "KeyboardInterrupt" in done.stderr
    assert done.stdout.strip() == "still running" and done.returncode == 130


def test_collectives_of_sharded_trials_wait_an_hour_unless_the_user_says_otherwise():
    # XLA aborts a collective when one device thread is 40 s late (a starved thread on a busy
    # machine); the runner raises that to an hour for the backend's start, XLA accepts it, and the
    # environment is the user's again afterwards (a finished run's reuse key reads it)
    code = (
        "import os, jax; from gamebench.experiment import configure_jax; seen = []; "
        "start = jax.devices; "
        "jax.devices = lambda: seen.append(os.environ.get('XLA_FLAGS')) or start(); "
        "configure_jax(2, False); assert len(start()) == 2; "
        "print(seen[0]); print(os.environ.get('XLA_FLAGS'))"
    )
    for given, expected in (
        (None, "--xla_cpu_collective_call_terminate_timeout_seconds=3600"),
        ("--xla_cpu_collective_call_terminate_timeout_seconds=90", "=90"),
    ):
        env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
        env |= {} if given is None else {"XLA_FLAGS": given}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        at_start, after = done.stdout.strip().splitlines()
        assert at_start.endswith(expected) and at_start.count("terminate") == 1
        assert after == str(given)
