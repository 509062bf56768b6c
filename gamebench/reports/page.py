"""index.html for a sweep: one self-contained page (no server, nothing fetched: it opens from disk).

    gamebench-report SWEEP_DIR        # writes SWEEP_DIR/index.html beside the artefact's files

The page holds: the jobs table (one row per job: status, the config values that differ between
jobs, final means, group), sortable by clicking a header and filtered by a text box, diverged and
failed jobs marked; curves of each logged metric against steps or cost (mean and a std band over
trials, `gamebench-plot`'s curves), grouped by everything the sweep varied or by one swept
parameter, chosen from menus; and the artefact's own tables (*.md) and figures (*.png) from the
sweep dir. Figures are PNGs inlined as data URIs and the script is a few lines of plain
JavaScript, so the page needs no plotting library and works offline. Imports no JAX.
"""

from __future__ import annotations

import base64
import html
import io as bytes_io
from pathlib import Path

import pandas as pd

from gamebench import io
from gamebench.reports.plot import COSTS, curves, figure, identity_columns, load, varying

MAX_METRICS = 6  # curves for the first logged metrics; a page stays a few MB at most
MAX_GROUPS = 12
_SCRIPT = """
function sortBy(th) {
  const table = th.closest('table'), body = table.tBodies[0], i = th.cellIndex;
  const up = th.dataset.dir !== 'up'; th.dataset.dir = up ? 'up' : 'down';
  const key = r => { const t = r.cells[i].textContent, n = parseFloat(t); return isNaN(n) ? t : n; };
  [...body.rows].sort((a, b) => (key(a) > key(b) ? 1 : -1) * (up ? 1 : -1))
    .forEach(r => body.appendChild(r));
}
function filterRows(box) {
  const q = box.value.toLowerCase();
  for (const r of document.querySelectorAll('#jobs tbody tr'))
    r.style.display = r.textContent.toLowerCase().includes(q) ? '' : 'none';
}
function showCurve() {
  const id = ['metric', 'x', 'by'].map(k => document.getElementById(k).value).join('|');
  for (const f of document.querySelectorAll('.curve')) f.style.display = f.id === id ? '' : 'none';
}
"""
_STYLE = """
body { font-family: sans-serif; margin: 1.5em; } table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; } th { cursor: pointer; background: #eee; }
tr.diverged td { background: #fff3cd; } tr.failed td, tr.interrupted td { background: #f8d7da; }
.curve img, .artefact img { max-width: 900px; }
"""


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = bytes_io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def jobs_table(sweep_dir: Path, rows: pd.DataFrame | None) -> str:
    jobs = pd.read_csv(sweep_dir / "jobs.csv") if (sweep_dir / "jobs.csv").is_file() else None
    if jobs is None or jobs.empty:
        return "<p>No jobs.csv in this sweep.</p>"
    swept = [c for c in (varying(rows) if rows is not None else []) if c in jobs.columns]
    finals = [c for c in jobs.columns if c.startswith("mean_")]
    columns = ["job", "status", *swept, *finals, "group", "message"]
    columns = [c for c in columns if c in jobs.columns]
    head = "".join(f"<th onclick='sortBy(this)'>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        f"<tr class='{html.escape(str(job.status))}'>"
        + "".join(f"<td>{_cell(job[c])}</td>" for c in columns)
        + "</tr>"
        for _, job in jobs.iterrows()
    )
    return (
        "<input placeholder='filter jobs' oninput='filterRows(this)'>"
        f"<table id='jobs'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def curve_figures(rows: pd.DataFrame) -> tuple[str, str]:
    """(the menus, one hidden figure per (metric, x, grouping))."""
    identity = set(identity_columns(rows))
    numeric = [c for c in rows.select_dtypes("number").columns if c not in identity]
    metrics = [c for c in numeric if c not in (*COSTS, "trial", "step", "seed")][:MAX_METRICS]
    xs = ["step"] + [c for c in COSTS if c in rows.columns and rows[c].max() > 0]
    swept = varying(rows)
    groupings = {"everything swept": swept} | ({c: [c] for c in swept} if len(swept) > 1 else {})
    # a legend of more than MAX_GROUPS curves says nothing (a search's continuous values)
    groupings = {
        name: by
        for name, by in groupings.items()
        if rows.groupby(by, dropna=False).ngroups <= MAX_GROUPS
    } or {"all jobs pooled": ["experiment"]}
    figures = []
    for metric in metrics:
        for x in xs:
            for name, by in groupings.items():
                table = curves(rows, metric, x, by, "std")
                if table.empty:  # every trial's values are NaN here (a metric this problem lacks)
                    continue
                logy = bool((table[metric] > 0).all())
                src = _png(figure(table, metric, x, logy, "std", tight=False))
                figure_id = html.escape(f"{metric}|{x}|{name}")
                figures.append(
                    f"<div class='curve' id='{figure_id}' style='display:none'>"
                    f"<img alt='{figure_id}' src='{src}'></div>"
                )

    def menu(key: str, options) -> str:
        items = "".join(f"<option>{html.escape(o)}</option>" for o in options)
        return f"{key}: <select id='{key}' onchange='showCurve()'>{items}</select> "

    menus = menu("metric", metrics) + menu("x", xs) + menu("by", list(groupings))
    return menus, "".join(figures)


def _markdown_table(text: str) -> str:
    """A pipe table (as the reports write them) as HTML; other lines as paragraphs."""
    out, rows = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                rows.append(cells)
            continue
        if rows:
            head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                for r in rows[1:]
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            rows = []
        if line.strip():
            out.append(f"<p>{html.escape(line.lstrip('# '))}</p>")
    return "".join(out)


def artefact_section(sweep_dir: Path) -> str:
    parts = []
    for table in sorted(sweep_dir.glob("*.md")):
        parts.append(f"<h3>{table.name}</h3>{_markdown_table(table.read_text())}")
    for image in sorted(sweep_dir.glob("*.png")):
        data = base64.b64encode(image.read_bytes()).decode()
        parts.append(f"<h3>{image.name}</h3><img src='data:image/png;base64,{data}'>")
    return "".join(parts) or "<p>No artefact tables or figures in this sweep dir.</p>"


def write_page(sweep_dir: str | Path, out: str | Path | None = None) -> Path:
    sweep_dir = Path(sweep_dir)
    try:
        rows = load([sweep_dir])
    except ValueError:
        rows = None
    menus, figures = curve_figures(rows) if rows is not None else ("", "<p>No rows.</p>")
    page = f"""<!doctype html><html><head><meta charset='utf-8'>
<title>gamebench: {html.escape(sweep_dir.name)}</title><style>{_STYLE}</style>
<script>{_SCRIPT}</script></head>
<body onload='showCurve()'><h1>gamebench sweep {html.escape(str(sweep_dir))}</h1>
<h2>Jobs</h2>{jobs_table(sweep_dir, rows)}
<h2>Curves</h2><p>{menus}</p>{figures}
<h2>The artefact</h2>{artefact_section(sweep_dir)}
</body></html>"""
    path = Path(out) if out is not None else sweep_dir / "index.html"
    io.write_text(path, page)
    return path
