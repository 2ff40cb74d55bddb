"""Rows under review, the decisions log, and applying decisions to the folder."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scar.build.steps.lexical import normalise
from scar.schema import N_CANDIDATES

ACTIONS = ("accept", "reject", "edit")


@dataclass
class Decision:
    id: str
    action: str
    reason: str = ""
    candidates: list[str] | None = None  # for "edit": the 10 candidates, GT first
    at: float = field(default_factory=time.time)

    def check(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}; use one of {ACTIONS}")
        if self.action == "reject" and not self.reason.strip():
            raise ValueError("a rejection needs a reason")
        if self.action == "edit":
            problem = edit_problem(self.candidates)
            if problem:
                raise ValueError(f"edit refused: {problem}")

    def check_against(self, row: dict[str, Any]) -> None:
        if self.action == "edit":
            _, why = restructure(row, list(self.candidates))
            if why:
                raise ValueError(f"edit refused: {why}")


def edit_problem(cands: list[str] | None) -> str | None:
    if not isinstance(cands, list) or len(cands) != N_CANDIDATES or not all(isinstance(c, str) for c in cands):
        return f"an edit must give {N_CANDIDATES} candidate strings"
    if any(not c.strip() or len(c) > 300 for c in cands):
        return "empty or over-long candidate"
    norm = [normalise(c) for c in cands]
    if len(set(norm)) != len(norm):
        return "candidates not distinct after normalisation"
    return None


class ReviewStore:
    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.files = sorted(self.out.glob("SCaR_eval_*.parquet"))
        if not self.files:
            raise FileNotFoundError(f"{self.out}: no SCaR_eval_*.parquet files to review")
        self.rows: list[dict[str, Any]] = []
        for f in self.files:
            for i, r in enumerate(pq.read_table(f).to_pylist()):
                r["_file"], r["_row"] = f.name, i
                r.setdefault("id", f"{f.stem}#{i}")
                self.rows.append(r)
        self.log = self.out / "review" / "decisions.jsonl"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.decisions: dict[str, Decision] = {}
        if self.log.exists():
            for line in self.log.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    try:
                        d = Decision(**json.loads(line))
                    except (json.JSONDecodeError, TypeError):
                        continue  # a line cut short by a kill: the decision before it stands
                    self.decisions[d.id] = d

    def record(self, d: Decision) -> None:
        d.check()
        row = next((r for r in self.rows if r["id"] == d.id), None)
        if row is None:
            raise KeyError(f"no sample {d.id!r} in {self.out}")
        d.check_against(row)
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(d), sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.decisions[d.id] = d

    def sample(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.rows):
            raise IndexError(f"sample {index} out of range 0..{len(self.rows) - 1}")
        r = self.rows[index]
        d = self.decisions.get(r["id"])
        return {"index": index, "total": len(self.rows), "id": r["id"], "file": r["_file"], "row": r["_row"],
                "image": r["qry_image_path"], "bbox": r["bbox"], "candidates": r["tgt_text"],
                "neg_types": r.get("neg_types"), "category": r.get("category"),
                "decision": asdict(d) if d else None}

    def progress(self) -> dict[str, int]:
        ids = {r["id"] for r in self.rows}
        done = [d for k, d in self.decisions.items() if k in ids]
        return {"total": len(self.rows), "reviewed": len(done),
                **{a: sum(d.action == a for d in done) for a in ACTIONS}}


def restructure(row: dict[str, Any], cands: list[str]) -> tuple[list[str] | None, str | None]:
    """The ``neg_values`` of an edited candidate list, read back from the texts, or a reason
    to refuse the edit. The GT must stay as it is; a single-element distractor must still
    be the GT with only that element replaced (its new value is read from the text)."""
    types, values = row.get("neg_types"), row.get("neg_values")
    gt = [row.get(f"gt_{e}") for e in ("object", "relation", "scene")]
    if types is None or None in gt:
        return values, None  # a released-columns-only file: nothing more to check
    if cands[0] != row["tgt_text"][0]:
        return None, "the ground truth cannot be edited (reject the sample instead)"
    new = []
    for j, (t, v, c) in enumerate(zip(types, values, cands[1:]), start=1):
        if c == row["tgt_text"][j]:
            new.append(v)
            continue
        if "+" in t:
            return None, f"candidate {j} changes several elements ({t}); only single swaps can be edited"
        k = ("object", "relation", "scene").index(t)
        prefix = " ".join(gt[:k]) + (" " if k else "")
        suffix = (" " if k < 2 else "") + " ".join(gt[k + 1:])
        if not (c.startswith(prefix) and c.endswith(suffix)) or len(c) <= len(prefix) + len(suffix):
            return None, f"candidate {j} must keep every element but the {t} verbatim"
        middle = c[len(prefix):len(c) - len(suffix)] if suffix else c[len(prefix):]
        if middle.strip() != middle or not middle or middle == gt[k]:
            return None, f"candidate {j}: the new {t} {middle!r} is empty, padded or the GT's"
        new.append(middle)
    return new, None


def apply_decisions(out: str | Path) -> dict[str, Any]:
    """Apply the decisions to the eval files in place; return counts."""
    store = ReviewStore(out)
    counts = {"rejected": 0, "edited": 0, "refused_edits": 0}
    rej_path = store.out / "rejected" / "review.jsonl"
    rej_path.parent.mkdir(parents=True, exist_ok=True)
    rejected_lines = []
    refused: list[str] = []
    for f in store.files:
        table = pq.read_table(f)
        keep = []
        for r in table.to_pylist():
            rid = r.get("id")
            d = store.decisions.get(rid) if rid else None
            if d and d.action == "reject":
                rejected_lines.append({"step": "review", "reason": f"review: {d.reason}", "sample_id": rid,
                                       "record": r})
                counts["rejected"] += 1
                continue
            if d and d.action == "edit":
                problem = edit_problem(d.candidates)
                values, why = (None, problem) if problem else restructure(r, list(d.candidates))
                if why:
                    counts["refused_edits"] += 1
                    refused.append(f"{rid}: {why}")
                else:
                    r["tgt_text"] = list(d.candidates)
                    if values is not None and "neg_values" in r:
                        r["neg_values"] = values
                    counts["edited"] += 1
            keep.append(r)
        tmp = f.with_name(f.name + ".partial")
        pq.write_table(pa.Table.from_pylist(keep, schema=table.schema), tmp, compression="zstd")
        os.replace(tmp, f)
    with open(rej_path, "a", encoding="utf-8") as fh:
        for line in rejected_lines:
            fh.write(json.dumps(line, sort_keys=True) + "\n")
    counts["refused"] = refused
    return counts
