"""Plain COCO-format annotations (``instances.json``-style), read with pycocotools.

Layout under ``--root`` (the first that exists is used):
- annotations: ``annotations/instances_<split>.json``, ``annotations/instances_<split>2017.json``,
  ``instances_<split>.json``;
- images: ``images/<split>/``, ``images/<split>2017/``, ``<split>2017/``, ``<split>/``.

Two optional fields extend the format (the bundled sample uses them): ``phrase`` on
an annotation (a referring phrase for the entity) and ``scene`` on an image.

Entities: every non-crowd annotation whose box covers at least ``min_area`` of the
image; the ``max_per_image`` largest become samples (ties by annotation id). Crowd
regions are context only. A malformed annotation or image record, or an image file
that is missing or unreadable, is rejected with its reason and the read goes on.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from scar.names import source_name
from scar.pipeline.base import Source
from scar.types import Entity, ImageContext, Region, Sample

log = logging.getLogger(__name__)


def to_rle(segmentation: Any, height: int, width: int) -> dict[str, Any]:
    """Polygons, uncompressed or compressed RLE -> compressed RLE with str counts."""
    if isinstance(segmentation, list):
        rles = mask_utils.frPyObjects(segmentation, height, width)
        rle = mask_utils.merge(rles)
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), str):
        rle = {"size": list(segmentation["size"]), "counts": segmentation["counts"].encode("ascii")}
    else:
        raise ValueError(f"unsupported segmentation of type {type(segmentation).__name__}")
    counts = rle["counts"]
    return {"size": [int(v) for v in rle["size"]],
            "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def _first(root: Path, candidates: list[str], what: str) -> Path:
    for c in candidates:
        if (root / c).exists():
            return root / c
    raise FileNotFoundError(f"{what} not found under {root}; looked for: {', '.join(candidates)}")


class CocoSource(Source):
    name = "coco"

    def __init__(self, root: str, split: str, *, name: str | None = None, max_per_image: int = 5,
                 min_area: float = 0.002, annotations: str | None = None, images: str | None = None) -> None:
        super().__init__(root, split, max_per_image=max_per_image)
        self.naming = source_name("coco", name)
        self.min_area = min_area
        r = Path(root)
        self.ann_file = Path(annotations) if annotations else _first(
            r, [f"annotations/instances_{split}.json", f"annotations/instances_{split}2017.json",
                f"instances_{split}.json"], "COCO annotation file")
        self.image_dir = Path(images) if images else _first(
            r, [f"images/{split}", f"images/{split}2017", f"{split}2017", split], "image folder")

    # -- validation of the raw JSON, before pycocotools indexes it ------------------
    def _load(self) -> COCO:
        where = str(self.ann_file)
        try:
            data = json.loads(self.ann_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{where}: not readable as JSON: {e}") from e
        for fld in ("images", "annotations", "categories"):
            if not isinstance(data.get(fld), list):
                raise ValueError(f"{where}: top-level field {fld!r} missing or not a list")
        cats = {c.get("id") for c in data["categories"] if isinstance(c, dict) and "name" in c}
        images, image_ids = [], set()
        for i, im in enumerate(data["images"]):
            problem = _bad_image(im)
            if problem:
                self.reject(None, f"image record: {problem}", record={"file": where, "index": i, "image": im},
                            sample_id=f"image#{i}")
                continue
            images.append(im)
            image_ids.add(im["id"])
        anns = []
        for i, a in enumerate(data["annotations"]):
            problem = _bad_annotation(a, cats, image_ids)
            if problem:
                self.reject(None, f"annotation: {problem}",
                            record={"file": where, "index": i, "annotation": a}, sample_id=f"ann#{a.get('id', i)}")
                continue
            anns.append(a)
        data = {**data, "images": images, "annotations": anns}
        coco = COCO()
        coco.dataset = data
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            coco.createIndex()
        return coco

    def read(self) -> Iterator[list[Sample]]:
        coco = self._load()
        catname = {c["id"]: c["name"] for c in coco.dataset["categories"]}
        for image_id in sorted(coco.imgs):
            im = coco.imgs[image_id]
            path = self.image_dir / im["file_name"]
            problem = _check_image_file(path, im)
            if problem:
                self.reject(None, f"image file: {problem}", record={"image": im}, sample_id=str(image_id))
                continue
            ctx = ImageContext(
                image_id=str(image_id), file_name=im["file_name"], path=str(path.resolve()),
                width=int(im["width"]), height=int(im["height"]), scene=im.get("scene"),
            )
            anns = sorted(coco.imgToAnns.get(image_id, []), key=lambda a: a["id"])
            for a in anns:
                ctx.entities.append(Entity(
                    id=str(a["id"]), category=catname[a["category_id"]], bbox=tuple(float(v) for v in a["bbox"]),
                    area=float(a.get("area") or a["bbox"][2] * a["bbox"][3]), iscrowd=bool(a.get("iscrowd", 0)),
                    kind=a.get("kind", "thing"), phrase=a.get("phrase"),
                ))
            min_px = self.min_area * ctx.width * ctx.height
            chosen = [a for a in anns if not a.get("iscrowd", 0) and a["bbox"][2] * a["bbox"][3] >= min_px]
            chosen.sort(key=lambda a: (-a["bbox"][2] * a["bbox"][3], a["id"]))
            group = []
            for a in chosen[: self.max_per_image]:
                try:
                    rle = to_rle(a["segmentation"], ctx.height, ctx.width) if a.get("segmentation") else None
                except (ValueError, TypeError, KeyError) as e:
                    self.reject(None, f"annotation: segmentation of {a['id']} unreadable: {e}",
                                record={"annotation": a}, sample_id=f"ann#{a['id']}")
                    continue
                ent = ctx.entity(str(a["id"]))
                ent.segmentation = rle
                group.append(Sample(
                    id=f"{self.naming.stem}_{self.split}_{a['id']}", source=self.naming.key, split=self.split,
                    image_id=str(image_id), file_name=im["file_name"], width=ctx.width, height=ctx.height,
                    region=Region(bbox=ent.bbox, category=ent.category, entity_id=ent.id, mask=rle),
                    phrase=a.get("phrase"), context=ctx,
                ))
            if group:
                yield group


def _bad_image(im: Any) -> str | None:
    if not isinstance(im, dict):
        return "not an object"
    for k in ("id", "file_name", "width", "height"):
        if k not in im:
            return f"missing field {k!r}"
    if not (isinstance(im["width"], int) and isinstance(im["height"], int)) or im["width"] <= 0 or im["height"] <= 0:
        return f"bad size {im['width']}x{im['height']}"
    fn = Path(str(im["file_name"]))
    if fn.is_absolute() or ".." in fn.parts:
        return f"file_name {im['file_name']!r} leaves the image folder"
    return None


def _bad_annotation(a: Any, cats: set, image_ids: set) -> str | None:
    if not isinstance(a, dict):
        return "not an object"
    for k in ("id", "image_id", "category_id", "bbox"):
        if k not in a:
            return f"missing field {k!r}"
    b = a["bbox"]
    if not (isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b)):
        return f"bbox {b!r} is not 4 numbers"
    if b[2] <= 0 or b[3] <= 0 or b[0] < 0 or b[1] < 0:
        return f"bbox {b!r} has non-positive size or negative origin"
    if a["category_id"] not in cats:
        return f"unknown category_id {a['category_id']!r}"
    if a["image_id"] not in image_ids:
        return f"image_id {a['image_id']!r} is not among the images"
    return None


def _check_image_file(path: Path, im: dict) -> str | None:
    if not path.is_file():
        return f"{path} missing"
    try:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            size = img.size
    except Exception as e:  # PIL raises many types for corrupt files
        return f"{path} unreadable: {type(e).__name__}: {e}"
    if size != (im["width"], im["height"]):
        return f"{path} is {size[0]}x{size[1]}, annotation says {im['width']}x{im['height']}"
    return None
