"""The record types that travel through the construction pipeline.

One ``Sample`` per entity (a box, optionally a mask) travels from the Source to the
writer. Each sample points at the ``ImageContext`` of its image: every annotated
entity of the image (all of them, not only the kept ones), relationship triples,
stuff labels and the scene label, which later steps use for relations, scenes and
plausible swaps. The context is shared by the samples of one image and is never
written to Parquet.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from typing import Any

BBox = tuple[float, float, float, float]  # COCO [x, y, w, h] in pixels

#: Where an element came from (``model``: a zero-shot scene from ``--scene-model``). ``llm:<model>`` is also allowed.
PROVENANCES = ("annotation", "geometry", "lexical", "model", "default")
ELEMENTS = ("object", "relation", "scene")


def check_provenance(value: str) -> str:
    if value in PROVENANCES or (value.startswith("llm:") and len(value) > 4):
        return value
    raise ValueError(f"unknown provenance {value!r}: use one of {PROVENANCES} or 'llm:<model>'")


@dataclass
class Element:
    """One caption element: its surface ``text`` (verbatim in the caption), where it
    came from, and its ``value`` (the bare noun or relation word, e.g. ``kitchen`` for
    the text ``in a kitchen``)."""

    text: str
    provenance: str
    value: str | None = None
    anchor: str | None = None  # relation only: the entity id it refers to (None: the image frame)

    def __post_init__(self) -> None:
        check_provenance(self.provenance)
        if not self.text or self.text != self.text.strip():
            raise ValueError(f"element text must be non-empty and stripped, got {self.text!r}")


@dataclass
class Entity:
    """Any annotated entity of an image (thing or stuff)."""

    id: str
    category: str
    bbox: BBox
    area: float = 0.0
    iscrowd: bool = False
    kind: str = "thing"  # "thing" | "stuff"
    segmentation: dict[str, Any] | None = None  # COCO RLE, counts as str
    phrase: str | None = None
    #: WordNet synsets the annotation itself gives (VisualGenome objects: ``("clock.n.01",)``);
    #: the first names the intended sense of ``category`` (``scar.lexicon.category_sense``).
    synsets: tuple[str, ...] = ()


@dataclass
class Relationship:
    """A (subject, predicate, object) triple between entities of one image."""

    subject_id: str
    predicate: str
    object_id: str


@dataclass
class ImageContext:
    image_id: str
    file_name: str  # path of the image relative to the source's image folder
    path: str  # absolute path of the original image
    width: int
    height: int
    entities: list[Entity] = field(default_factory=list)
    relationships: list[Relationship] = field(default_factory=list)
    stuff: list[str] = field(default_factory=list)
    scene: str | None = None
    #: Entity id -> its segmentation as the source file gives it (COCO polygons or RLE), for
    #: the relations that only masks decide (``scar.build.steps.support``); not every source has it.
    segmentations: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: Derived look-ups the caption steps make per image (filled on first use, never copied by
    #: ``dataclasses.replace``): e.g. which entity ids each caption noun names.
    _derived: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def categories(self) -> tuple[str, ...]:
        """The categories of the image's entities, in entity order (worked out once per context)."""
        cats = self._derived.get("categories")
        if cats is None:
            cats = self._derived["categories"] = tuple(e.category for e in self.entities)
        return cats

    def entity(self, entity_id: str) -> Entity:
        for e in self.entities:
            if e.id == entity_id:
                return e
        raise KeyError(f"image {self.image_id}: no entity {entity_id!r}")


@dataclass
class Region:
    bbox: BBox
    category: str
    entity_id: str
    mask: dict[str, Any] | None = None  # COCO RLE {"size": [h, w], "counts": str}


@dataclass
class Candidate:
    """A candidate caption. The GT has ``neg_type`` None; a distractor names the
    element(s) it changes (``object``, ``relation``, ``scene`` or a ``+``-join) and
    the replacing value(s) (joined with `` + `` in the same order)."""

    text: str
    neg_type: str | None = None
    neg_value: str | None = None


@dataclass
class Sample:
    id: str
    source: str
    split: str
    image_id: str
    file_name: str
    width: int
    height: int
    region: Region
    phrase: str | None = None
    object: Element | None = None
    relation: Element | None = None
    scene: Element | None = None
    candidates: list[Candidate] = field(default_factory=list)
    context: ImageContext | None = field(default=None, repr=False, compare=False)
    #: The annotated relationship that seeds this sample (VisualGenome): its subject is
    #: the sample's entity (``region.entity_id``), its object another entity of
    #: ``context.entities``. None for sources without relationship annotations.
    relationship: Relationship | None = None

    def element(self, name: str) -> Element | None:
        if name not in ELEMENTS:
            raise KeyError(f"unknown element {name!r}; elements are {ELEMENTS}")
        return getattr(self, name)

    def region_entity(self) -> Entity | None:
        """The context's entity of the region, or None (no context, or not in it)."""
        if self.context is None or self.region.entity_id is None:
            return None
        try:
            return self.context.entity(self.region.entity_id)
        except KeyError:
            return None

    @property
    def caption(self) -> str | None:
        return self.candidates[0].text if self.candidates else None

    def to_record(self) -> dict[str, Any]:
        """A JSON-able record (without the image context), e.g. for a quarantine file."""
        out = {}
        for name in _field_names(type(self)):
            if name != "context":
                v = getattr(self, name)
                out[name] = v if type(v) in _LEAVES else _plain(v)
        return out


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


_LEAVES = frozenset({str, int, float, bool, type(None)})


def _plain(v: Any) -> Any:
    """What ``dataclasses.asdict`` makes of a value (dataclasses as dicts, containers copied),
    without its deep copies of every leaf: the records here hold only immutable leaves."""
    cls = type(v)
    if cls in _LEAVES:
        return v
    if cls is list or cls is tuple:
        out = [x if type(x) in _LEAVES else _plain(x) for x in v]
        return out if cls is list else tuple(out)
    if hasattr(cls, "__dataclass_fields__"):
        out = {}
        for name in _field_names(cls):
            x = getattr(v, name)
            out[name] = x if type(x) in _LEAVES else _plain(x)
        return out
    if isinstance(v, (list, tuple)):
        return cls(_plain(x) for x in v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v
