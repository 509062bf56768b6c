"""gamebench: compose a game (problem) with a solver; run every trial as one compiled JAX program.

    config (configs/, gamebench.config) -> Problem (gamebench.problems) + Solver (gamebench.solvers)
    -> gamebench.run.make_run: lax.scan over steps, vmap over trials and candidates
    -> rows and meta records (gamebench.io) -> tables and figures (scripts/, gamebench.*_figure)

JAX is imported lazily by the modules that need it, so `gamebench --help` stays fast.
"""

__version__ = "0.1.0"
