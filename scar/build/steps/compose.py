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
  (``scar/data/object_scenes.tsv``) [lexical]; else ``indoors``/``outdoors`` when the place
  cues decide only that; else none (``scenes.choose``).

What nothing grounds is rejected with the reason, or, with ``defer=True`` (the LLM
generators), left empty for the LLM step to fill (the GT is then set by that step).
"""

from __future__ import annotations

import math

from scar import lexicon
from scar.build.base import Step
from scar.build.sources.common import to_rle
from scar.build.steps import predicates, relations, scenes, spatial, support
from scar.build.steps.parse import Parsed, head_noun, parse_phrase
from scar.types import Candidate, Element, Entity, Sample

__all__ = ["ComposeCaption", "head_noun", "compose_text", "missing"]

MIN_ALTERNATIVES = 3
#: Scene swaps a caption needs (the paper design: 3), kept when choosing an anchor.
MIN_SCENE_SWAPS = 3


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
        taken: dict[str, set[str]] = {}  # image -> GT captions given so far (unique within an image)
        for s in samples:
            used = taken.setdefault(s.image_id, set())
            reasons = self._compose(s, used)
            if reasons and not self.defer:
                self.reject(s, reasons[0])
                continue
            if not reasons:
                s.candidates = [Candidate(compose_text(s))]
                used.add(compose_text(s))
            out.append(s)
        return out

    def _compose(self, s: Sample, used: set[str] = frozenset()) -> list[str]:
        """Fill what can be grounded; return the reasons for what cannot."""
        ent = s.region_entity()
        own = lexicon.category_sense(s.source, s.region.category, ent.synsets if ent else ())
        cat = own.surface if own else s.region.category
        subject = head_noun(s.phrase, cat) if s.phrase else None
        # the phrase's relation and scene belong to the phrase's own subject: a phrase whose head is
        # not the region ("books on a shelf" attached to the shelf) says nothing about the region
        parsed = parse_phrase(s.phrase, cat) if s.phrase and subject is not None else Parsed()
        reasons = []
        if s.object is None:
            noun = subject
            if noun is None and own is not None:
                noun = own.surface
                if ent is not None and not ent.synsets and s.context is not None:  # the annotators' sense decides
                    noun = lexicon.noun_in_context(s.source, s.region.category, noun, s.context.categories())
            if noun is None:
                reasons.append(f"object: no WordNet noun in phrase {s.phrase!r} or category {s.region.category!r}")
            elif subject is None and not (ent is not None and ent.synsets) and (
                    broad := lexicon.broad_category(s.source, s.region.category)) is not None:
                reasons.append(f"object: {s.source}'s {s.region.category!r} boxes {broad}: the name is no safe "
                               "noun for this box")
            elif subject is None and _cut_off_person(s, noun):
                reasons.append(f"object: a {noun} box cut off by the frame and wider than tall shows a part of "
                               "someone (an arm, a shoulder), not what the word names")
            else:
                s.object = Element(noun, "annotation", value=noun)
        if s.scene is None:
            s.scene, why = self._scene(s, parsed)
            if s.scene is None:
                reasons.append(f"scene: {why}")
        if s.relation is None:
            prefix = f"{s.object.text} " if s.object is not None else None
            suffix = f" {s.scene.text}" if s.scene is not None else ""
            taken = frozenset(c[len(prefix):len(c) - len(suffix)] for c in used
                              if prefix and c.startswith(prefix) and c.endswith(suffix)) if prefix else frozenset()
            s.relation = self._relation(s, parsed, taken)
            if s.relation is None:
                reasons.append("relation: no annotated relationship, phrase relation, neighbour or frame relation "
                               f"with {MIN_ALTERNATIVES} clearly false alternatives that another row of the image "
                               "does not already use")
        return reasons

    def _relation(self, s: Sample, parsed: Parsed, taken: frozenset[str] = frozenset()) -> Element | None:
        el = relations.from_relationships(s, MIN_ALTERNATIVES, taken)
        if el is not None:
            return el
        ctx = s.context
        target = None
        if ctx is not None:
            try:
                target = ctx.entity(s.region.entity_id)
            except KeyError:
                target = None
        tname = s.object.value if s.object is not None else None
        if parsed.predicate and parsed.anchor:
            anchor = relations.anchor_entity(ctx, parsed.anchor, target, s.region.bbox, s.source, tname)
            surf = _surface_predicate(parsed.predicate)
            if anchor is not None and surf is not None:
                el = Element(f"{surf} the {parsed.anchor}", "annotation", value=surf, anchor=anchor.id)
                if el.text not in taken and len(relations.alternatives(el, s)) >= MIN_ALTERNATIVES:
                    return el
        others = []
        for e in (ctx.entities if ctx else []):
            name = relations.good_anchor(target, tname, e, s.source, ctx)
            if name is not None and e.id != s.region.entity_id:
                others.append((_dist(e, s.region.bbox), e.id, e, name))
        others.sort(key=lambda t: t[:2])  # the nearest first
        thing: list = []  # the region's decoded mask, once, when a surface asks for it
        for _, _, e, name in others:  # a surface it rests on
            if self._rests_on(s, e, name, tname, thing) and _keeps_scene_swaps(s, e):
                el = Element(f"on the {name}", "geometry", value="on", anchor=e.id)
                if el.text not in taken and len(relations.alternatives(el, s)) >= MIN_ALTERNATIVES:
                    return el
        for _, _, e, name in others:
            r = spatial.pairwise_relation(s.region.bbox, e.bbox)
            if r is None or not _keeps_scene_swaps(s, e):
                continue
            el = Element(f"{r.phrase} the {name}", "geometry", value=r.phrase, anchor=e.id)
            if el.text not in taken and len(relations.alternatives(el, s)) >= MIN_ALTERNATIVES:
                return el
        for r in spatial.frame_relations(s.region.bbox, s.width, s.height):
            el = Element(r.phrase, "geometry", value=r.phrase)
            if el.text not in taken and len(relations.alternatives(el, s)) >= MIN_ALTERNATIVES:
                return el
        return None

    @staticmethod
    def _rests_on(s: Sample, e: Entity, name: str, tname: str | None, thing: list) -> bool:
        """Whether the masks show the region resting on entity ``e`` (``support.rests_on``): ``e``
        a surface (``surfaces.txt``) of a bigger size class and no container (a cup in a sink is in
        it), the region of a size class below 4 (a person or a chair cut off by a table's edge is
        behind it, not on it). ``thing`` holds the region's decoded mask once one call has made it."""
        ctx = s.context
        if ctx is None or e.id not in ctx.segmentations or s.region.mask is None:
            return False
        if ((lexicon.size_class(tname) or 9) >= 4 or lexicon.is_container(name)
                or not support.box_allows(s.region.bbox, e.bbox, name)):
            return False
        if not relations.possible("on", s.region.bbox, e.bbox, name, tname):
            return False
        try:
            below = support.decode(to_rle(ctx.segmentations[e.id], ctx.height, ctx.width))
        except (ValueError, TypeError, KeyError):
            return False
        if not thing:
            thing.append(support.decode(s.region.mask))
        return thing[0] is not None and below is not None and support.rests_on(thing[0], below)

    def _scene(self, s: Sample, parsed: Parsed) -> tuple[Element | None, str]:
        """The scene element and, when there is none, why (abstention: no evidence, or the
        evidence disagrees on indoor/outdoor)."""
        ctx = s.context
        label = ctx.scene if ctx else None
        noun = label.strip().lower().replace("_", " ") if label and label.strip() else None
        if noun is not None:
            return Element(lexicon.scene_phrase(noun), "annotation", value=noun), ""
        if parsed.scene:
            return Element(lexicon.scene_phrase(parsed.scene), "annotation", value=parsed.scene), ""
        if ctx is None:
            return None, "the image has no scene label"
        choice = scenes.choose(ctx.categories(), ctx.stuff, infer=self.infer_scene)
        if choice.noun is None:
            return None, choice.reason
        return Element(choice.text, choice.provenance, value=choice.noun), ""


def _cut_off_person(s: Sample, noun: str) -> bool:
    """A person seen whole is taller than wide; a person's box that reaches the picture's edge and
    is wider than tall is, far more often, an arm or a shoulder reaching into the frame (a hand
    holding a phone, an elbow by a plate), where "person" is not what a reader sees."""
    kind = lexicon.nouns().get(noun)
    if kind is None or kind.lexname != "noun.person":
        return False
    x, y, w, h = s.region.bbox
    touches = x <= 1 or y <= 1 or x + w >= s.width - 1 or y + h >= s.height - 1
    return touches and w > h


def _keeps_scene_swaps(s: Sample, anchor: Entity) -> bool:
    """Whether naming ``anchor`` leaves the caption the scene swaps it needs: with a generic
    scene (``outdoors``) the swaps are scenes of the other kind, and an anchor such as a traffic
    light rules every indoor one out by itself ("... the traffic light in a kitchen" is no hard
    negative), so another anchor or the frame is taken instead of dropping the sample."""
    if s.scene is None or s.scene.value not in scenes.GENERIC or not scenes.ruled_out_by(anchor.category):
        return True
    ctx = s.context
    left = scenes.swaps(s.scene.value, ctx.categories() if ctx else (), ctx.stuff if ctx else [],
                        caption_categories=[s.region.category, anchor.category])
    return len(left) >= MIN_SCENE_SWAPS


def _surface_predicate(raw: str) -> str | None:
    p = predicates.lookup(raw)
    if p is not None:
        return p.surface
    return raw if predicates.group(raw) is not None else None
