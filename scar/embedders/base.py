"""The embedder interface.

```python
from scar.embedders import Embedder, EmbedInput   # EmbedInput(text, image, bbox)

class MyEmbedder(Embedder):
    name = "my-embedder"
    def encode(self, inputs, *, role):  # role: "query" | "candidate"
        ...  # -> np.ndarray float32 (len(inputs), dim)
```

The harness builds the whole query text (instruction + the official bbox line) and
passes it in ``text``; ``bbox`` is ``(x, y, w, h)`` in pixels of ``image`` for an
embedder that takes the region natively. The harness L2-normalises what ``encode``
returns; a zero or non-finite vector is an error for that input.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

ROLES = ("query", "candidate")


@dataclass(frozen=True)
class EmbedInput:
    text: str | None = None
    image: Any = None  # PIL.Image.Image | None
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class EmbedderMeta:
    name: str
    revision: str
    kind: str  # "model" | "sanity" | "blind"
    modalities: tuple[str, ...]
    region_native: bool
    variant: str | None = None
    dtype: str | None = None
    resolution: str | None = None


class Embedder(ABC):
    """Subclass, set ``name``, implement ``encode``. Optional class attributes say
    what the harness should pass: ``modalities`` (the harness loads images only when
    ``"image"`` is listed) and ``region_native``."""

    name: ClassVar[str] = "embedder"
    revision: str = "unversioned"
    kind: ClassVar[str] = "model"
    modalities: ClassVar[tuple[str, ...]] = ("text", "image")
    region_native: ClassVar[bool] = False
    batch_size: int = 32
    variant: str | None = None
    dtype: str | None = None
    resolution: str | None = None

    @abstractmethod
    def encode(self, inputs: list[EmbedInput], *, role: str) -> np.ndarray:
        """Return a float32 array of shape (len(inputs), dim)."""

    def bind_task(self, task: Any) -> None:
        """Called once per task before encoding. Only the ``oracle`` uses it."""

    def meta(self) -> EmbedderMeta:
        return EmbedderMeta(self.name, str(self.revision), self.kind, tuple(self.modalities),
                            bool(self.region_native), self.variant, self.dtype, self.resolution)
