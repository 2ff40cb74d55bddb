"""Element analysis: a seed phrase (referring expression, region description, relationship
triple) -> object, relation and scene, each as the phrase says it.

- object: the head noun (the longest WordNet noun ending the words before the first
  preposition or clause; with a category, only the category or a more specific noun);
- scene: a trailing ``in/at/on (a|an|the) <scene noun>`` naming a noun of the bundled scene
  vocabulary (``cup on the table in the kitchen`` -> ``kitchen``);
- relation: the first known relation phrase after the object (curated VisualGenome
  predicates and the spatial phrases, longest first) and the noun it points at
  (``man riding a brown horse`` -> ``riding`` + ``horse``).

Parsing only reads the phrase; ``ComposeCaption`` decides what is grounded enough to use.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from scar import lexicon
from scar.build.steps import predicates

_CUT = re.compile(
    r"\b(in|on|at|with|of|near|by|behind|under|over|above|below|next|beside|between|that|who|which|"
    r"wearing|holding|to|from|for|and|while|is|are)\b"
)
_DROP = {"a", "an", "the", "this", "that", "left", "right", "front", "back", "top", "bottom", "middle"}
_DET = {"a", "an", "the", "this", "that", "some", "two", "three", "its", "his", "her", "their"}


@dataclass(frozen=True)
class Parsed:
    object: str | None = None
    predicate: str | None = None  # the relation head as written (normalised), e.g. "sits on"
    anchor: str | None = None  # the noun the relation points at
    scene: str | None = None


def clean(phrase: str) -> str:
    return " ".join(re.sub(r"[^a-z\s-]", " ", phrase.lower()).split())


def head_noun(phrase: str, category: str | None = None) -> str | None:
    """The head noun of a referring phrase: the longest WordNet noun ending the words
    before the first preposition/clause ("woman in an orange suit" -> "woman",
    "model space shuttle" -> "space shuttle"). With a ``category``, only a noun that
    is the category, a synonym or a hyponym of it counts ("white rocket" is a plant
    in WordNet, so for the category ``rocket`` the head is "rocket")."""
    words = _CUT.split(clean(phrase), maxsplit=1)[0].split()
    heads = {h.split()[0] for h in _heads()}
    for i, w in enumerate(words):  # a relation verb also ends the object ("man riding a horse")
        if i > 0 and w in heads:
            words = words[:i]
            break
    return _longest_noun([w for w in words if w not in _DROP], category)


def _longest_noun(words: list[str], category: str | None = None) -> str | None:
    for i in range(len(words)):
        cand = " ".join(words[i:])
        if not lexicon.is_noun(cand):
            continue
        cand = lexicon.surface(lexicon.wordnet().morphy(lexicon.key(cand), "n") or lexicon.key(cand))
        if category is None or lexicon.lexical_relation(category, cand) in ("same", "synonym", "hyponym"):
            return cand
    return None


@functools.cache
def _scene_re() -> re.Pattern:
    nouns = sorted(lexicon.scenes(), key=lambda n: (-len(n), n))
    alt = "|".join(re.escape(n) for n in nouns)
    return re.compile(rf"\b(?:in|at|on)\s+(?:(?:a|an|the)\s+)?({alt})s?\b")


def _heads() -> tuple[str, ...]:
    return predicates._known_heads()


def parse_phrase(phrase: str | None, category: str | None = None) -> Parsed:
    if not phrase or not phrase.strip():
        return Parsed()
    text = clean(phrase)
    obj = head_noun(text, category)
    scene = None
    m = None
    for m in _scene_re().finditer(text):
        pass
    if m is not None:
        scene = m.group(1)
        text = (text[: m.start()] + " " + text[m.end():]).strip()
    words = text.split()
    start = 0
    if obj is not None:  # the relation comes after the object's head noun
        ow = obj.split()
        for i in range(len(words) - len(ow) + 1):
            if [lexicon.wordnet().morphy(w, "n") or w for w in words[i:i + len(ow)]] == ow or words[i:i + len(ow)] == ow:
                start = i + len(ow)
                break
    heads = _heads()
    for i in range(start, len(words)):
        rest = " ".join(words[i:])
        head = next((h for h in heads if rest == h or rest.startswith(h + " ")), None)
        if head is None:
            continue
        after = words[i + len(head.split()):]
        np_words = []
        for w in after:
            if _CUT.fullmatch(w) and np_words:
                break
            if w not in _DET and not _CUT.fullmatch(w):
                np_words.append(w)
        anchor = _longest_noun(np_words)
        if anchor is not None:
            return Parsed(obj, head, anchor, scene)
    return Parsed(obj, None, None, scene)
