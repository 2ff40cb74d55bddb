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

import contextlib
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from scar.build.selection import SelectionRules, select_entities
from scar.types import Entity, ImageContext, Region, Relationship, Sample

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
    counters: dict[str, float] = field(default_factory=dict)  # step-specific counts (LLM requests, tokens...)

    def add(self, other: StepStats) -> None:
        self.n_in += other.n_in
        self.n_out += other.n_out
        self.seconds += other.seconds
        for k, v in other.rejected.items():
            self.rejected[k] = self.rejected.get(k, 0) + v
        for k, v in other.counters.items():
            self.counters[k] = self.counters.get(k, 0) + v


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


@dataclass
class Group:
    """What an engine processes in one go: the samples of ``n_images`` consecutive images
    (one image, or a window of them for a step with ``window > 1``). ``index`` is the
    position of its first image in the source's order (images with samples), so a shard of
    N images holds the groups whose ``index // N`` is its number, whatever the window."""

    index: int
    samples: list[Sample]
    n_images: int = 1


def windows(groups: Iterable[list[Sample]], window: int = 1, shard_size: int | None = None) -> Iterator[Group]:
    """The source's per-image sample lists as :class:`Group` s of ``window`` images; a window
    never spans two shards of ``shard_size`` images, so shards count images for every step."""
    buf: list[Sample] = []
    first = n = 0
    for i, g in enumerate(groups):
        if not buf and n == 0:
            first = i
        buf, n = buf + g, n + 1
        if n == window or (shard_size and (i + 1) % shard_size == 0):
            yield Group(first, buf, n)
            buf, n = [], 0
    if n:
        yield Group(first, buf, n)


@dataclass(frozen=True)
class Resources:
    """What a step needs where an engine places it. ``pool``: keep the step on long-lived
    workers (a Ray actor pool) because it holds a model, a client or a shared budget;
    ``cpus``/``gpus``: what one such worker reserves."""

    cpus: float = 1.0
    gpus: float = 0.0
    pool: bool = False


def runs_on_cuda(device: str | None) -> bool:
    """Whether a model step runs on CUDA: the ``device`` it was given, else whether this
    machine has CUDA (False without torch)."""
    if device is not None:
        return str(device).startswith("cuda")
    with contextlib.suppress(ImportError):
        import torch

        return bool(torch.cuda.is_available())
    return False


@dataclass
class LLMBinding:
    """The LLM endpoint a step calls: its config (``LLMConfig``), the build's one budget,
    and the local server started for the run (or None)."""

    config: Any
    budget: Any
    server: Any = None


class Step(_Bookkeeping, ABC):
    """A transformation of the samples of one image.

    Besides ``run``, a step declares (defaults here; engines and the build read only these):

    - ``window``: images handed to one ``run`` call (an LLM step sends a window's requests at
      once; a SAM step runs a window's images in one forward pass);
    - ``resources()``: what it needs where an engine places it (:class:`Resources`);
    - ``info()``: facts for the dataset card (None: nothing to record);
    - ``started()``: a context manager holding what the step needs for the run (a local
      server), entered by the build around the whole run;
    - ``llm`` / ``bind_llm``: the LLM endpoint it calls (None for most steps); the Ray engine
      rebinds it to a budget shared by every worker, the build gives every LLM step of a
      build the same budget.
    """

    window: int = 1

    def resources(self) -> Resources:
        return Resources(pool=self.llm is not None)

    def info(self) -> dict[str, Any] | None:
        return None

    def started(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    @property
    def llm(self) -> LLMBinding | None:
        return None

    def bind_llm(self, binding: LLMBinding) -> None:
        raise TypeError(f"step {self.name!r} calls no LLM")

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


class SpillList:
    """Rejections of a whole read: kept in memory up to ``limit``, then spilled to a
    temporary JSON-lines file, so a long read does not grow memory. Iterates in order,
    as often as asked."""

    def __init__(self, limit: int = 5000) -> None:
        self.limit = limit
        self._mem: list[Rejection] = []
        self._file = None
        self._n = 0

    @property
    def spilled(self) -> bool:
        """True once the rejections went to the temporary file."""
        return self._file is not None

    def append(self, r: Rejection) -> None:
        self._n += 1
        if self._file is None and len(self._mem) < self.limit:
            self._mem.append(r)
            return
        if self._file is None:
            import tempfile

            self._file = tempfile.TemporaryFile("w+", encoding="utf-8")
            for m in self._mem:
                self._file.write(json.dumps(m.to_json()) + "\n")
            self._mem = []
        self._file.write(json.dumps(r.to_json()) + "\n")

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[Rejection]:
        if self._file is None:
            yield from self._mem
            return
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield Rejection(**json.loads(line))
        self._file.seek(0, 2)


class Source(_Bookkeeping, ABC):
    """Reads one dataset in its official format and applies the common rules.

    Subclasses set ``name`` (the ``--source`` key) and implement ``read``, which
    yields, per image, the samples made by :meth:`select` from the image's
    :class:`ImageContext` (every annotated entity) and the entities eligible to
    become samples. Which entities are chosen is the pure function
    ``scar.build.selection.select_entities``; a source only reads. Masks the source
    has no annotation for are made later, by the build's ``masks`` step
    (``scar.build.masks.FillMasks``: box polygons, or SAM where the engine places it).

    The common rules are class attributes; each can be overridden by a subclass or,
    per instance, by the keyword argument of the same name (CLI ``--max-per-image``,
    ``--min-area``...):

    - ``clip_boxes`` (True): boxes are clipped to the image (context entities too);
    - ``min_side`` (1.0 px): a box thinner than this after clipping is *degenerate*
      and dropped (also a box that is not finite or lies outside the image);
    - ``min_area`` (0.005): a box covering less than this fraction of the image is
      dropped as *too small* (about 39x39 px of a 640x480 photograph: read on the tuning
      photographs, most smaller targets could not be named or placed with confidence);
    - ``max_per_image`` (5): at most this many samples per image. Eligible entities
      are ranked by box area (largest first, ties by entity id); with
      ``distinct_categories`` (True) the largest entity of each category is taken
      first, then the remaining slots go to the next largest of any category;
    - ``reserve`` (0): up to this many more entities, next in that ranking, are read as
      stand-ins; the build's ``cap`` step keeps the first ``max_per_image`` samples of
      the image that the caption steps kept (the build sets it: ``max_per_image`` with
      the lexical generator, 0 with an LLM, whose requests cost);
    - ``id_format`` (``{source}/{image_id}/{ann_id}``): stable sample ids;
    - ``check_images`` (True): read each image file's header (a truncated JPEG, one with no
      end-of-image marker, and anything PIL cannot open or ``verify`` are rejected;
      ``scar.build.sources.common.check_image_file``) and check its size against the
      annotation; False only checks that the file exists.

    Every entity left out is rejected with its reason (``crowd region``,
    ``degenerate box``, ``box too small``, ``over per-image limit``...) and the read
    goes on. Rejections spill to a temporary file past a few thousand, so memory
    does not grow with the dataset.
    """

    name: ClassVar[str] = "source"
    max_per_image: int = 5
    min_area: float = 0.005
    min_side: float = 1.0
    clip_boxes: bool = True
    distinct_categories: bool = True
    reserve: int = 0
    id_format: str = "{source}/{image_id}/{ann_id}"
    check_images: bool = True
    #: Keyword settings every source accepts (subclasses add their own arguments).
    SETTINGS: ClassVar[tuple[str, ...]] = ("max_per_image", "min_area", "min_side", "clip_boxes",
                                           "distinct_categories", "reserve", "id_format", "check_images")

    def __init__(self, root: str, split: str, **settings: Any) -> None:
        from scar.names import SPLITS

        if split not in SPLITS:
            raise ValueError(f"--split must be one of {SPLITS}, got {split!r}")
        self.root = root
        self.split = split
        for k, v in settings.items():
            if k not in self.SETTINGS:
                raise ValueError(f"option --{k.replace('_', '-')} does not apply to --source {self.name}")
            if v is not None:
                setattr(self, k, v)
        if not (isinstance(self.max_per_image, int) and self.max_per_image >= 1):
            raise ValueError(f"--max-per-image must be an integer >= 1, got {self.max_per_image!r}")
        if not (isinstance(self.reserve, int) and self.reserve >= 0):
            raise ValueError(f"reserve must be an integer >= 0, got {self.reserve!r}")
        if not 0 <= float(self.min_area) < 1:
            raise ValueError(f"--min-area is a fraction of the image area in [0, 1), got {self.min_area!r}")
        if "{image_id}" not in self.id_format or "{ann_id}" not in self.id_format:
            raise ValueError(f"id_format {self.id_format!r} must contain {{image_id}} and {{ann_id}}")
        self._init_books()

    def _init_books(self) -> None:
        self.stats = StepStats()
        self._rejections = SpillList()

    @property
    def id_source(self) -> str:
        """What ``{source}`` is in sample ids: the ``--source`` key."""
        return self.name

    @property
    def rules(self) -> SelectionRules:
        """The selection rules in force (``scar.build.selection``)."""
        return SelectionRules(max_per_image=self.max_per_image, min_area=self.min_area, min_side=self.min_side,
                              clip_boxes=self.clip_boxes, distinct_categories=self.distinct_categories,
                              reserve=self.reserve)

    def describe(self) -> dict[str, Any]:
        """The settings in force (recorded in the dataset card)."""
        return {k: getattr(self, k) for k in self.SETTINGS}

    @abstractmethod
    def read(self) -> Iterator[list[Sample]]:
        """Yield the samples of one image at a time, in a deterministic order."""

    def image_index(self) -> Iterator[tuple[str, int | None]]:
        """(image id, COCO image id or None) of every image of this split, from the
        annotations alone (for the leakage check, ``scar sources overlap``)."""
        raise NotImplementedError(f"--source {self.name} cannot list its images without reading them")

    # -- the common rules ---------------------------------------------------------
    def sample_id(self, image_id: Any, ann_id: Any) -> str:
        return self.id_format.format(source=self.id_source, image_id=image_id, ann_id=ann_id)

    def select(self, ctx: ImageContext, eligible: list[Entity], *,
               relationships: dict[str, Relationship] | None = None,
               mask: Callable[[Entity], dict[str, Any] | None] | None = None) -> list[Sample]:
        """The samples of one image: ``select_entities`` with this source's rules (the
        drops rejected with their reasons), each chosen entity with its annotated mask.
        ``mask(entity)`` gives that mask (COCO RLE) or None (the ``masks`` step makes one);
        it may raise ValueError for an unreadable segmentation, which rejects that entity.
        ``ctx`` and ``eligible`` are left as they are: the samples share the selection's
        new context."""
        relationships = relationships or {}
        sel = select_entities(ctx, eligible, self.rules)
        for d in sel.drops:
            self._drop(ctx, d.entity_id, d.category, d.bbox, d.reason)
        out = []
        for e in sel.chosen:
            try:
                rle = mask(e) if mask else e.segmentation
            except (ValueError, TypeError, KeyError) as err:
                self._drop(ctx, e.id, e.category, e.bbox, f"unreadable segmentation: {err}")
                continue
            e.segmentation = rle  # e belongs to the new context
            out.append(Sample(
                id=self.sample_id(ctx.image_id, e.id), source=self.name, split=self.split, image_id=ctx.image_id,
                file_name=ctx.file_name, width=ctx.width, height=ctx.height,
                region=Region(bbox=e.bbox, category=e.category, entity_id=e.id, mask=rle),
                phrase=e.phrase, relationship=relationships.get(e.id), context=sel.context,
            ))
        return out

    def _drop(self, ctx: ImageContext, entity_id: str, category: str, bbox, reason: str) -> None:
        self.reject(None, reason, record={"image_id": ctx.image_id, "entity_id": entity_id, "category": category,
                                          "bbox": [float(v) for v in bbox]},
                    sample_id=self.sample_id(ctx.image_id, entity_id))

    def reject_image(self, image_id: Any, reason: str, record: dict[str, Any] | None = None) -> None:
        """Leave a whole image out (missing/unreadable file, bad record...)."""
        self.reject(None, reason, record=record or {"image_id": str(image_id)}, sample_id=f"{self.name}/{image_id}")

    # -- reading with a limit ----------------------------------------------------------
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
