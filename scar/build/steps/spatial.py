"""Spatial relations computed from boxes, each with a test that it *holds* and a
stricter test that it is *clearly false* (what a relation swap requires).

Boxes are COCO ``[x, y, w, h]``; image y grows downwards. Depth relations (in front
of, behind) cannot be told from boxes and are never produced here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scar.types import BBox


@dataclass(frozen=True)
class Box:
    x1: float
    y1: float
    x2: float
    y2: float

    @classmethod
    def of(cls, b: BBox) -> Box:
        x, y, w, h = b
        return cls(x, y, x + w, y + h)

    @property
    def w(self) -> float:
        return self.x2 - self.x1

    @property
    def h(self) -> float:
        return self.y2 - self.y1

    @property
    def cx(self) -> float:
        return (self.x1 + self.x2) / 2

    @property
    def cy(self) -> float:
        return (self.y1 + self.y2) / 2

    @property
    def area(self) -> float:
        return max(self.w, 0) * max(self.h, 0)


def _inter(a: Box, b: Box) -> float:
    return max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1)) * max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))


def _v_overlap(a: Box, b: Box) -> float:
    """Vertical overlap as a fraction of the shorter box's height."""
    return max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1)) / max(min(a.h, b.h), 1e-6)


def _h_overlap(a: Box, b: Box) -> float:
    return max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1)) / max(min(a.w, b.w), 1e-6)


def _h_gap(a: Box, b: Box) -> float:
    return max(0.0, max(a.x1, b.x1) - min(a.x2, b.x2))


def _inside(a: Box, b: Box) -> float:
    return _inter(a, b) / max(a.area, 1e-6)


@dataclass(frozen=True)
class Relation:
    phrase: str  # "to the left of"
    holds: Callable[[Box, Box], bool]
    clearly_false: Callable[[Box, Box], bool]


# Pairwise relations of a target box A to a neighbour box B, in order of preference
# for the ground truth.
PAIRWISE: tuple[Relation, ...] = (
    Relation("on top of",
             lambda a, b: _h_overlap(a, b) > 0.5 and a.cy < b.y1 + 0.2 * b.h and abs(a.y2 - b.y1) < 0.25 * b.h
             and a.w < b.w * 1.2,
             lambda a, b: a.cy > b.cy),
    Relation("to the left of", lambda a, b: a.x2 <= b.x1 + 0.1 * b.w and _v_overlap(a, b) > 0.3,
             lambda a, b: a.cx > b.cx),
    Relation("to the right of", lambda a, b: a.x1 >= b.x2 - 0.1 * b.w and _v_overlap(a, b) > 0.3,
             lambda a, b: a.cx < b.cx),
    Relation("above", lambda a, b: a.y2 <= b.y1 + 0.1 * b.h and _h_overlap(a, b) > 0.2,
             lambda a, b: a.cy > b.cy),
    Relation("below", lambda a, b: a.y1 >= b.y2 - 0.1 * b.h and _h_overlap(a, b) > 0.2,
             lambda a, b: a.cy < b.cy),
    Relation("under", lambda a, b: a.y1 >= b.y2 - 0.1 * b.h and _h_overlap(a, b) > 0.3,
             lambda a, b: a.cy < b.cy),
    Relation("next to", lambda a, b: _v_overlap(a, b) > 0.3 and _h_gap(a, b) < 0.3 * max(a.w, b.w)
             and _inter(a, b) < 0.2 * min(a.area, b.area),
             lambda a, b: _h_gap(a, b) > max(a.w, b.w) or _v_overlap(a, b) == 0),
    Relation("inside", lambda a, b: _inside(a, b) > 0.95,
             lambda a, b: _inside(a, b) < 0.05),
)

# Relations of a box to the image frame, used when no neighbour fits.
FRAME: tuple[Relation, ...] = (
    Relation("in the center", lambda a, f: abs(a.cx - f.cx) < 0.15 * f.w and abs(a.cy - f.cy) < 0.15 * f.h,
             lambda a, f: abs(a.cx - f.cx) > 0.3 * f.w or abs(a.cy - f.cy) > 0.3 * f.h),
    Relation("on the left side", lambda a, f: a.x2 < f.cx, lambda a, f: a.x1 > f.cx),
    Relation("on the right side", lambda a, f: a.x1 > f.cx, lambda a, f: a.x2 < f.cx),
    Relation("at the top", lambda a, f: a.y2 < f.cy, lambda a, f: a.y1 > f.cy),
    Relation("at the bottom", lambda a, f: a.y1 > f.cy, lambda a, f: a.y2 < f.cy),
    # corners: never the GT (a side says it), but clearly false for a box wholly in the other half
    Relation("at the top left", lambda a, f: False, lambda a, f: a.x1 > f.cx or a.y1 > f.cy),
    Relation("at the top right", lambda a, f: False, lambda a, f: a.x2 < f.cx or a.y1 > f.cy),
    Relation("at the bottom left", lambda a, f: False, lambda a, f: a.x1 > f.cx or a.y2 < f.cy),
    Relation("at the bottom right", lambda a, f: False, lambda a, f: a.x2 < f.cx or a.y2 < f.cy),
)

# The pairwise relations never offered as ground truth: boxes cannot tell containment, support
# ("on top of": box adjacency is not contact) or "under" (depth) from overlap in the picture.
_GT_EXCLUDED = {"inside", "on top of", "under"}


#: Boxes of very different sizes are often at different depths (a pizza in front, a chair at the
#: back): "below the chair" is then true in the picture but not in the room. The largest area
#: ratio for a GT relation, and for above/below the largest gap (in heights of the taller box).
MAX_AREA_RATIO = {"above": 6.0, "below": 6.0}
DEFAULT_MAX_AREA_RATIO = 20.0
MAX_VERTICAL_GAP = 0.5


def _depth_safe(r: Relation, a: Box, b: Box) -> bool:
    ratio = max(a.area, b.area) / max(min(a.area, b.area), 1e-6)
    if ratio > MAX_AREA_RATIO.get(r.phrase, DEFAULT_MAX_AREA_RATIO):
        return False
    if r.phrase in ("above", "below"):
        gap = max(a.y1, b.y1) - min(a.y2, b.y2)
        return gap <= MAX_VERTICAL_GAP * max(a.h, b.h)
    return True


def pairwise_relation(a: BBox, b: BBox) -> Relation | None:
    """The first relation that holds from A to B where the picture decides it (boxes of
    comparable size; above/below only for boxes close in height), or None."""
    A, B = Box.of(a), Box.of(b)
    for r in PAIRWISE:
        if r.phrase not in _GT_EXCLUDED and r.holds(A, B):
            return r if _depth_safe(r, A, B) else None
    return None


def false_pairwise(a: BBox, b: BBox) -> list[Relation]:
    A, B = Box.of(a), Box.of(b)
    return [r for r in PAIRWISE if r.clearly_false(A, B) and not r.holds(A, B)]


def frame_relation(a: BBox, width: int, height: int) -> Relation | None:
    A, F = Box.of(a), Box(0, 0, width, height)
    for r in FRAME:
        if r.holds(A, F):
            return r
    return None


def false_frame(a: BBox, width: int, height: int) -> list[Relation]:
    A, F = Box.of(a), Box(0, 0, width, height)
    return [r for r in FRAME if r.clearly_false(A, F) and not r.holds(A, F)]
