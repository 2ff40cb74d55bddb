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

import pyarrow.parquet as pq

from scar import __version__
from scar.names import source_name
from scar.build.base import Step, StepStats
from scar.build.card import DatasetCard
from scar.build.engines import make_engine
from scar.build.filters.candidates import CandidateChecks
from scar.build.filters.dedup import NearDuplicates
from scar.build.filters.wordnet import WordNetConstraints
from scar.build.sources import get_source
from scar.build.runner import finish, run_sharded, source_reject_lines
from scar.build.writer import ShardedRun
from scar.registry import Registry

log = logging.getLogger(__name__)

GENERATORS = Registry("generator")
GENERATORS.register("lexical", "scar.build.generators:lexical",
                    help="offline, deterministic: annotations, geometry, WordNet swaps, scene vocabulary")
GENERATORS.register("openai", "scar.build.generators:openai",
                    help="any OpenAI-compatible endpoint completes missing elements and writes swaps")
GENERATORS.register("local", "scar.build.generators:local",
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


CANDIDATE_DESIGNS = ("paper", "balanced")


def make_steps(generator: str, seed: int, options: dict[str, Any] | None = None, *,
               judge: bool = False, candidates: str = "paper") -> list[Step]:
    """The generator's caption steps (``scar/build/generators.py``), then the
    filters: structure checks, WordNet constraints, near-duplicates and, with ``judge``,
    the LLM judge on the generator's endpoint (``scar/build/filters/``)."""
    if candidates not in CANDIDATE_DESIGNS:
        raise ValueError(f"--candidates must be one of {CANDIDATE_DESIGNS}, got {candidates!r}")
    steps = GENERATORS.get(generator)(seed=seed, options=options)
    if candidates == "balanced":
        from scar.build.steps.balanced import BalancedCandidates

        steps.append(BalancedCandidates(seed=seed))
    steps += [CandidateChecks(), WordNetConstraints(), NearDuplicates()]
    if judge:
        llm = next((st for st in steps if hasattr(st, "config") and hasattr(st, "provenance")), None)
        if llm is None:
            raise ValueError("--judge asks the generator's LLM endpoint: use --generator openai (add --complete-only "
                             "to keep the lexical swaps) or --generator local")
        from scar.build.filters.llm_judge import LLMJudge

        steps.append(LLMJudge(llm.config, budget=llm.budget))  # one --max-cost for the whole build
    return steps


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
            rep["llm" if st.name == "llm" else st.name] = {**st.info(), **{c: round(x, 6) for c, x in
                                                                        sorted(counters.items())}}
    return rep


def _settings(**kw: Any) -> dict[str, Any]:
    """What decides a build's rows (the resume fingerprint). Secrets never enter it."""
    def clean(d):
        return {k: v for k, v in sorted((d or {}).items())
                if v is not None and not any(w in k.lower() for w in ("key", "token", "secret", "password"))}
    kw["source_options"] = clean(kw.get("source_options"))
    kw["generator_options"] = clean(kw.get("generator_options"))
    return kw


def build(source: str, root: str | Path, split: str, out: str | Path, *, name: str | None = None,
          limit: int | None = None, seed: int = 0, workers: int = 1, generator: str = "lexical",
          link_images: bool = False, progress: bool = True, resume: bool = False, shard_size: int = 256,
          validate: bool = True, judge: bool = False, candidates: str = "paper", source_options: dict[str, Any] | None = None,
          generator_options: dict[str, Any] | None = None, engine: str = "local",
          ray_address: str | None = None) -> BuildReport:
    """Build one source and split into ``out``: ``SCaR_eval_<Source>.parquet`` for ``val``,
    ``SCAR_<Source>.parquet`` (+ ``extra/`` sidecar) for ``train``, the rejects, the card.

    ``source_options`` go to the source's constructor (``images``, ``annotations``,
    ``masks``, ``sam_model``, ``exclude_coco``, ``max_per_image``, ``min_area``...); an
    option the source does not take is a ValueError naming it. ``generator_options`` go to
    the generator (``scar/build/generators.py:GeneratorOptions``).
    The work is done in shards of ``shard_size`` images under ``OUT/.scar-work/``;
    ``resume`` keeps the shards an interrupted build with the same settings finished.
    Same inputs, settings and seed give byte-identical files, whatever ``workers`` and
    ``engine`` (``local``: in-process or a process pool of ``workers``; ``ray``: Ray Data
    stages on the Ray at ``ray_address``, or ``RAY_ADDRESS``, or a local one)."""
    naming = source_name(source, name)
    src_cls = get_source(source)
    opts = {k: v for k, v in (source_options or {}).items() if v is not None}
    src = src_cls(str(root), split, name=name, **opts) if source == "coco" else src_cls(str(root), split, **opts)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    steps = make_steps(generator, seed, generator_options, judge=judge, candidates=candidates)
    target = out / (naming.eval_file() if split == "val" else naming.train_file())
    rej_path = out / "rejected" / f"{naming.stem}_{split}.jsonl"
    settings = _settings(source=source, root=str(Path(root).resolve()), split=split, name=name, limit=limit,
                         seed=seed, generator=generator, source_options=source_options,
                         generator_options=generator_options, judge=judge, candidates=candidates,
                         toolkit=__version__)
    run = ShardedRun(out / ".scar-work" / f"{naming.stem}_{split}", settings, resume=resume,
                     groups_per_shard=shard_size)
    window, sizes = max(getattr(st, "window", 1) for st in steps), deque()
    process = make_engine(engine, steps, workers=workers, ray_address=ray_address, window=window)
    groups = _windows(src.groups(limit), window, sizes) if window > 1 else src.groups(limit)
    with _started(steps):
        run_sharded(groups, process, run, split=split, prefix=naming.prefix,
                    group_images=sizes if window > 1 else None, progress=progress,
                    desc=f"build {naming.stem}/{split}")
    src_stats, src_rej = src.drain()
    tot = finish(run, split=split, target=target, rejects_path=rej_path,
                 source_rejects=source_reject_lines(src_rej))
    images, files = set(), set()  # batch by batch: memory does not grow with the rows written
    for b in pq.ParquetFile(target).iter_batches(columns=["qry_image_path", "image_id"]):
        images.update(b.column("image_id").to_pylist())
        files.update(p.split("/", 1)[1] for p in b.column("qry_image_path").to_pylist())
    if link_images:
        link_image_folder(src, out / "images" / naming.image_dir(split), files)

    stats = {"source": {"samples": src_stats.n_out, "rejected": src_stats.rejected}}
    stats.update({k: {"in": v.n_in, "out": v.n_out, "seconds": round(v.seconds, 3), "rejected": v.rejected}
                  for k, v in tot.stats.items()})
    gen_report = generation_report(steps, tot.stats, tot.provenance)
    card = DatasetCard(out)
    card.set_file(
        target.name, config=f"{naming.stem}_{split}", split=split,
        statistics={"rows": tot.rows, "images": len(images), "rejected": tot.rejected},
        generation={"toolkit": f"scar {__version__}", "generator": generator, "seed": seed, "candidates": candidates,
                    "source": source, "root": os.path.basename(os.path.abspath(root)), "limit": limit,
                    **({"source_settings": src.describe()} if hasattr(src, "describe") else {}), **gen_report},
        filters=stats,
    )
    card.save()
    run.cleanup()
    log.info("%s: %d rows from %d images, %d rejected (%s)", target, tot.rows, len(images), tot.rejected, rej_path)
    if validate:
        from scar.build.validate import validate_eval, validate_train

        check = validate_eval if split == "val" else validate_train
        problems = check(target, out / "images" if link_images else None)
        if problems:
            shown = "\n  ".join(str(p) for p in problems[:20])
            raise ValueError(f"{target.name}: {len(problems)} row(s) fail validation:\n  {shown}")
    return BuildReport(target, tot.rows, len(images), tot.rejected, rej_path, stats, gen_report)


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
