"""Exports of results to the community boards' formats.

- ``mmeb-json``: the MMEB-Leaderboard submission file, one per run:
  ``{"metadata": {...}, "metrics": {"image": {task: {"hit@1": ...}}}}`` (the layout of
  the published files in ``scar/data/reference/mmeb_published_scores/``).
- ``mteb``: the mteb results layout, ``<out>/<org>__<model>/<revision>/<task>.json`` plus
  ``model_meta.json``: each task file is what ``mteb.TaskResult.from_disk`` reads (scores under
  ``scores.test[0]`` with ``main_score``, ``hf_subset``, ``languages``), and ``model_meta.json``
  passes ``mteb.ModelMeta`` validation (an ``org/name`` model name: runs without an
  organisation are named ``scar/<run>``). Tested against the mteb release pinned in the
  ``dev`` extra (``MTEB_FORMAT``), which the files also record as ``mteb_version``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scar import __version__
from scar.errors import ScarUserError
from scar.eval.results import TaskResult, run_label, safe_name


def mmeb_submissions(results: Iterable[TaskResult]) -> dict[str, dict[str, Any]]:
    """run -> submission dict, from the MMEB results only."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.suite != "mmeb":
            continue
        sub = out.setdefault(r.run, {
            "metadata": {"model_name": run_label(r.model, r.variant), "model_revision": r.model_revision,
                         "generated_by": f"scar {__version__}"},
            "metrics": {"image": {}}})
        if sub["metadata"]["model_revision"] != r.model_revision:
            raise ScarUserError(f"{run_label(r.model, r.variant)}: results from two revisions ({sub['metadata']['model_revision']}, "
                             f"{r.model_revision}); export one revision at a time")
        metrics = {"hit@1": r.main}
        for k, v in r.scores.items():  # the harness's names -> the board's (hit_at_5 -> hit@5)
            m = re.fullmatch(r"(hit|mrr|ndcg)_at_(\d+)", k)
            if m:
                metrics[{"ndcg": "ndcg_linear"}.get(m.group(1), m.group(1)) + "@" + m.group(2)] = v
        sub["metrics"]["image"][r.task] = metrics
    return out


def write_mmeb_json(results: Iterable[TaskResult], out: Path) -> list[Path]:
    """One file per run: ``out`` itself when it ends in .json and there is one run, else
    ``out/<run>.json``."""
    subs = mmeb_submissions(results)
    if not subs:
        raise ScarUserError("no MMEB results to export")
    out = Path(out)
    if out.suffix == ".json":
        if len(subs) > 1:
            raise ScarUserError(f"{len(subs)} runs to export: give a folder, not {out}")
        targets = {next(iter(subs)): out}
    else:
        targets = {run: out / f"{run}.json" for run in subs}
    written = []
    for run, path in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(subs[run], indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


#: The mteb release whose result and model-meta loaders read this export (the ``dev`` extra pins
#: it and the tests load every file with it); written as the files' ``mteb_version``.
MTEB_FORMAT = "2.26.24"


def mteb_model_name(r: TaskResult) -> str:
    """``org/name`` as mteb requires it, the variant appended (``openai/clip-vit-base-patch32-crop``)."""
    name = r.model if "/" in r.model else f"scar/{r.model}"
    return name + (f"-{r.variant}" if r.variant else "")


def mteb_model_meta(r: TaskResult) -> dict[str, Any]:
    """The ``model_meta.json`` of a run: what is known here, the rest null (mteb's own fields)."""
    modalities = ["text"] if r.model_kind in ("blind",) else ["image", "text"]
    return {"name": mteb_model_name(r), "revision": r.model_revision, "release_date": None,
            "languages": ["eng-Latn"], "n_parameters": None, "memory_usage_mb": None, "max_tokens": None,
            "embed_dim": None, "license": None, "open_weights": None, "public_training_code": None,
            "public_training_data": None, "framework": ["PyTorch"], "reference": None,
            "similarity_fn_name": "cosine", "use_instructions": None, "training_datasets": None,
            "adapted_from": None, "superseded_by": None, "modalities": modalities, "model_type": ["dense"],
            "citation": None, "contacts": None, "loader": None}


def write_mteb(results: Iterable[TaskResult], out: Path) -> list[Path]:
    """One task file per result and one ``model_meta.json`` per run and revision."""
    written = []
    for r in results:
        folder = Path(out) / safe_name(mteb_model_name(r)) / safe_name(r.model_revision)
        folder.mkdir(parents=True, exist_ok=True)
        meta = folder / "model_meta.json"
        if not meta.exists():
            meta.write_text(json.dumps(mteb_model_meta(r), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        scores = {"main_score": r.main, "hf_subset": "default", "languages": ["eng-Latn"]}
        scores.update({k: v for k, v in r.scores.items() if isinstance(v, (int, float)) and k != "main_score"})
        data = {"task_name": r.task, "dataset_revision": str(r.data.get("revision") or r.fingerprint or "unknown"),
                "mteb_version": MTEB_FORMAT, "scar_version": __version__,
                "evaluation_time": r.seconds, "kg_co2_emissions": None, "scores": {r.split or "test": [scores]}}
        path = folder / f"{safe_name(r.task)}.json"
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    if not written:
        raise ScarUserError("no results to export")
    return written
