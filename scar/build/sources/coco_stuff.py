"""COCO-Stuff (COCO 2017 images, things + stuff): ``--source coco-stuff``.

Layout under ``--root`` (``--images DIR`` points at images kept elsewhere)::

    ROOT/annotations/instances_{train,val}2017.json   things (polygons or RLE, iscrowd)
    ROOT/annotations/stuff_{train,val}2017.json       stuff (RLE; ids 92-182, 183 = "other")
    ROOT/images/{train,val}2017/*.jpg                 (or ROOT/{train,val}2017/)

Things and stuff both become entities. A stuff entity's id is ``stuff-<ann id>``
(the two files number their annotations independently); its category is the object
noun of ``scar/data/coco_stuff.tsv`` (``wall-brick`` -> ``wall``), its ``kind`` is
``stuff``. Class 183 ``other`` is unlabelled pixels: context only (kind ``other``).
Crowd regions never become samples. ``ImageContext.stuff`` lists the image's stuff
class names, largest first, and the scene comes from them (:func:`infer_scene`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from scar.build.sources.coco import CocoSource
from scar.build.sources.common import CocoIndex, first_existing, load_coco
from scar.types import Entity, Sample

OTHER_ID = 183
#: A stuff class suggests the image's scene only when it covers this fraction of the image.
MIN_SCENE_SHARE = 0.02


@functools.cache
def stuff_table() -> dict[str, tuple[str, str | None, int]]:
    """class name -> (object noun, scene noun or None, scene priority)."""
    out = {}
    text = resources.files("scar.data").joinpath("coco_stuff.tsv").read_text(encoding="utf-8")
    for ln in text.splitlines():
        if not ln.strip() or ln.startswith("#"):
            continue
        cls, noun, scene, prio = (ln.split("\t") + ["", "", ""])[:4]
        out[cls] = (noun, scene or None, int(prio) if prio.strip() else 0)
    return out


def stuff_noun(cls: str) -> str:
    """The object noun of a stuff class (unknown classes: the name without ``-other``/``-stuff``)."""
    if cls in stuff_table():
        return stuff_table()[cls][0]
    return cls.removesuffix("-other").removesuffix("-stuff").replace("-", " ")


def infer_scene(stuff_areas: list[tuple[str, float]], image_area: float) -> str | None:
    """The scene noun suggested by an image's stuff regions.

    Each stuff class of ``scar/data/coco_stuff.tsv`` with a scene votes with its area;
    scenes whose summed area is under ``MIN_SCENE_SHARE`` of the image are ignored.
    The winner has the highest priority (a specific place such as ``kitchen`` beats
    the generic ``room`` that walls and floors suggest), then the largest area, then
    the name. None when no stuff class suggests a scene."""
    votes: dict[str, list[float]] = {}
    for cls, area in stuff_areas:
        _, scene, prio = stuff_table().get(cls, (None, None, 0))
        if scene:
            v = votes.setdefault(scene, [prio, 0.0])
            v[1] += area
    ok = [(s, p, a) for s, (p, a) in votes.items() if a >= MIN_SCENE_SHARE * image_area]
    if not ok:
        return None
    return min(ok, key=lambda t: (-t[1], -t[2], t[0]))[0]


class CocoStuffSource(CocoSource):
    name = "coco-stuff"
    coco_ids = True

    def __init__(self, root: str, split: str, *, images: str | None = None, **settings: Any) -> None:
        super(CocoSource, self).__init__(root, split, **settings)
        r = Path(root)
        self.naming = None
        self.ann_file = first_existing(r, [f"annotations/instances_{split}2017.json"], "COCO instances file")
        self.stuff_file = first_existing(r, [f"annotations/stuff_{split}2017.json"], "COCO-Stuff stuff file")
        self.image_dir = Path(images) if images else first_existing(
            r, [f"images/{split}2017", f"{split}2017"], "COCO 2017 image folder")
        self._stuff_cats: set = set()

    @property
    def id_source(self) -> str:
        return self.name

    def load(self) -> CocoIndex:
        index = load_coco(self.ann_file, self)
        things = set(index.categories)
        load_coco(self.stuff_file, self, index, images=False)
        self._stuff_cats = set(index.categories) - things
        return index

    def entity_id(self, a: dict) -> str:
        return f"stuff-{a['id']}" if a["category_id"] in self._stuff_cats else str(a["id"])

    def entity(self, a: dict, index: CocoIndex) -> Entity:
        e = super().entity(a, index)
        if a["category_id"] in self._stuff_cats:
            e.kind = "other" if a["category_id"] == OTHER_ID or e.category == "other" else "stuff"
            if e.kind == "stuff":
                e.category = stuff_noun(e.category)
        return e

    def read(self) -> Iterator[list[Sample]]:
        index = self.load()
        for image_id in index.image_ids():
            ctx = self.context(index, image_id)
            if ctx is None:
                continue
            raw = self._raw(index, image_id)
            stuff = [(index.categories[raw[e.id]["category_id"]]["name"], e.area)
                     for e in ctx.entities if e.kind == "stuff"]
            stuff.sort(key=lambda t: (-t[1], t[0]))
            ctx.stuff = list(dict.fromkeys(cls for cls, _ in stuff))
            ctx.scene = infer_scene(stuff, ctx.width * ctx.height)
            eligible = [e for e in ctx.entities if e.kind != "other"]
            group = self.select(ctx, eligible, mask=lambda e, _r=raw, _c=ctx: self.mask(e, _r, _c))
            if group:
                yield group
