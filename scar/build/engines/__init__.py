"""Engines run the steps over the image groups of a source.

An engine is a function from an iterator of image groups to an iterator of
``GroupResult`` in the same order; ``local`` (in-process or a local process pool) and
``ray`` (Ray Data stages, on a local Ray or a cluster) give the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

ENGINES = ("local", "ray")


def make_engine(engine: str, steps: list, *, workers: int = 1, ray_address: str | None = None,
                window: int = 1) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """The ``process`` function of ``run_sharded`` for ``--engine``; checks the options
    (and that Ray is installed) before any work starts."""
    if engine not in ENGINES:
        raise ValueError(f"--engine must be one of {list(ENGINES)}, got {engine!r}")
    if engine == "local":
        if ray_address:
            raise ValueError("--ray-address applies to --engine ray only")
        from scar.build.engines.local import run_local

        if workers < 1:
            raise ValueError(f"--workers must be >= 1, got {workers}")
        return partial(run_local, steps=steps, workers=workers)
    if workers != 1:
        raise ValueError(f"--workers {workers} applies to --engine local; --engine ray uses every CPU Ray has")
    from scar.build.engines.ray import check_ray, run_ray

    check_ray()
    # a windowed (LLM) group already holds `window` images: one per task then
    return partial(run_ray, steps=steps, address=ray_address, batch_size=1 if window > 1 else 16)
