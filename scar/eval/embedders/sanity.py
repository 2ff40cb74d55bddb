"""Sanity embedders: they bound what a score can mean. Never leaderboard entries.

- ``random``: a seeded random vector per distinct input (the chance floor, 10% on SCaR);
- ``oracle``: told the answers; maps a query onto its GT candidate (the ceiling, 100%);
- ``constant``: one vector for everything; with ties broken against the GT it must
  score 0 with a tie rate of 1, never above chance.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from scar.eval.embedders.base import EmbedInput, Embedder

DIM = 64
log = logging.getLogger(__name__)


def _vector(*parts: str, dim: int = DIM) -> np.ndarray:
    h = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "big")).standard_normal(dim).astype(np.float32)


def input_key(x: EmbedInput) -> str:
    """Identity of an input for the sanity embedders: text, box and image file. The image is
    named by its last two path parts (``<prefix>_<split>/<file>``, its path inside the image
    root), so the same data scores the same wherever the folder lies."""
    image = "/".join(Path(x.image_path).parts[-2:]) if x.image_path else None
    return f"{x.text!r}|{x.bbox!r}|{image!r}"


def _stack(rows: list[np.ndarray]) -> np.ndarray:
    return np.stack(rows) if rows else np.zeros((0, DIM), np.float32)


class RandomEmbedder(Embedder):
    name = "random"
    kind = "sanity"
    modalities = ("text",)
    uses_image_path = True  # an input is its text, box and image file (input_key)
    cacheable = False

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self.revision = f"seed{self.seed}"

    def params(self):
        return {"seed": self.seed}

    def encode(self, inputs, *, role):
        return _stack([_vector(str(self.seed), role, input_key(x)) for x in inputs])


class OracleEmbedder(Embedder):
    name = "oracle"
    kind = "sanity"
    modalities = ("text",)
    uses_image_path = True
    revision = "answers"
    cacheable = False

    needs_answer_key = True

    def __init__(self) -> None:
        self._answers: dict[str, str] = {}

    def with_answer_key(self, pairs, task_name: str = "") -> OracleEmbedder:
        """A copy that knows each query's GT: ``pairs`` of (query, GT) inputs (``InputSpec``,
        from ``Task.answer_key``)."""
        told = OracleEmbedder()
        clashes = 0
        for q, gt in pairs:
            clashes += told._answers.setdefault(input_key(q), input_key(gt)) != input_key(gt)
        if clashes:
            log.warning("oracle: %d query input(s) have two different answers in %s; it cannot score 100%%",
                        clashes, task_name)
        return told

    def encode(self, inputs, *, role):
        out = []
        for x in inputs:
            if role == "query":
                key = input_key(x)
                if key not in self._answers:
                    raise KeyError(f"oracle: no answer for query {x.text!r}: not told this task's answer key")
                out.append(_vector("cand", self._answers[key]))
            else:
                out.append(_vector("cand", input_key(x)))
        return _stack(out)


class ConstantEmbedder(Embedder):
    name = "constant"
    kind = "sanity"
    modalities = ("text",)
    revision = "ones"
    cacheable = False

    def encode(self, inputs, *, role):
        return np.ones((len(inputs), DIM), np.float32)
