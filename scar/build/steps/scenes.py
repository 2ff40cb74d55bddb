"""Scene grounding for images without a scene label.

Two documented vote tables in ``scar/data/``:

- ``stuff_scenes.tsv``: COCO-Stuff stuff classes -> scene votes. The stuff classes are
  annotations, so a scene decided by them has provenance ``annotation``.
- ``object_scenes.tsv``: object categories -> scene votes, used by the lexical backend
  (provenance ``lexical``): each distinct category of the image votes once.

A table decides a scene when the best scene has at least ``MIN_VOTES`` and at least
``MARGIN`` times the runner-up's votes; otherwise it decides nothing. Scenes that get any
vote from the image are also kept out of the scene swaps (they may be true).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from scar import lexicon

MIN_VOTES = 1.5
MARGIN = 1.5


def _load(name: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for i, ln in enumerate(lexicon._read_lines(name), 1):
        cols = ln.split("\t")
        if len(cols) != 2:
            raise ValueError(f"scar/data/{name}: data line {i} has {len(cols)} columns, expected 2: {ln!r}")
        votes = {}
        for part in cols[1].split(";"):
            scene, _, w = part.strip().rpartition(":")
            try:
                votes[scene.strip()] = float(w)
            except ValueError as e:
                raise ValueError(f"scar/data/{name}: data line {i}: bad vote {part!r} (want scene:weight)") from e
        out[cols[0].strip().lower()] = votes
    return out


@functools.cache
def stuff_table() -> dict[str, dict[str, float]]:
    return _load("stuff_scenes.tsv")


@functools.cache
def object_table() -> dict[str, dict[str, float]]:
    return _load("object_scenes.tsv")


def stuff_key(name: str) -> str:
    """``"grass-merged"`` -> ``"grass"``; ``"sky-other"`` -> ``"sky"``; other names lower-cased."""
    n = name.strip().lower()
    for suffix in ("-merged", "-other"):
        if n.endswith(suffix):
            n = n[: -len(suffix)]
    return n


def votes(labels: Iterable[str], table: dict[str, dict[str, float]], key=lambda s: s.strip().lower()) -> dict[str, float]:
    """Summed votes of the distinct labels."""
    out: dict[str, float] = {}
    for lab in sorted({key(x) for x in labels}):
        for scene, w in table.get(lab, {}).items():
            out[scene] = out.get(scene, 0.0) + w
    return out


def decide(v: dict[str, float]) -> str | None:
    """The winning scene of a vote count, or None when no scene wins clearly."""
    if not v:
        return None
    ranked = sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))
    best, score = ranked[0]
    runner = ranked[1][1] if len(ranked) > 1 else 0.0
    if score >= MIN_VOTES and score >= MARGIN * runner and score > runner:
        return best
    return None


def from_stuff(stuff: Iterable[str]) -> str | None:
    return decide(votes(stuff, stuff_table(), stuff_key))


def from_objects(categories: Iterable[str]) -> str | None:
    return decide(votes(categories, object_table()))


def evidence(categories: Iterable[str], stuff: Iterable[str]) -> set[str]:
    """Every scene that the image's objects or stuff vote for at all."""
    return set(votes(categories, object_table())) | set(votes(stuff, stuff_table(), stuff_key))


@functools.cache
def place_cues() -> dict[str, str]:
    """Category or stuff name -> ``indoor``/``outdoor`` (``place_cues.tsv``)."""
    out = {}
    for i, ln in enumerate(lexicon._read_lines("place_cues.tsv"), 1):
        cols = [c.strip() for c in ln.split("\t")]
        if len(cols) != 2 or cols[1] not in ("indoor", "outdoor"):
            raise ValueError(f"scar/data/place_cues.tsv: data line {i}: want name <TAB> indoor|outdoor: {ln!r}")
        out[cols[0].lower()] = cols[1]
    return out


def kind_conflict(scene: str, categories: Iterable[str], stuff: Iterable[str] = ()) -> str | None:
    """The first of the image's categories or stuff classes that says the picture is of the other
    kind (indoor/outdoor) than ``scene``, or None."""
    kind = lexicon.scene_kind(scene)
    if kind is None:
        return None
    cues = place_cues()
    names = sorted({c.strip().lower() for c in categories} | {stuff_key(x) for x in stuff})
    return next((n for n in names if cues.get(n, kind) != kind), None)
