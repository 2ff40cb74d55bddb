"""SCaR tasks read from eval Parquet files (ours or the released ones).

Only the four released columns are needed; ``neg_types`` is used when present
(accuracy per distractor type). The query text follows the official evaluation:
``<|image_1|>`` is stripped (each embedder adds its own image token) and the line
``\\nReferring object bbox: [x1, y1, x2, y2]`` is appended, the corner list printed
the way Python prints a list of the stored numbers.
"""

from __future__ import annotations

import math
import re
from functools import cached_property
from pathlib import Path

import pyarrow.parquet as pq

from scar.schema import IMAGE_TOKEN, check_eval_table
from scar.eval.tasks.base import InputSpec, Query, RowError, Task, TaskMeta
from scar.eval.tasks.images import BadRow, file_sha256, resolve_image
from scar.errors import MissingInput, ScarUserError

_FILE = re.compile(r"^SCaR_eval_(?P<stem>[A-Za-z][A-Za-z0-9_]*)\.parquet$")

__all__ = ["ScarTask", "bbox_line", "query_text", "scar_tasks", "file_sha256"]


def bbox_line(bbox) -> str:
    x, y, w, h = bbox
    return f"\nReferring object bbox: {[x, y, x + w, y + h]}"


def query_text(qry_text: str, bbox) -> str:
    return qry_text.replace(IMAGE_TOKEN, "").strip() + bbox_line(bbox)


def _check_bbox(bbox) -> tuple:
    if bbox is None or len(bbox) != 4:
        raise BadRow("malformed bbox", f"{bbox!r}: need 4 numbers [x, y, w, h]")
    if any(v is None or not math.isfinite(v) for v in bbox) or bbox[2] <= 0 or bbox[3] <= 0:
        raise BadRow("malformed bbox", f"{list(bbox)!r}: need finite numbers with w > 0 and h > 0")
    return tuple(bbox)


def check_candidates(texts) -> list[str]:
    """At least two non-empty strings. A GT (index 0) repeated among the distractors is
    kept here: the harness's tie rule decides (``strict`` leaves the row out)."""
    if texts is None or len(texts) < 2:
        raise BadRow("malformed candidates", f"{0 if texts is None else len(texts)} candidate(s), need at least 2")
    if any(not isinstance(t, str) or not t.strip() for t in texts):
        raise BadRow("malformed candidates", "an empty or missing candidate text")
    return list(texts)


class ScarTask(Task):
    def __init__(self, path: str | Path, image_root: str | Path | None = None, *,
                 dataset_revision: str | None = None, suite: str = "scar") -> None:
        self.path = Path(path)
        m = _FILE.match(self.path.name)
        if not m:
            raise ScarUserError(f"{self.path}: a SCaR eval file is named SCaR_eval_<Source>.parquet")
        if not self.path.is_file():
            raise MissingInput(f"{self.path}: no such file")
        self.image_root = Path(image_root) if image_root else self.path.parent / "images"
        self.meta = TaskMeta(name=f"SCaR_{m['stem']}", suite=suite, dataset=self.path.name,
                             revision=dataset_revision, split="test", meta_task="SCaR",
                             fingerprint=file_sha256(self.path))

    @cached_property
    def _rows(self) -> tuple[list[Query], list[RowError]]:
        table = pq.read_table(self.path)
        check_eval_table(table, str(self.path))
        cols = table.to_pydict()
        types_col = cols.get("neg_types")
        out, errors = [], []
        for i in range(table.num_rows):
            try:
                bbox = _check_bbox(cols["bbox"][i])
                cands = check_candidates(cols["tgt_text"][i])
                types = None
                if types_col is not None and types_col[i] is not None:
                    types = tuple(types_col[i])
                    if len(types) != len(cands) - 1:
                        raise BadRow("malformed candidates",
                                     f"{len(types)} neg_types for {len(cands) - 1} distractors")
                img = resolve_image(self.image_root, cols["qry_image_path"][i])
                q = InputSpec(query_text(cols["qry_text"][i] or "", bbox), img, bbox)
            except BadRow as e:
                errors.append(RowError(i, e.reason, e.detail))
                continue
            out.append(Query(q, tuple(InputSpec(t) for t in cands), types, i))
        return out, errors

    def queries(self) -> list[Query]:
        return self._rows[0]

    def row_errors(self) -> list[RowError]:
        return self._rows[1]


def scar_tasks(data: str | Path, image_root: str | Path | None = None) -> list[ScarTask]:
    """The tasks of one eval file, or of every ``SCaR_eval_*.parquet`` in a folder."""
    data = Path(data)
    if data.is_dir():
        files = sorted(data.glob("SCaR_eval_*.parquet"))
        if not files:
            raise MissingInput(f"{data}: no SCaR_eval_*.parquet files")
        return [ScarTask(f, image_root or data / "images") for f in files]
    return [ScarTask(data, image_root)]
