"""Images handed to the steps a window at a time (``pipeline.CPU_WINDOW`` for the lexical
steps) write the same bytes as one image at a time: the rows, and the rejects file in the
same order (image by image, step by step within an image), the shards cut where they were."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import scar.build.pipeline as pipeline
from scar.build.pipeline import build
from support import cfg

COCO_TINY = Path(__file__).parent / "fixtures" / "realdata" / "coco_tiny"


def _build(tmp_path: Path, monkeypatch, window: int) -> tuple[bytes, list[dict]]:
    monkeypatch.setattr(pipeline, "CPU_WINDOW", window)
    rep = build(cfg("coco", COCO_TINY, "val", tmp_path / f"w{window}", engine={"shard_size": 16}))
    return rep.path.read_bytes(), [json.loads(x) for x in rep.rejections_path.read_text().splitlines()]


def test_a_window_of_images_writes_what_one_image_at_a_time_writes(tmp_path, monkeypatch):
    rows1, rej1 = _build(tmp_path, monkeypatch, 1)
    # rejects from several steps (compose, cap, negatives), so that a window's are interleaved
    steps = Counter(r["step"] for r in rej1 if r["step"] != "coco")  # (the source's come last)
    assert len(steps) >= 3, steps
    for window in (5, 16):  # 5: windows cut short at the shard boundaries (16 images)
        rows, rej = _build(tmp_path, monkeypatch, window)
        assert rows == rows1
        assert rej == rej1
