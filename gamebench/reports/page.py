"""index.html for a sweep: one self-contained page (no server, nothing fetched: it opens from disk).

    gamebench-report SWEEP_DIR        # writes SWEEP_DIR/index.html beside the artefact's files

The page holds: the jobs table (one row per job: status, the config values that differ between
jobs, final means, group), sortable by clicking a header and filtered by a text box, diverged and
failed jobs marked; curves of each logged metric against steps or cost (mean and a std band over
trials, `gamebench-plot`'s curves), grouped by everything the sweep varied or by one swept
parameter, chosen from menus; and the artefact's own tables (*.md) and figures (*.png) from the
sweep dir. The curves are inlined as numbers and drawn as SVG by a few dozen lines of plain
JavaScript, so the page needs no plotting library, works offline and is built in seconds (the
surfaces sweep's: 8 s, where pre-rendering every (metric, x, grouping) figure with matplotlib took
31 s). Imports no JAX.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from gamebench import io
from gamebench.reports.plot import COSTS, band_floor, curves, identity_columns, load, varying

MAX_METRICS = 6  # curves for the first logged metrics; a page stays a few MB at most
MAX_GROUPS = 12
MAX_POINTS = 250  # per curve: more than a plot's width in pixels shows nothing more
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
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
  '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939'];
function ticks(lo, hi, log) {
  if (log) {
    const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
    const every = Math.max(1, Math.ceil((b - a) / 6)), out = [];
    for (let e = a; e <= b; e += every) out.push(Math.pow(10, e));
    return out;
  }
  const span = hi - lo, unit = Math.pow(10, Math.floor(Math.log10(span / 5)));
  const step = [1, 2, 5, 10].map(m => m * unit).find(s => span / s <= 6), out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(+v.toPrecision(12));
  return out;
}
function label(v) {
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(0) : String(+v.toPrecision(4));
}
function drawCurve(curve) {
  const W = 680, H = 400, L = 72, R = 16, T = 12, B = 46, log = curve.logy;
  const f = log ? Math.log10 : (v => v), xs = [], ys = [];
  for (const g of curve.groups) { xs.push(...g.x); ys.push(...g.mean, ...g.low, ...g.high); }
  let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 = log ? y0 / 10 : y0 - 1; y1 = log ? y1 * 10 : y1 + 1; }
  const yt = ticks(y0, y1, log);
  if (log) { y0 = Math.min(y0, yt[0]); y1 = Math.max(y1, yt[yt.length - 1]); }
  const px = v => L + (v - x0) / (x1 - x0) * (W - L - R);
  const py = v => H - B - (f(v) - f(y0)) / (f(y1) - f(y0)) * (H - T - B);
  const pts = (a, b) => a.map((v, i) => px(v).toFixed(1) + ',' + py(b[i]).toFixed(1));
  let svg = `<svg class='plot' width='${W}' height='${H}' viewBox='0 0 ${W} ${H}'>`;
  for (const v of yt) if (v >= y0 && v <= y1) svg += `<line x1='${L}' x2='${W - R}' y1='${py(v)}'
    y2='${py(v)}' stroke='#eee'/><text x='${L - 6}' y='${py(v) + 4}' text-anchor='end'>${label(v)}</text>`;
  for (const v of ticks(x0, x1, false)) if (v >= x0 && v <= x1) svg += `<text x='${px(v)}'
    y='${H - B + 16}' text-anchor='middle'>${label(v)}</text>`;
  curve.groups.forEach((g, i) => {
    const c = COLORS[i % COLORS.length];
    svg += `<polygon class='band' fill='${c}' fill-opacity='0.18'
      points='${pts(g.x, g.high).concat(pts(g.x, g.low).reverse()).join(' ')}'/>`;
    svg += `<polyline class='line' fill='none' stroke='${c}' stroke-width='1.8'
      points='${pts(g.x, g.mean).join(' ')}'><title>${g.label}</title></polyline>`;
  });
  svg += `<rect x='${L}' y='${T}' width='${W - L - R}' height='${H - T - B}' fill='none' stroke='#444'/>
    <text x='${(L + W - R) / 2}' y='${H - 8}' text-anchor='middle'>${curve.xlabel}</text>
    <text transform='rotate(-90)' x='${-(T + H - B) / 2}' y='16' text-anchor='middle'>${curve.ylabel}</text></svg>`;
  const legend = curve.groups.map((g, i) => `<div><span style='color:${COLORS[i % COLORS.length]}'>
    &#9632;</span> ${g.label}</div>`).join('');
  return svg + `<div class='legend'>${legend}</div>`;
}
let CURVES = null;
function showCurve() {
  CURVES = CURVES || JSON.parse(document.getElementById('curves').textContent);
  const id = ['metric', 'x', 'by'].map(k => document.getElementById(k).value).join('|');
  const curve = CURVES[id];
  document.getElementById('plot').innerHTML = curve ? drawCurve(curve)
    : '<p>No finite values of this metric here.</p>';
}
"""
_STYLE = """
body { font-family: sans-serif; margin: 1.5em; } table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; } th { cursor: pointer; background: #eee; }
tr.diverged td { background: #fff3cd; } tr.failed td, tr.interrupted td { background: #f8d7da; }
img { max-width: 100%; } .plot text { font-size: 11px; } .legend { font-size: 12px; }
"""


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return html.escape(str(value))


def _numbers(values) -> list:
    """Floats for JSON, 4 significant digits (a plot shows no more), NaN and inf as null."""
    return [float(f"{v:.4g}") if math.isfinite(v) else None for v in np.asarray(values, float)]


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


def curve_data(rows: pd.DataFrame) -> tuple[str, dict]:
    """(the menus, {"metric|x|grouping": the curves to draw}) for the page's plot."""
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
    data = {}
    for metric in metrics:
        for x in xs:
            for name, by in groupings.items():
                table = curves(rows, metric, x, by, "std")
                if table.empty:  # every trial's values are NaN here (a metric this problem lacks)
                    continue
                logy = bool((table[metric] > 0).all())
                groups = []
                for label, group in table.groupby("group", sort=False):
                    every = max(1, math.ceil(len(group) / MAX_POINTS))
                    group = group.iloc[list(range(0, len(group) - 1, every)) + [len(group) - 1]]
                    low = band_floor(group.low, group.lowest, group[metric]) if logy else group.low
                    diverged = int(group.diverged.iloc[0])
                    groups.append(
                        {
                            "label": html.escape(
                                label + (f" ({diverged} diverged)" * bool(diverged))
                            ),
                            "x": _numbers(group[x]),
                            "mean": _numbers(group[metric]),
                            "low": _numbers(low),
                            "high": _numbers(group.high),
                        }
                    )
                data[f"{metric}|{x}|{name}"] = {
                    "logy": logy,
                    "xlabel": html.escape(x.replace("_", " ")),
                    "ylabel": html.escape(f"{metric} (mean ± std over trials)"),
                    "groups": groups,
                }

    def menu(key: str, options) -> str:
        items = "".join(f"<option>{html.escape(o)}</option>" for o in options)
        return f"{key}: <select id='{key}' onchange='showCurve()'>{items}</select> "

    menus = menu("metric", metrics) + menu("x", xs) + menu("by", list(groupings))
    return menus, data


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
    menus, data = curve_data(rows) if rows is not None else ("", {})
    # "</" inside a script element would end it; JSON allows the escaped form
    inlined = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    plot = "<div id='plot'></div>" if data else "<p>No rows.</p>"
    page = f"""<!doctype html><html><head><meta charset='utf-8'>
<title>gamebench: {html.escape(sweep_dir.name)}</title><style>{_STYLE}</style>
<script type='application/json' id='curves'>{inlined}</script><script>{_SCRIPT}</script></head>
<body onload='{"showCurve()" if data else ""}'><h1>gamebench sweep {html.escape(str(sweep_dir))}</h1>
<h2>Jobs</h2>{jobs_table(sweep_dir, rows)}
<h2>Curves</h2><p>{menus}</p>{plot}
<h2>The artefact</h2>{artefact_section(sweep_dir)}
</body></html>"""
    path = Path(out) if out is not None else sweep_dir / "index.html"
    io.write_text(path, page)
    return path
