"""Helpers shared by test modules (fixtures live in conftest.py): a COCO-format folder
writer and the paths of the in-repository reference data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from scar.build.config import BuildConfig, merge

REPO = Path(__file__).resolve().parents[1]
REF = REPO / "scar" / "data" / "reference"


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

def cfg(key: str, root, split: str, out, *, name: str | None = None, **parts) -> BuildConfig:
    """A ``BuildConfig`` for tests: source, split and output folder (no progress bar), then
    ``parts`` nested as in ``BuildConfig`` (``generator={...}``, ``engine={...}``...)."""
    base = {"source": {"name": key, "root": root, "split": split, "stem": name},
            "output": {"dir": out, "progress": False}}
    return BuildConfig.model_validate(merge(base, parts))


def related_in_wordnet(a: str, b: str) -> bool:
    """An independent check of the library's WordNet rules, straight on nltk: a and b share a
    noun synset, or one is an ancestor (hypernym or instance hypernym) of the other, in any
    noun sense. WordNet loads on the first call, not at import (test collection stays fast)."""
    from nltk.corpus import wordnet as wn

    sa = wn.synsets("_".join(a.lower().split()), pos="n")
    sb = wn.synsets("_".join(b.lower().split()), pos="n")
    hyper = lambda s: s.hypernyms() + s.instance_hypernyms()  # noqa: E731
    return any(x == y or y in set(x.closure(hyper)) or x in set(y.closure(hyper)) for x in sa for y in sb)
