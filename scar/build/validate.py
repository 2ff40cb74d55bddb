"""``scar validate OUT``: check a SCaR folder against the schema and the invariants.

Eval files (``SCaR_eval_<Source>.parquet``): the released columns with their types; the
candidate rules the build's filter applies (``scar/build/filters/candidates.py``: 10
candidates, distinct after normalisation, the GT first, each distractor equal to the GT
with exactly the named element(s) replaced, no template leaks); the box inside the image;
the image file present under the image root (when there is one). Train files (``SCAR_<Source>.parquet``): exactly the
released train columns (the official training loader casts to a fixed feature set), a
positive, a negative that differs from it, the box inside the image, and a sidecar
(``extra/SCAR_<Source>.parquet``) with the same number of rows. Every offending row is
named (file, row number, sample id). A folder scar built (with ``card.json``) also has its
dataset card checked against the files: a config per file, the row counts, the Hub metadata.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from scar.build.filters.candidates import candidate_problems
from scar.build.steps.lexical import normalise
from scar.schema import EVAL_RELEASED, TRAIN_RELEASED, check_eval_table
from scar.types import ELEMENTS

BATCH = 1024  # rows checked at a time: memory does not grow with the file


@dataclass
class Problem:
    file: str
    row: int | None
    sample_id: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}: row {self.row}"
        return f"{where}{f' ({self.sample_id})' if self.sample_id else ''}: {self.message}"


def _box_problem(bbox, width, height) -> str | None:
    if bbox is None or len(bbox) != 4:
        return f"bbox {bbox!r} is not 4 numbers"
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        return f"bbox {list(bbox)} has no area"
    if width and height and (x < 0 or y < 0 or x + w > width + 0.5 or y + h > height + 0.5):
        return f"bbox {list(bbox)} leaves the {width}x{height} image"
    return None


def _image_problem(root: Path | None, rel: str) -> str | None:
    if root is None:
        return None
    rel_path = Path(os.path.normpath(rel))
    if rel_path.is_absolute() or rel_path.parts[:1] == ("..",):
        return f"qry_image_path {rel!r} leaves the image root"
    path = root / rel_path  # links inside the root may point anywhere (--link-images)
    if not path.is_file():
        return f"image {rel} not found under {root}"
    return None


def _batches(pf: pq.ParquetFile, columns: list[str] | None = None):
    """(first row number, columns as lists) of each batch: memory stays at one batch."""
    start = 0
    for b in pf.iter_batches(batch_size=BATCH, columns=columns):
        yield start, b.to_pydict()
        start += b.num_rows


class _Cursor:
    """The rows of a Parquet file handed out in runs of any length (memory: one batch)."""

    def __init__(self, pf: pq.ParquetFile, columns: list[str]) -> None:
        self.batches, self.buf, self.pos, self.n = pf.iter_batches(batch_size=BATCH, columns=columns), {}, 0, 0

    def take(self, k: int) -> dict[str, list]:
        out: dict[str, list] = {}
        while k > 0:
            if self.pos == self.n:
                b = next(self.batches)
                self.buf, self.pos, self.n = b.to_pydict(), 0, b.num_rows
            m = min(k, self.n - self.pos)
            for c, v in self.buf.items():
                out.setdefault(c, []).extend(v[self.pos:self.pos + m])
            self.pos, k = self.pos + m, k - m
        return out


def validate_eval(path: Path, image_root: Path | None) -> list[Problem]:
    name = path.name
    pf = pq.ParquetFile(path)
    try:
        check_eval_table(pf.schema_arrow.empty_table(), name)
    except ValueError as e:
        return [Problem(name, None, None, str(e))]
    out: list[Problem] = []
    columns = [c for c in pf.schema_arrow.names if c in _EVAL_CHECKED]  # the masks and texts unread
    for start, cols in _batches(pf, columns):
        out += _eval_rows(name, start, cols, image_root)
    return out


#: The eval columns the row checks read.
_EVAL_CHECKED = frozenset({"id", "tgt_text", "bbox", "image_width", "image_height", "qry_image_path", "neg_types",
                           "neg_values", *(f"gt_{e}" for e in ELEMENTS)})


def _eval_rows(name: str, start: int, cols: dict[str, list], image_root: Path | None) -> list[Problem]:
    out: list[Problem] = []
    n = len(cols["tgt_text"])
    absent = [None] * n  # a column the file lacks reads as None in every row
    ids, widths, heights = (cols.get(c, absent) for c in ("id", "image_width", "image_height"))
    types, values = cols.get("neg_types", absent), cols.get("neg_values", absent)
    gts = [cols.get(f"gt_{e}", absent) for e in ELEMENTS]
    for i, (cands, bbox, rel) in enumerate(zip(cols["tgt_text"], cols["bbox"], cols["qry_image_path"])):
        sid = ids[i]
        found = []
        if (m := _box_problem(bbox, widths[i], heights[i])):
            found.append(m)
        if (m := _image_problem(image_root, rel)):
            found.append(m)
        gt = {e: g[i] for e, g in zip(ELEMENTS, gts)}
        for j, msg in candidate_problems(cands or [], types[i], values[i], gt):
            found.append(msg if j is None else f"candidate {j}: {msg}")
        out += [Problem(name, start + i, sid, m) for m in found]
    return out


def validate_train(path: Path, image_root: Path | None) -> list[Problem]:
    name = path.name
    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    if names != TRAIN_RELEASED.names:
        return [Problem(name, None, None, f"columns {names}, expected exactly {TRAIN_RELEASED.names}")]
    out: list[Problem] = []
    n_rows = pf.metadata.num_rows
    side = path.parent / "extra" / path.name
    side_pf = pq.ParquetFile(side) if side.is_file() else None
    if side_pf is None:
        out.append(Problem(name, None, None, f"sidecar {side.relative_to(path.parent)} missing"))
    elif side_pf.metadata.num_rows != n_rows:
        out.append(Problem(name, None, None, f"sidecar has {side_pf.metadata.num_rows} rows, the train file {n_rows}"))
        side_pf = None
    elif (gone := [c for c in ("id", "image_width", "image_height") if c not in side_pf.schema_arrow.names]):
        out.append(Problem(name, None, None, f"sidecar {side.relative_to(path.parent)} lacks column(s) {gone}"))
        side_pf = None
    side_rows = _Cursor(side_pf, ["id", "image_width", "image_height"]) if side_pf is not None else None
    for start, cols in _batches(pf):
        extra = side_rows.take(len(cols["pos_text"])) if side_rows is not None else None
        out += _train_rows(name, start, cols, extra, image_root)
    return out


def _train_rows(name: str, start: int, cols: dict[str, list], extra: dict[str, list] | None,
                image_root: Path | None) -> list[Problem]:
    out: list[Problem] = []
    for i in range(len(cols["pos_text"])):
        sid = extra["id"][i] if extra else None
        p = lambda msg: out.append(Problem(name, start + i, sid, msg))  # noqa: E731
        if not cols["pos_text"][i]:
            p("empty pos_text")
        if cols["neg_text"][i] and normalise(cols["neg_text"][i]) == normalise(cols["pos_text"][i] or ""):
            p("neg_text equals pos_text")
        w = extra["image_width"][i] if extra else None
        h = extra["image_height"][i] if extra else None
        if (m := _box_problem(cols["bbox"][i], w, h)):
            p(m)
        if (m := _image_problem(image_root, cols["qry_image_path"][i])):
            p(m)
    return out


def validate_folder(out: str | Path, image_root: str | Path | None = None) -> list[Problem]:
    """All problems of the SCaR files in ``out``. Images are checked under ``image_root``
    (default ``OUT/images`` when it exists)."""
    out = Path(out)
    if not out.is_dir():
        raise FileNotFoundError(f"{out}: no such folder")
    root = Path(image_root) if image_root else (out / "images" if (out / "images").is_dir() else None)
    evals = sorted(out.glob("SCaR_eval_*.parquet"))
    trains = sorted(out.glob("SCAR_*.parquet"))
    if not evals and not trains:
        raise FileNotFoundError(f"{out}: no SCaR_eval_*.parquet or SCAR_*.parquet files")
    problems: list[Problem] = []
    for f in evals:
        problems += validate_eval(f, root)
    for f in trains:
        problems += validate_train(f, root)
    if (out / "card.json").is_file():  # built by scar: the card must say what the files hold
        from scar.build.card import card_problems

        problems += [Problem("README.md", None, None, m) for m in card_problems(out)]
    return problems


__all__ = ["Problem", "validate_folder", "validate_eval", "validate_train", "EVAL_RELEASED"]
