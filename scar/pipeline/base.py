"""Extension points of the construction pipeline.

Each has one abstract method; the base does the bookkeeping (counts, time,
rejections with reasons), after datatrove's pipeline steps.

- ``Source.read()`` yields the samples of one image at a time (a list sharing one
  ``ImageContext``); a malformed record is rejected with ``self.reject`` and the
  read goes on.
- ``Step.run(samples) -> samples`` transforms the samples of one image; a sample it
  cannot handle is rejected with ``self.reject(sample, reason)`` and left out.
- ``Filter.keep(sample) -> bool | (False, reason)``.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from scar.types import Sample

log = logging.getLogger(__name__)


@dataclass
class Rejection:
    step: str
    reason: str
    sample_id: str | None
    record: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "reason": self.reason, "sample_id": self.sample_id, "record": self.record}


@dataclass
class StepStats:
    n_in: int = 0
    n_out: int = 0
    seconds: float = 0.0
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count

    def add(self, other: StepStats) -> None:
        self.n_in += other.n_in
        self.n_out += other.n_out
        self.seconds += other.seconds
        for k, v in other.rejected.items():
            self.rejected[k] = self.rejected.get(k, 0) + v


class _Bookkeeping:
    name: ClassVar[str] = "step"

    def _init_books(self) -> None:
        self.stats = StepStats()
        self._rejections: list[Rejection] = []

    def reject(self, sample: Sample | None, reason: str, record: dict[str, Any] | None = None,
               sample_id: str | None = None) -> None:
        """Leave one record out, with its reason; the run goes on."""
        if not hasattr(self, "stats"):
            self._init_books()
        if record is None and sample is not None:
            record = sample.to_record()
        sid = sample.id if sample is not None else sample_id
        self._rejections.append(Rejection(self.name, reason, sid, record))
        key = reason.split(":", 1)[0]
        self.stats.rejected[key] = self.stats.rejected.get(key, 0) + 1
        log.debug("%s rejected %s: %s", self.name, sid, reason)

    def drain(self) -> tuple[StepStats, list[Rejection]]:
        """Hand over (and reset) the counts and rejections gathered so far."""
        if not hasattr(self, "stats"):
            self._init_books()
        out = (self.stats, self._rejections)
        self._init_books()
        return out


class Step(_Bookkeeping, ABC):
    """A transformation of the samples of one image."""

    @abstractmethod
    def run(self, samples: list[Sample]) -> list[Sample]:
        """Return the samples that go on (rejecting the others with ``self.reject``)."""

    def __call__(self, samples: list[Sample]) -> list[Sample]:
        if not hasattr(self, "stats"):
            self._init_books()
        t0 = time.perf_counter()
        out = self.run(samples)
        self.stats.n_in += len(samples)
        self.stats.n_out += len(out)
        self.stats.seconds += time.perf_counter() - t0
        return out


class Filter(Step):
    """A step that keeps or drops each sample, with a reason for each drop."""

    @abstractmethod
    def keep(self, sample: Sample) -> bool | tuple[bool, str]:
        """True to keep; False or (False, reason) to drop."""

    def run(self, samples: list[Sample]) -> list[Sample]:
        kept = []
        for s in samples:
            verdict = self.keep(s)
            ok, reason = (verdict, self.name) if isinstance(verdict, bool) else verdict
            if ok:
                kept.append(s)
            else:
                self.reject(s, reason)
        return kept


class Source(_Bookkeeping, ABC):
    """Reads one dataset in its official format.

    Subclasses set ``name`` (the ``--source`` key) and implement ``read``.
    """

    name: ClassVar[str] = "source"

    def __init__(self, root: str, split: str, *, max_per_image: int = 5) -> None:
        self.root = root
        self.split = split
        self.max_per_image = max_per_image
        self._init_books()

    @abstractmethod
    def read(self) -> Iterator[list[Sample]]:
        """Yield the samples of one image at a time, in a deterministic order."""

    def groups(self, limit: int | None = None) -> Iterator[list[Sample]]:
        """``read()`` with an optional limit on the number of samples."""
        n = 0
        for group in self.read():
            if limit is not None and n + len(group) > limit:
                group = group[: limit - n]
            if group:
                n += len(group)
                self.stats.n_out += len(group)
                yield group
            if limit is not None and n >= limit:
                return
