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
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from scar.types import BBox, Entity, ImageContext, Region, Relationship, Sample

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


class _SpillList:
    """Rejections of a whole read: kept in memory up to ``limit``, then spilled to a
    temporary JSON-lines file, so a long read does not grow memory. Iterates in order."""

    def __init__(self, limit: int = 5000) -> None:
        self.limit = limit
        self._mem: list[Rejection] = []
        self._file = None
        self._n = 0

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
    become samples.

    The common rules are class attributes; each can be overridden by a subclass or,
    per instance, by the keyword argument of the same name (CLI ``--max-per-image``,
    ``--min-area``, ``--masks``...):

    - ``clip_boxes`` (True): boxes are clipped to the image (context entities too);
    - ``min_side`` (1.0 px): a box thinner than this after clipping is *degenerate*
      and dropped (also a box that is not finite or lies outside the image);
    - ``min_area`` (0.002): a box covering less than this fraction of the image is
      dropped as *too small*;
    - ``max_per_image`` (5): at most this many samples per image. Eligible entities
      are ranked by box area (largest first, ties by entity id); with
      ``distinct_categories`` (True) the largest entity of each category is taken
      first, then the remaining slots go to the next largest of any category;
    - ``id_format`` (``{source}/{image_id}/{ann_id}``): stable sample ids;
    - ``masks`` (``box``): what the segmentation is where the source has no mask:
      ``box`` the box polygon, ``sam`` a SAM mask prompted by the box
      (``sam_model``: a Hub id or local path; ``sam_batch`` images per forward pass);
    - ``check_images`` (True): open each image file (header + ``verify``) and check
      its size against the annotation; False only checks that the file exists.

    Every entity left out is rejected with its reason (``crowd region``,
    ``degenerate box``, ``box too small``, ``over per-image limit``...) and the read
    goes on. Rejections spill to a temporary file past a few thousand, so memory
    does not grow with the dataset.
    """

    name: ClassVar[str] = "source"
    max_per_image: int = 5
    min_area: float = 0.002
    min_side: float = 1.0
    clip_boxes: bool = True
    distinct_categories: bool = True
    id_format: str = "{source}/{image_id}/{ann_id}"
    masks: str = "box"
    sam_model: str | None = None
    sam_batch: int = 8
    check_images: bool = True
    #: Keyword settings every source accepts (subclasses add their own arguments).
    SETTINGS: ClassVar[tuple[str, ...]] = ("max_per_image", "min_area", "min_side", "clip_boxes",
                                           "distinct_categories", "id_format", "masks", "sam_model",
                                           "sam_batch", "check_images")

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
        if not 0 <= float(self.min_area) < 1:
            raise ValueError(f"--min-area is a fraction of the image area in [0, 1), got {self.min_area!r}")
        if self.masks not in ("box", "sam"):
            raise ValueError(f"--masks must be 'box' or 'sam', got {self.masks!r}")
        if self.masks == "sam" and not self.sam_model:
            raise ValueError("--masks sam needs --sam-model (a Hub id such as facebook/sam-vit-base, or a local path)")
        if "{image_id}" not in self.id_format or "{ann_id}" not in self.id_format:
            raise ValueError(f"id_format {self.id_format!r} must contain {{image_id}} and {{ann_id}}")
        self._masker = None
        self._init_books()

    def _init_books(self) -> None:
        self.stats = StepStats()
        self._rejections = _SpillList()

    @property
    def id_source(self) -> str:
        """What ``{source}`` is in sample ids: the ``--source`` key."""
        return self.name

    def describe(self) -> dict[str, Any]:
        """The settings in force (recorded in the dataset card)."""
        out = {k: getattr(self, k) for k in self.SETTINGS if k not in ("sam_batch",)}
        if self.sam_model is not None and not isinstance(self.sam_model, str):
            out["sam_model"] = getattr(getattr(self.sam_model, "config", None), "_name_or_path", "") or \
                type(self.sam_model).__name__
        out["masks"] = (f"SAM prompted by the box ({out['sam_model']})" if self.masks == "sam"
                        else "box polygon") + " where the source has no mask"
        return out

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

    def clip(self, bbox: BBox, width: int, height: int) -> BBox | None:
        """The box clipped to the image (when ``clip_boxes``), or None when degenerate."""
        x, y, w, h = (float(v) for v in bbox)
        if not all(math.isfinite(v) for v in (x, y, w, h)):
            return None
        if self.clip_boxes:
            x1, y1 = max(x, 0.0), max(y, 0.0)
            x2, y2 = min(x + w, float(width)), min(y + h, float(height))
            x, y, w, h = x1, y1, x2 - x1, y2 - y1
        if w < self.min_side or h < self.min_side:
            return None
        return (x, y, w, h)

    def select(self, ctx: ImageContext, eligible: list[Entity], *,
               relationships: dict[str, Relationship] | None = None,
               mask: Callable[[Entity], dict[str, Any] | None] | None = None) -> list[Sample]:
        """Apply the common rules to the eligible entities of one image and make the
        samples (ranked as described in the class docstring). ``mask(entity)`` gives
        a sample's annotated mask (COCO RLE) or None; it may raise ValueError for an
        unreadable segmentation, which rejects that entity."""
        relationships = relationships or {}
        if self.clip_boxes:
            for e in ctx.entities:
                e.bbox = self.clip(e.bbox, ctx.width, ctx.height) or e.bbox
        img_area = float(ctx.width * ctx.height)
        ok: list[Entity] = []
        for e in eligible:
            if e.iscrowd:
                self._drop(ctx, e, "crowd region: crowd annotations are context only")
                continue
            box = self.clip(e.bbox, ctx.width, ctx.height)
            if box is None:
                self._drop(ctx, e, f"degenerate box: {list(e.bbox)} in a {ctx.width}x{ctx.height} image")
                continue
            e.bbox = box
            if box[2] * box[3] < self.min_area * img_area:
                self._drop(ctx, e, f"box too small: {box[2]:.0f}x{box[3]:.0f} px is under {self.min_area:.2%} "
                                   f"of the {ctx.width}x{ctx.height} image")
                continue
            ok.append(e)
        ok.sort(key=lambda e: (-e.bbox[2] * e.bbox[3], _id_key(e.id)))
        chosen: list[Entity] = []
        if self.distinct_categories:
            seen: set[str] = set()
            for e in ok:
                if e.category not in seen and len(chosen) < self.max_per_image:
                    seen.add(e.category)
                    chosen.append(e)
        for e in ok:
            if len(chosen) >= self.max_per_image:
                break
            if all(e is not c for c in chosen):
                chosen.append(e)
        chosen.sort(key=lambda e: (-e.bbox[2] * e.bbox[3], _id_key(e.id)))
        out = []
        for e in ok:
            if all(e is not c for c in chosen):
                self._drop(ctx, e, f"over per-image limit: {len(ok)} eligible entities, {self.max_per_image} kept")
        for e in chosen:
            try:
                rle = mask(e) if mask else e.segmentation
            except (ValueError, TypeError, KeyError) as err:
                self._drop(ctx, e, f"unreadable segmentation: {err}")
                continue
            e.segmentation = rle
            out.append(Sample(
                id=self.sample_id(ctx.image_id, e.id), source=self.name, split=self.split, image_id=ctx.image_id,
                file_name=ctx.file_name, width=ctx.width, height=ctx.height,
                region=Region(bbox=e.bbox, category=e.category, entity_id=e.id, mask=rle),
                phrase=e.phrase, relationship=relationships.get(e.id), context=ctx,
            ))
        return out

    def _drop(self, ctx: ImageContext, e: Entity, reason: str) -> None:
        self.reject(None, reason, record={"image_id": ctx.image_id, "entity_id": e.id, "category": e.category,
                                          "bbox": [float(v) for v in e.bbox]},
                    sample_id=self.sample_id(ctx.image_id, e.id))

    def reject_image(self, image_id: Any, reason: str, record: dict[str, Any] | None = None) -> None:
        """Leave a whole image out (missing/unreadable file, bad record...)."""
        self.reject(None, reason, record=record or {"image_id": str(image_id)}, sample_id=f"{self.name}/{image_id}")

    # -- reading with limits and masks --------------------------------------------
    def groups(self, limit: int | None = None) -> Iterator[list[Sample]]:
        """``read()`` with an optional limit on the number of samples; missing masks
        are filled as ``masks`` says."""
        for group in self._with_masks(self._limited(limit)):
            self.stats.n_out += len(group)
            yield group

    def _limited(self, limit: int | None) -> Iterator[list[Sample]]:
        n = 0
        for group in self.read():
            if limit is not None and n + len(group) > limit:
                group = group[: limit - n]
            if group:
                n += len(group)
                yield group
            if limit is not None and n >= limit:
                return

    def _with_masks(self, groups: Iterator[list[Sample]]) -> Iterator[list[Sample]]:
        if self.masks == "box":
            for g in groups:
                for s in g:
                    if s.region.mask is None:
                        s.region.mask = _box_rle(s.region.bbox, s.height, s.width)
                yield g
            return
        from scar.build.masks import SamMasker

        if self._masker is None:
            self._masker = SamMasker(self.sam_model)
        buf: list[list[Sample]] = []
        for g in groups:
            buf.append(g)
            if len(buf) >= self.sam_batch:
                self._masker.fill(buf)
                yield from buf
                buf = []
        if buf:
            self._masker.fill(buf)
            yield from buf


def _id_key(entity_id: str) -> tuple:
    """Entity ids sort numerically when they are numbers, else as text."""
    return (0, int(entity_id), "") if entity_id.isdigit() else (1, 0, entity_id)


def _box_rle(bbox: BBox, height: int, width: int) -> dict[str, Any]:
    from pycocotools import mask as mask_utils

    x, y, w, h = bbox
    rle = mask_utils.merge(mask_utils.frPyObjects([[x, y, x + w, y, x + w, y + h, x, y + h]], height, width))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
