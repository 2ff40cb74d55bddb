"""Relations from annotations and their false alternatives (the relation swaps).

A relation text is ``<head> <rest>``: a known relation phrase and what it points at
(``sitting on`` + ``the bench``), or a frame relation alone (``on the left side``). A
swap replaces the head and keeps the rest verbatim. Alternatives come from:

- the head's curated contradictions (``vg_predicates.tsv``), minus any that the boxes say
  holds for the pair;
- spatial relations that the boxes make clearly false for the pair (``spatial.py``);
- for a frame relation, the frame relations clearly false for the box.

Never a paraphrase of the GT head (same group), and at most one per group, so the three
swaps are three different relations.
"""

from __future__ import annotations

import functools
import re

from scar import lexicon
from scar.build.steps import predicates, spatial
from scar.types import BBox, Element, Entity, ImageContext, Sample

_NAME = re.compile(r"^[a-z][a-z -]{0,40}$")
_PAIRWISE = {r.phrase: r for r in spatial.PAIRWISE}
FRAME_PHRASES = frozenset(r.phrase for r in spatial.FRAME)


def entity_name(e: Entity, source: str = "") -> str | None:
    """The entity's category as caption text (its sense's surface noun), or None when it names
    no visible thing (``other``, a material) or is not plain words."""
    return _entity_name(source, e.category, tuple(e.synsets))


@functools.lru_cache(maxsize=65536)
def _entity_name(source: str, category: str, synsets: tuple[str, ...]) -> str | None:
    sense = lexicon.category_sense(source, category, synsets)
    if sense is None:
        return None
    return sense.surface if _NAME.match(sense.surface) else None


def name_in_image(e: Entity, source: str, ctx: ImageContext | None) -> str | None:
    """``entity_name`` as the caption says it in this picture: a category whose everyday noun
    depends on what else is seen (``lexicon.noun_in_context``: COCO's ``tv`` is a monitor beside a
    keyboard, else a television) gets the same noun as an anchor as it gets as an object."""
    name = entity_name(e, source)
    if name is None or e.synsets:
        return name
    if lexicon.broad_category(source, e.category) is not None:  # "the cup" may be a glass
        return None
    if ctx is None:
        return name
    return lexicon.noun_in_context(source, e.category, name, ctx.categories())


def _named(ctx: ImageContext, source: str) -> dict[str, frozenset[str]]:
    """Caption noun -> the ids of the image's entities it names (once per image and source)."""
    key = ("named", source)
    if key not in ctx._derived:
        out: dict[str, set[str]] = {}
        for o in ctx.entities:
            n = name_in_image(o, source, ctx)
            if n is not None:
                out.setdefault(n, set()).add(o.id)
        ctx._derived[key] = {n: frozenset(ids) for n, ids in out.items()}
    return ctx._derived[key]


def good_anchor(target: Entity | None, target_name: str | None, e: Entity, source: str = "",
                ctx: ImageContext | None = None) -> str | None:
    """The anchor's caption noun when entity ``e`` may anchor a relation of the target: another
    entity, not a crowd, naming a visible thing of another category (never the target's noun,
    a near-synonym of it, nor a part of it) and, with the image's ``ctx``, the only thing of the
    image its noun names ("the truck" of a picture with two trucks points at neither); else None."""
    if target is not None and e.id == target.id or e.iscrowd:
        return None
    name = name_in_image(e, source, ctx)
    if name is not None and ctx is not None and _named(ctx, source).get(name, frozenset()) - {e.id}:
        return None
    if name is None or target_name is None:
        return name
    if lexicon.near(name, target_name) or lexicon.is_part(name, target_name):
        return None
    return name


def _distinct_groups(gt_head: str, heads: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for h in heads:
        grp = predicates.group(h)
        g = grp.primary if grp is not None else h
        if g in seen or predicates.is_paraphrase(gt_head, h):
            continue
        seen.add(g)
        out.append(h)
    return out


def false_heads(head: str, target: BBox | None = None, anchor: BBox | None = None,
                frame: tuple[int, int] | None = None, *, contradictions_first: bool = True) -> list[str]:
    """Relation heads that are false for the region, best first, one per group."""
    return list(_false_heads(head, tuple(target) if target is not None else None,
                             tuple(anchor) if anchor is not None else None,
                             tuple(frame) if frame is not None else None, contradictions_first))


@functools.lru_cache(maxsize=65536)
def _false_heads(head: str, target: BBox | None, anchor: BBox | None, frame: tuple[int, int] | None,
                 contradictions_first: bool) -> tuple[str, ...]:
    return tuple(_false_heads_uncached(head, target, anchor, frame, contradictions_first=contradictions_first))


def _false_heads_uncached(head: str, target: BBox | None = None, anchor: BBox | None = None,
                          frame: tuple[int, int] | None = None, *, contradictions_first: bool = True) -> list[str]:
    if head in FRAME_PHRASES:
        if target is None or frame is None:
            return []
        return _distinct_groups(head, [r.phrase for r in spatial.false_frame(target, *frame)])
    A = spatial.Box.of(target) if target is not None and anchor is not None else None
    B = spatial.Box.of(anchor) if A is not None else None
    contra = [c for c in predicates.contradictions(head)
              if A is None or c not in _PAIRWISE or not _PAIRWISE[c].holds(A, B)]
    geo = [r.phrase for r in spatial.false_pairwise(target, anchor)] if A is not None else []
    ranked = contra + geo if contradictions_first else geo + contra
    return _distinct_groups(head, ranked)


#: Relation heads that put the target inside the anchor: only for a container anchor big enough.
CONTAINMENT = frozenset({"inside", "in", "inside of", "sitting in", "standing in"})
#: Relation heads that put the target on the anchor: only for an anchor not much smaller.
SUPPORT = frozenset({"on top of", "on", "sitting on", "standing on", "lying on", "resting on", "parked on",
                     "walking on", "mounted on"})
#: Relation heads that put the target beneath the anchor.
BENEATH = frozenset({"under", "beneath", "underneath"})
#: Vague proximity: as likely true as false for any two boxes of one picture, so never a swap
#: of a geometric relation ("next to the chair" when the GT is "to the left of the chair").
PROXIMITY = frozenset({"next to", "near", "beside", "by", "close to", "far from", "around"})


#: The smallest size class of a container a swap may put something inside (a bowl, a bag, a sink).
MIN_CONTAINER_SIZE = 3


def _smaller(target_noun: str | None, anchor_noun: str | None) -> bool:
    """Whether the target's thing is of a smaller size class than the anchor's (``sizes.tsv``);
    False when either size is unknown."""
    t, a = lexicon.size_class(target_noun), lexicon.size_class(anchor_noun)
    return t is not None and a is not None and t < a


def possible(head: str, target: BBox, anchor: BBox | None, anchor_noun: str | None,
             target_noun: str | None = None) -> bool:
    """Whether a relation head is physically possible for the pair (a swap must be false, not
    absurd): ``inside`` only for a container anchor of a bigger size class than the target and at
    least ``MIN_CONTAINER_SIZE`` (and a box at least as big); ``on``/``under`` only for a target of a
    smaller size class than the anchor, and ``on`` only on a thing with a top that holds things up
    (``surfaces.txt``: a table, never a keyboard), never a person or animal's body, on a box at
    least half the target's; ``under`` only a thing with room beneath it (``overheads.txt``)."""
    if anchor is None:
        return True
    A, B = spatial.Box.of(target), spatial.Box.of(anchor)
    if head in CONTAINMENT:  # nothing worth saying fits in a cup or a glass
        return (anchor_noun is not None and lexicon.is_container(anchor_noun) and B.area >= A.area
                and _smaller(target_noun, anchor_noun) and (lexicon.size_class(anchor_noun) or 0) >= MIN_CONTAINER_SIZE)
    if head in SUPPORT:
        kind = lexicon.nouns().get(anchor_noun or "")
        return (B.area >= 0.5 * A.area and (kind is None or kind.lexname not in ("noun.person", "noun.animal"))
                and _smaller(target_noun, anchor_noun) and (anchor_noun or "").lower() in lexicon.surfaces())
    if head in BENEATH:  # under a thing with room beneath it (a table, never a refrigerator or a cup)
        return _smaller(target_noun, anchor_noun) and (anchor_noun or "").lower() in lexicon.overheads()
    return True


def alternatives(rel: Element, s: Sample) -> list[str]:
    """Full texts of the false, physically possible relations for a sample's relation element,
    best first. A geometric relation never gets a proximity swap (vague, often true), except
    "far from" for a thing the masks show resting on its anchor (``support``): it touches it."""
    split = predicates.split_relation(rel.text)
    if split is None:
        return []
    head, rest = split
    ctx = s.context
    anchor = anchor_noun = None
    if rel.anchor and ctx is not None:
        try:
            a = ctx.entity(rel.anchor)
            anchor, anchor_noun = a.bbox, name_in_image(a, s.source, ctx)
        except KeyError:
            anchor = None
    target_noun = s.object.value if s.object is not None else None
    if target_noun is None:
        own = lexicon.category_sense(s.source, s.region.category)
        target_noun = own.surface if own is not None else None
    return list(_alternatives(rel.text, rel.provenance, head, rest, tuple(s.region.bbox),
                              tuple(anchor) if anchor is not None else None, anchor_noun, target_noun,
                              (s.width, s.height)))


@functools.lru_cache(maxsize=65536)
def _alternatives(text: str, provenance: str, head: str, rest: str, target: BBox, anchor: BBox | None,
                  anchor_noun: str | None, target_noun: str | None, frame: tuple[int, int]) -> tuple[str, ...]:
    """``alternatives`` from what it depends on (memoised: compose and the negatives ask the same)."""
    heads = false_heads(head, target, anchor, frame, contradictions_first=provenance != "geometry")
    if provenance == "geometry":  # a thing the masks show resting on the anchor touches it: never far from it
        heads = [h for h in heads if h not in PROXIMITY or (head in SUPPORT and h == "far from")]
    heads = [h for h in heads if possible(h, target, anchor, anchor_noun, target_noun)]
    return tuple(f"{h} {rest}".strip() for h in heads if f"{h} {rest}".strip() != text)


def from_relationships(s: Sample, min_alternatives: int = 3, taken: frozenset[str] = frozenset()) -> Element | None:
    """A curated VisualGenome relationship with the region's entity as subject (provenance
    ``annotation``), to a good anchor (``good_anchor``), in file order; never a relation text in
    ``taken``."""
    ctx = s.context
    if ctx is None or not ctx.relationships:
        return None
    target = _target(s)
    tname = s.object.value if s.object is not None else None
    for r in ctx.relationships:
        if r.subject_id != s.region.entity_id or r.object_id == r.subject_id:
            continue
        p = predicates.lookup(r.predicate)
        if p is None:
            continue
        try:
            obj = ctx.entity(r.object_id)
        except KeyError:
            continue
        name = good_anchor(target, tname, obj, s.source, ctx)
        if name is None:
            continue
        el = Element(f"{p.surface} the {name}", "annotation", value=p.surface, anchor=obj.id)
        if el.text not in taken and len(alternatives(el, s)) >= min_alternatives:
            return el
    return None


def _target(s: Sample) -> Entity | None:
    if s.context is None:
        return None
    try:
        return s.context.entity(s.region.entity_id)
    except KeyError:
        return None


def anchor_entity(ctx: ImageContext | None, noun: str, target: Entity | None, target_bbox: BBox,
                  source: str = "", target_name: str | None = None) -> Entity | None:
    """The entity a phrase's anchor noun names: a good anchor (``good_anchor``, unique in the image) whose noun is the
    phrase's noun, a synonym or a more general word for it; the nearest to the target wins."""
    if ctx is None:
        return None
    T = spatial.Box.of(target_bbox)
    hits = []
    for e in ctx.entities:
        name = good_anchor(target, target_name, e, source, ctx)
        if name is None:
            continue
        if lexicon.key(name) == lexicon.key(noun) or lexicon.key(e.category) == lexicon.key(noun):
            rel = "same"
        else:
            rel = lexicon.lexical_relation(name, noun) if lexicon.is_noun(name) and lexicon.is_noun(noun) else None
        if rel in ("same", "synonym", "hyponym"):
            E = spatial.Box.of(e.bbox)
            hits.append(((E.cx - T.cx) ** 2 + (E.cy - T.cy) ** 2, e.id, e))
    return min(hits, key=lambda t: t[:2])[2] if hits else None
