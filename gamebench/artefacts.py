"""A paper artefact = its experiment's sweep + its report: what the scripts/reproduce_*.py call.

    reproduce("surfaces", ["experiment=surfaces", "trials=100"], out=Path("results/surfaces"))

runs `gamebench -m OVERRIDES` with its sweep dir in OUT/.sweep (ignored by git; a second run skips
the jobs already done; several named sweeps go to OUT/.sweep/NAME), builds the report into OUT and writes OUT/<name>_meta.json with the script's
command, the sweep's command, the groups' compile and run seconds and the environment.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from gamebench import io
from gamebench.reports.rows import job_metas


def reproduce(
    report: str,
    overrides: list[str] | dict[str, list[str]],
    out: Path,
    meta_name: str,
    include_earlier: bool = False,
    **meta,
) -> int:
    """Run the sweep (`overrides`), or several named sweeps ({name: overrides}, each in
    OUT/.sweep/NAME: methods that are not one Cartesian product), then build `report` from their
    rows into OUT and write OUT/META_NAME. `include_earlier`: the report also reads the named
    sweeps run into OUT before (the privacy table grows one dataset at a time)."""
    from gamebench.reports import build_report
    from gamebench.sweep import run_sweep

    start = time.perf_counter()
    if isinstance(overrides, dict):
        sweeps = {out / ".sweep" / name: args for name, args in overrides.items()}
    else:
        sweeps = {out / ".sweep": overrides}
    worst = 0
    for sweep_dir, args in sweeps.items():
        code = run_sweep(args, sweep_dir)
        if code != 0:
            print(f"{report}: the sweep exited {code}; see {sweep_dir}", file=sys.stderr)
            if code != 1:  # 1: some jobs failed; the report is built from the others' rows
                return code
            worst = 1
    command = ["python", f"scripts/{Path(sys.argv[0]).name}", *sys.argv[1:]]
    sources = list(sweeps)
    if include_earlier:
        earlier = sorted(p.parent for p in (out / ".sweep").glob(f"*/{io.SWEEP_JOBS}"))
        sources = [*[p for p in earlier if p not in sweeps], *sources]
    try:
        written = build_report(report, sources, out, command=shlex.join(command))
    except (OSError, ValueError) as error:
        print(f"{report}: error: the report could not be built: {error}", file=sys.stderr)
        return 2
    commands = [["gamebench", "-m", *args] for args in sweeps.values()]
    io.write_json(
        out / meta_name,
        {
            "command": command,
            "sweep": commands[0] if len(commands) == 1 else commands,
            **meta,
            "groups": [g for sweep_dir in sweeps for g in _groups(sweep_dir)],
            **_problem_data(list(sweeps)[0]),
            "wall_seconds": time.perf_counter() - start,
            **io.environment(),
        },
    )
    print("wrote " + ", ".join(str(p) for p in [*written, out / meta_name]))
    return worst


def _problem_data(sweep_dir: Path) -> dict:
    """Data the figures need beyond the rows (the GAN's mixture centres `modes`, a privacy
    dataset's `chance` accuracies), so --replot can redraw from the CSVs and this record."""
    for _, meta in job_metas(io.sweep_job_dirs(sweep_dir)):
        info = meta.get("problem_info", {})
        return {key: info[key] for key in ("modes", "chance") if key in info}
    return {}


def _groups(sweep_dir: Path) -> list[dict]:
    """The compiled groups of the sweep (id, size, structures, compile and run seconds)."""
    groups = {}
    for _, meta in job_metas(io.sweep_job_dirs(sweep_dir)):
        if group := meta.get("group"):
            groups[group["id"]] = {k: v for k, v in group.items() if k != "jobs"}
    return list(groups.values())


def swept_values(experiment: str, key: str) -> tuple[str, ...]:
    """The values an experiment config sweeps `key` over (its hydra.sweeper.params): scripts take
    their defaults and allowed subsets from the protocol instead of a copy of it."""
    import yaml

    from gamebench.config import config_dir

    text = (config_dir() / "experiment" / f"{experiment}.yaml").read_text()
    params = yaml.safe_load(text)["hydra"]["sweeper"]["params"]
    return tuple(str(params[key]).split(","))
