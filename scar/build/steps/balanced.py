"""Balanced candidate sets (``scar build --candidates balanced``): the structure gives
nothing away.

The paper's design (GT + 3 object, 3 relation, 3 scene swaps) makes the GT the medoid of
its set: every distractor differs from the GT in one element, so a blind model that picks
the candidate most similar to the others wins (docs/benchmark.md, "Scoring pitfalls"; ``scar audit``).
A balanced set keeps 10 candidates as a 5 x 2 grid: 5 values of one element (A) x 2
values of another (B), the third fixed. Every candidate then has the same neighbourhood
(4 neighbours differing in A, 1 differing in B), so the GT is no longer special. Which
pair forms the grid rotates with the sample over four ordered pairs (``PAIRS``), so all
three element kinds are tested: the object is B or fixed, never A, because the GT's noun
tends to be the semantic centre of its own swaps (they are drawn as alternatives *to it*),
which a sentence embedder's medoid finds. ``neg_types`` holds ``A``, ``B`` or ``A+B``
(element order), and ``neg_values`` the replacing values in the same order, joined with
`` + ``. Every distractor still changes at least one element to a value that is false for
the region.

A symmetric structure is not enough when the values themselves give the GT away: the false
alternatives of a frame relation are its opposites ("at the bottom" against "at the top",
"at the top left", "at the top right"), which share words with each other and not with the
GT, and "indoors" (one word) against "in a kitchen" loses every overlap. So the alternatives
are drawn ``DRAWS`` times from a wider pool, and the draw kept makes two blind statistics
carry no information:

- token overlap, exactly the audit's ``blind-lexical-overlap`` (mean Jaccard of
  ``scar.lexicon.tokens``, ties broken at random): each draw gives the chance that this
  baseline picks the GT (1/size of the top tie when the GT is in it, else 0), and the draw
  is taken from the value ``CHANCE`` itself or from the nearest values below and above it
  with the probabilities that average to ``CHANCE``, so every row's expected share is
  chance. When no draw of the sample's pair straddles chance the other pairs are tried (in
  an order drawn from the sample id), and a sample that no pair can balance is rejected;
- among those draws, the one where the GT looks most typical to a sentence embedder: each
  candidate's vector is the sum of its element phrases' all-MiniLM-L6-v2 vectors (bundled
  package data, ``scar.lexicon.phrase_vector``, computed once by
  ``tools/build_phrase_vectors.py``: no model is loaded), the centrality of a candidate its
  mean cosine with the other nine, and the draw kept the one whose GT centrality is nearest
  the median of the distractors' (in units of the set's spread, ``typicality_offset``).
  Aiming at the middle rather than at a rank drawn from 1..10 matters because the sum only
  approximates the sentence embedding: the draws it ranks most or least central are the
  ones it gets most wrong, while near the median its errors fall on both sides.

All choices depend only on the seed and the sample id.
"""

from __future__ import annotations

import functools
import hashlib
import math

import numpy as np

from scar import lexicon
from scar.build.base import Step
from scar.build.steps import relations
from scar.build.steps.lexical import _pick, normalise, sample_object_swaps, sample_scene_swaps, stable_rng
from scar.types import ELEMENTS, Candidate, Sample

DRAWS = 96
POOL = 12
CHANCE = 0.1
TIE = 1e-6  # the audit's tie tolerance (scar.eval.metrics.TIE_ATOL)
#: (A: 5 values, B: 2 values): every ordered pair of elements but the object as A.
PAIRS = (("relation", "object"), ("scene", "relation"),
         ("relation", "scene"), ("scene", "object"))


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


@functools.lru_cache(maxsize=1 << 16)
def _candidate_vector(*elements: str):
    """The sum of the elements' ``scar.lexicon.phrase_vector`` (those in the table), or None."""
    found = [v for v in (lexicon.phrase_vector(t) for t in elements) if v is not None]
    return np.sum(found, axis=0) if found else None


def typicality_offset(parts: list[dict[str, str]]) -> float:
    """How far the GT (``parts[0]``, element -> text) is from a typical candidate of its set
    for a sentence embedder: |GT centrality - median distractor centrality| / spread, where a
    candidate's centrality is its mean cosine with the others and its vector the sum of its
    elements' ``scar.lexicon.phrase_vector`` (elements not in the table add nothing). 0 when
    the table says nothing about the set."""
    vecs = [_candidate_vector(*(p[e] for e in ELEMENTS)) for p in parts]
    if any(v is None for v in vecs):
        return 0.0
    v = np.array(vecs, dtype=np.float64)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sims = v @ v.T
    c = (sims.sum(axis=1) - 1.0) / (len(parts) - 1)
    spread = float(c.std())
    return abs(float(c[0]) - float(np.median(c[1:]))) / spread if spread > 1e-9 else 0.0


def overlap_chance(texts: list[str]) -> float:
    """The chance that ``blind-lexical-overlap`` (the text of highest mean token Jaccard with
    the others, ``scar.lexicon.mean_jaccard``; ties broken at random) picks ``texts[0]``:
    1 / (size of the top tie) when it is in the top tie, else 0."""
    m = lexicon.mean_jaccard(texts)
    top = max(m)
    if m[0] < top - TIE:
        return 0.0
    return 1 / sum(1 for x in m if x >= top - TIE)


def mix_to_chance(values: list[float], rng, chance: float) -> float | None:
    """One of ``values``, drawn so that its expectation is ``chance``: ``chance`` itself when
    present, else the nearest value below or the nearest above with the probabilities that
    average to it; None when every value lies on one side."""
    vals = sorted(set(values))
    if any(abs(v - chance) <= TIE for v in vals):
        return chance
    below = [v for v in vals if v < chance]
    above = [v for v in vals if v > chance]
    if not below or not above:
        return None
    lo, hi = below[-1], above[0]
    return hi if rng.random() < (chance - lo) / (hi - lo) else lo


class BalancedCandidates(Step):
    name = "balanced"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _grid(self, gt: dict[str, str], a: str, b: str, alt_a: list[str], alt_b: str) \
            -> tuple[list[tuple[str, str, str]], list[dict[str, str]]]:
        """The nine distractors (text, neg type, neg values) and every candidate's elements, GT first."""
        out, parts_all = [], [gt]
        for vb in [gt[b], alt_b]:
            for va in [gt[a], *alt_a]:
                if va == gt[a] and vb == gt[b]:
                    continue
                parts = dict(gt, **{a: va, b: vb})
                parts_all.append(parts)
                changed = [n for n in ELEMENTS if parts[n] != gt[n]]
                out.append((" ".join(parts[n] for n in ELEMENTS), "+".join(changed),
                            " + ".join(parts[n] for n in changed)))
        return out, parts_all

    def _draws(self, s: Sample, a: str, b: str) -> list[tuple[list, list[str], float, list[dict[str, str]]]]:
        """Up to DRAWS distinct grids of the pair (a, b): (grid, texts, overlap chance, elements)."""
        pool_a = alternatives(s, a, POOL, self.seed)
        pool_b = alternatives(s, b, 8, self.seed)
        if len(pool_a) < 4 or len(pool_b) < 1:
            return []
        gt = {n: s.element(n).text for n in ELEMENTS}
        rng = stable_rng(self.seed, s.id, "balanced-grids", a, b)
        out, seen = [], set()
        for _ in range(DRAWS):
            alt_a, alt_b = rng.sample(pool_a, 4), rng.choice(pool_b)
            key = (frozenset(alt_a), alt_b)
            if key in seen:
                continue
            seen.add(key)
            grid, parts = self._grid(gt, a, b, alt_a, alt_b)
            texts = [s.candidates[0].text] + [g[0] for g in grid]
            if len({normalise(t) for t in texts}) == len(texts):
                out.append((grid, texts, overlap_chance(texts), parts))
        return out

    def run(self, samples: list[Sample]) -> list[Sample]:
        out = []
        for s in samples:
            rng = stable_rng(self.seed, s.id, "balanced-draw")
            first = pair_for(self.seed, s.id)
            rest = [p for p in PAIRS if p != first]
            rng.shuffle(rest)
            chosen, tried = None, []
            for a, b in [first, *rest]:
                draws = self._draws(s, a, b)
                p = mix_to_chance([d[2] for d in draws], rng, CHANCE) if draws else None
                if p is None:
                    tried.append(f"{a} x {b}: " + (f"overlap chance {min(d[2] for d in draws):.2f}-"
                                                   f"{max(d[2] for d in draws):.2f}" if draws else "no grid"))
                    continue
                pool = [d for d in draws if abs(d[2] - p) <= TIE]
                chosen = min(pool, key=lambda d: typicality_offset(d[3]))[0]
                break
            if chosen is None:
                self.reject(s, "balanced: no grid whose ground truth is as likely as chance to be picked by token "
                               "overlap (" + "; ".join(tried) + ")")
                continue
            s.candidates = [Candidate(s.candidates[0].text)] + [Candidate(*g) for g in chosen]
            out.append(s)
        return out
