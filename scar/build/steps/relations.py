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

import re

from scar import lexicon
from scar.build.steps import predicates, spatial
from scar.types import BBox, Element, Entity, ImageContext, Sample

_NAME = re.compile(r"^[a-z][a-z -]{0,40}$")
_PAIRWISE = {r.phrase: r for r in spatial.PAIRWISE}
FRAME_PHRASES = frozenset(r.phrase for r in spatial.FRAME)


def entity_name(e: Entity) -> str | None:
    """The entity's category as caption text, or None when it is not plain words."""
    name = " ".join(e.category.lower().replace("_", " ").split())
    return name if _NAME.match(name) else None


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


def alternatives(rel: Element, s: Sample) -> list[str]:
    """Full texts of the false relations for a sample's relation element, best first."""
    split = predicates.split_relation(rel.text)
    if split is None:
        return []
    head, rest = split
    ctx = s.context
    anchor = None
    if rel.anchor and ctx is not None:
        try:
            anchor = ctx.entity(rel.anchor).bbox
        except KeyError:
            anchor = None
    heads = false_heads(head, s.region.bbox, anchor, (s.width, s.height),
                        contradictions_first=rel.provenance != "geometry")
    return [f"{h} {rest}".strip() for h in heads if f"{h} {rest}".strip() != rel.text]


def from_relationships(s: Sample, min_alternatives: int = 3) -> Element | None:
    """A curated VisualGenome relationship with the region's entity as subject
    (provenance ``annotation``): anchors of another category first, then file order."""
    ctx = s.context
    if ctx is None or not ctx.relationships:
        return None
    found = []
    for i, r in enumerate(ctx.relationships):
        if r.subject_id != s.region.entity_id or r.object_id == r.subject_id:
            continue
        p = predicates.lookup(r.predicate)
        if p is None:
            continue
        try:
            obj = ctx.entity(r.object_id)
        except KeyError:
            continue
        name = entity_name(obj)
        if name is None:
            continue
        el = Element(f"{p.surface} the {name}", "annotation", value=p.surface, anchor=obj.id)
        if len(alternatives(el, s)) >= min_alternatives:
            found.append((obj.category.lower() == s.region.category.lower(), i, el))
    return min(found, key=lambda t: t[:2])[2] if found else None


def anchor_entity(ctx: ImageContext | None, noun: str, target: Entity | None, target_bbox: BBox) -> Entity | None:
    """The entity a phrase's anchor noun names: its category is the noun, a synonym or a
    more general word for it; the nearest to the target wins."""
    if ctx is None:
        return None
    T = spatial.Box.of(target_bbox)
    hits = []
    for e in ctx.entities:
        if target is not None and e.id == target.id or e.iscrowd or entity_name(e) is None:
            continue
        rel = lexicon.lexical_relation(e.category, noun) if lexicon.is_noun(e.category) and lexicon.is_noun(noun) \
            else ("same" if lexicon.key(e.category) == lexicon.key(noun) else None)
        if rel in ("same", "synonym", "hyponym"):
            E = spatial.Box.of(e.bbox)
            hits.append(((E.cx - T.cx) ** 2 + (E.cy - T.cy) ** 2, e.id, e))
    return min(hits, key=lambda t: t[:2])[2] if hits else None
