"""Leaderboard tables built by a pure function from TaskResults."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from scar.names import OFFICIAL, SOURCES, by_task
from scar.results import TaskResult

MISSING = "–"


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, str]]
    details: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _pct(x: float | None) -> str:
    return MISSING if x is None else f"{100 * x:.1f}"


def _column(task: str) -> str:
    src = by_task(task)
    if src:
        return src.column
    return task[len("SCaR_"):] if task.startswith("SCaR_") else task


def build_table(results: Iterable[TaskResult], suite: str = "scar") -> Table:
    """One row per (model, variant, revision); one column per task; Overall only when
    a model has all five official SCaR sources (never an average over what exists)."""
    results = [r for r in results if r.suite == suite]
    if suite != "scar":
        raise ValueError(f"suite {suite!r} is not supported yet (only 'scar')")
    official = [SOURCES[k].column for k in OFFICIAL]
    present = {_column(r.task) for r in results}
    cols = [c for c in official if c in present] + sorted(present - set(official))
    by_model: dict[tuple, dict[str, TaskResult]] = {}
    for r in results:
        by_model.setdefault((r.model, r.variant or "", r.model_revision, r.model_kind), {})[_column(r.task)] = r
    rows, details = [], []
    for (model, variant, rev, kind), per in by_model.items():
        row = {"Model": model + (f" ({variant})" if variant else ""), "Kind": kind, "Revision": rev}
        for c in cols:
            row[c] = _pct(per[c].main) if c in per else MISSING
        have = [per[c].main for c in official if c in per]
        row["Overall"] = _pct(sum(have) / len(have)) if len(have) == len(official) else MISSING
        rows.append(row)
        for c in cols:
            if c not in per:
                continue
            r = per[c]
            s = r.scores
            details.append({
                "Model": row["Model"], "Task": r.task, "n": str(r.n), "P@1": _pct(r.main),
                "95% CI": f"{_pct(s.get('ci95_low'))}–{_pct(s.get('ci95_high'))}",
                "Tie rate": _pct(r.tie_rate),
                "Object": _pct(s.get("accuracy_object")), "Relation": _pct(s.get("accuracy_relation")),
                "Scene": _pct(s.get("accuracy_scene")), "Errors": str(r.n_errors),
            })
    rows.sort(key=lambda r: (r["Kind"] != "model", r["Model"]))
    details.sort(key=lambda d: (d["Model"], d["Task"]))
    notes = ["Scores are precision@1 ×100; a tie between the GT and a distractor counts as a miss.",
             "Overall = unweighted mean of the five official sources; shown only when all five were measured.",
             "Kind 'sanity': random (chance floor, 10% with 10 candidates) and oracle (ceiling) rows."]
    return Table(["Model", "Kind", "Revision", *cols, "Overall"], rows, details, notes)


def render_markdown(table: Table, title: str = "SCaR leaderboard") -> str:
    def md(columns: list[str], rows: list[dict[str, str]]) -> list[str]:
        out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        out += ["| " + " | ".join(r.get(c, MISSING) for c in columns) + " |" for r in rows]
        return out

    lines = [f"# {title}", ""] + md(table.columns, table.rows)
    if table.details:
        lines += ["", "## Per task", ""] + md(list(table.details[0]), table.details)
    lines += [""] + [f"- {n}" for n in table.notes]
    return "\n".join(lines) + "\n"
