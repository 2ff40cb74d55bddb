"""Recipes: the whole benchmark in one command (``scar build --recipe FILE --data-root DIR``).

A recipe (YAML, under ``pipelines/``) is a list of build configs: ``defaults`` and each
entry of ``builds`` are parts of a ``BuildConfig`` (``scar/build/config.py``), nested the
same way, so a recipe can set anything a build takes (candidates, judge, validation...)::

    name: SCaR
    defaults: {seed: 0, generator: {name: lexical}, output: {link_images: true}}
    builds:
      - {source: {name: refcoco+, split: val}}
      - {source: {name: coco-stuff, split: train, min_area: 0.01}, generator: {candidates: balanced}}

Each build is ``defaults``, then the entry, then every flag given on the command line
(``scar build --recipe ... --workers 4 --seed 1`` applies to every build), merged key by key.
Its ``source.root`` is ``DATA_ROOT/<folder>``, the folder named by the source's file stem in
lower case (``refcoco_plus/``, ``refcocog/``, ``coco_stuff/``, ``visualgenome/``,
``ade20k/``), unless the entry gives ``root`` (relative to the data root); ``source.stuff``
files are relative to the data root too. Before anything
runs, the plan and an estimate of LLM requests and cost are shown (from the annotation
index alone), and the user confirms unless ``yes``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from scar.build.config import BuildConfig, describe, merge
from scar.errors import ScarUserError
from scar.names import source_name

log = logging.getLogger(__name__)

#: Rough token counts of one LLM request per sample (prompt, completion), for the estimate.
EST_TOKENS = (600, 200)


@dataclass
class PlannedBuild:
    config: BuildConfig
    images: int | None = None  # from the annotation index, when the source can count them

    @property
    def label(self) -> str:
        return f"{self.config.source.name}/{self.config.source.split}"


def load_recipe(path: str | Path, data_root: str | Path, overrides: dict[str, Any] | None = None,
                flags: dict[tuple[str, ...], str] | None = None) -> tuple[str, list[PlannedBuild]]:
    """The recipe's name and one validated ``BuildConfig`` per build: defaults, the entry,
    then ``overrides`` (the command line's flags, nested as in ``BuildConfig``)."""
    path, data_root = Path(path), Path(data_root)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ScarUserError(f"{path}: not a readable recipe: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("builds"), list) or not data["builds"]:
        raise ScarUserError(f"{path}: a recipe needs a non-empty `builds:` list")
    unknown = sorted(set(data) - {"name", "defaults", "builds"})
    if unknown:
        raise ScarUserError(f"{path}: unknown top-level key(s) {unknown}; known: name, defaults, builds")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ScarUserError(f"{path}: `defaults` must be a mapping")
    plans = []
    for i, entry in enumerate(data["builds"]):
        where = f"{path}: builds[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("source"), dict):
            raise ScarUserError(f"{where}: each build needs `source: {{name: ..., split: ...}}`")
        merged = merge(defaults, entry, overrides or {})
        src = merged["source"]
        try:
            naming = source_name(str(src.get("name")), src.get("stem"))
        except (KeyError, ValueError) as e:
            raise ScarUserError(f"{where}: {e}") from None
        src["root"] = str(data_root / (src.get("root") or naming.stem.lower()))
        if src.get("stuff"):  # COCO-Stuff files, relative to the data root like the roots
            files = [src["stuff"]] if isinstance(src["stuff"], (str, Path)) else src["stuff"]
            src["stuff"] = [str(data_root / f) for f in files]
        try:
            plans.append(PlannedBuild(BuildConfig.model_validate(merged)))
        except ValidationError as e:
            raise ScarUserError(describe(e, where, flags)) from None
    return str(data.get("name", path.stem)), plans


def count_images(plan: PlannedBuild) -> int | None:
    """Images of the split from the annotation index (None when the source cannot tell)."""
    from scar.build.sources import SOURCES

    sc = plan.config.source
    src = SOURCES.get(sc.name)(str(sc.root), sc.split, **sc.source_kwargs())
    try:
        return sum(1 for _ in src.image_index())
    except NotImplementedError:
        return None


def estimate(plans: list[PlannedBuild]) -> dict[str, Any]:
    """LLM requests (about one per sample: at most max_per_image samples per image) and cost."""
    total_req, total_cost, unknown = 0, 0.0, []
    for p in plans:
        gen = p.config.generator
        if gen.name == "lexical":
            continue
        if p.images is None:
            unknown.append(p.label)
            continue
        per_image = int(p.config.source.max_per_image or 5)
        limit = p.config.source.limit
        req = min(p.images * per_image, limit) if limit else p.images * per_image
        total_req += req * (2 if gen.judge else 1)
        if gen.name == "openai" and gen.price:
            total_cost += req * (2 if gen.judge else 1) * (EST_TOKENS[0] * gen.price[0]
                                                          + EST_TOKENS[1] * gen.price[1]) / 1e6
    return {"llm_requests_at_most": total_req, "cost_usd_at_most": round(total_cost, 2), "unknown": unknown}


def run_recipe(plans: list[PlannedBuild]) -> list:
    from scar.build.pipeline import build

    reports = []
    for i, p in enumerate(plans, 1):
        log.info("[%d/%d] %s from %s", i, len(plans), p.label, p.config.source.root)
        reports.append(build(p.config))
    return reports
