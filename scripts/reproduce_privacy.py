"""The minimax filter's utility-privacy trade-off on GENKI or HAR (Hamm, JMLR 2017).

    python scripts/reproduce_privacy.py --out results/privacy --dataset genki --d 10,20,50,100 --trials 5

For every d: the baselines random, pca, ppls and plda, and the minimax filters minimax_linear and
minimax_nn learned as `experiment=privacy_tradeoff` configures them (Danskin descent, trials vmapped
in one compiled program per filter and d); then every frozen filter goes through the same protocol
(fresh logistic regressions for both labels on its standardised outputs; test accuracies).
pca, ppls and plda are deterministic: they get one row (trial 0); random and the minimax filters one
row per trial. Appends this dataset's rows to DIR/privacy_table.csv (columns dataset,method,d,trial,
utility_acc,private_acc; rows of the same dataset are replaced), redraws DIR/privacy_tradeoff.png
and DIR/privacy_table.md from all rows, and writes DIR/privacy_meta_<dataset>.json. --replot redraws
from the CSV and runs nothing. Needs GAMEBENCH_DATA (genki, hapt).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gamebench.argtypes import positive_int, positive_int_list

COLUMNS = ["dataset", "method", "d", "trial", "utility_acc", "private_acc"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--dataset", choices=["genki", "har"], default="genki")
    parser.add_argument("--d", type=positive_int_list, default=[10, 20, 50, 100])
    parser.add_argument("--trials", type=positive_int, default=5, help="trials (5)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    parser.add_argument("--steps", type=positive_int, default=None, help="filter steps (config's)")
    parser.add_argument("--replot", action="store_true", help="redraw from the CSV; run nothing")
    args = parser.parse_args(argv)
    if args.replot:
        return replot(args.out)

    from gamebench.experiment import configure_jax

    configure_jax(devices=0, compile_cache=False)

    import numpy as np
    import pandas as pd

    from gamebench import io
    from gamebench.config import compose_config, validate
    from gamebench.data import DataError
    from gamebench.data.privacy import privacy_dataset
    from gamebench.privacy import BASELINES, baseline_filter, chance_levels, evaluate_filters
    from gamebench.problems import make_privacy_filter
    from gamebench.problems.privacy_filter import filter_output
    from gamebench.run import compile_and_run, make_final_players, place_data, trial_keys
    from gamebench.solvers import make_solver

    try:
        data = privacy_dataset(args.dataset)
    except DataError as error:
        print(f"reproduce_privacy: {error}", file=sys.stderr)
        return 2
    too_big = [d for d in args.d if d > data.x_train.shape[1]]
    if too_big:
        parser.error(
            f"--d {too_big[0]} exceeds the {args.dataset} dimension {data.x_train.shape[1]}"
        )

    import jax

    start = time.perf_counter()
    rows, timing = [], {}
    for d in args.d:
        filters_train, filters_test, labels = [], [], []
        for method in BASELINES:
            runs = range(args.trials) if method == "random" else range(1)
            for trial in runs:
                u = baseline_filter(method, data, d, seed=args.seed * 1000 + trial)
                filters_train.append(data.x_train @ u)
                filters_test.append(data.x_test @ u)
                labels.append((method, trial))
        for kind in ("linear", "nn"):
            overrides = [
                "experiment=privacy_tradeoff",
                f"problem.dataset={args.dataset}",
                f"problem.filter={kind}",
                f"problem.d={d}",
                f"trials={args.trials}",
                f"seed={args.seed}",
            ] + ([f"steps={args.steps}"] if args.steps else [])
            cfg = compose_config(overrides)
            validate(cfg)
            problem = make_privacy_filter(
                data,
                filter=kind,
                d=d,
                rho=cfg.problem.rho,
                weight_decay=cfg.problem.weight_decay,
                hidden=cfg.problem.hidden,
            )
            train = make_final_players(problem, make_solver(cfg.solver), steps=cfg.steps)
            keys = trial_keys(args.seed, args.trials)
            timed = compile_and_run(lambda k, a, train=train: train(k, a)[0], keys, problem.data)
            timing[f"minimax_{kind}_d{d}"] = {
                "compile_seconds": timed.compile_seconds,
                "run_seconds": timed.run_seconds,
                "steps": cfg.steps,
            }
            apply = jax.jit(
                jax.vmap(lambda u, x, p=problem: filter_output(p, u, x), in_axes=(0, None))
            )
            u = jax.tree.map(jax.numpy.asarray, timed.outputs)
            z_train = np.asarray(apply(u, place_data(data.x_train, 1)))
            z_test = np.asarray(apply(u, place_data(data.x_test, 1)))
            finite = np.isfinite(z_train).all(axis=(1, 2)) & np.isfinite(z_test).all(axis=(1, 2))
            for trial in range(args.trials):
                # a diverged filter is recorded as NaN accuracies, never dropped
                filters_train.append(
                    z_train[trial] if finite[trial] else np.zeros_like(z_train[trial])
                )
                filters_test.append(
                    z_test[trial] if finite[trial] else np.zeros_like(z_test[trial])
                )
                labels.append((f"minimax_{kind}", trial if finite[trial] else -1 - trial))
        util, priv = evaluate_filters(data, np.stack(filters_train), np.stack(filters_test))
        for (method, trial), a, b in zip(labels, util, priv):
            diverged = trial < 0
            rows.append(
                {
                    "dataset": args.dataset,
                    "method": method,
                    "d": d,
                    "trial": -1 - trial if diverged else trial,
                    "utility_acc": float("nan") if diverged else float(a),
                    "private_acc": float("nan") if diverged else float(b),
                }
            )
        done = pd.DataFrame([r for r in rows if r["d"] == d])
        summary = done.groupby("method")[["utility_acc", "private_acc"]].mean().round(3)
        print(f"{args.dataset} d={d} ({time.perf_counter() - start:.0f} s):\n{summary}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    table_path = args.out / "privacy_table.csv"
    new = pd.DataFrame(rows)[COLUMNS]
    if table_path.exists():
        old = pd.read_csv(table_path)
        new = pd.concat([old[old.dataset != args.dataset], new], ignore_index=True)
    io.write_csv(table_path, new)
    util_chance, priv_chance = chance_levels(data)
    io.write_json(
        args.out / f"privacy_meta_{args.dataset}.json",
        {
            "command": ["python", "scripts/reproduce_privacy.py", *sys.argv[1:]],
            "dataset": args.dataset,
            "d": args.d,
            "trials": args.trials,
            "seed": args.seed,
            "train_size": int(data.x_train.shape[0]),
            "test_size": int(data.x_test.shape[0]),
            "dimension": int(data.x_train.shape[1]),
            "chance": {"utility": util_chance, "private": priv_chance},
            "timing": timing,
            "wall_seconds": time.perf_counter() - start,
            **io.environment(),
        },
    )
    return replot(args.out)


def replot(out: Path) -> int:
    import json

    import pandas as pd

    from gamebench import io
    from gamebench.privacy import tradeoff_figure

    table = pd.read_csv(out / "privacy_table.csv")
    chance = {}
    for meta in out.glob("privacy_meta_*.json"):
        record = json.loads(meta.read_text())
        chance[record["dataset"]] = (record["chance"]["utility"], record["chance"]["private"])
    io.save_figure(out / "privacy_tradeoff.png", tradeoff_figure(table, chance))
    stats = table.groupby(["dataset", "method", "d"], sort=False)[["utility_acc", "private_acc"]]
    agg = stats.agg(["mean", "std", "count"])
    lines = [
        "| dataset | method | d | trials | utility_acc | private_acc |",
        "|---|---|---|---|---|---|",
    ]
    for (dataset, method, d), row in agg.iterrows():
        cells = [
            f"{row[(c, 'mean')]:.3f} ± {0.0 if pd.isna(row[(c, 'std')]) else row[(c, 'std')]:.3f}"
            for c in ("utility_acc", "private_acc")
        ]
        lines.append(
            f"| {dataset} | {method} | {d} | {int(row[('utility_acc', 'count')])} | {' | '.join(cells)} |"
        )
    io.write_text(out / "privacy_table.md", "\n".join(lines) + "\n")
    print(f"drew {out}/privacy_tradeoff.png and privacy_table.md from the rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
