"""A static leaderboard page: one HTML file, sortable tables, plots embedded as SVG.

Nothing is fetched when the page is viewed (no scripts, fonts or images from elsewhere).
Plots use matplotlib (the ``leaderboard`` extra): per-source bars of the SCaR rows (every
measured row with the five sources, then the best paper rows), bars of the other SCaR files
with the chance line (so a model scored on your own file is plotted too), a measured-vs-
reported scatter of the rows matched in ``models.yaml``, and the MMEB meta-task bars. Every
plotted model appears once in the legend, each in its own colour, with legend text of at
least 10 px. The SVG has no date and fixed ids (``svg.hashsalt``), so the same tables give
the same bytes: regenerating an unchanged leaderboard changes nothing.
"""

from __future__ import annotations

import html
import io
from contextlib import contextmanager

from scar import __version__
from scar.leaderboard.table import (MMEB_GROUPS, SCAR_COLUMNS, Row, Table, cell_text, fmt, kind_text,
                                    label_text, source_text)

#: Legend and tick text in points; the SVG is shown at its natural size (1 pt = 4/3 px), so
#: 8 pt is 10.7 px on screen.
FONT_PT = 8.5
MAX_BARS = 10  # rows per bar plot: every measured row, then the best others
_SALT = "scar-leaderboard"

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:90rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#f2f2f2;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" ▲"} th[aria-sort=descending]::after{content:" ▼"}
td.l,th.l{text-align:left} td.best{font-weight:bold;background:#e8f5e9}
tr.measured td{background:#fff8e1} tr.measured td.l:first-child{font-weight:600}
tr.reported td,tr.published td{color:#444} tr.blind td,tr.sanity td{color:#666;font-style:italic}
tr.baselines td{background:#fafafa;color:#555;text-align:left;font-style:italic}
.note{color:#555;font-size:.85rem} .readings li{margin:.2rem 0}
figure{display:inline-block;margin:0 1rem 1rem 0;vertical-align:top} figure svg{max-width:none;height:auto}
"""

# Click a header to sort by that column (numbers numerically, "–" last); again to reverse.
# The baselines (not ranked) always stay below the ranked rows.
_JS = """
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th, col){
    th.addEventListener('click', function(){
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function group(r){ return r.classList.contains('baselines') ? 1 : (r.getAttribute('data-group') === 'b' ? 2 : 0); }
      rows.sort(function(a, b){
        var ga = group(a), gb = group(b);
        if (ga !== gb) return ga - gb;
        if (ga === 1) return 0;
        var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
        var nx = parseFloat(x), ny = parseFloat(y);
        if (isNaN(nx) || isNaN(ny)) {
          if (isNaN(nx) && isNaN(ny)) return asc ? x.localeCompare(y) : y.localeCompare(x);
          return isNaN(nx) ? 1 : -1;
        }
        return asc ? nx - ny : ny - nx;
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
"""


def _table_html(table: Table, table_id: str) -> str:
    e = html.escape
    head = ["Model", "Kind", *table.columns, "Source"]
    out = [f'<table class="sortable" id="{table_id}"><thead><tr>']
    out += [f'<th class="{"l" if h in ("Model", "Kind", "Source") else ""}">{e(h)}</th>' for h in head]
    out.append("</tr></thead><tbody>")
    started = False
    for r in table.rows:
        if not r.ranked and not started and table.ranked:
            started = True
            out.append(f'<tr class="baselines"><td colspan="{len(head)}">baselines (not ranked): what a score '
                       "means</td></tr>")
        out.append(f'<tr class="{e(r.kind)}" data-group="{"a" if r.ranked else "b"}">'
                   f'<td class="l" data-v="{e(r.label)}">{e(label_text(r))}</td>'
                   f'<td class="l" data-v="{e(kind_text(r))}">{e(kind_text(r))}</td>')
        for c in table.columns:
            v = r.values.get(c)
            best = v is not None and r.ranked and table.best.get(c) == v
            title = "; ".join(x for x in (r.flags.get(c), f"{r.delta[c]:+.1f} vs paper" if c in r.delta else None,
                                          f"n = {r.n[c]}" if c in r.n else None) if x)
            out.append(f'<td class="{"best" if best else ""}" data-v="{"" if v is None else f"{v:.4f}"}"'
                       f'{f" title={chr(34)}{e(title)}{chr(34)}" if title else ""}>{e(cell_text(table, r, c))}'
                       f'{" ⚑" if c in r.flags else ""}</td>')
        src = source_text(table, r)
        out.append(f'<td class="l" data-v="{e(src)}">{e(src)}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _details_html(table: Table, table_id: str) -> str:
    if not table.details:
        return ""
    e = html.escape
    cols = list(table.details[0])
    out = [f'<table class="sortable" id="{table_id}"><thead><tr>']
    out += [f'<th class="{"l" if c in ("Model", "Task") else ""}">{e(c)}</th>' for c in cols]
    out.append("</tr></thead><tbody>")
    for d in table.details:
        out.append("<tr>" + "".join(f'<td class="{"l" if c in ("Model", "Task") else ""}" data-v="{e(d[c])}">'
                                    f"{e(d[c])}</td>" for c in cols) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


@contextmanager
def _pyplot():
    """pyplot on the Agg backend with the settings that make SVG bytes reproducible and the
    text real text (so a browser renders it at its stated size)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": _SALT, "svg.fonttype": "none", "font.size": FONT_PT,
                                "legend.fontsize": FONT_PT, "path.simplify": True}):
        yield plt


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _colours(n: int) -> list:
    """``n`` distinct colours (tab10, then tab20's lighter halves, then a hue wheel)."""
    import matplotlib

    base = list(matplotlib.colormaps["tab10"].colors) + list(matplotlib.colormaps["tab20"].colors[1::2])
    if n <= len(base):
        return base[:n]
    return [matplotlib.colors.hsv_to_rgb((i / n, 0.65, 0.85)) for i in range(n)]


def _pick(rows: list[Row], cols: list[str], limit: int = MAX_BARS) -> list[Row]:
    """Rows with every column: all measured rows first, then the best other ranked rows."""
    full = [r for r in rows if all(r.values.get(c) is not None for c in cols)]
    mine = [r for r in full if r.kind == "measured"]
    others = [r for r in full if r.kind != "measured" and r.ranked]
    return (mine + others)[:max(limit, len(mine))]


def _bars(rows: list[Row], cols: list[str], ylabel: str, *, chance: float | None = None,
          width_in: float = 9.0) -> str:
    with _pyplot() as plt:
        fig, ax = plt.subplots(figsize=(width_in, 3.6))
        width = 0.8 / len(rows)
        for i, (r, colour) in enumerate(zip(rows, _colours(len(rows)))):
            xs = [j + i * width for j in range(len(cols))]
            ax.bar(xs, [r.values.get(c) or 0 for c in cols], width, color=colour,
                   label=f"{label_text(r)} [{kind_text(r)}]")
        if chance is not None:
            ax.axhline(chance, color="black", lw=0.8, ls="--", label=f"chance ({chance:g})")
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(cols))], cols)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        svg = _svg(fig)
        plt.close(fig)
    return svg


def plot_sources(table: Table, max_rows: int = MAX_BARS) -> str | None:
    """Grouped bars over the five SCaR sources: every measured row with all five, then the best
    paper rows."""
    rows = _pick(table.rows, SCAR_COLUMNS, max_rows)
    return _bars(rows, SCAR_COLUMNS, "precision@1 (×100)") if rows else None


def plot_files(table: Table) -> str | None:
    """Grouped bars over the SCaR files that are not official sources (your own builds), every
    row measured on them (models, blind baselines, chance lines), with the chance line."""
    cols = [c for c in table.columns if c not in SCAR_COLUMNS and c != "Overall"]
    rows = [r for r in table.rows if any(r.values.get(c) is not None for c in cols)]
    if not cols or not rows:
        return None
    chance = next((table.chance[c] for c in cols if c in table.chance), None)
    return _bars(rows, cols, "precision@1 (×100)", chance=chance, width_in=max(4.0, 2.0 + 1.6 * len(cols)))


def plot_mmeb(table: Table, max_rows: int = MAX_BARS) -> str | None:
    cols = [c for c in MMEB_GROUPS if c not in ("IND", "OOD")]
    rows = _pick(table.rows, cols, max_rows)
    return _bars(rows, cols, "hit@1 (×100)") if rows else None


def plot_measured_vs_reported(table: Table) -> str | None:
    rows = [r for r in table.rows if r.delta]
    if not rows:
        return None
    with _pyplot() as plt:
        fig, ax = plt.subplots(figsize=(5, 4))
        hi = 1.0
        for r, colour in zip(rows, _colours(len(rows))):
            xs = [r.values[c] - r.delta[c] for c in r.delta]
            ys = [r.values[c] for c in r.delta]
            ax.scatter(xs, ys, s=18, color=colour, label=f"{r.label} vs {r.matches}")
            hi = max(hi, *xs, *ys)
        hi = hi * 1.05 + 1
        ax.plot([0, hi], [0, hi], lw=0.8, color="grey")
        ax.set_xlabel("reported (paper)")
        ax.set_ylabel("measured")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        svg = _svg(fig)
        plt.close(fig)
    return svg


def render_html(tables: list[Table], title: str = "SCaR / MMEB leaderboard") -> str:
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>"
             f'<p class="note">Generated by scar {e(__version__)}. Click a column header to sort; the baselines '
             "stay below the ranked rows.</p>"]
    for t in tables:
        name = {"scar": "SCaR", "mmeb": "MMEB"}[t.suite]
        parts.append(f"<h2>{name}</h2>{_table_html(t, f'{t.suite}-table')}")
        flagged = [f"{r.label}, {c}: {n}" for r in t.rows for c, n in r.flags.items() if c != "Model"]
        if flagged:
            parts.append('<p class="note">⚑ ' + e("; ".join(flagged)) + "</p>")
        if t.readings:
            parts.append(f'<h3>{name}: readings</h3><ul class="readings" id="{t.suite}-readings">'
                         + "".join(f"<li>{e(x)}</li>" for x in t.readings) + "</ul>")
        plots = ((("Per-source precision@1", plot_sources(t)), ("Your SCaR files, with chance", plot_files(t)),
                  ("Measured vs reported", plot_measured_vs_reported(t))) if t.suite == "scar" else
                 (("MMEB per meta-task", plot_mmeb(t)), ("Measured vs reported", plot_measured_vs_reported(t))))
        for caption, svg in plots:
            if svg:
                parts.append(f"<figure>{svg}<figcaption>{e(caption)}</figcaption></figure>")
        if t.details:
            parts.append(f"<h3>{name}: per task</h3>{_details_html(t, f'{t.suite}-details')}")
        notes = (e(n).replace("**Bold**", "<b>Bold</b>") for n in t.notes)
        parts.append("<ul class=\"note\">" + "".join(f"<li>{n}</li>" for n in notes) + "</ul>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"


__all__ = ["render_html", "plot_sources", "plot_files", "plot_mmeb", "plot_measured_vs_reported", "fmt"]
