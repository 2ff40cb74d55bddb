"""Leaderboard tables, built by pure functions from TaskResults and the paper's numbers.

- SCaR: one column per official source and Overall = the unweighted mean of the five
  (shown only when all five exist; never an average over what exists); other SCaR files
  (e.g. the bundled ``Sample``) get their own column.
- MMEB: Classification, VQA, Retrieval, Grounding, IND, OOD and Overall as means over the
  tasks of ``mmeb_tasks.csv``; a model missing a task gets no value for the groups holding it.
- Rows, in one table: the *ranked* rows — ``measured`` (a model run here), ``reported`` (the
  paper's tables, with their source) and ``published`` (per-task scores published by others,
  aggregated here) — ordered by the score under the paper's tie rule (``ties="official"``: a
  tie with the GT counts as a hit, as the reference metrics count it), a measured row's strict
  score beside it; then the *baselines* that bound what a score means: ``blind`` rows (never see
  the image) and the chance lines ``random`` and ``constant``. The ``oracle`` (told the answers)
  is a test of the harness and appears nowhere. A measured row declared in ``models.yaml`` to
  match a paper row gets the difference to it.
- Readings (:func:`readings`): plain-language verdicts computed from the numbers — which files
  a blind baseline solves (so their scores do not measure grounding), chance per column,
  whether each row beats chance, and what to do next.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scar.errors import ScarUserError
from scar.eval.metrics import chance_position
from scar.eval.results import TaskResult
from scar.names import OFFICIAL, SOURCES, by_task

log = logging.getLogger(__name__)

MISSING = "–"
SCAR_COLUMNS = [SOURCES[k].column for k in OFFICIAL]
MMEB_GROUPS = ["Classification", "VQA", "Retrieval", "Grounding", "IND", "OOD", "Overall"]
PAPER = "VIRTUE paper (Wang et al., ICLR 2026, arXiv 2510.00523)"
PUBLISHED = "per-task scores published in the VLM2Vec repository (commit 6e1e1d4), aggregated here"
#: Row kinds: ranked rows first, then the baselines (blind rows, then the chance lines).
KINDS = ("measured", "reported", "published", "blind", "sanity")
_RANKED = {"measured", "reported", "published"}
#: Never a leaderboard row: told the answers, it only tests the harness.
HIDDEN_MODELS = {"oracle"}
#: Chance of a SCaR column: 1 of 10 candidates (percent).
SCAR_CHANCE = 10.0
TIE_RULES = ("strict", "official")
FLAG_TOL = 0.05  # a printed overall further than this from the mean of its parts is flagged
MEASURED_MARK = "◆"


@dataclass
class Row:
    model: str
    variant: str
    kind: str
    source: str  # where the numbers come from
    values: dict[str, float | None]  # column -> score x100, under the table's tie rule when known
    revision: str | None = None
    matches: str | None = None  # the paper row a measured row corresponds to
    delta: dict[str, float] = field(default_factory=dict)  # column -> measured - reported
    flags: dict[str, str] = field(default_factory=dict)  # column -> note
    strict: dict[str, float] = field(default_factory=dict)  # column -> strict score where it differs
    #: column -> the paper-rule score of a baseline where it differs (baselines are shown strict)
    official: dict[str, float] = field(default_factory=dict)
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)  # column -> 95% CI (x100), strict
    ties: dict[str, float] = field(default_factory=dict)  # column -> tie rate (x100)
    n: dict[str, int] = field(default_factory=dict)  # column -> rows scored
    hits: dict[str, int] = field(default_factory=dict)  # column -> ground truth first (under ``rule``)
    rule: dict[str, str] = field(default_factory=dict)  # column -> tie rule of ``values``

    @property
    def label(self) -> str:
        return f"{self.model} ({self.variant})" if self.variant else self.model

    @property
    def ranked(self) -> bool:
        return self.kind in _RANKED


@dataclass
class Table:
    suite: str
    columns: list[str]
    rows: list[Row]
    best: dict[str, float] = field(default_factory=dict)
    details: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chance: dict[str, float] = field(default_factory=dict)  # column -> chance (x100)
    ties: str = "official"
    readings: list[str] = field(default_factory=list)

    @property
    def ranked(self) -> list[Row]:
        return [r for r in self.rows if r.ranked]

    @property
    def baselines(self) -> list[Row]:
        return [r for r in self.rows if not r.ranked]


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
                raise ScarUserError(f"{reference / name}: line {i}: missing column(s) {missing}")
            values = {c: _pct(rec[c]) for c in [*cols, "Overall"]}
            row = Row(rec["model"], rec["variant"], "reported", f"VIRTUE paper ({name})", values)
            row.rule = {c: "official" for c in values}  # the reference metrics give a tie to the GT
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
            raise ScarUserError(f"{f}: not an MMEB-Leaderboard submission file ({e})") from e
    return out


def mmeb_aggregate(per_task: dict[str, float | None], tasks: dict[str, tuple[str, str]]) -> dict[str, float | None]:
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
            raise ScarUserError(f"{path}: entry {i} needs run: {{model, variant}} and paper: {{model, variant}}")
    return data


# -- scores under a tie rule ------------------------------------------------------------------

def rule_of(r: TaskResult) -> str:
    """The tie rule ``r.main`` was computed under (results before the rule was recorded:
    strict, the harness's only rule then)."""
    return getattr(r, "ties", None) or "strict"


def score_under(r: TaskResult, rule: str) -> float | None:
    """The main score of ``r`` under a tie rule (a fraction), or None when not recorded."""
    if rule_of(r) == rule:
        return r.main
    for key in (f"{r.main_metric}_{rule}", f"{rule}_{r.main_metric}"):
        v = r.scores.get(key)
        if isinstance(v, (int, float)):
            return float(v)
    other = r.scores.get(rule) if isinstance(r.scores.get(rule), dict) else None
    if other and isinstance(other.get(r.main_metric), (int, float)):
        return float(other[r.main_metric])
    return None


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


def _f(x: float | None) -> str:
    return MISSING if x is None else f"{100 * x:.1f}"


def _details(label: str, r: TaskResult, rule: str) -> dict[str, str]:
    s = r.scores
    main = score_under(r, rule)
    strict = score_under(r, "strict")
    return {"Model": label, "Task": r.task, "n": str(r.n),
            "Score": _f(main if main is not None else strict),
            "Strict": _f(strict) if main is not None and strict is not None and strict != main else "",
            "95% CI": f"{_f(s.get('ci95_low'))}–{_f(s.get('ci95_high'))}", "Tie rate": _f(r.tie_rate),
            "Object": _f(s.get("accuracy_object")) if "accuracy_object" in s else "",
            "Relation": _f(s.get("accuracy_relation")) if "accuracy_relation" in s else "",
            "Scene": _f(s.get("accuracy_scene")) if "accuracy_scene" in s else "",
            "Errors": str(getattr(r, "n_errors", 0) or 0)}


def _measured_row(model: str, variant: str, rev: str, kind: str, per: dict[str, TaskResult], col_of,
                  rule: str) -> Row:
    row = Row(model, variant, kind, f"run {rev}", {}, revision=rev)
    for t, r in per.items():
        c = col_of(t)
        main, strict = score_under(r, rule), score_under(r, "strict")
        shown = main if main is not None else strict
        row.values[c] = None if shown is None else 100 * shown
        row.rule[c] = rule if main is not None else "strict"
        if strict is not None and main is not None and strict != main:
            row.strict[c] = 100 * strict
        lo, hi = r.scores.get("ci95_low"), r.scores.get("ci95_high")
        if lo is not None and hi is not None and rule_of(r) == row.rule[c]:
            row.ci[c] = (100 * lo, 100 * hi)
        row.ties[c] = 100 * r.tie_rate
        row.n[c] = r.n
        if shown is not None and r.main_metric in ("precision_at_1", "hit_at_1"):
            row.hits[c] = round(shown * r.n)
        official = score_under(r, "official")
        if rule == "strict" and official is not None and shown is not None and official != shown:
            row.official[c] = 100 * official
    return row


def build_table(results: Iterable[TaskResult], suite: str = "scar", *, reference: Path | None = None,
                model_map: list[dict[str, Any]] | None = None, reported: bool = True,
                ties: str = "official") -> Table:
    """The table of one suite (``scar`` or ``mmeb``). Pure: same inputs, same table.
    ``ties``: the rule the ranked rows are placed by (``official``: the paper's; a measured
    row's strict score is shown beside it)."""
    if suite not in ("scar", "mmeb"):
        raise ScarUserError(f"unknown suite {suite!r}: use 'scar' or 'mmeb'")
    if ties not in TIE_RULES:
        raise ScarUserError(f"unknown tie rule {ties!r}: use one of {TIE_RULES}")
    results = [r for r in results if r.suite == suite]
    hidden = sorted({r.model for r in results if r.model in HIDDEN_MODELS})
    if hidden:
        log.debug("left out of the leaderboard (never a leaderboard entry): %s", ", ".join(hidden))
    results = [r for r in results if r.model not in HIDDEN_MODELS]
    rows: list[Row] = []
    details: list[dict[str, str]] = []
    chance: dict[str, float] = {}
    if suite == "scar":
        extra = sorted({_scar_column(r.task) for r in results} - set(SCAR_COLUMNS))
        columns = [*SCAR_COLUMNS, *extra, "Overall"]
        chance = {c: SCAR_CHANCE for c in columns}
        for (model, variant, rev, kind), per in _group(results).items():
            # baselines are never ranked: shown and read under the strict rule (under the paper's,
            # a model that ties everything, like constant, would score 100)
            row = _measured_row(model, variant, rev, kind, per, _scar_column, ties if kind in _RANKED else "strict")
            have = [row.values[c] for c in SCAR_COLUMNS if row.values.get(c) is not None]
            row.values["Overall"] = sum(have) / 5 if len(have) == 5 else None
            if row.values["Overall"] is not None:
                row.rule["Overall"] = ties if all(row.rule.get(c) == ties for c in SCAR_COLUMNS) else "strict"
            strict = [row.strict.get(c, row.values.get(c)) for c in SCAR_COLUMNS]
            if row.strict and None not in strict and row.values["Overall"] is not None:
                row.strict["Overall"] = sum(strict) / 5
            rows.append(row)
            rule = ties if kind in _RANKED else "strict"
            details += [_details(row.label, r, rule) for _, r in sorted(per.items())]
    else:
        tasks = mmeb_task_table(reference) if reference else {}
        if not tasks:
            raise ScarUserError("the MMEB table needs mmeb_tasks.csv: pass --reference DIR")
        columns = list(MMEB_GROUPS)
        for (model, variant, rev, kind), per in _group(results).items():
            unknown = sorted(set(per) - set(tasks))
            if unknown:
                log.warning("%s: results for tasks outside mmeb_tasks.csv ignored: %s", model, unknown)
            row = Row(model, variant, kind, f"run {rev}", {}, revision=rev)
            rule = ties if kind in _RANKED else "strict"
            shown = {t: score_under(r, rule) for t, r in per.items()}
            if any(v is None for v in shown.values()):
                shown = {t: r.main for t, r in per.items()}
                row.rule = {c: rule_of(next(iter(per.values()))) for c in columns}
            else:
                row.rule = {c: rule for c in columns}
            row.values = mmeb_aggregate(shown, tasks)
            strict = mmeb_aggregate({t: score_under(r, "strict") for t, r in per.items()}, tasks)
            row.strict = {c: v for c, v in strict.items() if v is not None and v != row.values.get(c)}
            rows.append(row)
            details += [_details(row.label, r, rule) for _, r in sorted(per.items())]
        if reported and reference:
            for name, per_task in published_mmeb(reference).items():
                rows.append(Row(name, "", "published", "VLM2Vec repo 6e1e1d4", mmeb_aggregate(per_task, tasks)))
        rnd = [r for r in rows if r.model == "random"]
        chance = {c: v for c, v in rnd[0].values.items() if v is not None} if rnd else {}
    if reported and reference:
        paper = paper_rows(reference, suite)
        rows += paper
        _match(rows, paper, model_map or [], columns)
    columns = [c for c in columns if any(r.values.get(c) is not None for r in rows)]
    best = {}
    for c in columns:
        vals = [r.values[c] for r in rows if r.ranked and r.values.get(c) is not None and _beats(r, c, chance)]
        if vals:
            best[c] = max(vals)
    sort_col = next((c for c in ("Overall", *columns) if any(r.ranked and r.values.get(c) is not None
                                                                for r in rows)), None)

    def order(r: Row):
        v = r.values.get(sort_col) if sort_col else None
        return (KINDS.index(r.kind) >= 3, KINDS.index(r.kind) if not r.ranked else 0, v is None, -(v or 0), r.label)

    rows.sort(key=order)
    details.sort(key=lambda d: (d["Model"], d["Task"]))
    for key in ("Strict", "Object", "Relation", "Scene"):
        if details and not any(d[key] for d in details):
            for d in details:
                del d[key]
    table = Table(suite, columns, rows, best, details, [], chance, ties)
    table.notes = _notes(table)
    table.readings = readings(table)
    return table


def _beats(r: Row, c: str, chance: dict[str, float]) -> bool:
    """Whether the value of row ``r`` in column ``c`` beats chance: its 95% interval lies above
    it where the counts are known, else the value does. True when the column's chance is unknown."""
    v, ch = r.values.get(c), chance.get(c)
    if v is None:
        return False
    return ch is None or _position(r, c, ch) == "above"


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
                           if r.values.get(c) is not None and p.values.get(c) is not None
                           and r.rule.get(c) == "official"}


def _notes(t: Table) -> list[str]:
    kinds = {r.kind for r in t.rows}
    metric = "precision@1" if t.suite == "scar" else "hit@1"
    notes = [f"Scores ×100, one decimal ({metric}). Ranked rows are ordered by "
             + ("Overall" if "Overall" in t.columns else "score")
             + (" under the paper's tie rule (a tie between the ground truth and a distractor counts as a hit, "
                "as the reference metrics count it); a measured value's strict score (a tie is a miss) is "
                "shown beside it where they differ."
                if t.ties == "official" else " under the strict tie rule (a tie between the ground truth and a "
                                             "distractor counts as a miss).")]
    if "Overall" in t.columns:
        notes.append("Overall (SCaR) = unweighted mean of the five official sources, shown only when all five "
                     "were measured." if t.suite == "scar" else
                     "A group average (MMEB) is shown only when every task of the group was measured.")
    if "measured" in kinds:
        notes.append(f"{MEASURED_MARK} marks rows measured with this toolkit; (±x) after a measured value: its "
                     "difference to the paper row it matches (models.yaml).")
    if "reported" in kinds:
        notes.append(f"'reported' rows: {PAPER}.")
    if "published" in kinds:
        notes.append(f"'published' rows: {PUBLISHED}.")
    if kinds & {"blind", "sanity"}:
        notes.append("Below the ranked rows, baselines that bound what a score means: "
                     + ", ".join(x for x, k in (("'blind' rows never see the image", "blind"),
                                                 ("'random' and 'constant' are chance lines", "sanity"))
                                 if k in kinds) + "; they are never ranked or highlighted.")
    if t.best:
        notes.append("**Bold**: the best ranked value of a column, only where it beats chance.")
    return notes


# -- readings --------------------------------------------------------------------------------

def _evidence(r: Row, c: str) -> str:
    """'100.0 (25 of 25 rows, 95% CI 86.7–100.0)': the value with the interval the verdict used."""
    v = fmt(r.values.get(c))
    if c in r.hits and r.n.get(c):
        _, (lo, hi) = chance_position(r.hits[c], r.n[c], 0.0)
        return f"{v} ({r.hits[c]} of {r.n[c]} rows, 95% CI {100 * lo:.1f}–{100 * hi:.1f})"
    return v


def _position(r: Row, c: str, ch: float) -> str:
    """above | below | ties | at: where a row's score lies against chance (exact 95% interval
    of hits out of rows; without counts, the value itself)."""
    if c in r.hits and r.n.get(c):
        return chance_position(r.hits[c], r.n[c], ch / 100, tie_rate=r.ties.get(c, 0) / 100)[0]
    v = r.values.get(c)
    return "at" if v is None else ("above" if v > ch else "below" if v < ch else "at")


def readings(t: Table) -> list[str]:
    """Plain-language verdicts, each computed from the table's numbers."""
    out: list[str] = []
    data_cols = [c for c in t.columns if c != "Overall"]
    if t.suite == "scar":
        out.append(f"Chance is {SCAR_CHANCE:.1f} in every column (the ground truth is 1 of 10 candidates). "
                   + ("In the per-task table, Object, Relation and Scene count a query as a hit when the ground "
                      "truth beats every distractor of that swap type: chance is 1/(1 + the number of such "
                      "distractors), 25.0 on the paper's design (3 of each type)."
                      if any("Object" in d for d in t.details) else ""))
    solvable, giveaway = [], []
    for c in data_cols:
        ch = t.chance.get(c)
        if ch is None:
            continue
        blind = [r for r in t.rows if r.kind == "blind" and r.values.get(c) is not None]
        above = [r for r in blind if _position(r, c, ch) == "above"]
        below = [r for r in blind if _position(r, c, ch) == "below"]
        tied = [r for r in blind if r.ties.get(c, 0) >= 50]
        if above:
            solvable.append(c)
            out.append(f"{c} is solvable without the image: " + ", ".join(f"{r.label} {_evidence(r, c)}" for r in above)
                       + f" against a chance of {ch:.1f}. Scores on {c} do not measure grounding.")
        if below:
            giveaway.append(c)
            out.append(f"{c}: " + ", ".join(f"{r.label} {_evidence(r, c)}" for r in below)
                       + f" is far below chance ({ch:.1f}) without seeing the image: the candidates still give the "
                         "ground truth away (a blind model that picked the opposite would beat chance).")
        if tied:
            out.append(f"{c}: " + ", ".join(f"{r.label} ties at the top on {r.ties[c]:.0f}% of the rows" for r in tied)
                       + " (a tie is a miss), so its score says only that it cannot tell the candidates apart.")
        if blind and not (above or below) and len(tied) < len(blind):
            out.append(f"{c}: no blind baseline beats chance ("
                       + ", ".join(f"{r.label} {_evidence(r, c)}" for r in blind) + ").")
    for r in t.rows:
        if r.kind != "sanity":
            continue
        for c in data_cols:
            ch = t.chance.get(c)
            if ch is None or r.values.get(c) is None:
                continue
            pos = _position(r, c, ch)
            if r.model == "random":
                out.append(f"{c}: random scores {_evidence(r, c)}, "
                           + ("consistent with chance: the scoring is sound." if pos == "at" else
                              f"{'above' if pos == 'above' else 'below'} chance ({ch:.1f}): check the scoring "
                              "(random must sit at chance)."))
            elif r.model == "constant":
                strict = r.strict.get(c, r.values[c] if r.rule.get(c) == "strict" else None)
                if strict is not None and strict > ch:
                    out.append(f"{c}: constant scores {fmt(strict)} under the strict rule, above chance: ties are "
                               "not counted against the ground truth; the scores are not trustworthy.")
                elif r.rule.get(c) == "strict" and r.ties.get(c, 0) >= 50:
                    out.append(f"{c}: constant ties everywhere and scores {fmt(r.values[c])}: ties count against "
                               "the ground truth, as they must"
                               + (f" (under the paper's tie rule it would score {fmt(r.official[c])}: that rule "
                                  "rewards a model that ties everything, so the baselines here are read under the "
                                  "strict rule)." if r.official.get(c, 0) > ch else "."))
                elif r.rule.get(c) == "official" and r.values[c] > ch:
                    out.append(f"{c}: constant scores {fmt(r.values[c])} under the paper's tie rule and "
                               f"{fmt(strict)} under the strict one: the paper's rule rewards a model that "
                               "ties everything; compare models on the strict score too.")
    for r in t.rows:
        if r.kind != "measured":
            continue
        for c in data_cols:
            ch = t.chance.get(c)
            if ch is None or r.values.get(c) is None:
                continue
            pos = _position(r, c, ch)
            extra = f" ({r.matches}: {r.delta[c]:+.1f} vs the paper)" if c in r.delta else ""
            if c in solvable and pos == "above":
                out.append(f"{c}: {r.label} {_evidence(r, c)} beats chance, but so does a blind baseline: this "
                           f"score does not show grounding{extra}.")
            elif pos == "above":
                out.append(f"{c}: {r.label} {_evidence(r, c)} beats chance{extra}.")
            else:
                out.append(f"{c}: {r.label} {_evidence(r, c)} does not beat chance ({ch:.1f}){extra}.")
    small = dict(sorted({(c, r.n[c]) for r in t.rows for c in data_cols if r.n.get(c) and r.n[c] < 400}))
    if small:
        out.append("Few rows (" + ", ".join(f"{c} {n}" for c, n in small.items()) + "): a score's 95% interval is up "
                   f"to ±{100 * 1.96 * 0.5 / min(small.values()) ** 0.5:.0f} points wide, so smaller differences are "
                   "noise.")
    nxt = []
    if solvable:
        nxt.append(f"rebuild {', '.join(solvable)} with `scar build ... --candidates balanced` (if it was built with "
                   "the paper's design: distractor grids that give the ground truth to no blind model) and audit "
                   "it again (`scar audit DIR`)")
    if giveaway:
        nxt.append(f"look at how the distractors of {', '.join(giveaway)} were drawn (`scar audit DIR` per swap "
                   "type, `scar review DIR`)")
    if not any(r.kind == "measured" for r in t.rows):
        nxt.append("score a model: `scar eval --data DIR --model clip --out RESULTS`, then `scar leaderboard "
                   "RESULTS`")
    if nxt:
        out.append("Next: " + "; ".join(nxt) + ".")
    return out


# -- rendering -----------------------------------------------------------------------------

def fmt(x: float | None) -> str:
    return MISSING if x is None else f"{x:.1f}"


def cell_text(table: Table, r: Row, c: str) -> str:
    """A value as printed: the score, a measured row's strict score beside it where it
    differs, the difference to the matched paper row."""
    s = fmt(r.values.get(c))
    if c in r.strict:
        s += f" · strict {fmt(r.strict[c])}"
    if c in r.delta:
        s += f" ({r.delta[c]:+.1f})"
    return s


def source_text(table: Table, r: Row) -> str:
    """Where a row's numbers come from, and the rule a measured row was scored under when it
    is not the table's."""
    out = r.source + (f"; matches paper row {r.matches}" if r.matches else "")
    if r.kind == "measured" and table.ties == "official" and "strict" in r.rule.values():
        out += "; strict rule only (scar eval --ties official to compare with the paper)"
    return out


def label_text(r: Row) -> str:
    return f"{MEASURED_MARK} {r.label}" if r.kind == "measured" else r.label


def kind_text(r: Row) -> str:
    if r.kind == "sanity":
        return "chance line" if r.model in ("random", "constant") else "sanity"
    return r.kind


def _cells(table: Table, r: Row, bold: bool) -> list[str]:
    out = []
    for c in table.columns:
        v = r.values.get(c)
        s = cell_text(table, r, c)
        if bold and v is not None and r.ranked and table.best.get(c) == v:
            s = f"**{fmt(v)}**" + s[len(fmt(v)):]
        if c in r.flags:
            s += " ⚑"
        out.append(s)
    return out


def md_cell(text: Any) -> str:
    """``text`` safe inside a Markdown table cell: a ``|`` cannot end the cell, a line
    break cannot start a forged row, ``<``/``>`` cannot open HTML (names come from result files)."""
    s = " ".join(str(text).split())
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_markdown(table: Table, title: str | None = None) -> str:
    title = title or {"scar": "SCaR leaderboard", "mmeb": "MMEB leaderboard"}[table.suite]
    head = ["Model", "Kind", *table.columns, "Source"]
    lines = [f"# {title}", "", "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    baseline_started = False
    for r in table.rows:
        if not r.ranked and not baseline_started and table.ranked:
            baseline_started = True
            lines.append("| *baselines (not ranked)* |" + " |" * (len(head) - 1))
        lines.append("| " + " | ".join(md_cell(x) for x in [label_text(r), kind_text(r), *_cells(table, r, True),
                                                             source_text(table, r)]) + " |")
    flagged = [(r, c, n) for r in table.rows for c, n in r.flags.items() if c != "Model"]
    if flagged:
        lines += ["", "⚑ " + "; ".join(md_cell(f"{r.label}, {c}: {n}") for r, c, n in flagged) + "."]
    if table.readings:
        lines += ["", "## Readings", "", *(f"- {md_cell(x)}" for x in table.readings)]
    if table.details:
        cols = list(table.details[0])
        lines += ["", "## Per task", "", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(md_cell(d[c]) for c in cols) + " |" for d in table.details]
    lines += ["", *(f"- {md_cell(n)}" for n in table.notes)]
    return "\n".join(lines) + "\n"


def render_csv(table: Table) -> str:
    """The table as CSV, through its DataFrame (``scar.leaderboard.to_frame``): scores ×100
    with two decimals, empty where there is none."""
    from scar.leaderboard.frame import to_frame

    return to_frame(table).to_csv(index=False, float_format="%.2f", na_rep="", lineterminator="\n")


def table_json(table: Table) -> dict[str, Any]:
    return {"suite": table.suite, "columns": table.columns, "ties": table.ties, "chance": table.chance,
            "best": table.best, "notes": table.notes, "readings": table.readings,
            "rows": [{"model": r.model, "variant": r.variant, "kind": r.kind, "ranked": r.ranked, "source": r.source,
                      "revision": r.revision, "values": r.values, "strict": r.strict, "rule": r.rule,
                      "ci95": {c: list(v) for c, v in r.ci.items()}, "matches": r.matches, "delta": r.delta,
                      "flags": r.flags} for r in table.rows],
            "details": table.details}
