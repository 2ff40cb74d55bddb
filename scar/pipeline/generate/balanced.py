"""Balanced candidate sets (``scar build --candidates balanced``): the structure gives
nothing away.

The paper's design (GT + 3 object, 3 relation, 3 scene swaps) makes the GT the medoid of
its set: every distractor differs from the GT in one element, so a blind model that picks
the candidate most similar to the others wins (SCAR_SPEC.md section 6; ``scar audit``).
A balanced set keeps 10 candidates as a 5 x 2 grid: 5 values of one element (A) x 2
values of another (B), the third fixed. Every candidate then has the same neighbourhood
(4 neighbours differing in A, 1 differing in B), so the GT is no longer special. Which
pair forms the grid rotates with the sample (all six ordered pairs), so all three element
kinds are tested. ``neg_types`` holds ``A``, ``B`` or ``A+B`` (element order), and
``neg_values`` the replacing values in the same order, joined with `` + ``. Every
distractor still changes at least one element to a value that is false for the region.
"""

from __future__ import annotations

import hashlib

from scar import lexicon
from scar.pipeline.base import Step
from scar.pipeline.generate import relations, scenes
from scar.pipeline.generate.lexical import _pick, normalise, object_swaps, scene_swaps, stable_rng
from scar.types import ELEMENTS, Candidate, Sample

#: (A: 5 values, B: 2 values), every ordered pair of elements.
PAIRS = (("object", "scene"), ("relation", "object"), ("scene", "relation"),
         ("object", "relation"), ("relation", "scene"), ("scene", "object"))


def pair_for(seed: int, sample_id: str) -> tuple[str, str]:
    h = hashlib.sha256(f"{seed}\x1f{sample_id}\x1fpair".encode()).digest()
    return PAIRS[int.from_bytes(h[:4], "big") % len(PAIRS)]


def alternatives(s: Sample, element: str, k: int, seed: int) -> list[str]:
    """k false values of ``element`` for the sample (element texts), chosen by the seed."""
    rng = stable_rng(seed, s.id, "balanced", element)
    ctx = s.context
    if element == "object":
        in_image = [e.category for e in ctx.entities] if ctx else []
        exclude = {s.region.category.lower()}
        if s.relation.anchor and ctx:
            try:
                exclude.add(ctx.entity(s.relation.anchor).category.lower())
            except KeyError:
                pass
        ranked = object_swaps(s.object.value or s.object.text, in_image=in_image, exclude=exclude,
                              vocabulary=lexicon.source_vocabulary(s.source))
        return _pick(rng, ranked, k, pool=max(8, k))
    if element == "relation":
        return _pick(rng, relations.alternatives(s.relation, s), k, pool=max(8, k))
    gt = s.scene.value or s.scene.text
    ev = scenes.evidence([e.category for e in ctx.entities], ctx.stuff) if ctx else set()
    options = scene_swaps(gt, ev)
    return [lexicon.scene_phrase(n) for n in (rng.sample(options, k) if len(options) >= k else options)]


class BalancedCandidates(Step):
    name = "balanced"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def run(self, samples: list[Sample]) -> list[Sample]:
        out = []
        for s in samples:
            a, b = pair_for(self.seed, s.id)
            alt_a = alternatives(s, a, 4, self.seed)
            alt_b = alternatives(s, b, 1, self.seed)
            if len(alt_a) < 4 or len(alt_b) < 1:
                self.reject(s, f"balanced: too few false values ({a}: {len(alt_a)} of 4, {b}: {len(alt_b)} of 1)")
                continue
            gt = {n: s.element(n).text for n in ELEMENTS}
            cands = [Candidate(s.candidates[0].text)]
            for vb in [gt[b], alt_b[0]]:
                for va in [gt[a], *alt_a]:
                    if va == gt[a] and vb == gt[b]:
                        continue
                    parts = dict(gt, **{a: va, b: vb})
                    changed = [n for n in ELEMENTS if parts[n] != gt[n]]
                    cands.append(Candidate(" ".join(parts[n] for n in ELEMENTS), "+".join(changed),
                                           " + ".join(parts[n] for n in changed)))
            if len({normalise(c.text) for c in cands}) != len(cands):
                self.reject(s, "balanced: candidates not distinct after normalisation")
                continue
            s.candidates = cands
            out.append(s)
        return out
