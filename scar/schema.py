"""The Parquet/Arrow schema of SCaR files: the single source of truth.

The released columns come first, exactly as the official loaders read them
(docs/benchmark.md, "The files"); our extra columns follow. Every writer and reader in the
package uses these definitions.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from scar.types import Sample

IMAGE_TOKEN = "<|image_1|>"
#: The query instruction of the released eval files (the demo instruction of the paper).
SCAR_INSTRUCTION = (
    "Find the caption that best describes the object in the bounding box, "
    "considering both local details and global context in the given image."
)
QRY_TEXT = f"{IMAGE_TOKEN} {SCAR_INSTRUCTION}"
N_CANDIDATES = 10
N_NEGATIVES = N_CANDIDATES - 1

_RLE = pa.struct([("size", pa.list_(pa.int32())), ("counts", pa.string())])

#: Columns of the released eval files, in order.
EVAL_RELEASED = pa.schema(
    [
        ("qry_text", pa.string()),
        ("qry_image_path", pa.string()),
        ("tgt_text", pa.list_(pa.string())),
        ("bbox", pa.list_(pa.float64())),
    ]
)

#: Our extra eval columns, after the released ones.
EVAL_EXTRA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("split", pa.string()),
        ("image_id", pa.string()),
        ("image_width", pa.int32()),
        ("image_height", pa.int32()),
        ("category", pa.string()),
        ("phrase", pa.string()),
        ("gt_object", pa.string()),
        ("gt_relation", pa.string()),
        ("gt_scene", pa.string()),
        ("neg_types", pa.list_(pa.string())),
        ("neg_values", pa.list_(pa.string())),
        ("object_provenance", pa.string()),
        ("relation_provenance", pa.string()),
        ("scene_provenance", pa.string()),
        ("segmentation", _RLE),
    ]
)

EVAL_SCHEMA = pa.schema(list(EVAL_RELEASED) + list(EVAL_EXTRA))

#: Columns of the released train files, in order. The official training loader removes
#: the columns it does not use by name and then casts to a fixed feature set, so a train
#: file must carry these columns only: our extra columns go to a sidecar file with the
#: same row order (``extra/SCAR_<Source>.parquet``, see TRAIN_EXTRA).
TRAIN_RELEASED = pa.schema(
    [
        ("qry", pa.string()),
        ("qry_image_path", pa.string()),
        ("pos_text", pa.string()),
        ("pos_image_path", pa.string()),
        ("bbox", pa.list_(pa.float64())),
        ("segmentation", _RLE),
        ("category", pa.string()),
        ("image_id", pa.string()),
        ("neg_text", pa.string()),
    ]
)
#: The train sidecar: row i describes row i of the train file.
TRAIN_EXTRA = pa.schema(
    [("id", pa.string()), ("neg_texts", pa.list_(pa.string()))]
    + [f for f in EVAL_EXTRA if f.name not in ("id", "category", "image_id", "segmentation")]
)


def image_path(prefix: str, split: str, file_name: str) -> str:
    """Image path relative to the image root: ``<prefix>_<split>/<file>``."""
    return f"{prefix}_{split}/{file_name}"


def eval_row(sample: Sample, image_prefix: str) -> dict[str, Any]:
    """The eval-file row of a finished sample. Raises ValueError naming the sample
    when it is not complete (every element set, 10 candidates)."""
    missing = [n for n in ("object", "relation", "scene") if sample.element(n) is None]
    if missing:
        raise ValueError(f"sample {sample.id}: missing element(s) {missing}")
    if len(sample.candidates) != N_CANDIDATES:
        raise ValueError(f"sample {sample.id}: {len(sample.candidates)} candidates, need {N_CANDIDATES}")
    if sample.candidates[0].neg_type is not None:
        raise ValueError(f"sample {sample.id}: candidate 0 must be the ground truth")
    negs = sample.candidates[1:]
    if any(c.neg_type is None or c.neg_value is None for c in negs):
        raise ValueError(f"sample {sample.id}: every distractor needs neg_type and neg_value")
    return {
        "qry_text": QRY_TEXT,
        "qry_image_path": image_path(image_prefix, sample.split, sample.file_name),
        "tgt_text": [c.text for c in sample.candidates],
        "bbox": [float(v) for v in sample.region.bbox],
        "id": sample.id,
        "source": sample.source,
        "split": sample.split,
        "image_id": str(sample.image_id),
        "image_width": int(sample.width),
        "image_height": int(sample.height),
        "category": sample.region.category,
        "phrase": sample.phrase,
        "gt_object": sample.object.text,
        "gt_relation": sample.relation.text,
        "gt_scene": sample.scene.text,
        "neg_types": [c.neg_type for c in negs],
        "neg_values": [c.neg_value for c in negs],
        "object_provenance": sample.object.provenance,
        "relation_provenance": sample.relation.provenance,
        "scene_provenance": sample.scene.provenance,
        "segmentation": _rle(sample.region.mask),
    }


def train_rows(sample: Sample, image_prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(train-file row, sidecar row) of a finished sample. ``neg_text`` (one string, as the
    official training loader reads it) is one of the 9 distractors, picked by a hash of
    the sample id so that the three swap types are used evenly; all 9 are in the sidecar."""
    import hashlib

    ev = eval_row(sample, image_prefix)
    pick = int.from_bytes(hashlib.sha256(sample.id.encode()).digest()[:4], "big") % N_NEGATIVES
    row = {"qry": ev["qry_text"], "qry_image_path": ev["qry_image_path"], "pos_text": ev["tgt_text"][0],
           "pos_image_path": "", "bbox": ev["bbox"], "segmentation": ev["segmentation"],
           "category": ev["category"], "image_id": ev["image_id"], "neg_text": ev["tgt_text"][1 + pick]}
    extra = {f.name: ev[f.name] for f in TRAIN_EXTRA if f.name in ev}
    extra["neg_texts"] = ev["tgt_text"][1:]
    return row, extra


def _rle(mask: dict[str, Any] | None) -> dict[str, Any] | None:
    if mask is None:
        return None
    counts = mask["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    elif not isinstance(counts, str):  # uncompressed RLE: keep it readable as JSON
        counts = json.dumps(counts)
    return {"size": [int(v) for v in mask["size"]], "counts": counts}


def check_eval_table(table: pa.Table, where: str = "table") -> None:
    """Raise ValueError naming the file and column when the released columns are
    missing or mistyped. Extra columns are allowed (and optional) on read."""
    for f in EVAL_RELEASED:
        if f.name not in table.column_names:
            raise ValueError(f"{where}: missing released column {f.name!r} (has {table.column_names})")
        got = table.schema.field(f.name).type
        ok = got == f.type or (f.name == "bbox" and pa.types.is_list(got) and pa.types.is_integer(got.value_type)) \
            or (f.name == "tgt_text" and pa.types.is_list(got) and pa.types.is_large_string(got.value_type)) \
            or (f.name in ("qry_text", "qry_image_path") and pa.types.is_large_string(got))
        if not ok:
            raise ValueError(f"{where}: column {f.name!r} has type {got}, expected {f.type}")
