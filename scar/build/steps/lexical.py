"""The offline negative generator (``--generator lexical``): WordNet + vocabularies.

Per sample, 3 object, 3 relation and 3 scene swaps, each replacing exactly one
element's text and keeping the rest verbatim:

- object: lookups in the swap tables (``scar/data/swaps.tsv``, built once per vocabulary by
  ``tools/build_swap_tables.py``): common nouns (wordfreq Zipf >= 3 for every word) of visible
  kinds, never WordNet-related to the GT in its sense or any sense, never a MiniLM
  near-synonym, never in the GT's curated group (``equivalents.txt``). Per sample: never near
  the region's or the anchor's noun; the image's other objects first, then nouns tied to the
  sample's scene (``object_scenes.tsv``), nouns tied only to other scenes last; distinct from
  each other;
- relation: relations false for the region (``relations.py``): the curated contradictions
  of an annotated predicate, spatial relations the boxes make clearly false; never a
  paraphrase, one per paraphrase group;
- scene: other scenes of the bundled vocabulary of the GT's kind (indoor/outdoor, so the
  caption's own objects never rule them out), never near the GT scene (WordNet, curated
  groups: park/field/garden...) and never a scene the image's objects or stuff vote for.

Deterministic: the choices depend only on the seed and the sample id.
"""

from __future__ import annotations

import _random
import functools
import hashlib
import math
import random
import re

from scar import lexicon
from scar.build.base import Step
from scar.build.steps import relations, scenes
from scar.types import Candidate, Sample

N_PER_TYPE = 3


def stable_seed(seed: int, *parts: str) -> int:
    """The integer seed of ``stable_rng(seed, *parts)``: 64 bits of a SHA-256 of the parts."""
    return int.from_bytes(hashlib.sha256("\x1f".join((str(seed), *parts)).encode()).digest()[:8], "big")


def stable_rng(seed: int, *parts: str) -> random.Random:
    return random.Random(stable_seed(seed, *parts))


#: The C seeding of Python's Mersenne Twister: ``random.Random(n)`` for an int ``n`` sets the
#: generator's whole state with it (``Random.seed`` adds type checks and resets ``gauss_next``,
#: which ``getrandbits`` never reads).
_SEED_STATE = _random.Random.seed


class StableDraws:
    """``stable_rng(seed, *parts).sample(population, k)`` without a new ``Random`` per draw: one
    generator re-seeded in place (the same state as a new one, so the same ``getrandbits``) and
    ``Random.sample``'s algorithm on it (the small-population swap and the large-population
    rejection, each index drawn by ``getrandbits`` with rejection as ``Random._randbelow`` does).
    ``tests/test_fast_paths.py`` checks it against ``Random.sample`` for many seeds and sizes.
    One per step instance: not for use by two threads at once."""

    def __init__(self) -> None:
        self._rng = random.Random(0)

    def sample(self, seed: int, parts: tuple[str, ...], population, k: int) -> list:
        n = len(population)
        if not 0 <= k <= n:
            raise ValueError("Sample larger than population or is negative")
        _SEED_STATE(self._rng, stable_seed(seed, *parts))
        bits = self._rng.getrandbits
        result = [None] * k
        setsize = 21
        if k > 5:
            setsize += 4 ** math.ceil(math.log(k * 3, 4))
        if n <= setsize:
            pool = list(population)
            for i in range(k):
                m = n - i
                b = m.bit_length()
                j = bits(b)
                while j >= m:
                    j = bits(b)
                result[i] = pool[j]
                pool[j] = pool[m - 1]
        else:
            selected: set[int] = set()
            b = n.bit_length()
            for i in range(k):
                j = bits(b)
                while j >= n or j in selected:
                    j = bits(b)
                selected.add(j)
                result[i] = population[j]
        return result


@functools.lru_cache(maxsize=65536)
def normalise(text: str) -> str:
    """Case, whitespace and articles folded: the distinctness rule of SCaR."""
    words = re.sub(r"[^\w\s]", " ", text.lower()).split()
    return " ".join(w for w in words if w not in {"a", "an", "the"})


#: How far down a ranked list of swaps the choice looks.
POOL = 6


def _pick(rng: random.Random, ranked: list[str], k: int, pool: int = POOL) -> list[str]:
    """k items from the top of a ranked list, chosen by the rng, in rank order."""
    top = ranked[: max(pool, k)]
    if len(top) < k:
        return list(top)
    idx = sorted(rng.sample(range(len(top)), k))
    return [top[i] for i in idx]


def _pick_with(sample, ranked: list[str], k: int, pool: int = POOL) -> list[str]:
    """``_pick`` with ``sample(population, k)``, a draw of its own (``StableDraws.sample``
    bound to a seed), so that it is not drawn when the answer does not depend on it: k of k
    come out in rank order whatever the draw."""
    top = ranked[: max(pool, k)]
    if len(top) <= k:
        return list(top)
    idx = sorted(sample(range(len(top)), k))
    return [top[i] for i in idx]


def _distinct(ranked: list[str], limit: int | None = None) -> list[str]:
    """Keep a word only when it is not near any word kept before it (swaps distinct from
    each other); the first ``limit`` such words (all by default)."""
    out: list[str] = []
    for w in ranked:
        if limit is not None and len(out) >= limit:
            break
        if not any(lexicon.near(w, x) for x in out):
            out.append(w)
    return out


#: The kind of place a generic scene names.
GENERIC_KINDS = {"indoors": "indoor", "outdoors": "outdoor", "indoor": "indoor", "outdoor": "outdoor"}


def scene_kind(scene: str | None) -> str | None:
    """``indoor``/``outdoor`` for a scene noun of the vocabulary or a generic scene, else None."""
    if not scene:
        return None
    return GENERIC_KINDS.get(scene.strip().lower()) or lexicon.scene_kind(scene)


@functools.lru_cache(maxsize=4096)
def noun_places(source: str, noun: str) -> tuple[frozenset[str], frozenset[str]]:
    """(scenes, kinds of place) a noun is tied to: the scene votes (``object_scenes.tsv``) and
    place cues (``place_cues.tsv``) of the noun and of the source's categories it names
    (``screen`` is what COCO calls ``tv``)."""
    names = {noun} | {c for c in lexicon.source_vocabulary(source)
                      if (sense := lexicon.category_sense(source, c)) is not None and sense.surface == noun}
    votes, cues = scenes.object_table(), scenes.place_cues()
    tied = frozenset(sc for n in names for sc in votes.get(n, {}))
    kinds = {k for sc in tied if (k := scene_kind(sc)) is not None} | {cues[n] for n in names if n in cues}
    return tied, frozenset(kinds)


@functools.lru_cache(maxsize=65536)
def _place_ranks(source: str, gt: str, scene: str | None) -> tuple[tuple[str, int], ...]:
    """The swap table's nouns for ``gt``, best first, each with its place rank for the scene,
    which does not depend on the image: 1 tied to the scene, 2 seen in places of its kind, 3
    no place (or no kind known), 4 tied only to the other kind of place."""
    kind = scene_kind(scene)
    out = []
    for w in lexicon.swap_candidates(source, gt):
        tied, kinds = noun_places(source, w)
        if scene and scene in tied:
            plaus = 1
        elif kind and kind in kinds:
            plaus = 2
        elif not kinds or not kind:
            plaus = 3
        else:
            plaus = 4
        out.append((w, plaus))
    return tuple(out)


def object_swaps(gt: str, *, source: str, in_image: list[str], exclude: set[str],
                 scene: str | None = None, limit: int | None = None) -> list[str]:
    """Valid object swaps for ``gt``, best first: the swap table's list (common, visible,
    never near the GT in its sense), without the words near ``exclude`` (the region's and the
    anchor's nouns); nouns of the image's other objects first, then nouns the scene table
    ties to the sample's scene, then nouns seen in places of the scene's kind (indoor or
    outdoor), then nouns with no place; nouns tied only to the other kind of place last
    ("screen" or "apple" for a person outdoors: implausible there). Distinct from each other;
    the first ``limit`` of them (all by default)."""
    return list(_object_swaps(gt, source, frozenset(w.lower() for w in in_image), frozenset(exclude), scene, limit))


@functools.lru_cache(maxsize=65536)
def _object_swaps(gt: str, source: str, image: frozenset[str], exclude: frozenset[str], scene: str | None,
                  limit: int | None) -> tuple[str, ...]:
    ranked = []
    for i, (w, plaus) in enumerate(_place_ranks(source, gt, scene)):
        if any(lexicon.near(w, x) for x in exclude):
            continue
        ranked.append((0 if w in image else plaus, i, w))
    return tuple(_distinct([w for *_, w in sorted(ranked)], limit))


def scene_swaps(gt_scene: str, evidence: set[str] = frozenset()) -> list[str]:
    """Scenes of the GT's kind (indoor/outdoor), never one the image votes for, never
    WordNet-related to the GT scene."""
    kind = lexicon.scene_kind(gt_scene)
    return [s for s in lexicon.scenes()
            if s != gt_scene and s not in evidence and (kind is None or lexicon.scene_kind(s) == kind)
            and not lexicon.near(gt_scene, s)]


def sample_object_swaps(s: Sample, limit: int | None = None) -> list[str]:
    """Valid object swaps of a sample, best first: never near its own noun nor the noun its
    relation points at; the nouns of its image's other objects rank first. The first ``limit``
    (all by default)."""
    ctx = s.context
    names = {}
    if ctx:
        for e in ctx.entities:
            sense = lexicon.category_sense(s.source, e.category, e.synsets)
            if sense is not None:
                names[e.id] = sense.surface
    gt = s.object.value or s.object.text
    exclude = {gt}
    ent = s.region_entity()
    own = lexicon.category_sense(s.source, s.region.category, ent.synsets if ent else ())
    if own is not None:
        exclude.add(own.surface)
    if s.relation is not None and s.relation.anchor and s.relation.anchor in names:
        exclude.add(names[s.relation.anchor])
    scene = s.scene.value if s.scene is not None else None
    # a noun the category gave in context ("monitor" for COCO's tv) draws from the category's list
    key = own.surface if own is not None and not s.phrase else gt
    return object_swaps(key, source=s.source, in_image=list(names.values()), exclude=exclude, scene=scene, limit=limit)


def sample_scene_swaps(s: Sample) -> list[str]:
    """Valid scene swaps (scene nouns) of a sample: never a scene its objects or stuff vote for."""
    ctx = s.context
    if ctx is None:
        return scene_swaps(s.scene.value or s.scene.text)
    return list(_scene_swaps(s.scene.value or s.scene.text, ctx.categories(), tuple(ctx.stuff),
                             tuple(caption_categories(s))))


@functools.lru_cache(maxsize=65536)
def _scene_swaps(gt: str, categories: tuple[str, ...], stuff: tuple[str, ...],
                 caption: tuple[str, ...]) -> tuple[str, ...]:
    """``scenes.swaps``, which depends only on its arguments (and the bundled tables): the
    samples of an image, and images alike, share the answer."""
    return tuple(scenes.swaps(gt, categories, stuff, caption))


def caption_categories(s: Sample) -> list[str]:
    """The categories the caption itself names: the region's and its relation's anchor's."""
    out = [s.region.category]
    if s.context is not None and s.relation is not None and s.relation.anchor:
        out += [e.category for e in s.context.entities if e.id == s.relation.anchor]
    return out


def replace(s: Sample, element: str, value: str) -> Candidate:
    """The GT with one element's text replaced."""
    o, r, c = s.object.text, s.relation.text, s.scene.text
    if element == "object":
        o = value
    elif element == "relation":
        r = value
    elif element == "scene":
        c = value
    return Candidate(f"{o} {r} {c}", element, value)


class LexicalNegatives(Step):
    name = "negatives"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._draws = StableDraws()

    def _sampler(self, s: Sample, kind: str):
        """``stable_rng(self.seed, s.id, kind).sample``, drawn the same way without a new generator."""
        return functools.partial(self._draws.sample, self.seed, (s.id, kind))

    def run(self, samples: list[Sample]) -> list[Sample]:
        out = []
        for s in samples:
            if len(s.candidates) > 1:  # the LLM wrote the swaps already
                out.append(s)
                continue
            try:
                negs = self.object_negs(s) + self.relation_negs(s) + self.scene_negs(s)
            except _TooFew as e:
                self.reject(s, str(e))
                continue
            s.candidates = s.candidates[:1] + negs
            out.append(s)
        return out

    def object_negs(self, s: Sample) -> list[Candidate]:
        ranked = sample_object_swaps(s, limit=max(POOL, N_PER_TYPE))  # _pick looks no further
        chosen = _pick_with(self._sampler(s, "object"), ranked, N_PER_TYPE, POOL)
        if len(chosen) < N_PER_TYPE:
            raise _TooFew(f"object: only {len(chosen)} valid swaps for {s.object.text!r}")
        tail = f" {s.relation.text} {s.scene.text}"  # replace(s, "object", w), the GT's rest joined once
        return [Candidate(w + tail, "object", w) for w in chosen]

    def relation_negs(self, s: Sample) -> list[Candidate]:
        texts = relations.alternatives(s.relation, s)
        chosen = _pick_with(self._sampler(s, "relation"), texts, N_PER_TYPE)
        if len(chosen) < N_PER_TYPE:
            raise _TooFew(f"relation: only {len(chosen)} clearly false relations for {s.relation.text!r}")
        head, tail = f"{s.object.text} ", f" {s.scene.text}"
        return [Candidate(head + t + tail, "relation", t) for t in chosen]

    def scene_negs(self, s: Sample) -> list[Candidate]:
        gt = s.scene.value or s.scene.text
        options = sample_scene_swaps(s)
        if len(options) < N_PER_TYPE:
            raise _TooFew(f"scene: only {len(options)} valid swaps for {gt!r}"
                          + scenes.shortage(gt, caption_categories(s)))
        chosen = self._draws.sample(self.seed, (s.id, "scene"), options, N_PER_TYPE)
        head = f"{s.object.text} {s.relation.text} "
        return [Candidate(head + p, "scene", p) for p in map(lexicon.scene_phrase, chosen)]


class _TooFew(Exception):
    pass
