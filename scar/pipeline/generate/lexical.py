"""The offline negative generator (``--generator lexical``): WordNet + vocabularies.

Per sample, 3 object, 3 relation and 3 scene swaps, each replacing exactly one
element's text and keeping the rest verbatim:

- object: WordNet co-hyponyms of the GT object (nouns sharing a hypernym at most
  ``MAX_COUSIN_DEPTH`` levels above both), never a synonym, hypernym or hyponym of
  it over *any* noun sense; categories present in the image rank first (plausible in
  the scene), then the bundled common-object vocabulary, then direct WordNet sister
  terms (only when the first two give too few), each tier by closeness and SemCor
  frequency;
- relation: spatial relations that are *clearly false* for the boxes (same anchor);
- scene: other nouns of the bundled scene vocabulary, never WordNet-related to the
  GT scene.

Deterministic: the choices depend only on the seed and the sample id.
"""

from __future__ import annotations

import hashlib
import random
import re

from scar import lexicon
from scar.pipeline.base import Step
from scar.pipeline.generate import spatial
from scar.types import Candidate, Sample

N_PER_TYPE = 3
MAX_COUSIN_DEPTH = 4
_WORD = re.compile(r"^[a-z][a-z -]{1,24}$")


def stable_rng(seed: int, *parts: str) -> random.Random:
    h = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return random.Random(int.from_bytes(h[:8], "big"))


def normalise(text: str) -> str:
    """Case, whitespace and articles folded: the distinctness rule of SCaR."""
    words = re.sub(r"[^\w\s]", " ", text.lower()).split()
    return " ".join(w for w in words if w not in {"a", "an", "the"})


def _pick(rng: random.Random, ranked: list[str], k: int, pool: int = 6) -> list[str]:
    """k items from the top of a ranked list, chosen by the rng, in rank order."""
    top = ranked[: max(pool, k)]
    if len(top) < k:
        return list(top)
    idx = sorted(rng.sample(range(len(top)), k))
    return [top[i] for i in idx]


def object_swaps(gt: str, *, in_image: list[str], exclude: set[str]) -> list[str]:
    """Valid object swaps for ``gt``, best first."""
    seen: set[str] = set()
    ranked: list[tuple[int, int, int, str]] = []
    tiers = ((0, in_image), (1, sorted(lexicon.common_objects())), (2, lexicon.co_hyponyms(gt)))
    for tier, words in tiers:
        if tier == 2 and len(ranked) >= 2 * N_PER_TYPE:
            break
        for w in words:
            w = w.lower()
            if w in seen or w in exclude or not _WORD.match(w):
                continue
            seen.add(w)
            if not lexicon.concrete_synsets(w) or lexicon.lexical_relation(gt, w) is not None:
                continue
            depth = lexicon.cousin_depth(gt, w, MAX_COUSIN_DEPTH)
            if depth is None:
                continue
            ranked.append((tier, depth, -lexicon.lemma_count(w), w))
    ranked.sort()
    return [r[-1] for r in ranked]


def scene_swaps(gt_scene: str) -> list[str]:
    return [s for s in lexicon.scenes() if s != gt_scene and lexicon.lexical_relation(gt_scene, s) is None]


class LexicalNegatives(Step):
    name = "negatives"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def run(self, samples: list[Sample]) -> list[Sample]:
        out = []
        for s in samples:
            try:
                negs = self.object_negs(s) + self.relation_negs(s) + self.scene_negs(s)
            except _TooFew as e:
                self.reject(s, str(e))
                continue
            s.candidates = s.candidates[:1] + negs
            out.append(s)
        return out

    def _replace(self, s: Sample, element: str, value: str) -> Candidate:
        parts = {"object": s.object.text, "relation": s.relation.text, "scene": s.scene.text}
        parts[element] = value
        return Candidate(f"{parts['object']} {parts['relation']} {parts['scene']}", element, value)

    def object_negs(self, s: Sample) -> list[Candidate]:
        ctx = s.context
        in_image = [e.category for e in ctx.entities] if ctx else []
        exclude = {s.region.category.lower()}
        if s.relation.anchor and ctx:
            exclude.add(ctx.entity(s.relation.anchor).category.lower())
        ranked = object_swaps(s.object.value or s.object.text, in_image=in_image, exclude=exclude)
        chosen = _pick(stable_rng(self.seed, s.id, "object"), ranked, N_PER_TYPE)
        if len(chosen) < N_PER_TYPE:
            raise _TooFew(f"object: only {len(chosen)} valid swaps for {s.object.text!r}")
        return [self._replace(s, "object", w) for w in chosen]

    def relation_negs(self, s: Sample) -> list[Candidate]:
        rel = s.relation
        if rel.anchor:
            anchor = s.context.entity(rel.anchor)
            false = spatial.false_pairwise(s.region.bbox, anchor.bbox)
            texts = [f"{r.phrase} the {anchor.category.lower()}" for r in false]
        else:
            texts = [r.phrase for r in spatial.false_frame(s.region.bbox, s.width, s.height)]
        texts = [t for t in texts if t != rel.text]
        chosen = _pick(stable_rng(self.seed, s.id, "relation"), texts, N_PER_TYPE)
        if len(chosen) < N_PER_TYPE:
            raise _TooFew(f"relation: only {len(chosen)} clearly false relations")
        return [self._replace(s, "relation", t) for t in chosen]

    def scene_negs(self, s: Sample) -> list[Candidate]:
        gt = s.scene.value or s.scene.text
        rng = stable_rng(self.seed, s.id, "scene")
        options = scene_swaps(gt)
        if len(options) < N_PER_TYPE:
            raise _TooFew(f"scene: only {len(options)} valid swaps for {gt!r}")
        chosen = rng.sample(options, N_PER_TYPE)
        return [self._replace(s, "scene", lexicon.scene_phrase(n)) for n in chosen]


class _TooFew(Exception):
    pass
