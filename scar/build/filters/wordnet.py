"""WordNet constraints on the distractors, checked again whoever wrote them (lexical
backend, LLM, reviewer):

- an object swap is a WordNet noun, and never a synonym, hypernym or hyponym of the GT
  object over any noun sense of either word (else the distractor may also be true);
- a scene swap is not a synonym, hypernym or hyponym of the GT scene.

A sample with a distractor that breaks a rule is dropped, with the distractor named.
"""

from __future__ import annotations

import functools
import re

from scar import lexicon
from scar.build.base import Filter
from scar.types import Sample

_SCENE = re.compile(r"^(?:in|on|at|by|near|inside|outside)\s+(?:a|an|the)\s+(.+)$")


@functools.lru_cache(maxsize=4096)
def scene_noun(text: str) -> str:
    """The scene noun of a scene element's text (``in a kitchen`` -> ``kitchen``)."""
    for noun, phrase in lexicon.scenes().items():
        if phrase == text:
            return noun
    m = _SCENE.match(text.strip().lower())
    return m.group(1) if m else text.strip().lower()


class WordNetConstraints(Filter):
    name = "wordnet"

    def keep(self, s: Sample) -> bool | tuple[bool, str]:
        gt_obj = s.object.value or s.object.text
        gt_scene = s.scene.value or scene_noun(s.scene.text)
        for j, c in enumerate(s.candidates[1:], start=1):
            if c.neg_type == "relation":  # relation swaps have no WordNet rule
                continue
            for t, v in zip(c.neg_type.split("+"), c.neg_value.split(" + ")):
                if t == "object":
                    if not lexicon.is_noun(v):
                        return False, f"object swap: {v!r} (candidate {j}) is not a WordNet noun"
                    rel = lexicon.lexical_relation(gt_obj, v)
                    if rel is not None:
                        return False, f"object swap: {v!r} (candidate {j}) is a {rel} of {gt_obj!r}"
                elif t == "scene":
                    noun = scene_noun(v)
                    rel = lexicon.lexical_relation(gt_scene, noun) if lexicon.is_noun(noun) else None
                    if rel is not None:
                        return False, f"scene swap: {noun!r} (candidate {j}) is a {rel} of {gt_scene!r}"
        return True
