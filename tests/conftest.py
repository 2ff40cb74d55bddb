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

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scar.build import samples
from scar.build.pipeline import build


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    return samples.materialize(tmp_path_factory.mktemp("sample") / "src")


@pytest.fixture(scope="session")
def sample_build(sample_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("sample_out")
    return build("coco", sample_root, "val", out, name="Sample", seed=0, link_images=True, progress=False)


def write_coco(root: Path, images: list[dict], annotations: list[dict], categories: list[dict],
               split: str = "val", make_images: bool = True) -> Path:
    """A COCO-format folder: annotations/instances_<split>.json + images/<split>/*."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    data = {"images": images, "annotations": annotations, "categories": categories}
    (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    if make_images:
        rng = np.random.default_rng(0)
        for im in images:
            arr = rng.integers(0, 255, (im["height"], im["width"], 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / "images" / split / im["file_name"])
    return root
