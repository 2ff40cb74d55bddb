"""The build loop: source groups -> steps (any engine) -> shards -> the final files.

Rows are turned into the released schema of the split (eval: ``SCaR_eval_<Source>``;
train: ``SCAR_<Source>`` + its ``extra/`` sidecar) shard by shard, so memory stays at one
shard and a killed build resumes (``scar.build.writer``).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from tqdm.auto import tqdm

from scar.build.base import Group, StepStats
from scar.build.engines.local import GroupResult
from scar.build.writer import ShardedRun, atomic_write_lines
from scar.schema import EVAL_SCHEMA, TRAIN_EXTRA, TRAIN_RELEASED, eval_row, train_rows
from scar.types import Sample

log = logging.getLogger(__name__)


@dataclass
class RunTotals:
    rows: int = 0
    rejected: int = 0
    stats: dict[str, StepStats] = field(default_factory=dict)
    provenance: dict[str, dict[str, int]] = field(default_factory=dict)


def _stats_json(stats: dict[str, StepStats]) -> dict[str, Any]:
    return {k: {"n_in": v.n_in, "n_out": v.n_out, "seconds": v.seconds, "rejected": v.rejected,
                "counters": dict(getattr(v, "counters", {}) or {})} for k, v in stats.items()}


def _stats_from(d: dict[str, Any]) -> dict[str, StepStats]:
    out = {}
    for k, v in d.items():
        st = StepStats(n_in=v["n_in"], n_out=v["n_out"], seconds=v["seconds"], rejected=dict(v["rejected"]))
        if hasattr(st, "counters"):
            st.counters.update(v.get("counters", {}))
        out[k] = st
    return out


class ShardBuffer:
    """Rows, rejects and counts of the shard being built."""

    def __init__(self, split: str, prefix: str) -> None:
        self.split, self.prefix = split, prefix
        self.images = 0
        self.rows: list[dict[str, Any]] = []
        self.extra: list[dict[str, Any]] = []
        self.rejects: list[dict[str, Any]] = []
        self.stats: dict[str, StepStats] = {}
        self.provenance: dict[str, dict[str, int]] = {}

    def add(self, res: GroupResult) -> None:
        self.images += res.n_images
        for s in res.samples:
            self._add_sample(s)
        for k, v in res.stats.items():
            if k not in self.stats:  # (setdefault would make a StepStats per step per group)
                self.stats[k] = StepStats()
            self.stats[k].add(v)
        self.rejects += [r.to_json() for r in res.rejections]

    def _add_sample(self, s: Sample) -> None:
        if self.split == "val":
            self.rows.append(eval_row(s, self.prefix))
        else:
            row, extra = train_rows(s, self.prefix)
            self.rows.append(row)
            self.extra.append(extra)
        for el in ("object", "relation", "scene"):
            p = self.provenance.setdefault(el, {})
            prov = s.element(el).provenance
            p[prov] = p.get(prov, 0) + 1

    def tables(self) -> dict[str, pa.Table]:
        if self.split == "val":
            return {"main": pa.Table.from_pylist(self.rows, schema=EVAL_SCHEMA)}
        return {"main": pa.Table.from_pylist(self.rows, schema=TRAIN_RELEASED),
                "extra": pa.Table.from_pylist(self.extra, schema=TRAIN_EXTRA)}

    def meta(self) -> dict[str, Any]:
        return {"rows": len(self.rows), "images": self.images, "stats": _stats_json(self.stats), "provenance": self.provenance}


def run_sharded(groups: Iterable[Group], process: Callable[[Iterator[Group]], Iterator[GroupResult]],
                run: ShardedRun, *, split: str, prefix: str, progress: bool = True, desc: str = "build") -> None:
    """Process every group of the shards not yet done and record each finished shard.

    ``process`` maps an iterator of groups to an iterator of results in the same order
    (the engine). A group belongs to shard ``group.index // run.shard_size``: shards count
    images, whether a group holds one image or a window of them."""

    def todo() -> Iterator[Group]:
        for g in groups:
            if not run.is_done(run.shard_of(g.index)):
                yield g

    bar = tqdm(desc=desc, unit="img", disable=not progress)
    if run.done:
        log.info("resuming: %d finished shard(s) kept", len(run.done))
    current, buf = None, None
    for res in process(todo()):
        shard = run.shard_of(res.index)
        if shard != current:
            if buf is not None:
                run.finish_shard(current, buf.tables(), buf.rejects, buf.meta())
            current, buf = shard, ShardBuffer(split, prefix)
        buf.add(res)
        bar.update(res.n_images)
        if run.shard_of(res.index + res.n_images) != shard:  # the shard's last image: written now,
            run.finish_shard(current, buf.tables(), buf.rejects, buf.meta())  # not after the next window
            current, buf = None, None
    if buf is not None:
        run.finish_shard(current, buf.tables(), buf.rejects, buf.meta())
    bar.close()


def finish(run: ShardedRun, *, split: str, target: Path, rejects_path: Path, source_rejects: Iterable[str]) -> RunTotals:
    """Concatenate the shards into the final file(s) and rejects; sum the counts."""
    tot = RunTotals()
    if split == "val":
        tot.rows = run.concat("main", EVAL_SCHEMA, target)
    else:
        tot.rows = run.concat("main", TRAIN_RELEASED, target)
        run.concat("extra", TRAIN_EXTRA, target.parent / "extra" / target.name)
    rejects_path.parent.mkdir(parents=True, exist_ok=True)  # streamed: rejects are not held in memory
    tot.rejected = atomic_write_lines(rejects_path, itertools.chain(run.rejects(), source_rejects))
    for meta in run.stats():
        for k, v in _stats_from(meta["stats"]).items():
            tot.stats.setdefault(k, StepStats()).add(v)
        for el, counts in meta["provenance"].items():
            p = tot.provenance.setdefault(el, {})
            for prov, n in counts.items():
                p[prov] = p.get(prov, 0) + n
    return tot


def source_reject_lines(rejections) -> Iterator[str]:
    return (json.dumps(r.to_json(), sort_keys=True) for r in rejections)
