"""Recipes: the whole benchmark in one command (``scar build --recipe FILE --data-root DIR``).

A recipe (YAML, under ``pipelines/``) names every build and its settings::

    name: SCaR
    defaults: {generator: lexical, seed: 0, link_images: true}
    builds:
      - {source: refcoco+, split: val}
      - {source: coco-stuff, split: train, source_options: {min_area: 0.01}}

Each build's ``--root`` is ``DATA_ROOT/<folder>``, the folder named by the source's file
stem in lower case (``refcoco_plus/``, ``refcocog/``, ``coco_stuff/``, ``visualgenome/``,
``ade20k/``), unless the build gives ``root`` (relative to the data root). Before anything
runs, the plan and an estimate of LLM requests and cost are shown (from the annotation
index alone), and the user confirms unless ``yes``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scar.names import source_name

log = logging.getLogger(__name__)

BUILD_KEYS = {"source", "split", "root", "name", "limit", "seed", "generator", "link_images", "shard_size",
              "source_options", "generator_options", "workers"}
#: Rough token counts of one LLM request per sample (prompt, completion), for the estimate.
EST_TOKENS = (600, 200)


@dataclass
class PlannedBuild:
    source: str
    split: str
    root: Path
    settings: dict[str, Any] = field(default_factory=dict)
    images: int | None = None  # from the annotation index, when the source can count them

    @property
    def label(self) -> str:
        return f"{self.source}/{self.split}"


def load_recipe(path: str | Path, data_root: str | Path) -> tuple[str, list[PlannedBuild]]:
    path, data_root = Path(path), Path(data_root)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: not a readable recipe: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("builds"), list) or not data["builds"]:
        raise ValueError(f"{path}: a recipe needs a non-empty `builds:` list")
    defaults = data.get("defaults") or {}
    bad = set(defaults) - BUILD_KEYS
    if bad:
        raise ValueError(f"{path}: defaults: unknown key(s) {sorted(bad)}; known: {sorted(BUILD_KEYS)}")
    plans = []
    for i, b in enumerate(data["builds"]):
        if not isinstance(b, dict) or "source" not in b or "split" not in b:
            raise ValueError(f"{path}: builds[{i}] needs `source` and `split`")
        bad = set(b) - BUILD_KEYS
        if bad:
            raise ValueError(f"{path}: builds[{i}]: unknown key(s) {sorted(bad)}; known: {sorted(BUILD_KEYS)}")
        if b["split"] not in ("train", "val"):
            raise ValueError(f"{path}: builds[{i}]: split must be train or val, got {b['split']!r}")
        merged = {**defaults, **b}
        naming = source_name(merged["source"], merged.get("name"))
        root = data_root / (merged.pop("root", None) or naming.stem.lower())
        plans.append(PlannedBuild(merged.pop("source"), merged.pop("split"), root, merged))
    return str(data.get("name", path.stem)), plans


def count_images(plan: PlannedBuild) -> int | None:
    """Images of the split from the annotation index (None when the source cannot tell)."""
    from scar.build.sources import get_source

    cls = get_source(plan.source)
    opts = {k: v for k, v in (plan.settings.get("source_options") or {}).items() if v is not None}
    try:
        src = cls(str(plan.root), plan.split, name=plan.settings.get("name"), **opts) if plan.source == "coco" \
            else cls(str(plan.root), plan.split, **opts)
        return sum(1 for _ in src.image_index())
    except NotImplementedError:
        return None


def estimate(plans: list[PlannedBuild]) -> dict[str, Any]:
    """LLM requests (about one per sample: at most max_per_image samples per image) and cost."""
    total_req, total_cost, unknown = 0, 0.0, []
    for p in plans:
        gen = p.settings.get("generator", "lexical")
        if gen == "lexical":
            continue
        if p.images is None:
            unknown.append(p.label)
            continue
        per_image = int((p.settings.get("source_options") or {}).get("max_per_image") or 5)
        limit = p.settings.get("limit")
        req = min(p.images * per_image, limit) if limit else p.images * per_image
        total_req += req
        price = (p.settings.get("generator_options") or {}).get("price")
        if gen == "openai" and price:
            total_cost += req * (EST_TOKENS[0] * price[0] + EST_TOKENS[1] * price[1]) / 1e6
    return {"llm_requests_at_most": total_req, "cost_usd_at_most": round(total_cost, 2), "unknown": unknown}


def run_recipe(plans: list[PlannedBuild], out: str | Path, *, progress: bool = True, resume: bool = False,
               workers: int | None = None, engine: str | None = None, ray_address: str | None = None) -> list:
    from scar.build.pipeline import build

    reports = []
    for i, p in enumerate(plans, 1):
        log.info("[%d/%d] %s from %s", i, len(plans), p.label, p.root)
        s = dict(p.settings)
        if workers is not None:
            s["workers"] = workers
        if engine is not None:  # --engine / --ray-address apply to every build of the recipe
            s["engine"], s["ray_address"] = engine, ray_address
        reports.append(build(p.source, p.root, p.split, out, progress=progress, resume=resume, **s))
    return reports
