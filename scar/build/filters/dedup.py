"""Near-duplicate samples: the same image, overlapping boxes (IoU above ``iou``) and the
same ground-truth caption after normalisation. The first in source order is kept; each
later one is dropped with the id of the sample it repeats."""

from __future__ import annotations

from scar.build.base import Step
from scar.build.steps.lexical import normalise
from scar.types import BBox, Sample


def iou(a: BBox, b: BBox) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class NearDuplicates(Step):
    name = "dedup"

    def __init__(self, iou: float = 0.5) -> None:
        self.iou = iou

    def run(self, samples: list[Sample]) -> list[Sample]:
        kept: list[Sample] = []
        for s in samples:
            twin = next((k for k in kept if k.image_id == s.image_id and normalise(k.caption) == normalise(s.caption)
                         and iou(k.region.bbox, s.region.bbox) > self.iou), None)
            if twin is not None:
                self.reject(s, f"duplicate: same image, box IoU > {self.iou} and caption as {twin.id}")
                continue
            kept.append(s)
        return kept
