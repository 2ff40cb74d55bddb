"""Sanity embedders: they bound what a score can mean.

- ``random``: a seeded random vector per distinct input (the chance floor, 10% on SCaR);
- ``oracle``: told the answers; maps a query onto its GT candidate (the ceiling, 100%);
- ``constant``: one vector for everything; with ties broken against the GT it must
  score 0, never above chance.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np

from scar.embedders.base import EmbedInput, Embedder

DIM = 64
log = logging.getLogger(__name__)


def _vector(*parts: str, dim: int = DIM) -> np.ndarray:
    h = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "big")).standard_normal(dim).astype(np.float32)


def _key(x: EmbedInput) -> str:
    return f"{x.text!r}|{x.bbox!r}|{getattr(x.image, 'filename', None) if x.image is not None else None}"


class RandomEmbedder(Embedder):
    name = "random"
    kind = "sanity"
    modalities = ("text",)

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.revision = f"seed{seed}"

    def encode(self, inputs, *, role):
        return np.stack([_vector(str(self.seed), role, _key(x)) for x in inputs]) if inputs else np.zeros((0, DIM), np.float32)


class OracleEmbedder(Embedder):
    name = "oracle"
    kind = "sanity"
    modalities = ("text",)
    revision = "answers"

    def __init__(self) -> None:
        self._answers: dict[str, str] = {}

    def bind_task(self, task) -> None:
        self._answers = {}
        for q, gt in task.answer_key():
            if self._answers.setdefault(_key(q), gt) != gt:
                log.warning("oracle: one query input has two different answers; it cannot score 100%%")
        

    def encode(self, inputs, *, role):
        out = []
        for x in inputs:
            if role == "query":
                if _key(x) not in self._answers:
                    raise KeyError(f"oracle: no answer for query {x.text!r}: bind_task was not called with its task")
                out.append(_vector("text", self._answers[_key(x)]))
            else:
                out.append(_vector("text", x.text or ""))
        return np.stack(out) if out else np.zeros((0, DIM), np.float32)


class ConstantEmbedder(Embedder):
    name = "constant"
    kind = "sanity"
    modalities = ("text",)
    revision = "ones"

    def encode(self, inputs, *, role):
        return np.ones((len(inputs), DIM), np.float32)
