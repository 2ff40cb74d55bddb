"""A static leaderboard page: one HTML file, sortable tables, plots embedded as SVG.

Nothing is fetched when the page is viewed (no scripts, fonts or images from elsewhere).
Plots use matplotlib (the ``leaderboard`` extra): per-source bars of the SCaR rows and a
measured-vs-reported scatter of the rows matched in ``models.yaml``.
"""

from __future__ import annotations

import html
import io

from scar import __version__
from scar.leaderboard.table import _RANKED, SCAR_COLUMNS, Table, fmt

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#f2f2f2;cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" ▲"} th[aria-sort=descending]::after{content:" ▼"}
td.l,th.l{text-align:left} td.best{font-weight:bold;background:#e8f5e9}
tr.reported td,tr.published td{color:#555} tr.sanity td,tr.blind td{color:#777;font-style:italic}
.note{color:#555;font-size:.85rem} figure{display:inline-block;margin:0 1rem 1rem 0}
"""

# Click a header to sort by that column (numbers numerically, "–" last); again to reverse.
_JS = """
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th, col){
    th.addEventListener('click', function(){
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function(a, b){
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
    for r in table.rows:
        out.append(f'<tr class="{e(r.kind)}"><td class="l" data-v="{e(r.label)}">{e(r.label)}</td>'
                   f'<td class="l" data-v="{e(r.kind)}">{e(r.kind)}</td>')
        for c in table.columns:
            v = r.values.get(c)
            best = v is not None and r.kind in _RANKED and table.best.get(c) == v
            title = "; ".join(x for x in (r.flags.get(c), f"{r.delta[c]:+.1f} vs paper" if c in r.delta else None) if x)
            out.append(f'<td class="{"best" if best else ""}" data-v="{"" if v is None else f"{v:.4f}"}"'
                       f'{f" title={chr(34)}{e(title)}{chr(34)}" if title else ""}>{fmt(v)}'
                       f'{" ⚑" if c in r.flags else ""}</td>')
        src = r.source + (f"; matches paper row {r.matches}" if r.matches else "")
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


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def plot_sources(table: Table, max_rows: int = 12) -> str | None:
    """Grouped bars: the five SCaR sources for the top rows with all five values."""
    rows = [r for r in table.rows if all(r.values.get(c) is not None for c in SCAR_COLUMNS)][:max_rows]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.5))
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        xs = [j + i * width for j in range(len(SCAR_COLUMNS))]
        ax.bar(xs, [r.values[c] for c in SCAR_COLUMNS], width, label=f"{r.label} [{r.kind}]")
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(SCAR_COLUMNS))], SCAR_COLUMNS)
    ax.set_ylabel("precision@1 (×100)")
    ax.legend(fontsize=6, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    svg = _svg(fig)
    plt.close(fig)
    return svg


def plot_measured_vs_reported(table: Table) -> str | None:
    pairs = [(r.values[c] - r.delta[c], r.values[c], r.label, c) for r in table.rows if r.delta for c in r.delta]
    if not pairs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter([p[0] for p in pairs], [p[1] for p in pairs], s=14)
    hi = max(max(p[0], p[1]) for p in pairs) * 1.05 + 1
    ax.plot([0, hi], [0, hi], lw=0.8, color="grey")
    ax.set_xlabel("reported (paper)")
    ax.set_ylabel("measured")
    svg = _svg(fig)
    plt.close(fig)
    return svg


def render_html(tables: list[Table], title: str = "SCaR / MMEB leaderboard") -> str:
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>"
             f'<p class="note">Generated by scar {e(__version__)}. Click a column header to sort.</p>']
    for t in tables:
        name = {"scar": "SCaR", "mmeb": "MMEB"}[t.suite]
        parts.append(f"<h2>{name}</h2>{_table_html(t, f'{t.suite}-table')}")
        flagged = [f"{r.label}, {c}: {n}" for r in t.rows for c, n in r.flags.items() if c != "Model"]
        if flagged:
            parts.append('<p class="note">⚑ ' + e("; ".join(flagged)) + "</p>")
        figs = []
        if t.suite == "scar":
            for caption, svg in (("Per-source precision@1", plot_sources(t)),
                                 ("Measured vs reported", plot_measured_vs_reported(t))):
                if svg:
                    figs.append(f"<figure>{svg}<figcaption>{e(caption)}</figcaption></figure>")
        parts += figs
        if t.details:
            parts.append(f"<h3>{name}: per task</h3>{_details_html(t, f'{t.suite}-details')}")
        parts.append("<ul class=\"note\">" + "".join(f"<li>{e(n)}</li>" for n in t.notes) + "</ul>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)
