"""Where a small game's compile time goes: lowering and XLA compilation of one surface job's
program, of the six methods of the surface table merged into one program, and of the random-key
machinery alone (trial keys, the per-trial split, two uniform draws), all in one process with no
compilation cache.

    python scripts/profile_compile.py [--json results/sweeps/compile_profile.json]
    python scripts/profile_compile.py --options [--json FILE]

--options instead compiles 12 structures of the surface table merged into one program
(anti_saddle and weapons, six methods each) under XLA option sets that might compile faster, and
prints each one's compile seconds and whether the program's outputs are bitwise those of XLA's
defaults (a sweep's fused jobs must equal the lone runs, so an option that changes them is no
option).

This is what bounds `gamebench -m experiment=surfaces` (36 distinct program structures) against
one job: the runner's key derivation and the solvers' initial draws are threefry loops that XLA
compiles anew in every structure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_NUM_CPU_DEVICES", "1")
METHODS = [("gda", 1), ("alt_gda", 1), ("kbeam", 1), ("kbeam", 2), ("kbeam", 5), ("kbeam", 10)]


def _members(problem: str, methods):
    from omegaconf import OmegaConf

    from gamebench.config import compose_config
    from gamebench.sweep import Member

    members = []
    for solver, k in methods:
        overrides = [
            "experiment=surfaces",
            f"problem={problem}",
            f"solver={solver}",
            f"solver.k={k}",
        ]
        container = OmegaConf.to_container(compose_config(overrides), resolve=True)
        members.append(Member(len(members), "unused", container, "unused"))
    return members


def time_program(fn, args) -> tuple[float, float, int]:
    """(lowering seconds, XLA compile seconds, lines of optimised HLO) of jit(fn)(*args)."""
    import jax

    start = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    lowering = time.perf_counter() - start
    start = time.perf_counter()
    compiled = lowered.compile()
    return lowering, time.perf_counter() - start, len(compiled.as_text().splitlines())


def parts_program(members):
    from gamebench.sweep import _build_part

    parts = [_build_part([m], {}) for m in members]
    programs = [p.program for p in parts]
    return (lambda args: [prog(*a) for prog, a in zip(programs, args)]), ([p.args for p in parts],)


def keys_only():
    """The runner's and a K-beam solver's random draws for 100 trials, nothing else."""
    import jax
    import numpy as np

    from gamebench.run import trial_keys

    def program(seeds):
        keys = jax.vmap(lambda seed: trial_keys(seed, 100))(seeds)

        def one(key):
            key_init, key_steps, key_eval = jax.random.split(key, 3)
            key_u, key_v = jax.random.split(key_init)
            u = jax.random.uniform(key_u, (1,))
            v = jax.random.uniform(key_v, (5, 1))
            return u, v, key_steps, key_eval

        return jax.vmap(jax.vmap(one))(keys)

    return program, (np.zeros(1, np.int32),)


# XLA:CPU 0.10.2 debug options that trade optimisation for compile time, as compile options
OPTION_SETS = {
    "defaults": {},
    "backend optimisation level 0 (compile=fast)": {"xla_backend_optimization_level": 0},
    "no expensive LLVM passes": {"xla_llvm_disable_expensive_passes": True},
    "opt preset FAST_COMPILE": {"xla_cpu_opt_preset": "CPU_OPT_PRESET_FAST_COMPILE"},
    "parallel codegen split 8": {"xla_cpu_parallel_codegen_split_count": 8},
    "vector width 128": {"xla_cpu_prefer_vector_width": 128},
}


def compare_options() -> dict:
    """{option set: compile seconds, and whether the outputs equal the defaults' bitwise}."""
    import hashlib

    import jax
    import numpy as np

    members = _members("anti_saddle", METHODS) + _members("weapons", METHODS)
    fn, fn_args = parts_program(members)
    lowered = jax.jit(fn).lower(*fn_args)
    results, reference = {}, None
    for name, options in OPTION_SETS.items():
        start = time.perf_counter()
        compiled = lowered.compile(compiler_options=options)
        seconds = time.perf_counter() - start
        digest = hashlib.sha256()
        for leaf in jax.tree.leaves(compiled(*fn_args)):
            digest.update(np.asarray(leaf).tobytes())
        reference = reference or digest.hexdigest()
        same = digest.hexdigest() == reference
        results[name] = {"compile_s": seconds, "bitwise_equal_to_defaults": same}
        print(f"{seconds:6.2f} s compile  {'same' if same else 'DIFFERENT'} outputs  {name}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument(
        "--options", action="store_true", help="compare XLA option sets on a merged group"
    )
    args = parser.parse_args(argv)
    if args.options:
        import numpy as np

        time_program(lambda x: x + 1, (np.zeros(1),))  # the backend's start, not timed below
        results = compare_options()
        if args.json:
            from gamebench import io

            record = {"command": ["python", *sys.argv], "option_sets": results}
            io.write_json(args.json, {**record, **io.environment()})
        return 0

    cases = {
        "one job (anti_saddle x kbeam k=5)": parts_program(_members("anti_saddle", [("kbeam", 5)])),
        "the six methods of one surface, merged": parts_program(_members("anti_saddle", METHODS)),
        "random keys and initial draws alone": keys_only(),
    }
    import numpy as np

    time_program(lambda x: x + 1, (np.zeros(1),))  # the backend's one-time start, not timed below
    results = {}
    for name, (fn, fn_args) in cases.items():
        lowering, compiling, lines = time_program(fn, fn_args)
        results[name] = {"lower_s": lowering, "compile_s": compiling, "hlo_lines": lines}
        print(f"{lowering:6.2f} s lower  {compiling:6.2f} s compile  {lines:6d} HLO lines  {name}")
    if args.json:
        from gamebench import io

        io.write_json(
            args.json, {"command": ["python", *sys.argv], "cases": results, **io.environment()}
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
