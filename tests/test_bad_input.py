"""Bad input through the real `gamebench` command: the reliability table.

Each row is (arguments, exit code, the start of the one line on stderr). Every case runs as a user
runs it (a subprocess of the CLI, at smoke size) and must end with exactly one line, no traceback,
at most 200 characters, before anything is compiled (the runs that would compute something are
refused by validation, so none of them reaches JAX's compiler). A multirun records a bad job as
failed, keeps the others and exits 1 at the end; everything else is refused with exit 2.
"""

from __future__ import annotations

import pytest
from conftest import gamebench_cli as gamebench

E = "gamebench: error: "
BAD_INPUT = [
    # choices of a config group
    (
        ["problem=nope"],
        2,
        E + "unknown problem 'nope'; allowed: anti_saddle, bilevel_pruning, bilinear,",
    ),
    (["problem="], 2, E + "unknown problem ''; allowed: anti_saddle,"),
    (["solver=kbeem"], 2, E + "unknown solver 'kbeem'; did you mean 'kbeam'? allowed: alt_gda,"),
    (
        ["setting=nope"],
        2,
        E + "unknown setting 'nope'; allowed: constrained_fairness, constrained_np, cournot_5,",
    ),
    # keys no schema declares (typos), with and without `+`
    (["+trails=10"], 2, E + "unknown key 'trails'; did you mean 'trials'?"),
    (["trails=10"], 2, E + "unknown key 'trails'; did you mean 'trials'?"),
    (["solver.kk=1"], 2, E + "unknown key 'solver.kk'; did you mean 'solver.k'?"),
    (["+solver.opt_u.lrr=0.1"], 2, E + "unknown key 'solver.opt_u.lrr'; did you mean 'solver.o"),
    (["problem.dimm=2"], 2, E + "unknown key 'problem.dimm'; did you mean 'problem.dim'?"),
    (
        ["problem.jsd_data_samples=10"],
        2,
        E + "unknown key 'problem.jsd_data_samples': not a field of this problem (only of mog_gan)",
    ),
    (["+foo=1"], 2, E + "unknown key 'foo'"),
    # types
    (["solver.k=abc"], 2, E + "Error merging override solver.k=abc"),
    (["trials=1e3"], 2, E + "Error merging override trials=1e3"),
    (["plot=maybe"], 2, E + "Error merging override plot=maybe"),
    # ranges of run settings, integers JAX cannot carry, sizes that cannot fit
    (["seed=99999999999999999999"], 2, E + "seed=99999999999999999999 is out of range"),
    (["trials=0"], 2, E + "trials=0 is out of range: must be >= 1"),
    (["trials=1000000000"], 2, E + "trials=1000000000 (1 job(s)) needs about"),
    (["steps=1000000000000"], 2, E + "steps=1000000000000 is out of range: must be >= 1 and"),
    (["log_every=0"], 2, E + "log_every=0 is out of range: must be >= 1"),
    (["steps=100", "log_every=7"], 2, E + "log_every=7 is not allowed: must divide steps=100"),
    (["devices=-1"], 2, E + "devices=-1 is out of range: must be >= 0"),
    (["compile=slow"], 2, E + "compile='slow' is not allowed; allowed: full, fast"),
    # step sizes and optimizers: non-finite and float32-overflowing values included
    (["solver.opt_u.lr=inf"], 2, E + "solver.opt_u.lr=inf is out of range: must be a finite"),
    (["solver.opt_u.lr=nan"], 2, E + "solver.opt_u.lr=nan is out of range: must be a finite"),
    (["solver.opt_u.lr=1e40"], 2, E + "solver.opt_u.lr=1e+40 is out of range: must be a finite f"),
    (["solver.opt_v.lr=-0.1"], 2, E + "solver.opt_v.lr=-0.1 is out of range: must be >= 0"),
    (["solver.opt_u.name=rmsprop"], 2, E + "solver.opt_u.name='rmsprop' is not allowed; allowed:"),
    (["solver.opt_u.momentum=1.5"], 2, E + "solver.opt_u.momentum=1.5 is out of range: must be in"),
    # solver fields
    (["solver.k=0"], 2, E + "solver.k=0 is out of range: must be >= 1"),
    (["solver.leader_state=foo"], 2, E + "solver.leader_state='foo' is not allowed; allowed:"),
    (["solver=kbeam_eps", "solver.eps=-1"], 2, E + "solver.eps=-1.0 is out of range: must be >= 0"),
    (["solver=unrolled", "solver.inner_steps=0"], 2, E + "solver.inner_steps=0 is out of range"),
    (
        ["problem=smd", "solver=implicit", "solver.linear_solver=foo"],
        2,
        E + "solver.linear_solver='foo' is not allowed; allowed: cg, neumann",
    ),
    (["problem=smd", "solver=penalty", "solver.penalty_rho=0"], 2, E + "solver.penalty_rho=0.0 is"),
    # problem fields
    (["problem.dim=0"], 2, E + "problem.dim=0 is out of range: must be >= 1"),
    (["problem.init_radius=2"], 2, E + "problem.init_radius=2.0 is out of range: must be in (0,"),
    (["problem=mog_gan", "problem.batch=0"], 2, E + "problem.batch=0 is out of range: must be >="),
    (
        ["problem=monkey_saddle", "problem.dim=20"],
        2,
        E + "problem monkey_saddle: dim=20 gives 1048576 minimax points",
    ),
    # other entry points: printing the config, listing fields, multiruns
    (["--cfg", "job", "solver.k=0"], 2, E + "solver.k=0 is out of range"),
    (["--cfg", "job", "trails=3"], 2, E + "unknown key 'trails'; did you mean 'trials'?"),
    (["--fields", "solver", "kbeem"], 2, E + "unknown solver 'kbeem'; did you mean 'kbeam'?"),
    (["-m", "problem=nope,seesaw"], 2, E + "unknown problem 'nope'; allowed: anti_saddle,"),
    (["-m", "solver.k=0,1"], 1, "gamebench: job 0 failed: solver.k=0 is out of range: must be"),
    (
        ["-m", "solver.opt_u.lr=interval(0.01, 1)", "+hydra.sweeper.search.direction=up"],
        2,
        E + "hydra.sweeper.search.direction='up' is not allowed; allowed: minimize, maximize",
    ),
    (
        ["-m", "solver.opt_u.lr=interval(0.01, 1)", "+hydra.sweeper.search.n_trails=3"],
        2,
        E + "unknown key 'hydra.sweeper.search.n_trails'; did you mean 'n_trials'?",
    ),
]


def _case_id(case) -> str:
    return " ".join(case[0])


@pytest.mark.parametrize("args, code, expected", BAD_INPUT, ids=[_case_id(c) for c in BAD_INPUT])
def test_bad_input_ends_with_one_line(tmp_path, args, code, expected):
    smoke = [] if args[0] == "--fields" else ["debug=smoke", "hydra.sweep.dir=sweep"]
    result = gamebench(tmp_path, *args, *smoke)
    assert result.returncode == code, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(expected), line
    assert len(line) <= 200, line
    assert "Traceback" not in result.stdout
    # refused before computing: nothing was compiled (a multirun's good job does run)
    if code == 2:
        assert not list(tmp_path.rglob("trajectories.parquet"))


def test_the_table_covers_at_least_forty_cases():
    assert len(BAD_INPUT) >= 40
    assert len({_case_id(c) for c in BAD_INPUT}) == len(BAD_INPUT)
