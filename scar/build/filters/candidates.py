"""Structural checks every released sample must pass.

- exactly 10 candidates, the GT first;
- all 10 distinct after normalisation (case, whitespace, articles);
- each distractor equals the GT with exactly the element(s) its ``neg_type`` names
  replaced by its ``neg_value`` (so it changes those elements and no other);
- no leaked template tokens or control characters.
"""

from __future__ import annotations

import re

from scar.build.base import Filter
from scar.build.steps.lexical import normalise
from scar.schema import N_CANDIDATES
from scar.types import ELEMENTS, Sample

_LEAK = re.compile(r"[{}<>\[\]|\\]|\b(?:object|relation|scene)\s*:|[\x00-\x1f]")


class CandidateChecks(Filter):
    name = "candidate_checks"

    def keep(self, s: Sample) -> bool | tuple[bool, str]:
        if len(s.candidates) != N_CANDIDATES:
            return False, f"count: {len(s.candidates)} candidates"
        if s.candidates[0].neg_type is not None:
            return False, "order: candidate 0 is not the ground truth"
        norm = [normalise(c.text) for c in s.candidates]
        if len(set(norm)) != len(norm):
            dup = next(c.text for i, c in enumerate(s.candidates) if norm.index(norm[i]) != i)
            return False, f"duplicate: {dup!r}"
        gt = {n: s.element(n).text for n in ELEMENTS}
        for c in s.candidates[1:]:
            types = c.neg_type.split("+")
            values = c.neg_value.split(" + ")
            if any(t not in ELEMENTS for t in types) or len(types) != len(values):
                return False, f"neg_type: bad type {c.neg_type!r} / value {c.neg_value!r}"
            parts = dict(gt)
            for t, v in zip(types, values):
                if v == gt[t]:
                    return False, f"swap: {t} swap keeps the GT value {v!r}"
                parts[t] = v
            if c.text != " ".join(parts[n] for n in ELEMENTS):
                return False, f"swap: {c.text!r} is not the GT with only {c.neg_type} replaced"
        for c in s.candidates:
            if _LEAK.search(c.text):
                return False, f"leak: template token or control character in {c.text!r}"
            if not 3 <= len(c.text) <= 300:
                return False, f"length: {len(c.text)} characters"
        return True
