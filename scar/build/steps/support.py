"""Support from masks: when the picture shows a thing resting *on* a surface.

Boxes cannot tell "the cup is on the table" from "the cup is in front of the table" or "the
chair stands behind the table" (box adjacency is not contact), so the relation ``on`` is a
ground truth only where the annotated masks show support (:func:`rests_on`):

- **contact**: under most of the thing's lowest pixels (column by column) the surface's
  mask begins within a few pixels: nothing of the picture lies between them;
- **a surface around the base**: the surface's mask is seen on both sides of the thing's
  base, at and a little above the height of its base (a table top seen beyond the cup).
  A chair behind a table, cut off by the table's edge, touches the table's mask along its
  lowest pixels too, but no table lies beside and beyond it; a thing on the back edge of a
  surface fails this test as well, and then gets no ``on`` (abstain, not guess);
- the thing's base lies within the surface's box (:func:`box_allows`; for a surface whose top
  is only an edge of the picture, a microwave or a cabinet, within the box's top band), and
  it is of a smaller size class than the surface, which is a thing with a top that holds
  things up (``surfaces.txt``) and no container (a cup in a sink is in it, not on it),
  checked by the caller.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from scar.types import BBox

#: Share of the thing's lowest pixels (one per column) with the surface's mask right below.
MIN_CONTACT = 0.6
#: How far below a lowest pixel the surface may begin: this share of the thing's height, at least 2 px.
CONTACT_GAP = 0.06
#: The band above the base, as a share of the thing's height, where the surface must be seen on both sides.
BAND = 0.25
#: How far to each side of the thing (a share of its width, at least 3 px) the surface is looked for.
SIDE = 0.5


def decode(rle: dict[str, Any] | None) -> np.ndarray | None:
    """A binary mask (H x W bool) from a compressed RLE with str counts, or None."""
    if not rle or not isinstance(rle.get("counts"), str):
        return None
    return mask_utils.decode({"size": list(rle["size"]), "counts": rle["counts"].encode("ascii")}).astype(bool)


#: Surfaces whose top is seen as an area (a table top, a bed): a thing anywhere over it may rest on it.
OPEN_TOPS = frozenset({"table", "dining table", "desk", "counter", "bench", "bed", "couch", "sofa", "shelf",
                       "stool", "chair", "plate", "floor", "ground"})
#: On any other surface (a microwave, an oven, a refrigerator, a cabinet) only a thing whose base lies in
#: this top share of the surface's box rests on its top: what is seen through a door or in front of the
#: face is not on it.
TOP_BAND = 0.3


def box_allows(target: BBox, surface: BBox, surface_noun: str = "table") -> bool:
    """The cheap test first: the thing's base lies within the surface's box (its bottom between the
    surface's top and bottom, in the top ``TOP_BAND`` unless the surface is an open top, and its
    centre over the surface) and the thing is the smaller box."""
    tx, ty, tw, th = target
    sx, sy, sw, sh = surface
    base, cx = ty + th, tx + tw / 2
    bottom = sy + (sh if surface_noun.lower() in OPEN_TOPS else TOP_BAND * sh)
    return sx <= cx <= sx + sw and sy <= base <= bottom and tw * th < sw * sh


def rests_on(thing: np.ndarray, surface: np.ndarray) -> bool:
    """Whether the masks show ``thing`` resting on ``surface`` (module docstring)."""
    if thing.shape != surface.shape or not thing.any() or not surface.any():
        return False
    H, W = thing.shape
    cols = np.flatnonzero(thing.any(axis=0))
    rows = np.flatnonzero(thing.any(axis=1))
    h, w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    gap = max(2, int(round(CONTACT_GAP * h)))
    # lowest pixel of the thing in each of its columns
    lowest = H - 1 - np.argmax(thing[::-1, cols], axis=0)
    touching = 0
    for c, y in zip(cols, lowest):
        below = surface[y + 1:min(H, y + 1 + gap), c]
        touching += bool(below.any())
    if touching < MIN_CONTACT * len(cols):
        return False
    base = int(np.median(lowest))
    top = max(0, base - max(1, int(round(BAND * h))))
    reach = max(3, int(round(SIDE * w)))
    band = surface[top:base + 1]
    left = band[:, max(0, cols[0] - reach):cols[0]]
    right = band[:, cols[-1] + 1:min(W, cols[-1] + 1 + reach)]
    return bool(left.any() and right.any())
