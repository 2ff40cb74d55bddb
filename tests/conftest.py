"""Shared fixtures: tiny data in the real formats, built through the real code path.

What "done" looks like for the foundation (issue 2), from a user's seat:
- `make demo` on a fresh clone writes demo_out/SCaR_eval_Sample.parquet (released
  columns first, 10 distinct candidates per row, GT at index 0), scores `random`
  near chance and `oracle` at 100%, and prints the Markdown leaderboard;
- `scar build --source coco ...` gives the same bytes for the same inputs and seed,
  with 1 or 2 workers, and writes every rejected record with its reason;
- `scar eval` scores any embedder with ties counted against the GT.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from scar.build import samples
from scar.build.pipeline import build
from support import cfg, write_coco  # noqa: F401 (the gap_root fixture; kept importable from here)


def pytest_collection_finish(session):
    """Long-lived objects out of the cyclic garbage collector's way (``gc.freeze``): what
    collection imported lives until the end, and every full collection would walk it again
    (docs/testing.md, "The fast subset"). Objects made later are collected as usual."""
    gc.freeze()


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    return samples.materialize(tmp_path_factory.mktemp("sample") / "src")


@pytest.fixture(scope="session")
def sample_build(sample_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("sample_out")
    report = build(cfg("coco", sample_root, "val", out, name="Sample", output={"link_images": True}))
    gc.freeze()  # WordNet, loaded by the build, stays for the session: no full collection walks it again
    return report


@pytest.fixture
def gap_root(tmp_path):
    """Two COCO images whose scene nothing grounds (no label, no stuff, no deciding objects):
    the LLM must fill it. Used by the LLM fault and secrets tests. The mug and the chair are
    side by side and of one size, so geometry decides both relations (a bigger chair is no
    longer a clear anchor of "right of the mug", 9e6e639) and the LLM fills only the scene."""
    cats = [{"id": 1, "name": "mug"}, {"id": 2, "name": "chair"}]
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 200, "height": 100} for i in (1, 2)]
    anns = [{"id": 10 * i + 1, "image_id": i, "category_id": 1, "bbox": [10, 40, 30, 30], "area": 900, "iscrowd": 0}
            for i in (1, 2)]
    anns += [{"id": 10 * i + 2, "image_id": i, "category_id": 2, "bbox": [100, 40, 30, 30], "area": 900,
              "iscrowd": 0} for i in (1, 2)]
    return write_coco(tmp_path / "src", images, anns, cats)
