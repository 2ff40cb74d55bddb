"""Which annotated entities of one image become samples: a pure function.

:func:`select_entities` takes an image's :class:`ImageContext`, the entities eligible to
become samples and the :class:`SelectionRules`, and returns a :class:`Selection`: a new
context whose entities carry the clipped boxes, the chosen entities (new objects, ranked)
and one :class:`Drop` with its reason for every eligible entity left out. Its inputs are
never changed, so the same input gives the same output however often it is called
(``Source.select`` calls it for every image it reads and turns the result into samples).

The rules (each a ``Source`` setting, see ``scar.build.base.Source``):

- ``clip_boxes``: every box (context entities too) is clipped to the image;
- ``min_side``: a box thinner than this after clipping (or not finite, or outside the
  image) is *degenerate*;
- ``min_area``: a box covering less than this fraction of the image is *too small*;
- crowd entities are context only;
- ``max_per_image``: at most this many are chosen, largest box first (ties by entity id);
  with ``distinct_categories`` the largest of each category first, then the next largest
  of any category;
- ``reserve``: up to this many more, the next in that ranking, follow the chosen ones as
  stand-ins: the caption steps may still leave a chosen entity out (no relation that
  geometry decides, no scene swap), and the build's ``cap`` step
  (``scar.build.steps.cap.PerImageCap``) then keeps the first ``max_per_image`` samples
  of the image that made it, so a stand-in takes the place of an entity left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scar.types import BBox, Entity, ImageContext


@dataclass(frozen=True)
class SelectionRules:
    max_per_image: int = 5
    min_area: float = 0.005
    min_side: float = 1.0
    clip_boxes: bool = True
    distinct_categories: bool = True
    reserve: int = 0


@dataclass(frozen=True)
class Drop:
    """An eligible entity left out: its id, category, box when it was dropped, and why."""

    entity_id: str
    category: str
    bbox: tuple[float, ...]
    reason: str


@dataclass
class Selection:
    context: ImageContext  # a new context: the input's, with the boxes the rules made
    chosen: list[Entity]  # entities of ``context`` that become samples: the chosen, then the stand-ins
    drops: list[Drop]


def id_key(entity_id: str) -> tuple:
    """Entity ids sort numerically when they are numbers, else as text."""
    return (0, int(entity_id), "") if entity_id.isdigit() else (1, 0, entity_id)


def clip_box(bbox: BBox, width: int, height: int, *, clip: bool = True, min_side: float = 1.0) -> BBox | None:
    """The box as floats, clipped to the image when ``clip``, or None when degenerate."""
    x, y, w, h = map(float, bbox)
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(w) and math.isfinite(h)):
        return None
    if clip:
        x1, y1 = max(x, 0.0), max(y, 0.0)
        x2, y2 = min(x + w, float(width)), min(y + h, float(height))
        x, y, w, h = x1, y1, x2 - x1, y2 - y1
    if w < min_side or h < min_side:
        return None
    return (x, y, w, h)


def _with_box(e: Entity, bbox: BBox) -> Entity:
    """``dataclasses.replace(e, bbox=bbox)`` without the call through ``__init__`` (an entity has
    no ``__post_init__``, slots or init-only fields: its fields are its ``__dict__``)."""
    new = object.__new__(type(e))
    new.__dict__.update(e.__dict__)
    new.bbox = bbox
    return new


def _context_with(ctx: ImageContext, entities: list[Entity]) -> ImageContext:
    """``dataclasses.replace(ctx, entities=entities, relationships=list(ctx.relationships),
    stuff=list(ctx.stuff))`` without the call through ``__init__``: the fields copied, the
    lists new, the derived look-ups (``_derived``, not an init field) fresh."""
    new = object.__new__(type(ctx))
    new.__dict__.update(ctx.__dict__)
    new.entities, new.relationships, new.stuff = entities, list(ctx.relationships), list(ctx.stuff)
    new._derived = {}
    return new


def select_entities(ctx: ImageContext, eligible: list[Entity], rules: SelectionRules = SelectionRules()) -> Selection:
    """Apply ``rules`` to the ``eligible`` entities of the image ``ctx`` (module docstring).

    An entity is identified by its object: one listed twice in ``eligible`` (two referring
    expressions of one annotation) is one candidate, and an eligible entity of
    ``ctx.entities`` has its box clipped once as context and once as a candidate, as the
    build always did (byte-identical rows)."""
    W, H = ctx.width, ctx.height

    clip_boxes, min_side = rules.clip_boxes, rules.min_side

    def clip(b: BBox) -> BBox | None:
        return clip_box(b, W, H, clip=clip_boxes, min_side=min_side)

    box: dict[int, BBox] = {}  # id(entity object) -> its box so far; the inputs stay as they are
    for e in ctx.entities:
        b = box.get(id(e), e.bbox)
        box[id(e)] = (clip(b) or b) if rules.clip_boxes else b
    for e in eligible:
        box.setdefault(id(e), e.bbox)

    drops: list[Drop] = []

    def drop(e: Entity, reason: str) -> None:
        drops.append(Drop(e.id, e.category, tuple(float(v) for v in box[id(e)]), reason))

    def area(e: Entity) -> float:
        return box[id(e)][2] * box[id(e)][3]

    img_area = float(W * H)
    ok: list[Entity] = []
    for e in eligible:
        if e.iscrowd:
            drop(e, "crowd region: crowd annotations are context only")
            continue
        b = clip(box[id(e)])
        if b is None:
            drop(e, f"degenerate box: {list(box[id(e)])} in a {W}x{H} image")
            continue
        box[id(e)] = b
        if b[2] * b[3] < rules.min_area * img_area:
            drop(e, f"box too small: {b[2]:.0f}x{b[3]:.0f} px is under {rules.min_area:.2%} of the {W}x{H} image")
            continue
        ok.append(e)
    ok.sort(key=lambda e: (-area(e), id_key(e.id)))
    ranked: list[Entity] = []
    if rules.distinct_categories:
        seen: set[str] = set()
        for e in ok:
            if e.category not in seen:
                seen.add(e.category)
                ranked.append(e)
    first = {id(e) for e in ranked}
    ranked += [e for e in ok if id(e) not in first]
    n_kept = rules.max_per_image + max(rules.reserve, 0)
    chosen = sorted(ranked[:rules.max_per_image], key=lambda e: (-area(e), id_key(e.id)))
    chosen += ranked[rules.max_per_image:n_kept]  # stand-ins, in rank order
    taken = {id(e) for e in chosen}
    for e in ok:
        if id(e) not in taken:
            kept = f"{rules.max_per_image} kept" + (f" and {rules.reserve} stand-ins" if rules.reserve else "")
            drop(e, f"over per-image limit: {len(ok)} eligible entities, {kept}")

    new: dict[int, Entity] = {}

    def copy(e: Entity) -> Entity:
        if id(e) not in new:
            new[id(e)] = _with_box(e, box[id(e)])
        return new[id(e)]

    out_ctx = _context_with(ctx, [copy(e) for e in ctx.entities])
    return Selection(out_ctx, [copy(e) for e in chosen], drops)
