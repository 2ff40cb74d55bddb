"""Spatial relations computed from boxes, each with a test that it *holds* and a
stricter test that it is *clearly false* (what a relation swap requires).

Boxes are COCO ``[x, y, w, h]``; image y grows downwards. Depth relations (in front
of, behind) cannot be told from boxes and are never produced here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scar.types import BBox


class Box:
    """An axis-aligned box by its corners, with its width, height, centre and area worked out
    once (the relation tests read them many times). Equal when the corners are."""

    __slots__ = ("area", "cx", "cy", "h", "w", "x1", "x2", "y1", "y2")

    def __init__(self, x1: float, y1: float, x2: float, y2: float) -> None:
        self.x1, self.y1, self.x2, self.y2 = x1, y1, x2, y2
        self.w, self.h = x2 - x1, y2 - y1
        self.cx, self.cy = (x1 + x2) / 2, (y1 + y2) / 2
        self.area = max(self.w, 0) * max(self.h, 0)

    @classmethod
    def of(cls, b: BBox) -> Box:
        x, y, w, h = b
        return cls(x, y, x + w, y + h)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Box) and (self.x1, self.y1, self.x2, self.y2) == (other.x1, other.y1, other.x2,
                                                                                   other.y2)

    def __hash__(self) -> int:
        return hash((self.x1, self.y1, self.x2, self.y2))

    def __repr__(self) -> str:
        return f"Box(x1={self.x1!r}, y1={self.y1!r}, x2={self.x2!r}, y2={self.y2!r})"


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
    """A relation of box A to box B (or to the image frame).

    ``holds``: a speaker *might* say it (lenient: a swap must never be one of these);
    ``clearly_false``: no careful annotator would accept it for the boxes (what a swap requires);
    ``decides``: the picture alone makes it true (strict: what a ground truth requires), or None
    for relations boxes can never decide."""

    phrase: str  # "to the left of"
    holds: Callable[[Box, Box], bool]
    clearly_false: Callable[[Box, Box], bool]
    decides: Callable[[Box, Box], bool] | None = None


#: Margins of the ground-truth tests (see ``decides``): left/right need the boxes side by side
#: (overlapping by at most ``MAX_OVERLAP`` of the narrower width) and most of the shorter box's height shared; above/below no vertical overlap,
#: most of the narrower box's width shared and a gap under a quarter of the taller box's height.
MIN_SHARED = 0.5
MAX_OVERLAP = 0.05
MAX_STACK_GAP = 0.25


def _left_of(a: Box, b: Box) -> bool:
    return a.x2 <= b.x1 + MAX_OVERLAP * min(a.w, b.w) and _v_overlap(a, b) >= MIN_SHARED


def _above(a: Box, b: Box) -> bool:
    return (a.y2 <= b.y1 + 0.05 * min(a.h, b.h) and _h_overlap(a, b) >= MIN_SHARED
            and b.y1 - a.y2 <= MAX_STACK_GAP * max(a.h, b.h))


def _apart(a: Box, b: Box) -> bool:
    """No horizontal overlap: A can be neither on nor under B."""
    return a.x2 <= b.x1 or a.x1 >= b.x2


#: Side by side at one height (or one right over the other): the vertical (horizontal) extents
#: share at least ``LEVEL_SHARED`` of the shorter (narrower) box and the centres lie within
#: ``LEVEL_OFFSET`` of the taller (wider) box's size of each other.
LEVEL_SHARED = 0.7
LEVEL_OFFSET = 0.25


def _level(a: Box, b: Box) -> bool:
    """A beside B at one height, apart: neither is above nor below the other."""
    return _apart(a, b) and _v_overlap(a, b) >= LEVEL_SHARED and abs(a.cy - b.cy) <= LEVEL_OFFSET * max(a.h, b.h)


def _stacked(a: Box, b: Box) -> bool:
    """A right over or under B, apart: neither is left nor right of the other."""
    return ((a.y2 <= b.y1 or a.y1 >= b.y2) and _h_overlap(a, b) >= LEVEL_SHARED
            and abs(a.cx - b.cx) <= LEVEL_OFFSET * max(a.w, b.w))


# Pairwise relations of a target box A to a neighbour box B, in order of preference
# for the ground truth. The clearly-false tests keep a margin: "to the left of" is false only
# when A's centre is right of B's and A does not reach further left than B, or when A lies right
# over or under B (``_stacked``); "above" only when A's centre is lower and A does not reach higher
# than B, or when A stands beside B at its height (``_level``); "on top of"/"under" when A is lower
# (higher) than B's middle or beside it.
PAIRWISE: tuple[Relation, ...] = (
    Relation("on top of",
             lambda a, b: _h_overlap(a, b) > 0.5 and a.cy < b.y1 + 0.2 * b.h and abs(a.y2 - b.y1) < 0.25 * b.h
             and a.w < b.w * 1.2,
             lambda a, b: a.y1 >= b.cy or _apart(a, b)),
    Relation("to the left of", lambda a, b: a.x2 <= b.x1 + 0.1 * b.w and _v_overlap(a, b) > 0.3,
             lambda a, b: a.cx >= b.cx and a.x1 >= b.x1 or _stacked(a, b), _left_of),
    Relation("to the right of", lambda a, b: a.x1 >= b.x2 - 0.1 * b.w and _v_overlap(a, b) > 0.3,
             lambda a, b: a.cx <= b.cx and a.x2 <= b.x2 or _stacked(a, b), lambda a, b: _left_of(b, a)),
    Relation("above", lambda a, b: a.y2 <= b.y1 + 0.1 * b.h and _h_overlap(a, b) > 0.2,
             lambda a, b: a.cy >= b.cy and a.y1 >= b.y1 or _level(a, b), _above),
    Relation("below", lambda a, b: a.y1 >= b.y2 - 0.1 * b.h and _h_overlap(a, b) > 0.2,
             lambda a, b: a.cy <= b.cy and a.y2 <= b.y2 or _level(a, b), lambda a, b: _above(b, a)),
    Relation("under", lambda a, b: a.y1 >= b.y2 - 0.1 * b.h and _h_overlap(a, b) > 0.3,
             lambda a, b: a.y2 <= b.cy or _apart(a, b)),
    # proximity is vague ("next to" is said of boxes apart or overlapping): never a GT, never a swap
    Relation("next to", lambda a, b: True, lambda a, b: False),
    Relation("inside", lambda a, b: _inside(a, b) > 0.5,
             lambda a, b: _inside(a, b) < 0.05),
)

#: Frame margins: left/right need the whole box in that half of the picture and its centre in the
#: outer ``SIDE`` (a third) of the width; top/bottom the whole box in that half and an edge in the outer
#: ``EDGE`` of the height ("at the bottom" is said of what reaches the bottom of the picture, not
#: of anything below the middle); the centre needs the box's centre within ``CENTRE`` of the
#: picture's and the whole box in the middle third both ways (a big box "in the center" is vague).
SIDE = 1 / 3
EDGE = 0.1
CENTRE = 0.1

# Relations of a box to the image frame, used when no neighbour fits.
FRAME: tuple[Relation, ...] = (
    Relation("in the center", lambda a, f: abs(a.cx - f.cx) < 0.15 * f.w and abs(a.cy - f.cy) < 0.15 * f.h,
             lambda a, f: (abs(a.cx - f.cx) > 0.3 * f.w or abs(a.cy - f.cy) > 0.3 * f.h)
             and not (a.x1 <= f.cx <= a.x2 and a.y1 <= f.cy <= a.y2),
             lambda a, f: abs(a.cx - f.cx) < CENTRE * f.w and abs(a.cy - f.cy) < CENTRE * f.h
             and a.x1 >= f.x1 + f.w / 3 and a.x2 <= f.x2 - f.w / 3 and a.y1 >= f.y1 + f.h / 3
             and a.y2 <= f.y2 - f.h / 3),
    Relation("on the left side", lambda a, f: a.cx < f.cx, lambda a, f: a.x1 > f.cx,
             lambda a, f: a.x2 <= f.cx and a.cx <= f.x1 + SIDE * f.w),
    Relation("on the right side", lambda a, f: a.cx > f.cx, lambda a, f: a.x2 < f.cx,
             lambda a, f: a.x1 >= f.cx and a.cx >= f.x2 - SIDE * f.w),
    Relation("at the top", lambda a, f: a.cy < f.cy, lambda a, f: a.y1 > f.cy,
             lambda a, f: a.y2 <= f.cy and a.y1 <= f.y1 + EDGE * f.h),
    Relation("at the bottom", lambda a, f: a.cy > f.cy, lambda a, f: a.y2 < f.cy,
             lambda a, f: a.y1 >= f.cy and a.y2 >= f.y2 - EDGE * f.h),
    # corners: a ground truth where both its side and its edge decide (after the sides, so a second
    # thing of the same name on the same side can still be told apart); clearly false for a box
    # wholly in the other half
    Relation("at the top left", lambda a, f: a.cx < f.cx and a.cy < f.cy, lambda a, f: a.x1 > f.cx or a.y1 > f.cy,
             lambda a, f: _FRAME_DECIDES["on the left side"](a, f) and _FRAME_DECIDES["at the top"](a, f)),
    Relation("at the top right", lambda a, f: a.cx > f.cx and a.cy < f.cy, lambda a, f: a.x2 < f.cx or a.y1 > f.cy,
             lambda a, f: _FRAME_DECIDES["on the right side"](a, f) and _FRAME_DECIDES["at the top"](a, f)),
    Relation("at the bottom left", lambda a, f: a.cx < f.cx and a.cy > f.cy, lambda a, f: a.x1 > f.cx or a.y2 < f.cy,
             lambda a, f: _FRAME_DECIDES["on the left side"](a, f) and _FRAME_DECIDES["at the bottom"](a, f)),
    Relation("at the bottom right", lambda a, f: a.cx > f.cx and a.cy > f.cy, lambda a, f: a.x2 < f.cx or a.y2 < f.cy,
             lambda a, f: _FRAME_DECIDES["on the right side"](a, f) and _FRAME_DECIDES["at the bottom"](a, f)),
)
_FRAME_DECIDES = {r.phrase: r.decides for r in FRAME if r.decides is not None}


#: Boxes of very different sizes are often at different depths (a pizza in front, a chair at the
#: back): "below the chair" is then true in the picture but not in the room. The largest area
#: ratio for a GT relation.
MAX_AREA_RATIO = {"above": 6.0, "below": 6.0}
DEFAULT_MAX_AREA_RATIO = 20.0


def _depth_safe(r: Relation, a: Box, b: Box) -> bool:
    ratio = max(a.area, b.area) / max(min(a.area, b.area), 1e-6)
    return ratio <= MAX_AREA_RATIO.get(r.phrase, DEFAULT_MAX_AREA_RATIO)


def pairwise_relation(a: BBox, b: BBox) -> Relation | None:
    """The first relation the picture decides from A to B (``Relation.decides``; boxes of
    comparable size), or None. Containment, support ("on top of": box adjacency is not
    contact), "under" (depth) and proximity are never decided from boxes."""
    A, B = Box.of(a), Box.of(b)
    for r in PAIRWISE:
        if r.decides is not None and r.decides(A, B):
            return r if _depth_safe(r, A, B) else None
    return None


def false_pairwise(a: BBox, b: BBox) -> list[Relation]:
    A, B = Box.of(a), Box.of(b)
    return [r for r in PAIRWISE if r.clearly_false(A, B) and not r.holds(A, B)]


def frame_relation(a: BBox, width: int, height: int) -> Relation | None:
    """The first relation to the picture's frame that the box decides, or None."""
    return next(iter(frame_relations(a, width, height)), None)


def frame_relations(a: BBox, width: int, height: int) -> list[Relation]:
    """Every relation to the picture's frame that the box decides, in order of preference (a side
    or an edge before a corner)."""
    A, F = Box.of(a), Box(0, 0, width, height)
    return [r for r in FRAME if r.decides is not None and r.decides(A, F)]


def false_frame(a: BBox, width: int, height: int) -> list[Relation]:
    A, F = Box.of(a), Box(0, 0, width, height)
    return [r for r in FRAME if r.clearly_false(A, F) and not r.holds(A, F)]
