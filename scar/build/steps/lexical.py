"""The offline negative generator (``--generator lexical``): WordNet + vocabularies.

Per sample, 3 object, 3 relation and 3 scene swaps, each replacing exactly one
element's text and keeping the rest verbatim:

- object: concrete WordNet nouns that are never a synonym, hypernym or hyponym of the GT
  object over *any* noun sense (transitively). Widening rule: co-hyponyms first (a shared
  hypernym at most ``CO_HYPONYM_DEPTH`` levels above both), then cousins (at most
  ``MAX_COUSIN_DEPTH``), then the source's category vocabulary (``scar/data/vocab/``,
  unrelated in WordNet). A wider tier is used only when the narrower ones give fewer than
  three. Within a tier, categories present in the image rank first (plausible in the
  scene), then the source's and the bundled vocabulary, then other WordNet sister terms,
  each by kind (the lexicographer file of the object's first sense: food for food), then
  closeness and SemCor frequency;
- relation: relations false for the region (``relations.py``): the curated contradictions
  of an annotated predicate, spatial relations the boxes make clearly false; never a
  paraphrase, one per paraphrase group;
- scene: other nouns of the bundled scene vocabulary, never WordNet-related to the GT scene
  and never a scene the image's objects or stuff vote for (it could be true).

Deterministic: the choices depend only on the seed and the sample id.
"""

from __future__ import annotations

import hashlib
import random
import re

from scar import lexicon
from scar.build.base import Step
from scar.build.steps import relations, scenes
from scar.types import Candidate, Sample

N_PER_TYPE = 3
CO_HYPONYM_DEPTH = 2
MAX_COUSIN_DEPTH = 4
SENSES = 2  # closeness counts the first two concrete senses of each word (validity counts all senses)
_WORD = re.compile(r"^[a-z][a-z -]{1,24}$")
TIERS = ("co-hyponym", "cousin", "vocabulary")


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


def ranked_object_swaps(gt: str, *, in_image: list[str], exclude: set[str],
                        vocabulary: frozenset[str] = frozenset()) -> list[tuple[int, str]]:
    """(tier, word) for every valid object swap of ``gt``, best first (tiers in ``TIERS``)."""
    vocab = set(vocabulary) | set(lexicon.common_objects())
    image = {w.lower() for w in in_image}
    seen: set[str] = set()
    gt_senses = lexicon.concrete_synsets(gt)
    gt_lex = gt_senses[0].lexname() if gt_senses else None
    ranked: list[tuple[int, int, int, int, int, str]] = []
    for w in list(in_image) + sorted(vocab) + lexicon.co_hyponyms(gt, CO_HYPONYM_DEPTH):
        w = " ".join(w.lower().replace("_", " ").split())
        if w in seen or w in exclude or not _WORD.match(w):
            continue
        seen.add(w)
        if not lexicon.concrete_synsets(w) or lexicon.lexical_relation(gt, w) is not None:
            continue
        depth = lexicon.cousin_depth(gt, w, MAX_COUSIN_DEPTH, senses=SENSES)
        if depth is not None and depth <= CO_HYPONYM_DEPTH:
            tier = 0
        elif depth is not None:
            tier = 1
        elif w in vocab or w in image:
            tier, depth = 2, MAX_COUSIN_DEPTH + 1
        else:
            continue
        origin = 0 if w in image else (1 if w in vocab else 2)
        same_kind = int(gt_lex not in {x.lexname() for x in lexicon.concrete_synsets(w)[:SENSES]})
        ranked.append((tier, origin, same_kind, depth, -lexicon.lemma_count(w), w))
    ranked.sort()
    return [(r[0], r[-1]) for r in ranked]


def object_swaps(gt: str, *, in_image: list[str], exclude: set[str],
                 vocabulary: frozenset[str] = frozenset()) -> list[str]:
    """Valid object swaps for ``gt`` under the widening rule, best first: the tiers up to
    the first one that brings the count to ``N_PER_TYPE`` (all of them if none does)."""
    ranked = ranked_object_swaps(gt, in_image=in_image, exclude=exclude, vocabulary=vocabulary)
    out: list[str] = []
    for tier in range(len(TIERS)):
        out += [w for t, w in ranked if t == tier]
        if len(out) >= N_PER_TYPE:
            break
    return out


def scene_swaps(gt_scene: str, evidence: set[str] = frozenset()) -> list[str]:
    return [s for s in lexicon.scenes()
            if s != gt_scene and s not in evidence and lexicon.lexical_relation(gt_scene, s) is None]


def sample_object_swaps(s: Sample) -> list[str]:
    """Valid object swaps of a sample, best first: never its own category nor the category
    its relation points at; categories of its image rank first."""
    ctx = s.context
    in_image = [e.category for e in ctx.entities] if ctx else []
    exclude = {s.region.category.lower()}
    if s.relation is not None and s.relation.anchor and ctx:
        try:
            exclude.add(ctx.entity(s.relation.anchor).category.lower())
        except KeyError:
            pass
    return object_swaps(s.object.value or s.object.text, in_image=in_image, exclude=exclude,
                        vocabulary=lexicon.source_vocabulary(s.source))


def sample_scene_swaps(s: Sample) -> list[str]:
    """Valid scene swaps (scene nouns) of a sample: never a scene its objects or stuff vote for."""
    ctx = s.context
    ev = scenes.evidence([e.category for e in ctx.entities], ctx.stuff) if ctx else set()
    return scene_swaps(s.scene.value or s.scene.text, ev)


def replace(s: Sample, element: str, value: str) -> Candidate:
    """The GT with one element's text replaced."""
    parts = {"object": s.object.text, "relation": s.relation.text, "scene": s.scene.text}
    parts[element] = value
    return Candidate(f"{parts['object']} {parts['relation']} {parts['scene']}", element, value)


class LexicalNegatives(Step):
    name = "negatives"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

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
        ranked = sample_object_swaps(s)
        chosen = _pick(stable_rng(self.seed, s.id, "object"), ranked, N_PER_TYPE)
        if len(chosen) < N_PER_TYPE:
            raise _TooFew(f"object: only {len(chosen)} valid swaps for {s.object.text!r}")
        return [replace(s, "object", w) for w in chosen]

    def relation_negs(self, s: Sample) -> list[Candidate]:
        texts = relations.alternatives(s.relation, s)
        chosen = _pick(stable_rng(self.seed, s.id, "relation"), texts, N_PER_TYPE)
        if len(chosen) < N_PER_TYPE:
            raise _TooFew(f"relation: only {len(chosen)} clearly false relations for {s.relation.text!r}")
        return [replace(s, "relation", t) for t in chosen]

    def scene_negs(self, s: Sample) -> list[Candidate]:
        gt = s.scene.value or s.scene.text
        options = sample_scene_swaps(s)
        if len(options) < N_PER_TYPE:
            raise _TooFew(f"scene: only {len(options)} valid swaps for {gt!r}")
        chosen = stable_rng(self.seed, s.id, "scene").sample(options, N_PER_TYPE)
        return [replace(s, "scene", lexicon.scene_phrase(n)) for n in chosen]


class _TooFew(Exception):
    pass
