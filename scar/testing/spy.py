"""Test doubles that say where a build step ran (process, Ray worker and actor), for tests
that check an engine placed the step on its workers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scar.build.masks import FillMasks
from scar.types import Sample


def where() -> dict[str, Any]:
    """This process: its pid and, inside Ray, its worker and actor ids (None outside)."""
    out: dict[str, Any] = {"pid": os.getpid(), "ray_worker": None, "ray_actor": None}
    try:
        import ray
    except ImportError:
        return out
    if ray.is_initialized():
        ctx = ray.get_runtime_context()
        out["ray_worker"], out["ray_actor"] = ctx.get_worker_id(), ctx.get_actor_id()
    return out


class WhereMasks(FillMasks):
    """The ``masks`` step, appending one JSON line to ``record`` per ``run`` call that made
    masks: :func:`where` it ran and how many masks it made."""

    def __init__(self, record: str | Path, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.record = str(record)

    def run(self, samples: list[Sample]) -> list[Sample]:
        missing = sum(s.region.mask is None for s in samples)
        out = super().run(samples)
        if missing:
            with open(self.record, "a", encoding="utf-8") as f:
                f.write(json.dumps({**where(), "masks": missing}) + "\n")
        return out
