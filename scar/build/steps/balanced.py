"""Balanced candidate sets (``scar build --candidates balanced``): the structure gives
nothing away.

The paper's design (GT + 3 object, 3 relation, 3 scene swaps) makes the GT the medoid of
its set: every distractor differs from the GT in one element, so a blind model that picks
the candidate most similar to the others wins (docs/benchmark.md, "Scoring pitfalls"; ``scar audit``).
A balanced set keeps 10 candidates as a 5 x 2 grid: 5 values of one element (A) x 2
values of another (B), the third fixed. Every candidate then has the same neighbourhood
(4 neighbours differing in A, 1 differing in B), so the GT is no longer special. Which
pair forms the grid rotates with the sample (all six ordered pairs), so all three element
kinds are tested. ``neg_types`` holds ``A``, ``B`` or ``A+B`` (element order), and
``neg_values`` the replacing values in the same order, joined with `` + ``. Every
distractor still changes at least one element to a value that is false for the region.

A symmetric structure is not enough when the values themselves give the GT away (a GT
relation "to the left of" with an alternative "to the right of" makes those two the most
similar pair). So the alternatives are drawn ``DRAWS`` times from a wider pool, and the
draw kept is the one whose GT is, by a text-only similarity (character trigrams), at a
rank drawn uniformly from 1..10 among the candidates: the GT's textual centrality then
carries no information. All choices depend only on the seed and the sample id.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter

from scar import lexicon
from scar.build.base import Step
from scar.build.steps import relations
from scar.build.steps.lexical import _pick, normalise, sample_object_swaps, sample_scene_swaps, stable_rng
from scar.types import ELEMENTS, Candidate, Sample

DRAWS = 16
POOL = 12
#: (A: 5 values, B: 2 values), every ordered pair of elements.
PAIRS = (("object", "scene"), ("relation", "object"), ("scene", "relation"),
         ("object", "relation"), ("relation", "scene"), ("scene", "object"))


def pair_for(seed: int, sample_id: str) -> tuple[str, str]:
    h = hashlib.sha256(f"{seed}\x1f{sample_id}\x1fpair".encode()).digest()
    return PAIRS[int.from_bytes(h[:4], "big") % len(PAIRS)]


def alternatives(s: Sample, element: str, k: int, seed: int) -> list[str]:
    """k false values of ``element`` for the sample (element texts), chosen by the seed."""
    rng = stable_rng(seed, s.id, "balanced", element)
    if element == "object":
        return _pick(rng, sample_object_swaps(s), k, pool=max(8, k))
    if element == "relation":
        return _pick(rng, relations.alternatives(s.relation, s), k, pool=max(8, k))
    # scenes about as common as the GT's (SemCor counts), so the GT is not the most typical one
    gt_count = math.log1p(lexicon.lemma_count(s.scene.value or s.scene.text))
    options = sorted(sample_scene_swaps(s), key=lambda n: (abs(math.log1p(lexicon.lemma_count(n)) - gt_count), n))
    options = options[:max(2 * k, 8)]
    return [lexicon.scene_phrase(n) for n in (rng.sample(options, k) if len(options) >= k else options)]


def _trigrams(text: str) -> Counter:
    t = f"  {normalise(text)}  "
    return Counter(t[i:i + 3] for i in range(len(t) - 2))


def centrality_rank(texts: list[str]) -> int:
    """1-based rank of ``texts[0]`` by mean trigram cosine to the others (1 = most central;
    ties count against it, as in scoring)."""
    vecs = [_trigrams(t) for t in texts]
    norms = [math.sqrt(sum(v * v for v in c.values())) or 1.0 for c in vecs]
    def cos(i, j):
        a, b = vecs[i], vecs[j]
        return sum(a[k] * b[k] for k in a.keys() & b.keys()) / (norms[i] * norms[j])
    n = len(texts)
    mean = [sum(cos(i, j) for j in range(n) if j != i) / (n - 1) for i in range(n)]
    return 1 + sum(1 for m in mean[1:] if m >= mean[0] - 1e-12)


class BalancedCandidates(Step):
    name = "balanced"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _grid(self, gt: dict[str, str], a: str, b: str, alt_a: list[str], alt_b: str) -> list[tuple[str, str, str]]:
        out = []
        for vb in [gt[b], alt_b]:
            for va in [gt[a], *alt_a]:
                if va == gt[a] and vb == gt[b]:
                    continue
                parts = dict(gt, **{a: va, b: vb})
                changed = [n for n in ELEMENTS if parts[n] != gt[n]]
                out.append((" ".join(parts[n] for n in ELEMENTS), "+".join(changed),
                            " + ".join(parts[n] for n in changed)))
        return out

    def run(self, samples: list[Sample]) -> list[Sample]:
        out = []
        for s in samples:
            a, b = pair_for(self.seed, s.id)
            pool_a = alternatives(s, a, POOL, self.seed)
            pool_b = alternatives(s, b, 8, self.seed)
            if len(pool_a) < 4 or len(pool_b) < 1:
                self.reject(s, f"balanced: too few false values ({a}: {len(pool_a)} of 4, {b}: {len(pool_b)} of 1)")
                continue
            gt = {n: s.element(n).text for n in ELEMENTS}
            rng = stable_rng(self.seed, s.id, "balanced-draw")
            target = rng.randint(1, 10)
            best, best_gap = None, None
            # B's second value: one of the same length as the GT's (in words), so that neither
            # row of the grid is more self-similar than the other
            nb = len(gt[b].split())
            near_b = [v for v in pool_b if len(v.split()) == nb] or \
                sorted(pool_b, key=lambda v: abs(len(v.split()) - nb))[:1]
            na = len(gt[a].split())
            near_a = [v for v in pool_a if len(v.split()) == na]
            if len(near_a) < 4:
                near_a = sorted(pool_a, key=lambda v: abs(len(v.split()) - na))[:max(4, len(near_a))]
            for _ in range(DRAWS):
                grid = self._grid(gt, a, b, rng.sample(near_a, 4), rng.choice(near_b))
                texts = [s.candidates[0].text] + [g[0] for g in grid]
                if len({normalise(t) for t in texts}) != len(texts):
                    continue
                gap = abs(centrality_rank(texts) - target)
                if best_gap is None or gap < best_gap:
                    best, best_gap = grid, gap
                if gap == 0:
                    break
            if best is None:
                self.reject(s, "balanced: candidates not distinct after normalisation")
                continue
            s.candidates = [Candidate(s.candidates[0].text)] + [Candidate(*g) for g in best]
            out.append(s)
        return out
