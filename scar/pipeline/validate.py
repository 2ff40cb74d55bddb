"""``scar validate OUT``: check a SCaR folder against the schema and the invariants.

Eval files (``SCaR_eval_<Source>.parquet``): the released columns with their types; 10
candidates, distinct after normalisation, the GT first; ``neg_types``/``neg_values``
aligned with the 9 distractors and each distractor equal to the GT with exactly the
named element(s) replaced; the box inside the image; the image file present under the
image root (when there is one). Train files (``SCAR_<Source>.parquet``): exactly the
released train columns (the official training loader casts to a fixed feature set), a
positive, a negative that differs from it, the box inside the image, and a sidecar
(``extra/SCAR_<Source>.parquet``) with the same number of rows. Every offending row is
named (file, row number, sample id).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from scar.pipeline.generate.lexical import normalise
from scar.schema import EVAL_RELEASED, N_CANDIDATES, TRAIN_RELEASED, check_eval_table
from scar.types import ELEMENTS

_ALLOWED = set(ELEMENTS)


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


def validate_eval(path: Path, image_root: Path | None) -> list[Problem]:
    name = path.name
    table = pq.read_table(path)
    try:
        check_eval_table(table, name)
    except ValueError as e:
        return [Problem(name, None, None, str(e))]
    out: list[Problem] = []
    cols = table.to_pydict()
    n = table.num_rows
    get = lambda c, i: cols[c][i] if c in cols else None  # noqa: E731
    for i in range(n):
        sid = get("id", i)
        p = lambda msg: out.append(Problem(name, i, sid, msg))  # noqa: E731
        cands = cols["tgt_text"][i] or []
        if len(cands) != N_CANDIDATES:
            p(f"{len(cands)} candidates, need {N_CANDIDATES}")
        norm = [normalise(c) for c in cands]
        if len(set(norm)) != len(norm):
            p("candidates not distinct after normalisation")
        if (m := _box_problem(cols["bbox"][i], get("image_width", i), get("image_height", i))):
            p(m)
        if (m := _image_problem(image_root, cols["qry_image_path"][i])):
            p(m)
        types, values = get("neg_types", i), get("neg_values", i)
        if types is None:
            continue
        if len(types) != len(cands) - 1 or values is None or len(values) != len(types):
            p(f"neg_types/neg_values not aligned with the {len(cands) - 1} distractors")
            continue
        gt = {e: get(f"gt_{e}", i) for e in ELEMENTS}
        for j, (t, v, c) in enumerate(zip(types, values, cands[1:]), start=1):
            parts = t.split("+")
            if not set(parts) <= _ALLOWED:
                p(f"candidate {j}: unknown swap type {t!r}")
                continue
            if None in gt.values():
                continue
            repl = dict(gt)
            for e, val in zip(parts, v.split(" + ")):
                repl[e] = val
            if c != " ".join(repl[e] for e in ELEMENTS):
                p(f"candidate {j} ({t}) is not the GT with only {t} replaced by {v!r}")
        if None not in gt.values() and cands and cands[0] != " ".join(gt[e] for e in ELEMENTS):
            p("tgt_text[0] is not the ground truth gt_object + gt_relation + gt_scene")
    return out


def validate_train(path: Path, image_root: Path | None) -> list[Problem]:
    name = path.name
    table = pq.read_table(path)
    if table.schema.names != TRAIN_RELEASED.names:
        return [Problem(name, None, None, f"columns {table.schema.names}, expected exactly {TRAIN_RELEASED.names}")]
    out: list[Problem] = []
    cols = table.to_pydict()
    side = path.parent / "extra" / path.name
    extra = pq.read_table(side).to_pydict() if side.is_file() else None
    if extra is None:
        out.append(Problem(name, None, None, f"sidecar {side.relative_to(path.parent)} missing"))
    elif len(extra["id"]) != table.num_rows:
        out.append(Problem(name, None, None, f"sidecar has {len(extra['id'])} rows, the train file {table.num_rows}"))
        extra = None
    for i in range(table.num_rows):
        sid = extra["id"][i] if extra else None
        p = lambda msg: out.append(Problem(name, i, sid, msg))  # noqa: E731
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
    return problems


__all__ = ["Problem", "validate_folder", "validate_eval", "validate_train", "EVAL_RELEASED"]
