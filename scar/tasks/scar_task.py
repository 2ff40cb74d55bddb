"""SCaR tasks read from eval Parquet files (ours or the released ones).

Only the four released columns are needed; ``neg_types`` is used when present
(accuracy per distractor type). The query text follows the official evaluation:
``<|image_1|>`` is stripped (each embedder adds its own image token) and the line
``\\nReferring object bbox: [x1, y1, x2, y2]`` is appended, the corner list printed
the way Python prints a list of the stored numbers.
"""

from __future__ import annotations

import hashlib
import re
from functools import cached_property
from pathlib import Path

import pyarrow.parquet as pq

from scar.schema import IMAGE_TOKEN, check_eval_table
from scar.tasks.base import InputSpec, Query, Task, TaskMeta

_FILE = re.compile(r"^SCaR_eval_(?P<stem>[A-Za-z][A-Za-z0-9_]*)\.parquet$")


def bbox_line(bbox) -> str:
    x, y, w, h = bbox
    return f"\nReferring object bbox: {[x, y, x + w, y + h]}"


def query_text(qry_text: str, bbox) -> str:
    return qry_text.replace(IMAGE_TOKEN, "").strip() + bbox_line(bbox)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ScarTask(Task):
    def __init__(self, path: str | Path, image_root: str | Path | None = None) -> None:
        self.path = Path(path)
        m = _FILE.match(self.path.name)
        if not m:
            raise ValueError(f"{self.path}: a SCaR eval file is named SCaR_eval_<Source>.parquet")
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such file")
        self.image_root = Path(image_root) if image_root else self.path.parent / "images"
        self.meta = TaskMeta(name=f"SCaR_{m['stem']}", suite="scar", dataset=self.path.name,
                             revision=file_sha256(self.path)[:16], split="test", meta_task="SCaR")

    @cached_property
    def _queries(self) -> list[Query]:
        table = pq.read_table(self.path)
        check_eval_table(table, str(self.path))
        cols = table.to_pydict()
        has_types = "neg_types" in cols
        out = []
        for i in range(table.num_rows):
            bbox = tuple(cols["bbox"][i])
            cands = cols["tgt_text"][i]
            if len(bbox) != 4:
                raise ValueError(f"{self.path}: row {i}: bbox has {len(bbox)} numbers, need 4")
            if len(cands) < 2:
                raise ValueError(f"{self.path}: row {i}: tgt_text has {len(cands)} candidates")
            q = InputSpec(query_text(cols["qry_text"][i], bbox),
                          str(self.image_root / cols["qry_image_path"][i]), bbox)
            types = tuple(cols["neg_types"][i]) if has_types and cols["neg_types"][i] is not None else None
            out.append(Query(q, tuple(InputSpec(t) for t in cands), types))
        return out

    def queries(self) -> list[Query]:
        return self._queries


def scar_tasks(data: str | Path, image_root: str | Path | None = None) -> list[ScarTask]:
    """The tasks of one eval file, or of every ``SCaR_eval_*.parquet`` in a folder."""
    data = Path(data)
    if data.is_dir():
        files = sorted(data.glob("SCaR_eval_*.parquet"))
        if not files:
            raise FileNotFoundError(f"{data}: no SCaR_eval_*.parquet files")
        return [ScarTask(f, image_root or data / "images") for f in files]
    return [ScarTask(data, image_root)]
