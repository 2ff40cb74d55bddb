"""The per-image cap (step ``cap``): at most ``max_per_image`` samples of an image are kept.

The source reads the ``max_per_image`` entities its ranking chooses and, with a ``reserve``
(``scar.build.selection``), a few stand-ins next in the ranking. The caption steps may leave
a chosen entity out (geometry decides no relation for it, its scene has no swap...); this
step, after every caption step and filter and before the masks, keeps the first
``max_per_image`` samples of the image that are left, in the order the source gave them
(the chosen first, then the stand-ins by rank), so a stand-in takes the place of a chosen
entity only when that one was left out. The kept samples are written largest box first.
"""

from __future__ import annotations

from scar.build.base import Step
from scar.build.selection import id_key
from scar.types import Sample


class PerImageCap(Step):
    name = "cap"

    def __init__(self, max_per_image: int) -> None:
        if not (isinstance(max_per_image, int) and max_per_image >= 1):
            raise ValueError(f"max_per_image must be an integer >= 1, got {max_per_image!r}")
        self.max_per_image = max_per_image

    def run(self, samples: list[Sample]) -> list[Sample]:
        by_image: dict[str, list[Sample]] = {}
        for s in samples:
            by_image.setdefault(s.image_id, []).append(s)
        keep: set[int] = set()
        for group in by_image.values():
            for s in group[self.max_per_image:]:
                self.reject(s, f"over per-image limit: {len(group)} samples of the image made it through the "
                               f"caption steps, the first {self.max_per_image} kept")
            keep.update(id(s) for s in group[:self.max_per_image])
        kept = [s for s in samples if id(s) in keep]
        order = {image: i for i, image in enumerate(by_image)}
        return sorted(kept, key=lambda s: (order[s.image_id], -(s.region.bbox[2] * s.region.bbox[3]),
                                           id_key(s.region.entity_id or "")))
