"""``report.html``: one self-contained page (plots inlined as base64 PNG, the graph as
inline SVG, or as a matplotlib picture among the plots) with a section per
walkthrough: what it computed, its plots and every line it printed."""

from __future__ import annotations

import base64
import html
import platform
import re
from datetime import datetime
from pathlib import Path

import numpy as np

from .. import __version__
from .runner import Outcome, format_value
from .summary import verdict

_SKIP_KEYS = {"plots", "dot", "explain", "dot_path", "svg_path"}
_MAX_LIST = 16  # longer series (loss curves) are plotted, not tabulated

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.num { font-family: ui-monospace, Menlo, Consolas, monospace; }
pre { background: #f7f7f7; border: 1px solid #e4e4e4; padding: .6em; font-size: 13px;
      white-space: pre-wrap; overflow-wrap: anywhere; }
section { border-top: 2px solid #eee; margin-top: 2em; padding-top: .5em; }
.ok { color: #1a7f37; } .error { color: #cf222e; } .needs { color: #9a6700; }
img { max-width: 100%; border: 1px solid #eee; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: 90%; }
.graph svg { max-width: 100%; height: auto; }
"""


def flatten_numbers(result: dict, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, formatted value) for every number and short list of numbers."""
    rows = []
    for key, value in result.items():
        name = f"{prefix}{key}"
        if key in _SKIP_KEYS:
            continue
        if isinstance(value, dict):
            rows += flatten_numbers(value, name + ".")
        elif isinstance(value, bool | int | float | np.number):
            rows.append((name, format_value(value)))
        elif isinstance(value, list | tuple | np.ndarray) and 0 < len(value) <= _MAX_LIST \
                and _numeric(value):
            rows.append((name, format_value(np.asarray(value).tolist())))
    return rows


def _numeric(value) -> bool:
    try:
        return np.asarray(value, dtype=float).size > 0
    except (TypeError, ValueError):
        return False


def _png(path: Path, title: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(title)}">'
            f"<figcaption>{html.escape(title)} ({html.escape(Path(path).name)})</figcaption>"
            f"</figure>")


def _graph(result: dict) -> str:
    """The Graphviz SVG inline (without Graphviz the graph is drawn among the plots)."""
    svg_path = result.get("svg_path")
    if svg_path and Path(svg_path).is_file():
        svg = Path(svg_path).read_text()
        svg = re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->", "", svg, flags=re.S).strip()
        return f'<h3>The graph</h3><div class="graph">{svg}</div>'
    return ""


def _css_class(o: Outcome) -> str:
    return {"ok": "ok", "error": "error", "needs extra": "needs"}[o.status]


def _section(i: int, o: Outcome, plots_note: str) -> str:
    w = o.walkthrough
    parts = [f'<section id="{w.name}">',
             f"<h2>{i}. {html.escape(w.title)} <small>({w.name})</small></h2>",
             f"<p>{html.escape(w.shows)}. <span class=\"{_css_class(o)}\"><b>"
             f"{html.escape(verdict(o))}</b></span></p>"]
    if o.status == "needs extra":
        parts.append(f"<p class=\"needs\">Not run: {html.escape(o.message)}.</p>")
    if o.result:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td class=\"num\">{html.escape(v)}</td>"
                       f"</tr>" for k, v in flatten_numbers(o.result))
        if rows:
            parts.append(f"<h3>Numbers</h3><table>{rows}</table>")
        plots = o.result.get("plots") or {}
        if plots:
            parts.append("<h3>Plots</h3>" + "".join(_png(p, t) for t, p in plots.items()))
        elif plots_note:
            parts.append(f"<p class=\"needs\">{html.escape(plots_note)}</p>")
        parts.append(_graph(o.result))
    if o.output.strip():
        parts.append(f"<h3>Printed output</h3><pre>{html.escape(o.output)}</pre>")
    if o.status == "error":
        parts.append(f"<h3>Error</h3><pre class=\"error\">{html.escape(o.message)}</pre>")
    parts.append("</section>")
    return "\n".join(p for p in parts if p)


def write_report(outcomes: list[Outcome], out_dir: Path, quick: bool, seconds: float,
                 plots_note: str = "") -> Path:
    """Write ``out_dir/report.html`` and return its path."""
    rows = "".join(
        f"<tr><td><a href=\"#{o.walkthrough.name}\">{o.walkthrough.name}</a></td>"
        f"<td>{html.escape(o.walkthrough.shows)}</td>"
        f"<td class=\"num\">{html.escape(o.summary())}</td>"
        f"<td class=\"{_css_class(o)}\">{html.escape(verdict(o))}</td></tr>" for o in outcomes)
    mode = "quick run (--quick: fewer epochs)" if quick else "full run"
    head = (f"<h1>chainrule demo</h1><p>chainrule {__version__}, NumPy {np.__version__}, "
            f"Python {platform.python_version()}; {mode}; {len(outcomes)} walkthroughs in "
            f"{seconds:.1f} s; {datetime.now():%Y-%m-%d %H:%M}.</p>"
            + (f"<p class=\"needs\">{html.escape(plots_note)}</p>" if plots_note else "")
            + "<table><tr><th>walkthrough</th><th>what it shows</th><th>key numbers</th>"
            f"<th>result</th></tr>{rows}</table>")
    body = "\n".join(_section(i, o, plots_note) for i, o in enumerate(outcomes, 1))
    page = (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>chainrule demo</title><style>{_STYLE}</style></head>\n<body>\n{head}\n"
            f"{body}\n</body></html>\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
