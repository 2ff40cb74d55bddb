"""The embedder interface.

```python
from scar.eval.embedders import Embedder, EmbedInput   # EmbedInput(text, image, bbox)

class MyEmbedder(Embedder):
    name = "my-embedder"
    def encode(self, inputs, *, role):  # role: "query" | "candidate"
        ...  # -> np.ndarray float32 (len(inputs), dim)
```

The harness builds the whole query text (instruction + the official bbox line) and
passes it in ``text``; ``bbox`` is ``(x, y, w, h)`` in pixels of ``image`` for an
embedder that takes the region natively. The harness L2-normalises what ``encode``
returns; a zero or non-finite vector is an error for that input.

Optional attributes tell the harness what to pass and what to record: ``modalities``
(images are decoded only when ``"image"`` is listed), ``uses_image_path`` (True: the
embedder reads ``EmbedInput.image_path``, which then also enters its cache key; an
embedder without the ``"image"`` modality that does not declare it never sees the path,
so two inputs that differ only by image cannot share a vector), ``region_native``, ``revision``
(what weights; ``"unversioned"`` turns the embedding cache off), ``variant``, ``dtype``,
``resolution``, ``device`` and ``batch_size``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

ROLES = ("query", "candidate")
UNVERSIONED = "unversioned"


@dataclass(frozen=True)
class EmbedInput:
    text: str | None = None
    image: Any = None  # PIL.Image.Image | None
    bbox: tuple[float, float, float, float] | None = None
    #: where ``image`` comes from: given to embedders with the ``"image"`` modality and
    #: to those that declare ``uses_image_path`` (it is then part of the cache key).
    image_path: str | None = None


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
    device: str | None = None


class Embedder(ABC):
    """Subclass, set ``name``, implement ``encode``. Everything else has a default."""

    name: ClassVar[str] = "embedder"
    revision: str = UNVERSIONED
    kind: ClassVar[str] = "model"
    modalities: ClassVar[tuple[str, ...]] = ("text", "image")
    region_native: ClassVar[bool] = False
    #: True when ``encode`` reads ``EmbedInput.image_path`` (see the module docstring).
    uses_image_path: ClassVar[bool] = False
    #: False for embedders whose output depends on more than the input (the oracle).
    cacheable: ClassVar[bool] = True
    #: True for a sanity check told the answers (the oracle): the harness scores a copy made
    #: with ``with_answer_key(task.answer_key(), task_name)`` (pairs of ``InputSpec``).
    needs_answer_key: ClassVar[bool] = False
    batch_size: int = 32
    variant: str | None = None
    dtype: str | None = None
    resolution: str | None = None
    device: str | None = None

    @abstractmethod
    def encode(self, inputs: list[EmbedInput], *, role: str) -> np.ndarray:
        """Return a float32 array of shape (len(inputs), dim)."""

    def prepare(self, inputs: list[EmbedInput], *, role: str) -> Any:
        """Optional: CPU-side preparation (region views, resizing, tokenising) that the
        harness runs in its background loader threads while the model encodes the
        previous batch. Whatever it returns goes to ``encode_prepared``; it must support
        ``len()``. The default passes the inputs through."""
        return inputs

    def encode_prepared(self, prepared: Any, *, role: str) -> np.ndarray:
        """Encode what ``prepare`` returned; the default calls ``encode``."""
        return self.encode(prepared, role=role)

    def load(self) -> None:
        """Optional: load what encoding needs (weights, processors). Called once, just before
        the first input must be encoded (``ensure_loaded``), so a run whose results are all
        stored or whose vectors are all cached never loads the model. ``__init__`` should do
        only what naming the run needs (name, revision, settings)."""

    def ensure_loaded(self) -> None:
        """Run ``load`` once. The harness calls it before its loader threads start; a wrapper
        whose ``prepare``/``encode`` needs loaded state calls it there too (direct API use)."""
        if not getattr(self, "_loaded", False):
            self._loaded = True  # set first: an attribute ``load`` itself asks for cannot recurse
            try:
                self.load()
            except BaseException:
                self._loaded = False
                raise

    def __getattr__(self, name: str) -> Any:
        """An attribute ``load`` sets (``model``, ``tokenizer``...) asked for before anything was
        encoded: load, then answer. Only called for attributes not found otherwise."""
        if name.startswith("_") or self.__dict__.get("_loaded", False) or type(self).load is Embedder.load:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self.ensure_loaded()
        return getattr(self, name)

    def params(self) -> dict[str, Any]:
        """Settings besides name/revision/variant/dtype/resolution that change the
        vectors (e.g. a seed). They enter the cache key and the result's settings."""
        return {}

    @property
    def run_name(self) -> str:
        """``name`` plus ``variant``, ``/`` written as ``__``: the results folder
        (``scar.eval.results.run_name``)."""
        from scar.eval.results import run_name

        return run_name(self.name, self.variant)

    def meta(self) -> EmbedderMeta:
        return EmbedderMeta(self.name, str(self.revision), self.kind, tuple(self.modalities),
                            bool(self.region_native), self.variant, self.dtype, self.resolution,
                            self.device)
