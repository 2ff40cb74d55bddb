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
from scar.build.writer import atomic_write_bytes
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
        gt = r["tgt_text"][0] if r["tgt_text"] else ""
        return {"index": index, "total": len(self.rows), "id": r["id"], "file": r["_file"], "row": r["_row"],
                "image": r["qry_image_path"], "bbox": r["bbox"], "candidates": r["tgt_text"],
                "changed": [changed_span(gt, c) for c in r["tgt_text"]],
                "neg_types": r.get("neg_types"), "neg_values": r.get("neg_values"), "category": r.get("category"),
                "phrase": r.get("phrase"), "source": r.get("source"), "image_id": r.get("image_id"),
                "provenance": {e: r.get(f"{e}_provenance") for e in ("object", "relation", "scene")
                               if r.get(f"{e}_provenance") is not None},
                "decision": asdict(d) if d else None}

    def first_undecided(self) -> int:
        """The index of the first sample without a decision (the last one when all have one)."""
        return next((i for i, r in enumerate(self.rows) if r["id"] not in self.decisions), len(self.rows) - 1)

    def progress(self) -> dict[str, int]:
        ids = {r["id"] for r in self.rows}
        done = [d for k, d in self.decisions.items() if k in ids]
        return {"total": len(self.rows), "reviewed": len(done), "first_undecided": self.first_undecided(),
                **{a: sum(d.action == a for d in done) for a in ACTIONS}}


def changed_span(gt: str, cand: str) -> list[int] | None:
    """``[start, end]`` character offsets of the words of ``cand`` that differ from the
    ground truth ``gt`` (the words between their longest common word prefix and suffix),
    so the page can highlight a swap; None for the GT itself."""
    if cand == gt:
        return None
    a, b = gt.split(" "), cand.split(" ")
    pre = 0
    while pre < min(len(a), len(b)) and a[pre] == b[pre]:
        pre += 1
    suf = 0
    while suf < min(len(a), len(b)) - pre and a[-1 - suf] == b[-1 - suf]:
        suf += 1
    start = sum(len(w) + 1 for w in b[:pre])
    end = len(cand) - sum(len(w) + 1 for w in b[len(b) - suf:]) if suf else len(cand)
    return [start, max(start, end)]


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


JOURNAL = "apply.json"  # OUT/review/apply.json: the staged files of an apply in progress
STAGED = ".review-new"  # suffix of a staged eval file (its replacement)


def _fsync_write(path: Path, data: bytes) -> None:
    """Write ``path`` atomically and durably (the writer's temporary file, fsync and rename,
    then fsync the folder so the rename itself survives a crash)."""
    atomic_write_bytes(path, data)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _finish_staged(out: Path) -> int:
    """Complete an apply that was interrupted after its commit point (the journal):
    move every staged file still there over its eval file. Returns how many moved."""
    journal = out / "review" / JOURNAL
    if not journal.exists():
        for stale in out.glob(f"SCaR_eval_*.parquet{STAGED}"):  # staged before the commit point: redo
            stale.unlink()
        return 0
    moved = 0
    for name in json.loads(journal.read_text(encoding="utf-8"))["files"]:
        staged = out / (name + STAGED)
        if staged.exists():
            os.replace(staged, out / name)
            moved += 1
    _fsync_dir(out)
    journal.unlink()
    return moved


def apply_decisions(out: str | Path) -> dict[str, Any]:
    """Apply the decisions to the eval files in place; return counts.

    Nothing is lost whenever it is interrupted (``kill -9``, a full disk, an error):

    1. every changed eval file is written beside itself (``<file>.review-new``, fsynced);
    2. the rejected rows are added to ``rejected/review.jsonl`` (rewritten atomically,
       one line per sample id, so a re-run adds none twice): durable before any eval
       file is replaced;
    3. ``review/apply.json`` lists the staged files (the commit point);
    4. each staged file replaces its eval file (an atomic rename per file);
    5. the dataset card (``README.md``) is re-rendered with the new row counts, and the
       journal removed.

    A re-run finishes an apply interrupted after step 3 and redoes one interrupted
    before it (a rejected row is then either still in its file or already in
    ``rejected/review.jsonl``, never in neither)."""
    out = Path(out)
    resumed = _finish_staged(out)
    store = ReviewStore(out)
    counts: dict[str, Any] = {"rejected": 0, "edited": 0, "refused_edits": 0, "resumed_files": resumed}
    rej_path = store.out / "rejected" / "review.jsonl"
    rejected_lines: list[dict[str, Any]] = []
    refused: list[str] = []
    staged: list[str] = []
    for f in store.files:
        table = pq.read_table(f)
        keep, changed = [], False
        for r in table.to_pylist():
            rid = r.get("id")
            d = store.decisions.get(rid) if rid else None
            if d and d.action == "reject":
                rejected_lines.append({"step": "review", "reason": f"review: {d.reason}", "sample_id": rid,
                                       "record": r})
                counts["rejected"] += 1
                changed = True
                continue
            if d and d.action == "edit":
                problem = edit_problem(d.candidates)
                values, why = (None, problem) if problem else restructure(r, list(d.candidates))
                if why:
                    counts["refused_edits"] += 1
                    refused.append(f"{rid}: {why}")
                else:
                    changed = changed or r["tgt_text"] != list(d.candidates) or (
                        values is not None and r.get("neg_values") != values)
                    r["tgt_text"] = list(d.candidates)
                    if values is not None and "neg_values" in r:
                        r["neg_values"] = values
                    counts["edited"] += 1
            keep.append(r)
        if changed:
            tmp = f.with_name(f.name + STAGED)
            pq.write_table(pa.Table.from_pylist(keep, schema=table.schema), tmp, compression="zstd")
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            staged.append(f.name)
    if rejected_lines:
        rej_path.parent.mkdir(parents=True, exist_ok=True)
        old = rej_path.read_bytes() if rej_path.exists() else b""
        seen = set()
        for line in old.decode("utf-8").splitlines():
            try:
                seen.add(json.loads(line).get("sample_id"))
            except (json.JSONDecodeError, AttributeError):
                pass
        new = "".join(json.dumps(x, sort_keys=True) + "\n" for x in rejected_lines if x["sample_id"] not in seen)
        if old and not old.endswith(b"\n"):
            old += b"\n"
        _fsync_write(rej_path, old + new.encode("utf-8"))
    if staged:
        _fsync_write(store.out / "review" / JOURNAL, json.dumps({"files": staged}).encode())
        _finish_staged(store.out)
    _refresh_card(store.out)  # also after a re-run that found the files already replaced
    counts["refused"] = refused
    return counts


def _refresh_card(out: Path) -> None:
    """Re-render the dataset card from the files (``scar.build.card.regenerate``: row and
    image counts, ``num_bytes``), so ``load_dataset`` and ``scar validate`` agree with them."""
    from scar.build.card import regenerate

    regenerate(out)
