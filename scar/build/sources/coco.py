"""Plain COCO-format annotations (``instances.json``-style): ``--source coco``.

Layout under ``--root`` (the first that exists is used), or ``--annotations FILE``
and ``--images DIR``:
- annotations: ``annotations/instances_<split>.json``, ``annotations/instances_<split>2017.json``,
  ``instances_<split>.json``;
- images: ``images/<split>/``, ``images/<split>2017/``, ``<split>2017/``, ``<split>/``.

Two optional fields extend the format (the bundled sample uses them): ``phrase`` on
an annotation (a referring phrase for the entity) and ``scene`` on an image; an
annotation may also carry ``kind`` (``thing``/``stuff``).

Every annotation is an entity of its image's context; every non-crowd one is
eligible to become a sample under the common rules of ``Source`` (clip, minimum
area, at most ``max_per_image``). Masks come from the polygons or RLE via
pycocotools. A malformed record, or an image file that is missing or unreadable, is
rejected with its reason and the read goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scar.names import source_name
from scar.build.base import Source
from scar.build.selection import id_key
from scar.build.sources.common import CocoIndex, RealPaths, check_image_file, first_existing, load_coco, to_rle
from scar.types import Entity, ImageContext, Sample

__all__ = ["CocoSource", "to_rle"]

log = logging.getLogger(__name__)


#: With ``--stuff``, a stuff class counts for an image's scene when it covers this share of it.
STUFF_MIN_SHARE = 0.05


def stuff_files(stuff: str | Path | list | tuple | None) -> list[Path]:
    """``--stuff`` as a list of paths (one file, several, or none)."""
    if stuff is None:
        return []
    return [Path(s) for s in ([stuff] if isinstance(stuff, (str, Path)) else stuff)]


def read_stuff(files: list[Path], source: Source) -> dict[Any, list[str]]:
    """COCO image id -> the COCO-Stuff stuff class names (``other`` left out) covering at least
    ``STUFF_MIN_SHARE`` of the image, over every stuff JSON given (COCO-Stuff has one per split:
    ``stuff_train2017.json``, ``stuff_val2017.json``). Bad records are rejected through ``source``."""
    out: dict[Any, set[str]] = {}
    for path in files:
        sidx = load_coco(path, source)
        for iid, anns in sidx.anns.items():
            im = sidx.images.get(iid, {})
            total = float(im.get("width", 0)) * float(im.get("height", 0)) or 1.0
            names = {sidx.categories[a["category_id"]]["name"] for a in anns
                     if float(a.get("area") or 0) >= STUFF_MIN_SHARE * total
                     and sidx.categories[a["category_id"]]["name"] != "other"}
            if names:
                out.setdefault(iid, set()).update(names)
    return {iid: sorted(names) for iid, names in out.items()}


class CocoSource(Source):
    name = "coco"

    def __init__(self, root: str, split: str, *, name: str | None = None, annotations: str | None = None,
                 images: str | None = None, stuff: str | list[str] | None = None, **settings: Any) -> None:
        super().__init__(root, split, **settings)
        #: ``--stuff FILE`` (repeatable): COCO-Stuff stuff JSONs for the same images; their classes
        #: covering at least STUFF_MIN_SHARE of an image become the image's stuff (scene evidence),
        #: not samples
        self.stuff_files = stuff_files(stuff)
        self.naming = source_name("coco", name)
        r = Path(root)
        self.ann_file = Path(annotations) if annotations else first_existing(
            r, [f"annotations/instances_{split}.json", f"annotations/instances_{split}2017.json",
                f"instances_{split}.json"], "COCO annotation file")
        self.image_dir = Path(images) if images else first_existing(
            r, [f"images/{split}", f"images/{split}2017", f"{split}2017", split], "image folder")

    @property
    def id_source(self) -> str:
        return self.naming.prefix  # the lower-cased stem: several COCO-format datasets stay apart

    def image_path(self, file_name: str) -> Path:
        return self.image_dir / file_name

    def _image_file(self, file_name: str) -> Path | str:
        """``image_path(file_name)``, as the string of that path when the name is one pathlib
        would join as it is (relative, no ``.`` part, no doubled or trailing ``/``; pathlib leaves
        ``..`` as it is): the same path without making a ``Path`` per image."""
        folder = os.fspath(self.image_dir)
        if (os.sep == "/" and type(self).image_path is CocoSource.image_path and folder not in (".", "")
                and not folder.endswith("/") and isinstance(file_name, str) and file_name
                and not file_name.startswith("/") and not file_name.endswith("/") and "//" not in file_name
                and "\0" not in file_name and "." not in file_name.split("/")):
            return f"{folder}/{file_name}"
        return self.image_path(file_name)

    def real_path(self, path: Path | str) -> str:
        """``str(path.resolve())``, each folder resolved once by this source."""
        if "_real_paths" not in self.__dict__:
            self._real_paths = RealPaths()
        return self._real_paths(path)

    def load(self) -> CocoIndex:
        return load_coco(self.ann_file, self)

    #: Whether image ids are COCO image ids (the leakage check compares those).
    coco_ids: bool = False

    def image_index(self) -> Iterator[tuple[str, int | None]]:
        for iid in load_coco(self.ann_file, self).image_ids():
            yield str(iid), (iid if self.coco_ids and isinstance(iid, int) else None)

    def stuff_by_image(self) -> dict[Any, list[str]]:
        """COCO image id -> the stuff class names of ``--stuff`` covering enough of the image."""
        return read_stuff(self.stuff_files, self)

    def read(self) -> Iterator[list[Sample]]:
        index = self.load()
        stuff = self.stuff_by_image()
        for image_id in index.image_ids():
            ctx = self.context(index, image_id)
            if ctx is None:
                continue
            ctx.stuff = stuff.get(image_id, ctx.stuff)
            eligible = [e for e in ctx.entities if e.kind != "other"]
            group = self.select(ctx, eligible, mask=lambda e, _r=self._raw(index, image_id): self.mask(e, _r, ctx))
            if group:
                yield group

    # -- pieces the COCO-derived sources reuse -------------------------------------
    def context(self, index: CocoIndex, image_id: Any, scene: str | None = None) -> ImageContext | None:
        """The context of one image (every annotation an entity), or None (rejected)
        when its image file is missing or unreadable."""
        im = index.images[image_id]
        path = self._image_file(im["file_name"])
        problem = check_image_file(path, (im["width"], im["height"]), verify=self.check_images)
        if problem:
            self.reject_image(image_id, f"image file: {problem}", record={"image": im})
            return None
        ctx = ImageContext(image_id=str(image_id), file_name=im["file_name"], path=self.real_path(path),
                           width=int(im["width"]), height=int(im["height"]), scene=scene or im.get("scene"))
        ctx.entities = sorted((self.entity(a, index) for a in index.anns.get(image_id, [])),
                              key=lambda e: id_key(e.id))
        ctx.segmentations = {self.entity_id(a): a["segmentation"] for a in index.anns.get(image_id, [])
                             if a.get("segmentation")}
        return ctx

    def entity_id(self, a: dict) -> str:
        return str(a["id"])

    def entity(self, a: dict, index: CocoIndex) -> Entity:
        b = a["bbox"]
        return Entity(id=self.entity_id(a), category=index.categories[a["category_id"]]["name"],
                      bbox=tuple(map(float, b)), area=float(a.get("area") or b[2] * b[3]),
                      iscrowd=bool(a.get("iscrowd", 0)), kind=a.get("kind", "thing"), phrase=a.get("phrase"))

    def _raw(self, index: CocoIndex, image_id: Any) -> dict[str, Any]:
        return {self.entity_id(a): a for a in index.anns.get(image_id, [])}

    @staticmethod
    def mask(e: Entity, raw: dict[str, dict], ctx: ImageContext) -> dict[str, Any] | None:
        seg = raw.get(e.id, {}).get("segmentation")
        return to_rle(seg, ctx.height, ctx.width) if seg else None
