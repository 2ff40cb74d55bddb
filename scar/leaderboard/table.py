"""Leaderboard tables, built by pure functions from TaskResults and the paper's numbers.

- SCaR: one column per official source and Overall = the unweighted mean of the five
  (shown only when all five exist; never an average over what exists); other SCaR files
  (e.g. the bundled ``Sample``) get their own column.
- MMEB: Classification, VQA, Retrieval, Grounding, IND, OOD and Overall as means over the
  tasks of ``mmeb_tasks.csv``; a model missing a task gets no value for the groups holding it.
- Rows: ``measured`` (a model run), ``sanity`` and ``blind`` (runs that bound what a score
  means), ``reported`` (the paper's tables, with their source) and ``published`` (per-task
  scores published by others, aggregated here). A measured row declared in ``models.yaml``
  to match a paper row gets the difference to it.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scar.names import OFFICIAL, SOURCES, by_task
from scar.eval.results import TaskResult

log = logging.getLogger(__name__)

MISSING = "–"
SCAR_COLUMNS = [SOURCES[k].column for k in OFFICIAL]
MMEB_GROUPS = ["Classification", "VQA", "Retrieval", "Grounding", "IND", "OOD", "Overall"]
PAPER = "VIRTUE paper (Wang et al., ICLR 2026, arXiv 2510.00523)"
PUBLISHED = "per-task scores published in the VLM2Vec repository (commit 6e1e1d4), aggregated here"
#: Row kinds in display order; "best" marks are computed over the first three only.
KINDS = ("measured", "reported", "published", "blind", "sanity")
_RANKED = {"measured", "reported", "published"}
FLAG_TOL = 0.05  # a printed overall further than this from the mean of its parts is flagged


@dataclass
class Row:
    model: str
    variant: str
    kind: str
    source: str  # where the numbers come from
    values: dict[str, float | None]  # column -> score x100
    revision: str | None = None
    matches: str | None = None  # the paper row a measured row corresponds to
    delta: dict[str, float] = field(default_factory=dict)  # column -> measured - reported
    flags: dict[str, str] = field(default_factory=dict)  # column -> note

    @property
    def label(self) -> str:
        return f"{self.model} ({self.variant})" if self.variant else self.model


@dataclass
class Table:
    suite: str
    columns: list[str]
    rows: list[Row]
    best: dict[str, float] = field(default_factory=dict)
    details: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- reference data ----------------------------------------------------------------------

def default_reference_dir() -> Path | None:
    """The paper and published reference tables shipped as package data
    (``scar/data/reference/``, read with ``importlib.resources``)."""
    from importlib import resources

    d = Path(str(resources.files("scar.data").joinpath("reference")))
    return d if (d / "paper_scar_results.csv").is_file() else None


def _pct(x: Any) -> float | None:
    return None if x in (None, "") else float(x)


def paper_rows(reference: Path, suite: str) -> list[Row]:
    name = {"scar": "paper_scar_results.csv", "mmeb": "paper_mmeb_results.csv"}[suite]
    cols = SCAR_COLUMNS if suite == "scar" else [g for g in MMEB_GROUPS if g != "Overall"]
    rows = []
    with open(reference / name, newline="", encoding="utf-8") as f:
        for i, rec in enumerate(csv.DictReader(f), start=2):
            missing = [c for c in [*cols, "Overall"] if c not in rec]
            if missing:
                raise ValueError(f"{reference / name}: line {i}: missing column(s) {missing}")
            values = {c: _pct(rec[c]) for c in [*cols, "Overall"]}
            row = Row(rec["model"], rec["variant"], "reported", f"VIRTUE paper ({name})", values)
            if suite == "scar" and all(values[c] is not None for c in cols):
                mean = sum(values[c] for c in cols) / len(cols)
                if abs(mean - values["Overall"]) > FLAG_TOL:
                    row.flags["Overall"] = f"printed {values['Overall']:.1f}; mean of the five sources is {mean:.2f}"
            if rec.get("finetuned_on_mmeb_train") == "yes":
                row.flags.setdefault("Model", "fine-tuned on MMEB train")
            rows.append(row)
    return rows


def mmeb_task_table(reference: Path) -> dict[str, tuple[str, str]]:
    """task -> (meta-task, IND|OOD)."""
    with open(reference / "mmeb_tasks.csv", newline="", encoding="utf-8") as f:
        return {r["task"]: (r["meta_task"], r["split"]) for r in csv.DictReader(f)}


def published_mmeb(reference: Path) -> dict[str, dict[str, float]]:
    """model name -> {task: hit@1} from the published MMEB-Leaderboard JSON files."""
    out = {}
    for f in sorted((reference / "mmeb_published_scores").glob("*.json")):
        data = json.loads(f.read_text(encoding="utf-8"))
        try:
            out[data["metadata"]["model_name"]] = {t: m["hit@1"] for t, m in data["metrics"]["image"].items()}
        except (KeyError, TypeError) as e:
            raise ValueError(f"{f}: not an MMEB-Leaderboard submission file ({e})") from e
    return out


def mmeb_aggregate(per_task: dict[str, float], tasks: dict[str, tuple[str, str]]) -> dict[str, float | None]:
    """Means over the tasks of each group (x100); None for a group with a missing task."""
    groups: dict[str, list[str]] = {g: [] for g in MMEB_GROUPS}
    for t, (meta, split) in tasks.items():
        groups[meta].append(t)
        groups[split].append(t)
        groups["Overall"].append(t)
    out = {}
    for g, ts in groups.items():
        have = [per_task[t] for t in ts if t in per_task and per_task[t] is not None]
        out[g] = 100 * sum(have) / len(ts) if ts and len(have) == len(ts) else None
    return out


def load_model_map(path: Path | None) -> list[dict[str, Any]]:
    """``models.yaml``: which run (model + variant) matches which paper row."""
    if path is None or not Path(path).is_file():
        return []
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    for i, m in enumerate(data):
        if not (isinstance(m, dict) and "run" in m and "paper" in m and "model" in m["run"] and "model" in m["paper"]):
            raise ValueError(f"{path}: entry {i} needs run: {{model, variant}} and paper: {{model, variant}}")
    return data


# -- tables --------------------------------------------------------------------------------

def _scar_column(task: str) -> str:
    src = by_task(task)
    return src.column if src else task.removeprefix("SCaR_")


def _kind(r: TaskResult) -> str:
    return {"model": "measured"}.get(r.model_kind, r.model_kind)


def _group(results: Iterable[TaskResult]) -> dict[tuple, dict[str, TaskResult]]:
    out: dict[tuple, dict[str, TaskResult]] = {}
    for r in results:
        out.setdefault((r.model, r.variant or "", r.model_revision, _kind(r)), {})[r.task] = r
    return out


def _details(label: str, r: TaskResult) -> dict[str, str]:
    s = r.scores
    f = lambda x: MISSING if x is None else f"{100 * x:.1f}"  # noqa: E731
    return {"Model": label, "Task": r.task, "n": str(r.n), "Score": f(r.main),
            "95% CI": f"{f(s.get('ci95_low'))}–{f(s.get('ci95_high'))}", "Tie rate": f(r.tie_rate),
            "Object": f(s.get("accuracy_object")), "Relation": f(s.get("accuracy_relation")),
            "Scene": f(s.get("accuracy_scene")), "Errors": str(getattr(r, "n_errors", 0))}


def build_table(results: Iterable[TaskResult], suite: str = "scar", *, reference: Path | None = None,
                model_map: list[dict[str, Any]] | None = None, reported: bool = True) -> Table:
    """The table of one suite (``scar`` or ``mmeb``). Pure: same inputs, same table."""
    if suite not in ("scar", "mmeb"):
        raise ValueError(f"unknown suite {suite!r}: use 'scar' or 'mmeb'")
    results = [r for r in results if r.suite == suite]
    rows: list[Row] = []
    details: list[dict[str, str]] = []
    if suite == "scar":
        extra = sorted({_scar_column(r.task) for r in results} - set(SCAR_COLUMNS))
        official = any(_scar_column(r.task) in SCAR_COLUMNS for r in results) or (reported and reference)
        columns = [*(SCAR_COLUMNS if official or not extra else []), *extra, "Overall"]
        for (model, variant, rev, kind), per in _group(results).items():
            vals = {_scar_column(t): 100 * r.main for t, r in per.items()}
            have = [vals[c] for c in SCAR_COLUMNS if c in vals]
            vals["Overall"] = sum(have) / 5 if len(have) == 5 else None
            rows.append(Row(model, variant, kind, f"run {rev}", vals, revision=rev))
            details += [_details(rows[-1].label, r) for _, r in sorted(per.items())]
    else:
        tasks = mmeb_task_table(reference) if reference else {}
        if not tasks:
            raise ValueError("the MMEB table needs mmeb_tasks.csv: pass --reference DIR")
        columns = list(MMEB_GROUPS)
        for (model, variant, rev, kind), per in _group(results).items():
            unknown = sorted(set(per) - set(tasks))
            if unknown:
                log.warning("%s: results for tasks outside mmeb_tasks.csv ignored: %s", model, unknown)
            vals = mmeb_aggregate({t: r.main for t, r in per.items()}, tasks)
            rows.append(Row(model, variant, kind, f"run {rev}", vals, revision=rev))
            details += [_details(rows[-1].label, r) for _, r in sorted(per.items())]
        if reported and reference:
            for name, per_task in published_mmeb(reference).items():
                rows.append(Row(name, "", "published", "VLM2Vec repo 6e1e1d4", mmeb_aggregate(per_task, tasks)))
    if reported and reference:
        paper = paper_rows(reference, suite)
        rows += paper
        _match(rows, paper, model_map or [], columns)
    best = {}
    for c in columns:
        vals = [r.values.get(c) for r in rows if r.kind in _RANKED and r.values.get(c) is not None]
        if vals:
            best[c] = max(vals)
    rows.sort(key=lambda r: (KINDS.index(r.kind) if r.kind in KINDS else len(KINDS),
                             -(r.values.get("Overall") or -1), r.label))
    details.sort(key=lambda d: (d["Model"], d["Task"]))
    notes = [
        "Scores ×100, one decimal. SCaR: precision@1; MMEB: hit@1. A tie between the ground truth and a "
        "distractor counts as a miss.",
        "Overall (SCaR) = unweighted mean of the five official sources; a group average (MMEB) is shown "
        "only when every task of the group was measured.",
        f"'reported' rows: {PAPER}. 'published': {PUBLISHED}.",
        "'sanity' rows bound what a score means (random = chance, 10% with 10 candidates; constant must "
        "not beat chance); 'blind' rows never see the image.",
    ]
    return Table(suite, columns, rows, best, details, notes)


def _match(rows: list[Row], paper: list[Row], model_map: list[dict[str, Any]], columns: list[str]) -> None:
    by_key = {(p.model, p.variant or ""): p for p in paper}
    for r in rows:
        if r.kind != "measured":
            continue
        for m in model_map:
            run, ref = m["run"], m["paper"]
            if run["model"] == r.model and (run.get("variant") or "") == r.variant:
                p = by_key.get((ref["model"], ref.get("variant") or ""))
                if p is None:
                    log.warning("models.yaml maps %s to a paper row that does not exist: %s", r.label, ref)
                    continue
                r.matches = p.label
                r.delta = {c: r.values[c] - p.values[c] for c in columns
                           if r.values.get(c) is not None and p.values.get(c) is not None}


# -- rendering -----------------------------------------------------------------------------

def fmt(x: float | None) -> str:
    return MISSING if x is None else f"{x:.1f}"


def _cells(table: Table, r: Row, bold: bool) -> list[str]:
    out = []
    for c in table.columns:
        v = r.values.get(c)
        s = fmt(v)
        if bold and v is not None and r.kind in _RANKED and table.best.get(c) == v:
            s = f"**{s}**"
        if c in r.flags:
            s += " ⚑"
        if c in r.delta:
            s += f" ({r.delta[c]:+.1f})"
        out.append(s)
    return out


def render_markdown(table: Table, title: str | None = None) -> str:
    title = title or {"scar": "SCaR leaderboard", "mmeb": "MMEB leaderboard"}[table.suite]
    head = ["Model", "Kind", *table.columns, "Source"]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in table.rows:
        src = r.source + (f"; matches paper row {r.matches}" if r.matches else "")
        lines.append("| " + " | ".join([r.label, r.kind, *_cells(table, r, True), src]) + " |")
    flagged = [(r, c, n) for r in table.rows for c, n in r.flags.items() if c != "Model"]
    if flagged:
        lines += ["", "⚑ " + "; ".join(f"{r.label}, {c}: {n}" for r, c, n in flagged) + "."]
    if table.details:
        cols = list(table.details[0])
        lines += ["", "## Per task", "", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(d[c] for c in cols) + " |" for d in table.details]
    lines += ["", *(f"- {n}" for n in table.notes), "- **Bold**: best value of a column among measured, "
              "reported and published rows; (±x) after a measured value: difference to its paper row."]
    return "\n".join(lines) + "\n"


def render_csv(table: Table) -> str:
    """The table as CSV, through its DataFrame (``scar.leaderboard.to_frame``): scores ×100
    with two decimals, empty where there is none."""
    from scar.leaderboard.frame import to_frame

    return to_frame(table).to_csv(index=False, float_format="%.2f", na_rep="", lineterminator="\n")


def table_json(table: Table) -> dict[str, Any]:
    return {"suite": table.suite, "columns": table.columns, "best": table.best, "notes": table.notes,
            "rows": [{"model": r.model, "variant": r.variant, "kind": r.kind, "source": r.source,
                      "revision": r.revision, "values": r.values, "matches": r.matches, "delta": r.delta,
                      "flags": r.flags} for r in table.rows],
            "details": table.details}
