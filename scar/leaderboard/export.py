"""Exports of results to the community boards' formats.

- ``mmeb-json``: the MMEB-Leaderboard submission file, one per run:
  ``{"metadata": {...}, "metrics": {"image": {task: {"hit@1": ...}}}}`` (the layout of
  the published files in ``scar/data/reference/mmeb_published_scores/``).
- ``mteb``: the mteb results layout, ``<out>/<model>/<revision>/<task>.json`` plus
  ``model_meta.json``, each task file holding ``scores.test[0].main_score``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scar import __version__
from scar.eval.results import TaskResult


def _run_name(r: TaskResult) -> str:
    return r.model + (f"__{r.variant}" if r.variant else "")


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", s.replace("/", "__"))


def mmeb_submissions(results: Iterable[TaskResult]) -> dict[str, dict[str, Any]]:
    """run -> submission dict, from the MMEB results only."""
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        if r.suite != "mmeb":
            continue
        sub = out.setdefault(_run_name(r), {
            "metadata": {"model_name": _run_name(r), "model_revision": r.model_revision,
                         "generated_by": f"scar {__version__}"},
            "metrics": {"image": {}}})
        if sub["metadata"]["model_revision"] != r.model_revision:
            raise ValueError(f"{_run_name(r)}: results from two revisions ({sub['metadata']['model_revision']}, "
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
        raise ValueError("no MMEB results to export")
    out = Path(out)
    if out.suffix == ".json":
        if len(subs) > 1:
            raise ValueError(f"{len(subs)} runs to export: give a folder, not {out}")
        targets = {next(iter(subs)): out}
    else:
        targets = {run: out / f"{_safe(run)}.json" for run in subs}
    written = []
    for run, path in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(subs[run], indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


def write_mteb(results: Iterable[TaskResult], out: Path) -> list[Path]:
    written = []
    for r in results:
        folder = Path(out) / _safe(_run_name(r)) / _safe(r.model_revision)
        folder.mkdir(parents=True, exist_ok=True)
        meta = folder / "model_meta.json"
        if not meta.exists():
            meta.write_text(json.dumps({"name": _run_name(r), "revision": r.model_revision,
                                        "framework": ["scar"]}, indent=2) + "\n", encoding="utf-8")
        scores = {"main_score": r.main, "hf_subset": "default", "languages": ["eng-Latn"]}
        scores.update({k: v for k, v in r.scores.items() if isinstance(v, (int, float))})
        data = {"task_name": r.task, "dataset_revision": r.data.get("revision"),
                "mteb_version": None, "scar_version": __version__,
                "evaluation_time": r.seconds, "kg_co2_emissions": None, "scores": {"test": [scores]}}
        path = folder / f"{_safe(r.task)}.json"
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    if not written:
        raise ValueError("no results to export")
    return written
