"""Streaming builds: memory grows with the annotation index, not with the samples written.

Measured in a fresh Python process with tracemalloc (Python allocations), after a warm-up
build of the same data (imports, WordNet, lexicon caches) that is not measured: two builds over the SAME annotation index,
one stopping after N samples (``limit``) and one writing all 4N, must have about the same
peak; and the shards must be written as they fill (each flush happens after reading at
most one shard's images and one more), with the memory still reachable at the last flush
about what it was at the first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scar.testing.synthetic import write_synthetic_coco
from support import cfg, stalled_build

SCRIPT = r"""
import gc, json, sys, tracemalloc
from pathlib import Path
import scar.build.base as base
import scar.build.writer as shards
import scar.build.validate as validate
from scar.build.config import BuildConfig
from scar.build.pipeline import build

def cfg(out, **source):
    return BuildConfig(source={"name": "coco", "root": root, "split": "val", **source},
                       engine={"shard_size": shard}, output={"dir": out, "progress": False})

root, out, shard, small = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
validate.BATCH = 128  # a few validation batches even in this small file
pulled, flushes = [0], []
read_groups = base.Source.groups

def counted_groups(self, limit=None):
    for g in read_groups(self, limit):
        pulled[0] += 1
        yield g

finish_shard = shards.ShardedRun.finish_shard

def recorded_finish(self, shard_index, *a, **k):
    held = None
    if shard_index % 8 == 1:  # now and then (a full collection over WordNet's objects is slow):
        gc.collect()  # what is still reachable, not garbage awaiting the collector
        held = tracemalloc.get_traced_memory()[0]
    flushes.append([shard_index, pulled[0], held])
    return finish_shard(self, shard_index, *a, **k)

base.Source.groups = counted_groups
shards.ShardedRun.finish_shard = recorded_finish
build(cfg(out / "warm"))  # imports, WordNet, lexicon caches: not measured
# The interpreter's table of interned strings (path parts, names) only grows, by doubling: one
# build or the other may cross its next step and show a one-off allocation of megabytes that
# has nothing to do with samples. Grow it now, far past what two builds add.
keep = [sys.intern(f"scar-interned-{i}") for i in range(300_000)]
res = {}
for name, limit in (("limit", small), ("all", None)):
    pulled[0] = 0
    flushes.clear()
    tracemalloc.start()
    rep = build(cfg(out / name, limit=limit))
    res[name] = {"rows": rep.rows, "peak": tracemalloc.get_traced_memory()[1], "flushes": list(flushes)}
    tracemalloc.stop()
print(json.dumps(res))
"""


def test_shards_are_on_disk_while_the_build_runs(tmp_path):
    """Written as they fill: a build stopped after its 2nd shard (of 4) has those two shards'
    rows on disk, and no final file yet."""
    root = write_synthetic_coco(tmp_path / "src", n_images=16, seed=7)
    proc, work = stalled_build(cfg("coco", root, "val", tmp_path / "out", engine={"shard_size": 4}), 2)
    try:
        assert sorted(p.name for p in work.glob("shard-*.rejected.jsonl")) == [
            "shard-000000.rejected.jsonl", "shard-000001.rejected.jsonl"]
        assert len(list(work.glob("shard-000000.*.parquet"))) >= 1 and not list(work.glob("shard-000002.*"))
        assert not (tmp_path / "out" / "SCaR_eval_COCO.parquet").exists()
    finally:
        proc.kill()
        proc.join()


@pytest.mark.slow  # three builds of 400 images in a fresh process
def test_build_memory_grows_with_the_index_not_the_samples_written(tmp_path):
    n_images, shard = 400, 16
    root = write_synthetic_coco(tmp_path / "src", n_images=n_images, anns_per_image=3, seed=7)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    p = subprocess.run([sys.executable, "-c", SCRIPT, str(root), str(tmp_path / "out"), str(shard), "300"],
                       capture_output=True, text=True, env=env, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    small, full = res["limit"], res["all"]
    # 300 samples read; the lexical generator drops some (no relation the boxes decide with
    # margins, no clearly false alternative, a repeated caption): 242 kept at 2830360
    assert 200 <= small["rows"] <= 300 and full["rows"] > 3.5 * small["rows"]  # 4x the samples, the same index
    # the peak does not follow the samples written (4x); validation, rejects and the image
    # list are streamed too (reading the whole file back would show here)
    assert full["peak"] < 1.5 * small["peak"], (small["peak"], full["peak"])
    flushes = full["flushes"]
    assert [f[0] for f in flushes] == list(range(n_images // shard))
    for index, pulled, _ in flushes:  # written as it filled, not at the end
        assert pulled <= (index + 1) * shard + 1, (index, pulled)
    held = [f[2] for f in flushes if f[2] is not None]  # shards 1, 9, 17
    assert len(held) == 3 and held[-1] < 1.3 * held[0], held
