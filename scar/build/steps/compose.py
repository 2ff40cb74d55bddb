"""Compose the ground-truth caption ``<object> <relation> <scene>`` of each sample.

Surface form: the three element texts joined by single spaces, each verbatim, so a
swap is a plain replacement of one element's text:
``cup`` + ``next to the chair`` + ``in a kitchen`` -> "cup next to the chair in a kitchen".

Each element is grounded in the first source that applies (its provenance in brackets):

- object: the head noun of the seed phrase, else the category [annotation];
- relation: a curated VisualGenome relationship with the entity as subject [annotation];
  the phrase's relation when its anchor noun names another entity of the image
  [annotation]; a spatial relation to the nearest entity of another category, then to
  the image frame [geometry]. A relation is used only when at least three clearly false
  alternatives exist for it (its swaps);
- scene: the image's scene label; a scene named by the phrase; the scene the image's
  stuff classes decide (``scar/data/stuff_scenes.tsv``) [annotation]; with
  ``infer_scene``, the scene the image's object categories decide
  (``scar/data/object_scenes.tsv``) [lexical].

What nothing grounds is rejected with the reason, or, with ``defer=True`` (the LLM
generators), left empty for the LLM step to fill (the GT is then set by that step).
"""

from __future__ import annotations

import math

from scar import lexicon
from scar.build.base import Step
from scar.build.steps import predicates, relations, scenes, spatial
from scar.build.steps.parse import Parsed, head_noun, parse_phrase
from scar.types import Candidate, Element, Entity, Sample

__all__ = ["ComposeCaption", "head_noun", "compose_text", "missing"]

MIN_ALTERNATIVES = 3


def compose_text(s: Sample) -> str:
    return f"{s.object.text} {s.relation.text} {s.scene.text}"


def missing(s: Sample) -> list[str]:
    return [n for n in ("object", "relation", "scene") if getattr(s, n) is None]


def _dist(a: Entity, b_bbox) -> float:
    A, B = spatial.Box.of(a.bbox), spatial.Box.of(b_bbox)
    return math.hypot(A.cx - B.cx, A.cy - B.cy)


class ComposeCaption(Step):
    """Fill object, relation and scene from annotations, geometry and (optionally) the
    lexical scene inference; set the GT when all three are known."""

    name = "compose"

    def __init__(self, *, infer_scene: bool = True, defer: bool = False) -> None:
        self.infer_scene = infer_scene
        self.defer = defer

    def run(self, samples: list[Sample]) -> list[Sample]:
        out = []
        for s in samples:
            reasons = self._compose(s)
            if reasons and not self.defer:
                self.reject(s, reasons[0])
                continue
            if not reasons:
                s.candidates = [Candidate(compose_text(s))]
            out.append(s)
        return out

    def _compose(self, s: Sample) -> list[str]:
        """Fill what can be grounded; return the reasons for what cannot."""
        parsed = parse_phrase(s.phrase, s.region.category) if s.phrase else Parsed()
        reasons = []
        if s.object is None:
            noun = head_noun(s.phrase, s.region.category) if s.phrase else None
            if noun is None and lexicon.is_noun(s.region.category):
                noun = s.region.category.lower()
            if noun is None:
                reasons.append(f"object: no WordNet noun in phrase {s.phrase!r} or category {s.region.category!r}")
            else:
                s.object = Element(noun, "annotation", value=noun)
        if s.relation is None:
            s.relation = self._relation(s, parsed)
            if s.relation is None:
                reasons.append("relation: no annotated relationship, phrase relation, neighbour or frame relation "
                               f"with {MIN_ALTERNATIVES} clearly false alternatives")
        if s.scene is None:
            s.scene = self._scene(s, parsed)
            if s.scene is None:
                what = "stuff and object categories decide none" if self.infer_scene else "stuff classes decide none"
                reasons.append(f"scene: the image has no scene label ({what})")
        return reasons

    def _relation(self, s: Sample, parsed: Parsed) -> Element | None:
        el = relations.from_relationships(s, MIN_ALTERNATIVES)
        if el is not None:
            return el
        ctx = s.context
        target = None
        if ctx is not None:
            try:
                target = ctx.entity(s.region.entity_id)
            except KeyError:
                target = None
        if parsed.predicate and parsed.anchor:
            anchor = relations.anchor_entity(ctx, parsed.anchor, target, s.region.bbox)
            surf = _surface_predicate(parsed.predicate)
            if anchor is not None and surf is not None:
                el = Element(f"{surf} the {parsed.anchor}", "annotation", value=surf, anchor=anchor.id)
                if len(relations.alternatives(el, s)) >= MIN_ALTERNATIVES:
                    return el
        others = [e for e in (ctx.entities if ctx else []) if e.id != s.region.entity_id and not e.iscrowd]
        # other categories first (a clearer anchor), then the nearest
        others.sort(key=lambda e: (e.category.lower() == s.region.category.lower(),
                                   _dist(e, s.region.bbox), e.id))
        for e in others:
            r = spatial.pairwise_relation(s.region.bbox, e.bbox)
            name = relations.entity_name(e)
            if r is None or name is None:
                continue
            el = Element(f"{r.phrase} the {name}", "geometry", value=r.phrase, anchor=e.id)
            if len(relations.alternatives(el, s)) >= MIN_ALTERNATIVES:
                return el
        r = spatial.frame_relation(s.region.bbox, s.width, s.height)
        if r is not None:
            el = Element(r.phrase, "geometry", value=r.phrase)
            if len(relations.alternatives(el, s)) >= MIN_ALTERNATIVES:
                return el
        return None

    def _scene(self, s: Sample, parsed: Parsed) -> Element | None:
        ctx = s.context
        label = ctx.scene if ctx else None
        prov = "annotation"
        noun = label.strip().lower().replace("_", " ") if label and label.strip() else None
        if noun is None and parsed.scene:
            noun = parsed.scene
        if noun is None and ctx is not None and ctx.stuff:
            noun = scenes.from_stuff(ctx.stuff)
        if noun is None and self.infer_scene and ctx is not None:
            noun, prov = scenes.from_objects(e.category for e in ctx.entities), "lexical"
        if noun is None:
            return None
        return Element(lexicon.scene_phrase(noun), prov, value=noun)


def _surface_predicate(raw: str) -> str | None:
    p = predicates.lookup(raw)
    if p is not None:
        return p.surface
    return raw if predicates.group(raw) is not None else None
