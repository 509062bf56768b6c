"""Bilevel solvers on problems with known answers, on data hyper-cleaning, and their costs.

    python scripts/reproduce_bilevel.py --out results/bilevel --trials 4 [--seed S]

Writes DIR/bilevel_synthetic.csv (problem,solver,T,trial,step,dist,upper_value: SMD20/21/23/24 of
the penalty paper and the IAPTT-GM example, every solver, T in --T, trials vmapped in one program
per cell), DIR/hypercleaning.csv (method,trial,test_acc,precision,recall: noisy, val_only, oracle and
every solver; one label corruption per trial), DIR/bilevel_cost.csv (solver,T,ms_per_step,
peak_bytes,grad_evals,hvps,jvps on a 100-dimensional bilevel problem with a nonlinear follower) and
DIR/bilevel_cost_dim.csv (the same for rmd and fmd as dim u grows), the figures
bilevel_synthetic.png and bilevel_cost.png, bilevel_tables.md and bilevel_meta.json. --replot
redraws figures and tables from the CSVs; --parts reruns some parts and keeps the others' files
(bilevel_meta.json records the command of each part). Hyper-cleaning needs GAMEBENCH_DATA (mnist); without it
that part is skipped with a message.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gamebench.argtypes import positive_int, positive_int_list


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--trials", type=positive_int, default=4, help="trials (4)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (0)")
    parser.add_argument("--T", type=positive_int_list, default=[1, 5, 10], help="follower steps")
    parser.add_argument("--steps", type=positive_int, default=5000, help="synthetic leader steps")
    parser.add_argument(
        "--clean-steps", type=positive_int, default=300, help="hyper-cleaning steps"
    )
    parser.add_argument("--clean-trials", type=positive_int, default=None, help="(--trials)")
    parser.add_argument("--cost-T", type=positive_int_list, default=[1, 10, 50, 100])
    parser.add_argument(
        "--parts",
        default="synthetic,cost,cleaning",
        help="which parts to run (synthetic,cost,cleaning); the others' files are kept",
    )
    parser.add_argument("--replot", action="store_true", help="redraw from the CSVs; run nothing")
    args = parser.parse_args(argv)
    if args.replot:
        return replot(args.out)
    parts = set(args.parts.split(","))
    if not parts <= {"synthetic", "cost", "cleaning"}:
        parser.error(f"--parts {args.parts!r}: allowed parts are synthetic, cost, cleaning")
    from gamebench.experiment import configure_jax

    configure_jax(devices=0, compile_cache=False)
    import json

    from gamebench import io

    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    meta_path = args.out / "bilevel_meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    command = ["python", "scripts/reproduce_bilevel.py", *sys.argv[1:]]
    meta.setdefault("commands", {})
    meta.setdefault("timing", {})
    if "synthetic" in parts:
        t0 = time.perf_counter()
        io.write_csv(args.out / "bilevel_synthetic.csv", run_synthetic(args))
        meta["commands"]["synthetic"] = command
        meta["timing"]["synthetic_seconds"] = time.perf_counter() - t0
    if "cost" in parts:
        t0 = time.perf_counter()
        cost, cost_dim = run_costs(args)
        io.write_csv(args.out / "bilevel_cost.csv", cost)
        io.write_csv(args.out / "bilevel_cost_dim.csv", cost_dim)
        meta["commands"]["cost"] = command
        meta["timing"]["cost_seconds"] = time.perf_counter() - t0
    if "cleaning" in parts:
        t0 = time.perf_counter()
        cleaning, notes = run_hypercleaning(args)
        if cleaning is not None:
            io.write_csv(args.out / "hypercleaning.csv", cleaning)
            meta["commands"]["cleaning"] = command
        meta["hypercleaning_notes"] = notes
        meta["timing"]["cleaning_seconds"] = time.perf_counter() - t0
    meta.update(
        {f"{part}_settings": vars(args) | {"out": str(args.out)} for part in parts},
        **io.environment(),
    )
    meta["wall_seconds"] = time.perf_counter() - start
    io.write_json(meta_path, meta)
    return replot(args.out)


def solver_for(name: str, T: int, lr_u: float, lr_v: float, lr_q: float, leader=None):
    import optax

    from gamebench.solvers import bilevel as b

    opt_u = leader if leader is not None else optax.sgd(lr_u)
    build = {
        "penalty": lambda: b.penalty(opt_u, lr_v, T),
        "approxgrad": lambda: b.approxgrad(opt_u, lr_v, T, 10, lr_q),
        "implicit": lambda: b.implicit(opt_u, lr_v, T, "cg", 10),
        "rmd": lambda: b.rmd(opt_u, lr_v, T),
        "fmd": lambda: b.fmd(opt_u, lr_v, T),
        "bda": lambda: b.bda(opt_u, lr_v, T, 0.5),
        "iaptt_gm": lambda: b.iaptt_gm(opt_u, lr_v, T, optax.sgd(lr_v)),
    }
    return build[name]()


def run_synthetic(args):
    import numpy as np
    import pandas as pd

    from gamebench.bilevel_report import LR_U, SOLVERS, STEP_SIZES, SYNTHETIC
    from gamebench.problems.bilevel import make_iaptt_toy, make_smd
    from gamebench.run import compile_and_run, log_steps, make_run, trial_keys

    log_every = max(1, args.steps // 50)
    at = log_steps(args.steps, log_every)
    frames = []
    for problem_name in SYNTHETIC:
        problem = make_iaptt_toy() if problem_name == "iaptt_toy" else make_smd(problem_name)
        sizes = STEP_SIZES[problem_name]
        for solver_name in SOLVERS:
            for T in args.T:
                solver = solver_for(solver_name, T, LR_U, sizes["lr_v"], sizes["lr_q"])
                run = make_run(
                    problem, solver, steps=args.steps, log_every=log_every, headline="dist"
                )
                out = compile_and_run(run, trial_keys(args.seed, args.trials)).outputs
                frames.append(
                    pd.DataFrame(
                        {
                            "problem": problem_name,
                            "solver": solver_name,
                            "T": T,
                            "trial": np.repeat(np.arange(args.trials), len(at)),
                            "step": np.tile(at, args.trials),
                            "dist": out["dist"].reshape(-1).astype(np.float64),
                            "upper_value": out["upper_value"].reshape(-1).astype(np.float64),
                        }
                    )
                )
                final = out["dist"][:, -1]
                print(
                    f"{problem_name:9s} {solver_name:10s} T={T:3d}: final dist median {np.median(final):.3g}",
                    flush=True,
                )
    return pd.concat(frames, ignore_index=True)


def run_costs(args):
    """ms per step (a scan of steps, compiled apart and timed after a warm-up) and the working memory
    of one step (temp buffers in XLA's memory analysis), single trial, quadratic bilevel problem."""
    import jax
    import pandas as pd

    from gamebench.bilevel_report import SOLVERS
    from gamebench.problems.bilevel import make_quadratic_bilevel

    def measure(problem, solver_name, T, lr_v=0.05):
        solver = solver_for(solver_name, T, 0.01, lr_v, 1e-3)
        state = solver.init(problem, jax.random.PRNGKey(0))
        key = jax.random.PRNGKey(1)
        step = jax.jit(lambda s, k: solver.step(problem, s, k)).lower(state, key).compile()
        memory = step.memory_analysis()
        _, info = step(state, key)
        repeats = 20

        def many(s, k):
            return jax.lax.scan(
                lambda s, i: (solver.step(problem, s, jax.random.fold_in(k, i))[0], None),
                s,
                jax.numpy.arange(repeats),
            )[0]

        compiled = jax.jit(many).lower(state, key).compile()
        jax.block_until_ready(compiled(state, key))
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            jax.block_until_ready(compiled(state, key))
            best = min(best, time.perf_counter() - t0)
        return {
            "solver": solver_name,
            "T": T,
            "ms_per_step": 1000 * best / repeats,
            "peak_bytes": int(memory.temp_size_in_bytes) if memory is not None else -1,
            **{k: int(v) for k, v in info.items()},
        }

    # a nonlinear follower (log cosh term): reverse mode must keep every step's v, as in real models
    problem = make_quadratic_bilevel(dim=100, matrix_seed=0, mu=0.1, curvature=0.5)
    rows = []
    for solver_name in SOLVERS:
        for T in args.cost_T:
            rows.append(measure(problem, solver_name, T))
            print(
                f"cost {solver_name:10s} T={T:4d}: {rows[-1]['ms_per_step']:.3f} ms, {rows[-1]['peak_bytes']} B",
                flush=True,
            )
    dim_rows = []
    for dim in (10, 100, 400):
        small = make_quadratic_bilevel(dim=dim, matrix_seed=0, mu=0.1, curvature=0.5)
        for solver_name in ("rmd", "fmd", "penalty", "approxgrad"):
            dim_rows.append({"dim_u": dim, **measure(small, solver_name, 10)})
            print(
                f"cost dim={dim} {solver_name:10s}: {dim_rows[-1]['ms_per_step']:.3f} ms",
                flush=True,
            )
    columns = ["solver", "T", "ms_per_step", "peak_bytes", "grad_evals", "hvps", "jvps"]
    return pd.DataFrame(rows)[columns], pd.DataFrame(dim_rows)[["dim_u", *columns]]


def run_hypercleaning(args):
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    import pandas as pd

    from gamebench.bilevel_report import SOLVERS
    from gamebench.data import DataError
    from gamebench.logistic import accuracy, fit_logistic
    from gamebench.problems.hypercleaning import (
        hypercleaning_arrays,
        make_hypercleaning_from_arrays,
    )
    from gamebench.run import (
        compile_trials,
        execute,
        make_final_players,
        place_data,
        trial_keys,
    )

    trials = args.clean_trials or args.trials
    notes = {
        "setting": "5000 noisy training examples (50% labels changed), 5000 clean validation, 10000 test; "
        f"{args.clean_steps} leader steps (sgd, lr 100 on the example logits), T = 10 follower steps "
        "of size 1.0 (penalty: 0.05, its inner objective carries lambda g and rho |grad g|^2); "
        "follower ridge mu = 1e-3; precision/recall of weight < 1/2 as 'corrupted'",
        "fmd": "not run: forward mode needs one JVP per leader coordinate and follower step "
        "(5000 x 10 per leader step); its row is NaN",
        "baselines": "L-BFGS logistic regression (200 iterations, ridge 1e-3): noisy = the noisy "
        "training set, val_only = the validation set, oracle = validation plus the training "
        "examples whose labels were not changed",
    }
    rows = []
    compiled = {}
    for trial in range(trials):
        try:
            arrays = hypercleaning_arrays(5000, 5000, 0.5, args.seed + trial)
        except DataError as error:
            print(f"hyper-cleaning skipped: {error}", file=sys.stderr)
            return None, {"skipped": str(error)}
        x_test, y_test = jnp.asarray(arrays["x_test"]), jnp.asarray(arrays["y_test"])
        keep = ~arrays["corrupted"]
        sets = {
            "noisy": (arrays["x_train"], arrays["y_train"]),
            "val_only": (arrays["x_val"], arrays["y_val"]),
            "oracle": (
                np.concatenate([arrays["x_val"], arrays["x_train"][keep]]),
                np.concatenate([arrays["y_val"], arrays["y_train"][keep]]),
            ),
        }
        for method, (x, y) in sets.items():
            params = jax.jit(lambda x, y: fit_logistic(x, y, 10, l2=1e-3))(
                jnp.asarray(x), jnp.asarray(y)
            )
            acc = float(accuracy(params, x_test, y_test))
            rows.append(
                {
                    "method": method,
                    "trial": trial,
                    "test_acc": acc,
                    "precision": np.nan,
                    "recall": np.nan,
                }
            )
            print(f"hypercleaning trial {trial} {method:10s}: test_acc {acc:.4f}", flush=True)
        problem = make_hypercleaning_from_arrays(arrays, mu=1e-3)
        for solver_name in SOLVERS:
            if solver_name == "fmd":
                rows.append(
                    {
                        "method": "fmd",
                        "trial": trial,
                        "test_acc": np.nan,
                        "precision": np.nan,
                        "recall": np.nan,
                    }
                )
                continue
            lr_v = 0.05 if solver_name == "penalty" else 1.0
            if solver_name not in compiled:  # same shapes every trial: compile once, feed new data
                solver = solver_for(solver_name, 10, 0, lr_v, 1e-3, leader=optax.sgd(100.0))
                train = make_final_players(problem, solver, steps=args.clean_steps)
                compiled[solver_name] = compile_trials(
                    train, trial_keys(args.seed, 1), problem.data
                )
            program = compiled[solver_name]
            program.data = place_data(problem.data, 1)  # this trial's corruption, same shapes
            u, v = execute(program).outputs
            metrics = problem.metrics(
                jnp.asarray(u[0]), jax.tree.map(lambda a: jnp.asarray(a[0]), v), None
            )
            rows.append(
                {
                    "method": solver_name,
                    "trial": trial,
                    **{k: float(metrics[k]) for k in ("test_acc", "precision", "recall")},
                }
            )
            print(
                f"hypercleaning trial {trial} {solver_name:10s}: test_acc {rows[-1]['test_acc']:.4f} "
                f"precision {rows[-1]['precision']:.3f} recall {rows[-1]['recall']:.3f}",
                flush=True,
            )
    return pd.DataFrame(rows)[["method", "trial", "test_acc", "precision", "recall"]], notes


def markdown(frame) -> str:
    """A pipe table (floats to 4 significant digits), without pandas' optional tabulate."""

    def cell(value):
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(str(c) for c in frame.columns) + " |", "|" + "---|" * frame.shape[1]]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def replot(out: Path) -> int:
    import pandas as pd

    from gamebench import io
    from gamebench.bilevel_report import cost_figure, synthetic_figure

    synthetic = pd.read_csv(out / "bilevel_synthetic.csv")
    T = 10 if 10 in set(synthetic["T"]) else int(synthetic["T"].max())
    io.save_figure(out / "bilevel_synthetic.png", synthetic_figure(synthetic, T))
    cost = pd.read_csv(out / "bilevel_cost.csv")
    io.save_figure(out / "bilevel_cost.png", cost_figure(cost))
    last = synthetic[synthetic.step == synthetic.step.max()]
    table = last.groupby(["problem", "solver", "T"]).dist.median().unstack("T")
    parts = [
        "## Final distance to the solution (median over trials)\n",
        markdown(table.reset_index()),
        "",
    ]
    parts += [
        "## Cost per leader step (100-dim bilevel problem with a log-cosh follower term, CPU)\n",
        markdown(cost),
        "",
    ]
    if (out / "hypercleaning.csv").exists():
        clean = pd.read_csv(out / "hypercleaning.csv")
        summary = clean.groupby("method", sort=False)[["test_acc", "precision", "recall"]].agg(
            ["mean", "std"]
        )
        summary.columns = [f"{a} {b}" for a, b in summary.columns]
        parts += [
            "## Data hyper-cleaning (mean, std over trials)\n",
            markdown(summary.reset_index()),
            "",
        ]
    io.write_text(out / "bilevel_tables.md", "\n".join(parts) + "\n")
    print(f"drew {out}/bilevel_synthetic.png, bilevel_cost.png and bilevel_tables.md from the rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
