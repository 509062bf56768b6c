"""Would the surface table compile faster as a traced family of surfaces? A probe, not a feature.

    python scripts/probe_surface_family.py [--repeats 2] [--trials 100] [--steps 1000]

The surface table's sweep (`gamebench -m experiment=surfaces`) is one merged program of 36 parts,
one per (surface, solver) structure. The alternative probed here: one part per solver structure
(GD, Alt-GD, K-beam K = 1, 2, 5, 10) whose six jobs are the six surfaces, the payoff chosen by
`lax.switch` on a traced surface index and the job axis a `lax.map` (so the index is a scalar and
the switch a real branch, not a select of all six). Each mode is compiled in a fresh process on
one CPU device, alternately, `--repeats` times; printed: trace and lower, XLA compile and run
seconds (medians), and how many logged values of the family differ from the parts' (it should be
bitwise the same computation).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

NAMES = ["saddle", "rotated_saddle", "seesaw", "monkey_saddle", "anti_saddle", "weapons"]
SOLVERS = [("gda", 1), ("alt_gda", 1), ("kbeam", 1), ("kbeam", 2), ("kbeam", 5), ("kbeam", 10)]


def _configs(trials: int, steps: int) -> dict:
    from omegaconf import OmegaConf

    from gamebench.config import compose_config

    out = {}
    for solver, k in SOLVERS:
        for name in NAMES:
            overrides = ["experiment=surfaces", f"problem={name}", f"solver={solver}"]
            overrides += [f"solver.k={k}", f"trials={trials}", f"steps={steps}"]
            out[solver, k, name] = OmegaConf.to_container(compose_config(overrides), resolve=True)
    return out


def _family(index, phi_grid: int = 2001, init_radius: float = 0.45):
    """The six surfaces (dim 1) as one Problem whose payoff, phi and minimax set follow `index`."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from gamebench.game import Problem, Solution
    from gamebench.problems.base import box_projection, uniform_init
    from gamebench.problems.surfaces import BOX, SURFACES

    surfaces = [SURFACES[name] for name in NAMES]
    payoffs = [lambda u, v, p=s.payoff: p(u, v) for s in surfaces]
    grid = jnp.linspace(-BOX, BOX, phi_grid)
    worst = [
        lambda u, p=s.payoff: jnp.sum(jnp.max(p(u[:, None], grid[None, :]), axis=1))
        for s in surfaces
    ]
    most = max(len(s.minimax_u) for s in surfaces)
    points = np.stack(  # padded by repeating a point: the nearest-point distance is unchanged
        [[[s.minimax_u[i % len(s.minimax_u)]] for i in range(most)] for s in surfaces]
    ).astype(np.float32)
    return Problem(
        name="surface_family",
        f=lambda u, v, batch=None: jnp.sum(jax.lax.switch(index, payoffs, u, v)),
        init_u=uniform_init((1,), init_radius),
        init_v=uniform_init((1,), init_radius),
        project_u=box_projection(BOX),
        project_v=box_projection(BOX),
        worst_case=lambda u: jax.lax.switch(index, worst, u),
        solution=Solution(points=jnp.asarray(points)[index], value=0.0),
    )


def _family_program(template: dict, trials: int):
    import jax
    import jax.numpy as jnp

    from gamebench.run import _trial_functions, trial_keys
    from gamebench.solvers import make_solver
    from gamebench.sweep import _Namespace, _set

    steps, log_every = template["steps"], template["log_every"]

    def build(params):
        params = dict(params)
        index = params.pop("surface")
        solver_cfg = json.loads(json.dumps(template["solver"]))
        for path, value in params.items():
            _set(solver_cfg, path, value)
        return _family(index), make_solver(_Namespace.of(solver_cfg), steps)

    def one_job(seed, params):
        init_trial, advance, evaluate = _trial_functions(build, params, None, steps, log_every)
        carry = jax.vmap(init_trial)(trial_keys(seed, trials))
        first = jax.vmap(evaluate, in_axes=(0, None))(carry, 0)

        def chunk(carry, index):
            carry = jax.vmap(advance, in_axes=(0, None))(carry, index)
            return carry, jax.vmap(evaluate, in_axes=(0, None))(carry, index + 1)

        _, later = jax.lax.scan(chunk, carry, jnp.arange(steps // log_every))
        return jax.tree.map(lambda a, b: jnp.concatenate([a[:, None], b.T], axis=1), first, later)

    return lambda seeds, params: jax.lax.map(lambda x: one_job(*x), (seeds, params))


def measure(mode: str, trials: int, steps: int, out_file: str) -> None:
    import jax
    import numpy as np

    from gamebench.sweep import Member, _build_part, group_parameters

    configs = _configs(trials, steps)
    programs, arguments, labels = [], [], []
    for solver, k in SOLVERS:
        if mode == "parts":
            for name in NAMES:
                part = _build_part([Member(0, "", configs[solver, k, name], "")], {})
                programs.append(part.program)
                arguments.append(part.args)
                labels.append([f"{name}/{solver}{k}"])
        else:
            members = [Member(i, "", configs[solver, k, n], "") for i, n in enumerate(NAMES)]
            seeds, params = group_parameters(members)
            params["surface"] = np.arange(len(NAMES), dtype=np.int32)
            programs.append(_family_program(members[0].config, trials))
            arguments.append((seeds, params))
            labels.append([f"{name}/{solver}{k}" for name in NAMES])
    start = time.perf_counter()
    lowered = jax.jit(lambda a: [p(*x) for p, x in zip(programs, a)]).lower(arguments)
    traced = time.perf_counter() - start
    start = time.perf_counter()
    compiled = lowered.compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    outputs = jax.block_until_ready(compiled(arguments))
    run_seconds = time.perf_counter() - start
    values = {}
    for names, output in zip(labels, outputs):
        for i, label in enumerate(names):
            values[label] = {m: np.asarray(v[i]) for m, v in output.items() if m in ("dist", "f")}
    np.savez(out_file, **{f"{label}|{m}": a for label, ms in values.items() for m, a in ms.items()})
    timing = {"trace_lower": traced, "compile": compile_seconds, "run": run_seconds}
    print(json.dumps(timing))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--measure", choices=("parts", "family"), help=argparse.SUPPRESS)
    parser.add_argument("--out-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        measure(args.measure, args.trials, args.steps, args.out_file)
        return 0
    import tempfile

    import numpy as np

    results = {"parts": [], "family": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for mode in results:
                command = [sys.executable, __file__, "--measure", mode, "--out-file"]
                command += [os.path.join(tmp, f"{mode}.npz"), f"--trials={args.trials}"]
                command += [f"--steps={args.steps}"]
                env = {**os.environ, "JAX_PLATFORMS": "cpu"}
                done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
                results[mode].append(json.loads(done.stdout.strip().splitlines()[-1]))
        parts = np.load(os.path.join(tmp, "parts.npz"))
        family = np.load(os.path.join(tmp, "family.npz"))
        differ = sum(int(np.sum(parts[k] != family[k])) for k in parts.files)
        total = sum(parts[k].size for k in parts.files)
        largest = max(float(np.max(np.abs(parts[k] - family[k]))) for k in parts.files)
    print(f"# python scripts/probe_surface_family.py --repeats {args.repeats} "
          f"--trials {args.trials} --steps {args.steps}")  # fmt: skip
    for mode, runs in results.items():
        medians = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        compiles = ", ".join(f"{r['compile']:.2f}" for r in runs)
        print(
            f"{mode:7s} trace+lower {medians['trace_lower']:6.2f} s  compile "
            f"{medians['compile']:6.2f} s  run {medians['run']:5.2f} s  "
            f"(compiles: {compiles})"
        )
    print(f"logged f and dist: {differ} of {total} values differ (largest {largest:.3g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
