"""Compose the ground-truth caption ``<object> <relation> <scene>`` of each sample.

Surface form: the three element texts joined by single spaces, each verbatim, so a
swap is a plain replacement of one element's text:
``cup`` + ``next to the chair`` + ``in a kitchen`` -> "cup next to the chair in a kitchen".

Elements come from annotations first: the object from the referring phrase's head
noun or the category; the relation from the boxes of the other entities of the image
(``geometry``); the scene from the image's scene label. A sample whose element
cannot be grounded is rejected with the reason (the LLM path completes those).
"""

from __future__ import annotations

import math
import re

from scar import lexicon
from scar.pipeline.base import Step
from scar.pipeline.generate import spatial
from scar.types import Candidate, Element, Entity, Sample

_CUT = re.compile(
    r"\b(in|on|at|with|of|near|by|behind|under|over|above|below|next|beside|between|that|who|which|"
    r"wearing|holding|to|from|for|and|while|is|are)\b"
)
_DROP = {"a", "an", "the", "this", "that", "left", "right", "front", "back", "top", "bottom", "middle"}


def head_noun(phrase: str, category: str | None = None) -> str | None:
    """The head noun of a referring phrase: the longest WordNet noun ending the words
    before the first preposition/clause ("woman in an orange suit" -> "woman",
    "model space shuttle" -> "space shuttle"). With a ``category``, only a noun that
    is the category, a synonym or a hyponym of it counts ("white rocket" is a plant
    in WordNet, so for the category ``rocket`` the head is "rocket")."""
    text = re.sub(r"[^a-z\s-]", " ", phrase.lower())
    words = [w for w in _CUT.split(text, maxsplit=1)[0].split() if w not in _DROP]
    for i in range(len(words)):
        cand = " ".join(words[i:])
        if not lexicon.is_noun(cand):
            continue
        cand = lexicon.surface(lexicon.wordnet().morphy(lexicon.key(cand), "n") or lexicon.key(cand))
        if category is None or lexicon.lexical_relation(category, cand) in ("same", "synonym", "hyponym"):
            return cand
    return None


def _dist(a: Entity, b_bbox) -> float:
    A, B = spatial.Box.of(a.bbox), spatial.Box.of(b_bbox)
    return math.hypot(A.cx - B.cx, A.cy - B.cy)


class ComposeCaption(Step):
    """Fill object, relation and scene from annotations and geometry; set the GT."""

    name = "compose"

    def run(self, samples: list[Sample]) -> list[Sample]:
        out = []
        for s in samples:
            try:
                self._compose(s)
            except _Ungrounded as e:
                self.reject(s, str(e))
                continue
            out.append(s)
        return out

    def _compose(self, s: Sample) -> None:
        if s.object is None:
            noun = head_noun(s.phrase, s.region.category) if s.phrase else None
            if noun is None and lexicon.is_noun(s.region.category):
                noun = s.region.category.lower()
            if noun is None:
                raise _Ungrounded(f"object: no WordNet noun in phrase {s.phrase!r} or category {s.region.category!r}")
            s.object = Element(noun, "annotation", value=noun)
        if s.relation is None:
            s.relation = self._relation(s)
        if s.scene is None:
            label = s.context.scene if s.context else None
            if not label:
                raise _Ungrounded("scene: the image has no scene label")
            noun = label.strip().lower().replace("_", " ")
            s.scene = Element(lexicon.scene_phrase(noun), "annotation", value=noun)
        text = f"{s.object.text} {s.relation.text} {s.scene.text}"
        s.candidates = [Candidate(text)]

    def _relation(self, s: Sample) -> Element:
        ctx = s.context
        others = [e for e in (ctx.entities if ctx else []) if e.id != s.region.entity_id and not e.iscrowd]
        # other categories first (a clearer anchor), then the nearest
        others.sort(key=lambda e: (e.category.lower() == s.region.category.lower(),
                                   _dist(e, s.region.bbox), e.id))
        for e in others:
            r = spatial.pairwise_relation(s.region.bbox, e.bbox)
            if r is not None and len(spatial.false_pairwise(s.region.bbox, e.bbox)) >= 3:
                return Element(f"{r.phrase} the {e.category.lower()}", "geometry", value=r.phrase, anchor=e.id)
        r = spatial.frame_relation(s.region.bbox, s.width, s.height)
        if r is not None and len(spatial.false_frame(s.region.bbox, s.width, s.height)) >= 3:
            return Element(r.phrase, "geometry", value=r.phrase)
        raise _Ungrounded("relation: no neighbour or frame relation with 3 clearly false alternatives")


class _Ungrounded(Exception):
    pass
