"""``build``: one source and split -> the SCaR file, its rejections and the card."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from scar import __version__
from scar.names import source_name
from scar.build.base import Step, StepStats, windows
from scar.build.card import DatasetCard
from scar.build.engines import make_engine
from scar.build.filters.candidates import CandidateChecks
from scar.build.filters.dedup import NearDuplicates
from scar.build.filters.wordnet import WordNetConstraints
from scar.build.masks import FillMasks
from scar.build.steps.cap import PerImageCap
from scar.build.config import CANDIDATES, GENERATORS, BuildConfig
from scar.build.sources import SOURCES
from scar.build.runner import finish, run_sharded, source_reject_lines
from scar.build.writer import ShardedRun
from scar.errors import ScarUserError

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    path: Path
    rows: int
    images: int
    rejected: int
    rejections_path: Path
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    generation: dict[str, Any] = field(default_factory=dict)  # provenance counts, LLM requests/tokens/retries


def make_steps(config: BuildConfig) -> list[Step]:
    """The generator's caption steps (``scar/build/steps/generators.py``), the candidate
    design's step, then the filters: structure checks, WordNet constraints, near-duplicates
    and, with ``judge``, the LLM judge on the generator's endpoint (``scar/build/filters/``);
    then the per-image cap (``cap``: the first ``max_per_image`` samples of each image that are
    left, stand-ins taking the place of entities left out, ``scar/build/steps/cap.py``);
    last, the ``masks`` step that fills the masks the source has none for (``scar/build/masks.py``:
    the box polygon, or SAM on the engine's workers), only for the samples that are kept."""
    gen = config.generator
    steps = GENERATORS.get(gen.name)(gen, seed=config.seed)
    if gen.scene_model is not None:
        steps = with_scene_model(steps, gen.scene_model, gen.scene_margin)
    design = CANDIDATES.get(gen.candidates)
    if design is not None:
        steps.append(design(seed=config.seed))
    steps += [CandidateChecks(), WordNetConstraints(), NearDuplicates()]
    if gen.judge:
        llm = next((st.llm for st in steps if st.llm is not None), None)
        if llm is None:
            raise ScarUserError("--judge asks the generator's LLM endpoint: use --generator openai (add "
                                "--complete-only to keep the lexical swaps) or --generator local")
        from scar.build.filters.llm_judge import LLMJudge

        steps.append(LLMJudge(llm.config, budget=llm.budget))  # one --max-cost for the whole build
    steps.append(PerImageCap(max_per_image(config)))
    steps.append(mask_step(config))
    return steps


def max_per_image(config: BuildConfig) -> int:
    """``--max-per-image``, else the source's own default."""
    return config.source.max_per_image or SOURCES.get(config.source.name).max_per_image


def reserve(config: BuildConfig) -> int:
    """Stand-ins per image (``scar.build.selection``): as many as ``max_per_image`` with the
    lexical generator, whose steps only cost CPU; none with an LLM, whose requests cost."""
    return max_per_image(config) if config.generator.name == "lexical" else 0


def with_scene_model(steps: list[Step], spec: str, margin: float | None) -> list[Step]:
    """``steps`` with the ``scene_model`` step (``--scene-model``) just before ``compose``, which
    keeps the scenes it sets; its evidence rules are compose's (``infer_scene``)."""
    from scar.build.steps.compose import ComposeCaption
    from scar.build.steps.scene_model import MARGIN, ZeroShotScenes

    at = next(i for i, st in enumerate(steps) if isinstance(st, ComposeCaption))
    step = ZeroShotScenes(spec, MARGIN if margin is None else margin, infer=steps[at].infer_scene)
    return [*steps[:at], step, *steps[at:]]


def mask_step(config: BuildConfig) -> FillMasks:
    """The ``masks`` step of ``config.source`` (``--masks``, ``--sam-model``, ``--sam-batch``)."""
    sc = config.source
    return FillMasks(sc.masks or "box", sc.sam_model, sc.sam_batch or 8)


@contextlib.contextmanager
def _started(steps: list[Step]):
    """Hold what each step needs for the run (``Step.started``: the local LLM server)."""
    with contextlib.ExitStack() as stack:
        for st in steps:
            stack.enter_context(st.started())
        yield


def generation_report(steps: list[Step], totals: dict[str, StepStats], provenance: dict) -> dict[str, Any]:
    """The card's generation facts: elements per provenance, and the LLM's requests,
    tokens, retries, cache hits and failures."""
    rep: dict[str, Any] = {"provenance": provenance}
    for st in steps:
        info = st.info()
        if info is not None:
            counters = totals.get(st.name, StepStats()).counters
            rep["llm" if st.name == "llm" else st.name] = {**info, **{c: round(x, 6) for c, x in
                                                                   sorted(counters.items())}}
    return rep


#: Images per engine call when no step asks for a window: the lexical steps work sample by
#: sample (per image where it matters: ``image_id``), so this only saves calls and
#: bookkeeping; the rejects come out image by image whatever it is (``engines/local.run_steps``).
CPU_WINDOW = 16


def prepare_output(out: Path) -> None:
    """Create ``out`` and check that files can be written in it (a ScarUserError otherwise),
    before any work starts."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except (FileExistsError, NotADirectoryError) as e:
        raise ScarUserError(f"--out {out}: not a folder ({e.strerror})") from None
    except OSError as e:
        raise ScarUserError(f"--out {out}: cannot write there ({e.strerror or e})") from None


def build(config: BuildConfig) -> BuildReport:
    """Build one source and split as ``config`` says (``scar/build/config.py``):
    ``SCaR_eval_<Source>.parquet`` for ``val``, ``SCAR_<Source>.parquet`` (+ ``extra/``
    sidecar) for ``train``, the rejects, the card, all in ``config.output.dir``.

    The work is done in shards of ``engine.shard_size`` images under ``OUT/.scar-work/``;
    ``output.resume`` keeps the shards an interrupted build finished when every setting
    that decides rows is the same (``BuildConfig.fingerprint``). Same inputs, settings and
    seed give byte-identical files, whatever the engine and its workers."""
    sc, out = config.source, Path(config.output.dir)
    naming = source_name(sc.name, sc.stem)
    src = SOURCES.get(sc.name)(str(sc.root), sc.split, **sc.source_kwargs(), reserve=reserve(config))
    prepare_output(out)
    steps = make_steps(config)
    masks = next(st for st in steps if isinstance(st, FillMasks))
    split = sc.split
    target = out / (naming.eval_file() if split == "val" else naming.train_file())
    rej_path = out / "rejected" / f"{naming.stem}_{split}.jsonl"
    run = ShardedRun(out / ".scar-work" / f"{naming.stem}_{split}", config.resume_settings(),
                     resume=config.output.resume, shard_size=config.engine.shard_size)
    window = max(st.window for st in steps)
    if window == 1:  # steps that work sample by sample: a few images per call, fewer calls
        window = CPU_WINDOW
    process = make_engine(config.engine, steps, window=window)
    groups = windows(src.groups(sc.limit), window, config.engine.shard_size)
    with _started(steps):
        run_sharded(groups, process, run, split=split, prefix=naming.prefix, progress=config.output.progress,
                    desc=f"build {naming.stem}/{split}")
    src_stats, src_rej = src.drain()
    tot = finish(run, split=split, target=target, rejects_path=rej_path,
                 source_rejects=source_reject_lines(src_rej))
    images, files = set(), set()  # batch by batch: memory does not grow with the rows written
    for b in pq.ParquetFile(target).iter_batches(columns=["qry_image_path", "image_id"]):
        images.update(b.column("image_id").to_pylist())
        files.update(p.split("/", 1)[1] for p in b.column("qry_image_path").to_pylist())
    if config.output.link_images:
        link_image_folder(src, out / "images" / naming.image_dir(split), files)

    stats = {"source": {"samples": src_stats.n_out, "rejected": src_stats.rejected}}
    stats.update({k: {"in": v.n_in, "out": v.n_out, "seconds": round(v.seconds, 3), "rejected": v.rejected}
                  for k, v in tot.stats.items()})
    gen_report = generation_report(steps, tot.stats, tot.provenance)
    card = DatasetCard(out)
    card.set_file(
        target.name, config=f"{naming.stem}_{split}", split=split,
        statistics={"rows": tot.rows, "images": len(images), "rejected": tot.rejected},
        generation={"toolkit": f"scar {__version__}", "generator": config.generator.name, "seed": config.seed,
                    "candidates": config.generator.candidates, "source": sc.name,
                    "root": os.path.basename(os.path.abspath(sc.root)), "limit": sc.limit,
                    "source_settings": {**src.describe(), **masks.describe()}, **gen_report},
        filters=stats,
    )
    card.save()
    run.cleanup()
    log.info("%s: %d rows from %d images, %d rejected (%s)", target, tot.rows, len(images), tot.rejected, rej_path)
    if config.output.validate_rows:
        from scar.build.validate import validate_eval, validate_train

        check = validate_eval if split == "val" else validate_train
        problems = check(target, out / "images" if config.output.link_images else None)
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
