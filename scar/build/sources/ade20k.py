"""ADE20K SceneParsing (``ADEChallengeData2016``): ``--source ade20k``.

Layout under ``--root`` (``--images DIR`` points at the split's images kept elsewhere)::

    ROOT/ADEChallengeData2016/images/{training,validation}/ADE_*.jpg
    ROOT/ADEChallengeData2016/annotations/{training,validation}/ADE_*.png
    ROOT/ADEChallengeData2016/objectInfo150.txt      (the zip's; preferred) or objectInfo150.csv
    ROOT/ADEChallengeData2016/sceneCategories.txt    (ADE_train_00000001 airport_terminal)

(``--root`` may also be the ``ADEChallengeData2016`` folder itself.) Each pixel of an
annotation PNG holds a class index (1..150; 0 = other). An entity is a connected
region (8-connectivity) of one class: id ``<class>-<k>`` (the k-th such region of at
least ``min_pixels`` in raster order), box and mask from the region's pixels, category the first of
the class's names (``objectInfo150.txt``, or the ``;``-joined .csv, read as in ``_first_name``). Regions smaller than
``min_pixels`` (default 16) are annotation noise and not entities. The scene comes
from ``sceneCategories.txt`` (``living_room`` -> ``living room``; ``misc`` -> none).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from scar.build.base import Source
from scar.build.masks import encode_mask
from scar.build.sources.common import first_existing, image_size
from scar.types import Entity, ImageContext, Sample

FOLDER = {"train": "training", "val": "validation"}
#: Scene labels that say nothing about the place.
NO_SCENE = {"misc", "other", "unknown"}


def read_classes(path: Path) -> dict[int, str]:
    """objectInfo150.csv (``building;edifice``) or the zip's tab-separated
    objectInfo150.txt (``building, edifice``) -> {class index: first name}."""
    out: dict[int, str] = {}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            head = f.readline()
            f.seek(0)
            for row in csv.DictReader(f, delimiter="\t" if "\t" in head else ","):
                idx, name = row.get("Idx"), row.get("Name")
                if idx is None or name is None:
                    raise ValueError(f"{path}: needs columns Idx and Name, has {list(row)}")
                out[int(idx)] = _first_name(name, tab="\t" in head)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"{path}: not readable as CSV: {e}") from e
    if not out:
        raise ValueError(f"{path}: no classes")
    return out


def _first_name(names: str, *, tab: bool) -> str:
    """The first of a class's names. The .txt separates names with ``,`` (``coffee table, cocktail
    table``); the official .csv uses ``;`` between names *and* between the words of one name
    (``coffee;table;cocktail;table``): there the first name is the longest run of leading words
    that is an ADE20K class name (``scar/data/vocab/ade20k.txt``) or a WordNet noun."""
    if tab or ";" not in names:
        return re.split(r"[;,]", names)[0].strip()
    from scar import lexicon

    words = [w.strip() for w in names.split(";") if w.strip()]
    known = lexicon.source_vocabulary("ade20k")
    for k in range(len(words), 1, -1):
        cand = " ".join(words[:k])
        if cand.lower() in known or lexicon.is_noun(cand):
            return cand
    return words[0] if words else names.strip()


def read_scenes(path: Path) -> dict[str, str]:
    out = {}
    for ln in path.read_text(encoding="utf-8").splitlines():
        parts = ln.split()
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    return out


class Ade20kSource(Source):
    name = "ade20k"
    min_pixels: int = 16

    def __init__(self, root: str, split: str, *, images: str | None = None, min_pixels: int | None = None,
                 **settings: Any) -> None:
        super().__init__(root, split, **settings)
        r = Path(root)
        base = r if (r / "sceneCategories.txt").exists() else r / "ADEChallengeData2016"
        self.base = base
        self.class_file = first_existing(base, ["objectInfo150.txt", "objectInfo150.csv"], "ADE20K class list")
        self.scene_file = first_existing(base, ["sceneCategories.txt"], "ADE20K sceneCategories.txt")
        self.ann_dir = first_existing(base, [f"annotations/{FOLDER[split]}"], "ADE20K annotation folder")
        self.image_dir = Path(images) if images else first_existing(base, [f"images/{FOLDER[split]}"],
                                                                    "ADE20K image folder")
        if min_pixels is not None:
            self.min_pixels = int(min_pixels)

    def image_path(self, file_name: str) -> Path:
        return self.image_dir / file_name

    def image_files(self) -> list[Path]:
        return sorted(p for p in self.image_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))

    def image_index(self) -> Iterator[tuple[str, int | None]]:
        for p in self.image_files():
            yield p.stem, None  # ADE20K images are not COCO images

    def read(self) -> Iterator[list[Sample]]:
        from scipy import ndimage

        classes = read_classes(self.class_file)
        scenes = read_scenes(self.scene_file)
        for img_path in self.image_files():
            stem = img_path.stem
            ann_path = self.ann_dir / f"{stem}.png"
            try:
                width, height = image_size(img_path)
                if not ann_path.is_file():
                    raise ValueError(f"{ann_path} missing")
                with Image.open(ann_path) as a:
                    if a.mode not in ("L", "P", "I", "I;16"):
                        raise ValueError(f"{ann_path}: mode {a.mode}, expected a single-channel class-index PNG")
                    labels = np.asarray(a).astype(np.int32)
                if labels.size and labels.min() < 0:
                    raise ValueError(f"{ann_path}: negative class index")
            except (OSError, ValueError) as e:
                self.reject_image(stem, f"image file: {e}", record={"image": img_path.name})
                continue
            if labels.shape != (height, width):
                self.reject_image(stem, f"image file: annotation {ann_path.name} is {labels.shape[1]}x"
                                        f"{labels.shape[0]}, image is {width}x{height}", record={"image": img_path.name})
                continue
            present = np.flatnonzero(np.bincount(labels.ravel())).tolist() if labels.size else []
            unknown = sorted(set(present) - set(classes) - {0})
            if unknown:
                self.reject_image(stem, f"unknown category: class index {unknown} not in objectInfo150.csv",
                                  record={"image": img_path.name})
                continue
            label = scenes.get(stem)
            ctx = ImageContext(image_id=stem, file_name=img_path.name, path=str(img_path.resolve()),
                               width=width, height=height,
                               scene=None if not label or label in NO_SCENE else label.replace("_", " "))
            masks: dict[str, tuple] = {}
            eight = np.ones((3, 3), dtype=bool)
            spans = ndimage.find_objects(labels)  # the bounding slices of each class value
            for cls in (c for c in present if c != 0):
                y0, x0 = spans[cls - 1][0].start, spans[cls - 1][1].start
                comp, _ = ndimage.label(labels[spans[cls - 1]] == cls, structure=eight)
                k = 0
                for i, (ys, xs) in enumerate(ndimage.find_objects(comp), start=1):
                    m = comp[ys, xs] == i
                    area = int(m.sum())
                    if area < self.min_pixels:
                        continue
                    k += 1
                    eid = f"{cls}-{k}"
                    sl = (slice(ys.start + y0, ys.stop + y0), slice(xs.start + x0, xs.stop + x0))
                    ctx.entities.append(Entity(id=eid, category=classes[cls], area=float(area),
                                               bbox=(float(sl[1].start), float(sl[0].start),
                                                     float(xs.stop - xs.start), float(ys.stop - ys.start))))
                    masks[eid] = (sl, m)
            group = self.select(ctx, list(ctx.entities), mask=lambda e, _m=masks, _c=ctx: _full_mask(_m[e.id], _c))
            if group:
                yield group


def _full_mask(part, ctx: ImageContext) -> dict[str, Any]:
    sl, m = part
    full = np.zeros((ctx.height, ctx.width), dtype=np.uint8)
    full[sl] = m
    return encode_mask(full)
