"""Relation predicates: the curated VisualGenome list and the paraphrase groups.

``scar/data/vg_predicates.tsv`` maps a raw predicate (``sits on``) to its surface form
(``sitting on``), its paraphrase group (``support``) and its contradictions (``standing on;
lying under; far from``): relations that cannot hold for the same pair when the predicate
does. ``scar/data/spatial_groups.tsv`` gives the groups of the geometry phrases and of the
contradiction phrases that are not predicates themselves. A relation swap is never from the
GT relation's group (a paraphrase); a contradiction is never from its predicate's group (the
tables are checked when loaded).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from scar.lexicon import _read_lines
from scar.build.steps import spatial


@dataclass(frozen=True)
class Group:
    primary: str
    implied: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Group:
        primary, _, implied = text.strip().partition(">")
        return cls(primary.strip(), tuple(x.strip() for x in implied.split(",") if x.strip()))

    @property
    def all(self) -> frozenset[str]:
        return frozenset((self.primary, *self.implied))


@dataclass(frozen=True)
class Predicate:
    raw: str
    surface: str
    group: Group
    contradictions: tuple[str, ...]


@functools.lru_cache(maxsize=65536)
def norm(text: str) -> str:
    """Lower case, single spaces, no punctuation: ``"Sitting  On"`` -> ``"sitting on"``."""
    return " ".join(re.sub(r"[^a-z\s]", " ", text.lower()).split())


@functools.cache
def table() -> dict[str, Predicate]:
    out: dict[str, Predicate] = {}
    for i, ln in enumerate(_read_lines("vg_predicates.tsv"), 1):
        cols = ln.split("\t")
        if len(cols) != 4:
            raise ValueError(f"scar/data/vg_predicates.tsv: data line {i} has {len(cols)} columns, expected 4: {ln!r}")
        raw, surf, group, contra = (c.strip() for c in cols)
        out[norm(raw)] = Predicate(norm(raw), surf, Group.parse(group),
                                   tuple(c.strip() for c in contra.split(";") if c.strip()))
    groups = _groups_from(out)
    for p in out.values():
        for c in p.contradictions:
            if c not in groups:
                raise ValueError(f"scar/data/vg_predicates.tsv: contradiction {c!r} of {p.raw!r} has no group "
                                 "(add it to spatial_groups.tsv)")
            if _conflict(p.group, groups[c]):
                raise ValueError(f"scar/data/vg_predicates.tsv: contradiction {c!r} ({groups[c]}) of {p.raw!r} "
                                 f"({p.group}) is a paraphrase or may be true with it")
    return out


def _groups_from(preds: dict[str, Predicate]) -> dict[str, Group]:
    groups = {p.surface: p.group for p in preds.values()}
    groups.update({p.raw: p.group for p in preds.values()})
    for i, ln in enumerate(_read_lines("spatial_groups.tsv"), 1):
        cols = ln.split("\t")
        if len(cols) != 2:
            raise ValueError(f"scar/data/spatial_groups.tsv: data line {i} has {len(cols)} columns, expected 2: {ln!r}")
        groups.setdefault(cols[0].strip(), Group.parse(cols[1]))
    return groups


def _conflict(gt: Group, swap: Group) -> bool:
    return swap.primary in gt.all or gt.primary in swap.all


@functools.cache
def groups() -> dict[str, Group]:
    """Relation phrase -> its group, for predicates, geometry phrases and contradictions."""
    return _groups_from(table())


def group(phrase: str) -> Group | None:
    return groups().get(norm(phrase))


def lookup(predicate: str) -> Predicate | None:
    """The curated entry of a raw VisualGenome predicate, or None when it is not curated."""
    return table().get(norm(predicate))


@functools.cache
def _known_heads() -> tuple[str, ...]:
    """Every relation phrase a relation text may start with, longest first."""
    heads = set(table()) | {p.surface for p in table().values()} | set(groups())
    heads |= {r.phrase for r in spatial.PAIRWISE}
    return tuple(sorted(heads, key=lambda h: (-len(h), h)))


@functools.lru_cache(maxsize=65536)
def split_relation(text: str) -> tuple[str, str] | None:
    """``"sitting on the bench"`` -> ``("sitting on", "the bench")``: the longest known
    relation phrase the text starts with and the rest (non-empty). A frame relation
    (``on the left side``) gives ``(phrase, "")``. None when nothing known starts it."""
    t = norm(text)
    frames = {r.phrase for r in spatial.FRAME}
    if t in frames:
        return t, ""
    for h in _known_heads():
        if t.startswith(h + " ") and len(t) > len(h) + 1:
            return h, t[len(h) + 1:]
    return None


@functools.lru_cache(maxsize=65536)
def is_paraphrase(gt: str, swap: str) -> bool:
    """Whether relation head ``swap`` is the same as ``gt``, a paraphrase of it, made true
    by it, or may be true with it (see the module doc); unknown heads only by equality."""
    gt, swap = norm(gt), norm(swap)
    if gt == swap:
        return True
    ga, gb = group(gt), group(swap)
    return ga is not None and gb is not None and _conflict(ga, gb)


@functools.lru_cache(maxsize=65536)
def contradictions(predicate: str) -> tuple[str, ...]:
    p = lookup(predicate)
    if p is not None:
        return p.contradictions
    surf = {q.surface: q for q in table().values()}
    return surf[norm(predicate)].contradictions if norm(predicate) in surf else ()
