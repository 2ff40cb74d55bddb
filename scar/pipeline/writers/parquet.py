"""Write the eval Parquet file in the released schema (plus our extra columns)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from scar.schema import EVAL_SCHEMA, eval_row
from scar.types import Sample

log = logging.getLogger(__name__)


class EvalWriter:
    """Streams samples into ``path`` in row groups; the file appears atomically on close."""

    def __init__(self, path: str | Path, image_prefix: str, rows_per_group: int = 1000) -> None:
        self.path = Path(path)
        self.image_prefix = image_prefix
        self.rows_per_group = rows_per_group
        self._tmp = self.path.with_suffix(".parquet.partial")
        self._buf: list[dict] = []
        self._writer: pq.ParquetWriter | None = None
        self.n = 0

    def __enter__(self) -> EvalWriter:
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, samples: Iterable[Sample]) -> None:
        for s in samples:
            self._buf.append(eval_row(s, self.image_prefix))
            if len(self._buf) >= self.rows_per_group:
                self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, EVAL_SCHEMA, compression="zstd")
        self._writer.write_table(pa.Table.from_pylist(self._buf, schema=EVAL_SCHEMA))
        self.n += len(self._buf)
        self._buf = []

    def close(self) -> Path:
        self._flush()
        if self._writer is None:  # no rows: still write a valid, empty file
            self.path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(EVAL_SCHEMA.empty_table(), self._tmp, compression="zstd")
        else:
            self._writer.close()
        os.replace(self._tmp, self.path)
        log.info("wrote %d rows to %s", self.n, self.path)
        return self.path

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._tmp.unlink(missing_ok=True)


def write_eval(samples: Iterable[Sample], path: str | Path, image_prefix: str) -> Path:
    with EvalWriter(path, image_prefix) as w:
        w.write(samples)
    return w.path
