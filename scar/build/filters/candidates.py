"""The rules every released candidate list follows, in one place: the build's filter
(``CandidateChecks``) drops a sample that breaks one, and ``scar validate``
(``scar/build/validate.py``) reports every row of a written file that breaks one.

- exactly 10 candidates, the GT first;
- all 10 distinct after normalisation (case, whitespace, articles);
- each distractor equals the GT with exactly the element(s) its ``neg_type`` names
  replaced by its ``neg_value`` (so it changes those elements and no other), and never by
  the GT's own value;
- no leaked template tokens or control characters; 3 to 300 characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from scar.build.base import Filter
from scar.build.steps.lexical import normalise
from scar.schema import N_CANDIDATES
from scar.types import ELEMENTS, Sample

#: A leaked template token or a control character: one of these characters, or an element
#: name and a colon (two searches, the second only where there is a colon: one pattern of both
#: kinds tries every alternative at every position, ten times slower).
_LEAK_CHAR = re.compile(r"[{}<>\[\]|\\\x00-\x1f]")
_LEAK_TOKEN = re.compile(r"\b(?:object|relation|scene)\s*:")
MIN_CHARS, MAX_CHARS = 3, 300
#: Joins the candidates for one leak search: no part of the patterns matches it or spans it.
_APART = "\x7f"


#: ``_LEAK_CHAR``'s characters, all ASCII: an ASCII text holds one when deleting them shortens it
#: (``bytes.translate``, a few times faster than the character-class search).
_LEAK_BYTES = bytes(range(0x20)) + b"{}<>[]|\\"


def leaks(text: str) -> bool:
    """Whether ``text`` holds a template token (``{``, ``<``, ``object:``...) or a control character."""
    if text.isascii():
        raw = text.encode("ascii")
        if len(raw.translate(None, _LEAK_BYTES)) != len(raw):
            return True
    elif _LEAK_CHAR.search(text) is not None:
        return True
    return ":" in text and _LEAK_TOKEN.search(text) is not None


_POSITION = {e: i for i, e in enumerate(ELEMENTS)}


def candidate_problems(texts: Sequence[str], neg_types: Sequence[str] | None = None,
                       neg_values: Sequence[str] | None = None,
                       gt: Mapping[str, str | None] | None = None) -> Iterator[tuple[int | None, str]]:
    """Every rule the candidate list ``texts`` (GT first) breaks, in a fixed order, as
    (candidate index or None for the whole list, reason). ``neg_types``/``neg_values``
    describe the 9 distractors (``"object"``, ``"object+scene"``...; values joined by
    ``" + "``); ``gt`` maps each element to the GT's text. Rules that need what is not
    given (a released file without types or GT columns) are skipped."""
    if len(texts) != N_CANDIDATES:
        yield None, f"count: {len(texts)} candidates"
    norm = list(map(normalise, texts))
    if len(set(norm)) != len(norm):
        dup = next(t for i, t in enumerate(texts) if norm.index(norm[i]) != i)
        yield None, f"duplicate: {dup!r}"
    gt_parts = [gt.get(e) for e in ELEMENTS] if gt is not None else [None]
    known_gt = None not in gt_parts
    if neg_types is not None:
        if neg_values is None or len(neg_types) != len(texts) - 1 or len(neg_values) != len(neg_types):
            yield None, f"neg_types/neg_values not aligned with the {len(texts) - 1} distractors"
        else:
            for j, (t, v, c) in enumerate(zip(neg_types, neg_values, texts[1:]), start=1):
                if t in _POSITION and v is not None and " + " not in v:  # one element swapped: the usual case
                    if not known_gt:
                        continue
                    if v == gt[t]:
                        yield j, f"swap: {t} swap keeps the GT value {gt[t]!r}"
                        continue
                    parts = gt_parts.copy()
                    parts[_POSITION[t]] = v
                    if c != " ".join(parts):
                        yield j, f"swap: {c!r} is not the GT with only {t} replaced"
                    continue
                types, values = (t or "").split("+"), (v or "").split(" + ")
                if any(x not in ELEMENTS for x in types) or len(types) != len(values):
                    yield j, f"neg_type: bad type {t!r} / value {v!r}"
                    continue
                if not known_gt:
                    continue
                parts = {e: gt[e] for e in ELEMENTS}
                kept = next((x for x, val in zip(types, values) if val == gt[x]), None)
                if kept is not None:
                    yield j, f"swap: {kept} swap keeps the GT value {gt[kept]!r}"
                    continue
                parts.update(zip(types, values))
                if c != " ".join(parts[e] for e in ELEMENTS):
                    yield j, f"swap: {c!r} is not the GT with only {t} replaced"
    leaked = leaks(_APART.join(texts))  # one search for the list, then which ones
    lengths = list(map(len, texts))
    if leaked or (lengths and not (MIN_CHARS <= min(lengths) and max(lengths) <= MAX_CHARS)):
        for j, c in enumerate(texts):
            if leaked and leaks(c):
                yield j, f"leak: template token or control character in {c!r}"
            elif not MIN_CHARS <= lengths[j] <= MAX_CHARS:
                yield j, f"length: {lengths[j]} characters"
    if known_gt and texts and texts[0] != " ".join(gt_parts):
        yield 0, "order: candidate 0 is not the ground truth"


class CandidateChecks(Filter):
    name = "candidate_checks"

    def keep(self, s: Sample) -> bool | tuple[bool, str]:
        if s.candidates and s.candidates[0].neg_type is not None:
            return False, "order: candidate 0 is not the ground truth"
        rest = s.candidates[1:]
        gt = {"object": s.object.text, "relation": s.relation.text, "scene": s.scene.text}  # the ELEMENTS
        problem = next(candidate_problems([c.text for c in s.candidates], [c.neg_type for c in rest],
                                          [c.neg_value for c in rest], gt), None)
        return True if problem is None else (False, problem[1])
