"""Reports read the rows the runner writes: methods, order and tables of the DA, privacy and bilevel
artefacts (the sweeps themselves are exercised in test_sweep.py and test_cli.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import gamebench_cli as gamebench


def main_without_jax(cwd, module: str, args: list[str]) -> subprocess.CompletedProcess:
    """`module.main(args)` in a fresh interpreter, which exits 1 if it imported JAX."""
    code = f"import sys; from {module} import main; rc = main({args!r}); "
    code += "sys.exit(rc or 'jax' in sys.modules)"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True)


def runner_rows(jobs: list[dict], metrics: dict[str, list[float]], steps=(10, 20)) -> pd.DataFrame:
    """Rows shaped as trajectories.parquet: identity columns, trial, step, metrics; two trials."""
    frames = []
    for index, identity in enumerate(jobs):
        n = 2 * len(steps)
        frame = {name: [value] * n for name, value in identity.items()}
        frame |= {"trial": [0] * len(steps) + [1] * len(steps), "step": list(steps) * 2}
        frame |= {name: values[index] * np.ones(n) for name, values in metrics.items()}
        frames.append(pd.DataFrame(frame).assign(job=f"job{index}"))
    return pd.concat(frames, ignore_index=True)


def test_da_methods_come_from_the_config_in_the_papers_order():
    from gamebench.reports.da_mnistm import curves_from_rows, final_table, summary_markdown

    jobs = [
        {"problem.adversarial": True, "solver": "kbeam", "solver.k": 10},
        {"problem.adversarial": True, "solver": "kbeam", "solver.k": 2},
        {"problem.adversarial": True, "solver": "gda", "solver.k": 1},
        {"problem.adversarial": False, "solver": "gda", "solver.k": 1},
    ]
    accuracies = {c: [0.4, 0.3, 0.1, 0.2] for c in ("source_acc", "target_acc")}
    accuracies["target_official_acc"] = [0.35, 0.25, 0.05, 0.15]
    curves = curves_from_rows(runner_rows(jobs, accuracies))
    assert list(dict.fromkeys(curves.method)) == ["source_only", "gda", "kbeam2", "kbeam10"]
    table = final_table(curves)
    assert len(table) == 8 and (table.columns[:2] == ["method", "trial"]).all()
    text = summary_markdown(table, ["source_only", "kbeam10"])
    assert "| kbeam10 | 2 | 0.400 ± 0.000 | 0.400 ± 0.000 | 0.350 ± 0.000 |" in text


def test_privacy_methods_and_the_protocol_columns():
    from gamebench.reports.privacy_tradeoff import table_from_rows

    base = {"problem.dataset": "genki", "problem.d": 10}
    jobs = [
        {**base, "solver": "danskin", "solver.baseline": "initial", "problem.filter": "nn"},
        {**base, "solver": "baseline", "solver.baseline": "pca", "problem.filter": "linear"},
        {**base, "solver": "baseline", "solver.baseline": "initial", "problem.filter": "linear"},
        {**base, "solver": "danskin", "solver.baseline": "initial", "problem.filter": "linear"},
    ]
    metrics = {"protocol_utility_acc": [0.9, 0.85, 0.7, 0.88]}
    metrics["protocol_private_acc"] = [0.5, 0.67, 0.7, 0.52]
    table = table_from_rows(runner_rows(jobs, metrics))
    # the paper's layout (linear baselines, learned linear, then nn), the sweep's order within
    assert list(dict.fromkeys(table.method)) == ["pca", "random", "minimax_linear", "minimax_nn"]
    assert (table[table.method == "pca"].utility_acc == 0.85).all() and len(table) == 8
    with pytest.raises(ValueError, match="run the sweep with problem.protocol=true"):
        table_from_rows(runner_rows(jobs, {"utility_acc": [0.5] * 4}))


def test_robust_methods_costs_and_the_attacker_column():
    from gamebench.reports.adversarial import robust_from_rows, robust_markdown

    jobs = [
        {"problem": "robust_classification", "solver": "pgd_at", "solver.k": 5},
        {"problem": "robust_classification", "solver": "fast_bat", "solver.k": 5},
        {"problem": "mvm_defense", "solver": "kbeam", "solver.k": 5},
    ]
    metrics = {m: [0.9, 0.8, 0.7] for m in ("clean_acc", "robust_acc", "robust_acc_large")}
    metrics |= {"grad_evals": [220.0, 60.0, 120.0], "hvps": [0.0, 20.0, 0.0]}
    rows = runner_rows(jobs, metrics).assign(fresh_attacker_acc=np.nan)
    rows.loc[rows.problem == "mvm_defense", "fresh_attacker_acc"] = 0.2
    table = robust_from_rows(rows)
    assert table.method.tolist() == ["pgd_at"] * 2 + ["fast_bat"] * 2 + ["mvm_kbeam(k=5)"] * 2
    # costs per leader step: the cumulative counts at the last step (20) over 20 steps
    assert table.grad_evals_per_step.tolist()[::2] == [11.0, 3.0, 6.0]
    assert table.hvps_per_step.tolist()[::2] == [0.0, 1.0, 0.0]
    text = robust_markdown(table, None)
    assert "| pgd_at | 2 | 0.900 ± 0.000 | 0.900 ± 0.000 | 0.900 ± 0.000 |  | 11 | 0 |" in text
    assert "| mvm_kbeam(k=5) | 2 | 0.700 ± 0.000 |" in text and "0.200 ± 0.000" in text


def test_poisoning_drop_is_against_the_clean_baseline_and_truncation_is_its_own_method():
    from gamebench.reports.adversarial import poisoning_from_rows, poisoning_markdown

    base = {"problem": "poisoning", "problem.n_train": 1000, "problem.poison_seed": 0}
    jobs = [
        {**base, "solver": "baseline", "solver.baseline": "clean", "problem.poison_share": 0.06},
        {**base, "solver": "rmd", "solver.truncate": 0, "problem.poison_share": 0.01},
        {**base, "solver": "rmd", "solver.truncate": 0, "problem.poison_share": 0.06},
        {**base, "solver": "rmd", "solver.truncate": 5, "problem.poison_share": 0.06},
    ]
    metrics = {"test_acc": [0.86, 0.1, 0.1, 0.1], "refit_acc": [0.8, 0.8, 0.6, 0.7]}
    metrics |= {"grad_evals": [0.0, 440.0, 440.0, 440.0], "hvps": [0.0, 400.0, 400.0, 100.0]}
    table = poisoning_from_rows(runner_rows(jobs, metrics))
    assert "clean" not in set(table.method)
    assert list(dict.fromkeys(table.method)) == ["rmd", "rmd(truncate=5)"]
    assert (table.clean_acc == 0.86).all()  # the clean learner's test_acc, not its refit_acc
    six = table[(table.method == "rmd") & (table.poison_share == 0.06)]
    np.testing.assert_allclose(six["drop"], 0.26)
    assert (table.n_poison.unique() == [10, 60]).all()
    text = poisoning_markdown(table, None)
    assert "Clean learner (no poison): 0.860" in text and "| rmd(truncate=5) |" in text


def test_bilevel_report_from_two_sweeps_rebuilt_without_jax(tmp_path):
    synthetic = gamebench(
        tmp_path, "-m", "experiment=bilevel_synthetic", "setting=smd20,iaptt_toy",
        "solver=rmd,penalty", "solver.inner_steps=1,5", "debug=smoke", "hydra.sweep.dir=synthetic",
    )  # fmt: skip
    assert synthetic.returncode == 0, synthetic.stderr
    assert "8 to run in 1 compiled group" in synthetic.stdout
    cost = gamebench(
        tmp_path, "-m", "experiment=bilevel_cost", "problem.dim=10", "solver=rmd,fmd",
        "solver.inner_steps=10", "trials=1", "debug=smoke", "hydra.sweep.dir=cost",
    )  # fmt: skip
    assert cost.returncode == 0, cost.stderr
    assert "2 to run in 2 compiled group" in cost.stdout  # fuse: false, each job timed alone
    args = ["synthetic", "cost", "--report", "bilevel", "--out", "both"]
    rebuilt = main_without_jax(tmp_path, "gamebench.reports.__main__", args)
    assert rebuilt.returncode == 0, rebuilt.stderr
    both = tmp_path / "both"
    rows = pd.read_csv(both / "bilevel_synthetic.csv")
    assert set(rows.problem) == {"smd20", "iaptt_toy"} and set(rows["T"]) == {1, 5}
    assert len(rows) == 2 * 2 * 2 * 4 * 3  # problems, solvers, T, trials, log points 0, 10, 20
    costs = pd.read_csv(both / "bilevel_cost_dim.csv")
    assert costs.solver.tolist() == ["rmd", "fmd"] and (costs.dim_u == 10).all()
    # forward mode: one JVP per leader coordinate and follower step
    assert costs.jvps.tolist() == [0, 10 * 10] and (costs.ms_per_step > 0).all()
    assert (costs.peak_bytes > 0).all()
    tables = (both / "bilevel_tables.md").read_text()
    assert "## Final distance" in tables and "## Cost per leader step" in tables


def test_plot_curves_pool_trials_per_group_and_leave_diverged_trials_out():
    from gamebench.reports.plot import curves, varying

    rows = pd.DataFrame(
        {
            "problem": "seesaw",
            "solver": ["gda"] * 4 + ["kbeam"] * 4,
            "solver.k": [1] * 4 + [5] * 4,
            "seed": 0,
            "job": ["a"] * 4 + ["b"] * 4,
            "trial": [0, 0, 1, 1] * 2,
            "step": [0, 10] * 4,
            "grad_evals": [0, 20, 0, 20, 0, 60, 0, 60],
            "dist": [0.4, 0.2, 0.4, 0.4, 0.3, 0.1, 0.3, np.nan],  # kbeam's trial 1 diverged
        }
    )
    assert varying(rows) == ["solver", "solver.k"]
    table = curves(rows, "dist", "grad_evals", ["solver"], "std")
    gda = table[table.group == "solver=gda"]
    np.testing.assert_allclose(gda.dist, [0.4, 0.3])
    np.testing.assert_allclose(gda.high - gda.dist, [0.0, 0.1])  # std over the two trials
    kbeam = table[table.group == "solver=kbeam"]
    np.testing.assert_allclose(kbeam.dist, [0.3, 0.1])  # the diverged trial is left out
    assert kbeam.diverged.tolist() == [1, 1] and kbeam.trials.tolist() == [1, 1]
    assert kbeam.grad_evals.tolist() == [0, 60] and gda.diverged.tolist() == [0, 0]


def test_gamebench_plot_draws_any_metric_from_a_sweep_without_jax(tmp_path):
    sweep = gamebench(
        tmp_path, "-m", "problem=seesaw", "solver=gda,kbeam", "debug=smoke", "hydra.sweep.dir=sweep"
    )
    assert sweep.returncode == 0, sweep.stderr
    args = ["sweep", "--metric", "dist", "--x", "grad_evals", "--out", "dist.svg"]
    drawn = main_without_jax(tmp_path, "gamebench.reports.plot", [*args, "--csv", "dist.csv"])
    assert drawn.returncode == 0, drawn.stderr
    svg = (tmp_path / "dist.svg").read_text()
    assert "solver=gda" in svg and "solver=kbeam" in svg  # grouped by what the sweep varied
    table = pd.read_csv(tmp_path / "dist.csv")
    rows = pd.read_parquet(tmp_path / "sweep" / "1" / "trajectories.parquet")
    final = rows[rows.step == rows.step.max()].dist.mean()
    assert set(table.group) == {"solver=gda, solver.k=1", "solver=kbeam, solver.k=5"}
    kbeam = table[table.group == "solver=kbeam, solver.k=5"]
    assert kbeam.dist.iloc[-1] == pytest.approx(final, rel=1e-6)
    wrong = subprocess.run(
        [sys.executable, "-m", "gamebench.reports.plot", "sweep", "--metric", "dsit"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert wrong.returncode == 2
    (line,) = wrong.stderr.strip().splitlines()
    assert line.startswith("gamebench-plot: error: --metric 'dsit' is not logged here; logged:")


@pytest.fixture(scope="module")
def sweep_page(tmp_path_factory):
    """A two-job sweep and its page, written by `gamebench-report`."""
    tmp_path = tmp_path_factory.mktemp("page")
    sweep = gamebench(
        tmp_path, "-m", "problem=seesaw", "solver=gda,kbeam", "debug=smoke", "hydra.sweep.dir=sweep"
    )
    assert sweep.returncode == 0, sweep.stderr
    built = subprocess.run(
        [sys.executable, "-m", "gamebench.reports", "sweep"], cwd=tmp_path, capture_output=True,
        text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return tmp_path / "sweep" / "index.html"


def test_gamebench_report_writes_a_self_contained_page_of_the_sweep(sweep_page):
    import re

    page = sweep_page.read_text()
    assert page.count("<tr class='ok'>") == 2  # one row per job, with its status
    assert "<th onclick='sortBy(this)'>solver</th>" in page
    curves = json.loads(
        re.search(r"<script type='application/json' id='curves'>(.*?)</script>", page).group(1)
    )
    assert "dist|step|everything swept" in curves and "dist|grad_evals|everything swept" in curves
    drawn = curves["dist|step|everything swept"]
    assert [g["label"].split(",")[0] for g in drawn["groups"]] == ["solver=gda", "solver=kbeam"]
    rows = pd.read_parquet(sweep_page.parent / "0" / "trajectories.parquet")
    final = rows[rows.step == rows.step.max()].dist.mean()
    assert drawn["groups"][0]["mean"][-1] == pytest.approx(final, rel=1e-3)  # 4 digits inlined
    assert "<select id='metric'" in page and "function showCurve" in page
    assert not re.search(r"(src|href)=['\"]https?:", page)  # nothing fetched: opens offline


def test_the_page_renders_in_a_headless_browser(sweep_page, tmp_path):
    import shutil

    browser = next(
        (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
    )
    if browser is None:
        pytest.skip("no Chromium in PATH (the system package chromium) to render the page")
    url = sweep_page.as_uri()
    # no background connections: the closed network of a CI machine refuses them noisily
    quiet = ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    headless = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", *quiet]
    dom = subprocess.run([*headless, "--dump-dom", url], capture_output=True, text=True).stdout
    assert dom.count('<tr class="ok">') == 2
    # the script ran: the menus' first choice (dist against step, by solver) is drawn on load
    assert dom.count('<svg class="plot"') == 1
    assert dom.count('class="line"') == 2 and dom.count('class="band"') == 2
    assert "solver=gda" in dom and "solver=kbeam" in dom  # the legend
    shot = tmp_path / "page.png"
    subprocess.run([*headless, f"--screenshot={shot}", "--window-size=1200,1600", url], check=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("GAMEBENCH_KEEP_SCREENSHOT"):  # to look at what the browser drew
        shutil.copy(shot, os.environ["GAMEBENCH_KEEP_SCREENSHOT"])
