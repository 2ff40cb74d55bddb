"""Synthetic COCO-format datasets of any size, for tests and performance benchmarks.

Each image holds a row of entities of everyday categories (left to right, so spatial
relations exist) with a scene label; images are tiny flat-colour JPEGs. The data is
deterministic for a seed. Scores measured on it say nothing about real images.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

CATEGORIES = ["mug", "chair", "table", "dog", "cat", "car", "tree", "bench", "lamp", "bottle", "bicycle",
              "horse", "umbrella", "book", "clock", "vase", "bowl", "boat", "bird", "sofa"]
SCENES = ["kitchen", "street", "park", "office", "garden", "beach", "living room", "garage", "field", "cafe"]


def write_synthetic_coco(root: str | Path, *, n_images: int, anns_per_image: int = 3, split: str = "val",
                         seed: int = 0, size: tuple[int, int] = (64, 48), write_images: bool = True) -> Path:
    """Write ``root/annotations/instances_<split>.json`` (and ``root/images/<split>/``)."""
    root = Path(root)
    rng = random.Random(seed)
    w, h = size
    images, anns = [], []
    aid = 1
    slot = w // max(anns_per_image, 1)
    for i in range(1, n_images + 1):
        images.append({"id": i, "file_name": f"{i:08d}.jpg", "width": w, "height": h,
                       "scene": SCENES[rng.randrange(len(SCENES))]})
        cats = rng.sample(range(len(CATEGORIES)), min(anns_per_image, len(CATEGORIES)))
        for k, c in enumerate(cats):
            bw, bh = max(4, slot - 4), rng.randint(h // 3, h - 4)
            x, y = k * slot + 2, rng.randint(0, h - bh)
            anns.append({"id": aid, "image_id": i, "category_id": c + 1, "bbox": [x, y, bw, bh], "iscrowd": 0,
                         "area": bw * bh, "segmentation": [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]]})
            aid += 1
    ann_dir = root / "annotations"
    ann_dir.mkdir(parents=True, exist_ok=True)
    data = {"images": images, "annotations": anns,
            "categories": [{"id": i + 1, "name": c} for i, c in enumerate(CATEGORIES)]}
    (ann_dir / f"instances_{split}.json").write_text(json.dumps(data))
    if write_images:
        from PIL import Image

        img_dir = root / "images" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        for im in images:
            colour = tuple(rng.randrange(256) for _ in range(3))
            Image.new("RGB", (w, h), colour).save(img_dir / im["file_name"], quality=80)
    return root
