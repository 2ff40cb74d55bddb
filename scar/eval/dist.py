"""Multi-GPU evaluation: ``torchrun --nproc_per_node N -m scar.cli eval ...``.

Every rank reads the same tasks and the same embedding cache; ``embed_unique`` then
encodes only this rank's contiguous shard of the distinct inputs still to encode
(``shard``) and ``gather`` all-gathers the vectors (each shard padded to the same
number of rows, trimmed after) and the per-input errors, so every rank ends with the
full matrix and scores identically; only rank 0 writes results. Without torchrun (or
with one process) every function here is a no-op, and ``import scar.eval.dist`` imports no
torch. NCCL on CUDA, gloo on CPU (what the tests use).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import zlib

import numpy as np

log = logging.getLogger(__name__)


def _dist():
    """``torch.distributed`` when a group of more than one process is running, else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    d = torch.distributed
    return d if d.is_available() and d.is_initialized() and d.get_world_size() > 1 else None


def rank() -> int:
    d = _dist()
    return d.get_rank() if d else 0


def world_size() -> int:
    d = _dist()
    return d.get_world_size() if d else 1


def is_main() -> bool:
    return rank() == 0


def init_from_env() -> str | None:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1); return this rank's
    device (``cuda:<LOCAL_RANK>`` or ``cpu``), or None when not launched by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    import torch.distributed as d

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        backend, device = "nccl", f"cuda:{local}"
    else:
        backend, device = "gloo", "cpu"
    if not d.is_initialized():
        d.init_process_group(backend)
    log.info("rank %d of %d on %s (%s)", d.get_rank(), d.get_world_size(), device, backend)
    return device


def _device(d):
    import torch

    return torch.device("cuda", torch.cuda.current_device()) if d.get_backend() == "nccl" else torch.device("cpu")


def _all_gather(d, t):
    import torch

    out = [torch.empty_like(t) for _ in range(d.get_world_size())]
    d.all_gather(out, t)
    return torch.cat(out)


def _bounds(n: int, r: int, w: int) -> tuple[int, int]:
    per = math.ceil(n / w) if n else 0
    return min(r * per, n), min((r + 1) * per, n)


def shard(todo: list[int]) -> list[int]:
    """This rank's contiguous part of ``todo``; every rank must pass the same list."""
    d = _dist()
    if d is None:
        return todo
    import torch

    sig = torch.tensor([len(todo), zlib.crc32(np.asarray(todo, np.int64).tobytes())], dtype=torch.int64,
                       device=_device(d))
    every = _all_gather(d, sig).view(-1, 2)
    if not bool((every == sig).all()):
        raise RuntimeError(f"ranks disagree on the inputs to encode (counts {every[:, 0].tolist()}): every rank must "
                           "read the same data and the same embedding cache")
    lo, hi = _bounds(len(todo), d.get_rank(), d.get_world_size())
    return todo[lo:hi]


def gather(todo: list[int], raw: dict[int, np.ndarray], errors: dict[int, str]) -> None:
    """Fill ``raw`` and ``errors`` for all of ``todo`` from every rank's shard (in place)."""
    d = _dist()
    if d is None:
        return
    import torch

    w, r, dev = d.get_world_size(), d.get_rank(), _device(d)
    lo, hi = _bounds(len(todo), r, w)
    mine = todo[lo:hi]
    dim = next((raw[i].shape[0] for i in mine if i in raw), 0)
    dims = _all_gather(d, torch.tensor([dim], dtype=torch.int64, device=dev)).tolist()
    if len({x for x in dims if x}) > 1:
        raise ValueError(f"ranks returned vectors of different sizes: {dims}")
    dim = max(dims)
    per = math.ceil(len(todo) / w) if todo else 0
    if dim and per:
        local = torch.zeros((per, dim), dtype=torch.float32)
        ok = torch.zeros(per, dtype=torch.int64)
        for k, i in enumerate(mine):
            if i in raw:
                local[k] = torch.from_numpy(np.asarray(raw[i], np.float32))
                ok[k] = 1
        vecs = _all_gather(d, local.to(dev)).cpu()[:len(todo)].numpy()
        oks = _all_gather(d, ok.to(dev)).cpu()[:len(todo)].numpy()
        for k, i in enumerate(todo):
            if oks[k]:
                raw[i] = vecs[k]
    parts: list[dict | None] = [None] * w
    d.all_gather_object(parts, {i: errors[i] for i in mine if i in errors})
    for part in parts:
        errors.update(part or {})
