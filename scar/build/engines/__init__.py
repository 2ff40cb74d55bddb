"""Engines run the steps over the image groups of a source.

An engine is a function from an iterator of image groups to an iterator of
``GroupResult`` in the same order; ``local`` (in-process or a local process pool) and
``ray`` (Ray Data stages, on a local Ray or a cluster) give the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scar.build.config import EngineConfig


def make_engine(config: EngineConfig, steps: list, *, window: int = 1) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The ``process`` function of ``run_sharded`` for ``config`` (``BuildConfig.engine``,
    validated there); checks that Ray is installed before any work starts."""
    if config.name == "local":
        from scar.build.engines.local import run_local

        return partial(run_local, steps=steps, workers=config.workers)
    from scar.build.engines.ray import check_ray, run_ray

    check_ray()
    # a windowed (LLM) group already holds `window` images: one per task then
    return partial(run_ray, steps=steps, address=config.ray_address, batch_size=1 if window > 1 else 16)
