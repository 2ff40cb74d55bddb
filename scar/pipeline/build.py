"""``build``: one source and split -> the SCaR file, its rejections and the card."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from scar import __version__
from scar.names import source_name
from scar.pipeline.base import Step, StepStats
from scar.pipeline.card import DatasetCard
from scar.pipeline.engines.local import run_local
from scar.pipeline.filters.candidates import CandidateChecks
from scar.pipeline.sources import get_source
from scar.pipeline.writers.parquet import EvalWriter
from scar.registry import Registry

log = logging.getLogger(__name__)

GENERATORS = Registry("generator")
GENERATORS.register("lexical", "scar.pipeline.generate.generators:lexical",
                    help="offline, deterministic: annotations, geometry, WordNet swaps, scene vocabulary")
GENERATORS.register("openai", "scar.pipeline.generate.generators:openai",
                    help="any OpenAI-compatible endpoint completes missing elements and writes swaps")
GENERATORS.register("local", "scar.pipeline.generate.generators:local",
                    help="the bundled SmolLM2 served by xllamacpp on 127.0.0.1 fills gaps (mixed mode)")


@dataclass
class BuildReport:
    path: Path
    rows: int
    images: int
    rejected: int
    rejections_path: Path
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    generation: dict[str, Any] = field(default_factory=dict)  # provenance counts, LLM requests/tokens/retries


def make_steps(generator: str, seed: int, options: dict[str, Any] | None = None) -> list[Step]:
    """The generator's caption steps (``scar/pipeline/generate/generators.py``) + the checks."""
    return [*GENERATORS.get(generator)(seed=seed, options=options), CandidateChecks()]


@contextlib.contextmanager
def _started(steps: list[Step]):
    """Enter the steps that hold a resource (the local LLM server) for the run."""
    with contextlib.ExitStack() as stack:
        for st in steps:
            if hasattr(st, "__enter__"):
                stack.enter_context(st)
        yield


def _windows(groups, n: int, sizes: deque):
    """Merge every ``n`` image groups into one (an LLM step then runs their requests
    concurrently); ``sizes`` gets the number of images of each merged group."""
    buf, k = [], 0
    for g in groups:
        buf, k = buf + g, k + 1
        if k == n:
            sizes.append(k)
            yield buf
            buf, k = [], 0
    if buf:
        sizes.append(k)
        yield buf


def generation_report(steps: list[Step], totals: dict[str, StepStats], provenance: dict) -> dict[str, Any]:
    """The card's generation facts: elements per provenance, and the LLM's requests,
    tokens, retries, cache hits and failures."""
    rep: dict[str, Any] = {"provenance": provenance}
    for st in steps:
        if hasattr(st, "info"):
            counters = totals.get(st.name, StepStats()).counters
            rep["llm"] = {**st.info(), **{c: round(x, 6) for c, x in sorted(counters.items())}}
    return rep


def build(source: str, root: str | Path, split: str, out: str | Path, *, name: str | None = None,
          limit: int | None = None, seed: int = 0, workers: int = 1, generator: str = "lexical",
          link_images: bool = False, progress: bool = True,
          source_options: dict[str, Any] | None = None, generator_options: dict[str, Any] | None = None) -> BuildReport:
    """``source_options`` go to the source's constructor (``images``, ``annotations``,
    ``masks``, ``sam_model``, ``exclude_coco``, ``max_per_image``, ``min_area``...); an
    option the source does not take is a ValueError naming it. ``generator_options`` go to
    the generator (``scar/pipeline/generate/generators.py:GeneratorOptions``)."""
    if split != "val":
        raise NotImplementedError("only --split val (the eval file) is built so far; train files come with "
                                  "the packaging work (SCAR_<Source>.parquet)")
    naming = source_name(source, name)
    src_cls = get_source(source)
    opts = {k: v for k, v in (source_options or {}).items() if v is not None}
    src = src_cls(str(root), split, name=name, **opts) if source == "coco" else src_cls(str(root), split, **opts)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = make_steps(generator, seed, generator_options)
    target = out / naming.eval_file()
    rej_path = out / "rejected" / f"{naming.stem}_{split}.jsonl"
    rej_path.parent.mkdir(parents=True, exist_ok=True)

    totals: dict[str, StepStats] = {}
    images: set[str] = set()
    files: set[str] = set()
    n_rej = 0
    provenance: dict[str, dict[str, int]] = {}
    window, sizes = max(getattr(st, "window", 1) for st in steps), deque()
    groups = _windows(src.groups(limit), window, sizes) if window > 1 else src.groups(limit)
    with _started(steps), EvalWriter(target, naming.prefix) as writer, \
            open(rej_path, "w", encoding="utf-8") as rej:
        bar = tqdm(desc=f"build {naming.stem}/{split}", unit="img", disable=not progress)
        for res in run_local(groups, steps, workers):
            writer.write(res.samples)
            for s in res.samples:
                for el in ("object", "relation", "scene"):
                    p = provenance.setdefault(el, {})
                    p[s.element(el).provenance] = p.get(s.element(el).provenance, 0) + 1
            images.update(s.image_id for s in res.samples)
            files.update(s.file_name for s in res.samples)
            for k, v in res.stats.items():
                totals.setdefault(k, StepStats()).add(v)
            for r in res.rejections:
                rej.write(json.dumps(r.to_json(), sort_keys=True) + "\n")
            n_rej += len(res.rejections)
            bar.update(sizes.popleft() if sizes else 1)
        bar.close()
        src_stats, src_rej = src.drain()
        for r in src_rej:
            rej.write(json.dumps(r.to_json(), sort_keys=True) + "\n")
        n_rej += len(src_rej)
    if link_images:
        link_image_folder(src, out / "images" / naming.image_dir(split), files)

    stats = {"source": {"samples": src_stats.n_out, "rejected": src_stats.rejected}}
    stats.update({k: {"in": v.n_in, "out": v.n_out, "seconds": round(v.seconds, 3), "rejected": v.rejected}
                  for k, v in totals.items()})
    gen_report = generation_report(steps, totals, provenance)
    card = DatasetCard(out)
    card.set_file(
        target.name, config=f"{naming.stem}_{split}", split=split,
        statistics={"rows": writer.n, "images": len(images)},
        generation={"toolkit": f"scar {__version__}", "generator": generator, "seed": seed,
                    "source": source, "root": os.path.basename(os.path.abspath(root)), "limit": limit,
                    **({"source_settings": src.describe()} if hasattr(src, "describe") else {}), **gen_report},
        filters=stats,
    )
    card.save()
    log.info("%s: %d rows from %d images, %d rejected (%s)", target, writer.n, len(images), n_rej, rej_path)
    return BuildReport(target, writer.n, len(images), n_rej, rej_path, stats, gen_report)


def link_image_folder(src, dest: Path, file_names: set[str] | None = None) -> None:
    """Symlink the source's images into ``dest`` (``OUT/images/<prefix>_<split>/``): the
    ``file_names`` written (found with ``src.image_path``), else the whole image folder."""
    dest.mkdir(parents=True, exist_ok=True)
    if file_names is not None and hasattr(src, "image_path"):
        for fn in sorted(file_names):
            f, link = Path(src.image_path(fn)), dest / fn
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(f.resolve())
        return
    for f in sorted(Path(src.image_dir).rglob("*")):
        if f.is_file():
            link = dest / f.relative_to(src.image_dir)
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(f.resolve())
