"""The oracle's answer key comes from the task as InputSpec pairs; no embedder carries a
per-task hook (issue 13: ``bind_task`` on every embedder, used by the oracle only, and
``tasks/base.py`` importing the harness for the key)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import scar
from scar.eval.embedders import load_embedder
from scar.eval.embedders.base import EmbedInput, Embedder
from scar.eval.harness import evaluate
from scar.eval.tasks import ScarTask
from scar.eval.tasks.base import InputSpec


def test_no_embedder_has_a_task_hook():
    assert not hasattr(Embedder, "bind_task")
    assert load_embedder("oracle").needs_answer_key and not load_embedder("random").needs_answer_key


def test_the_task_gives_input_spec_pairs_and_imports_no_scoring_code(sample_build):
    task = ScarTask(sample_build.path, sample_build.path.parent / "images")
    key = task.answer_key()
    assert len(key) == sample_build.rows
    assert all(isinstance(q, InputSpec) and isinstance(gt, InputSpec) for q, gt in key)
    assert key[0] == (task.queries()[0].query, task.queries()[0].candidates[0])
    tree = ast.parse((Path(scar.__file__).parent / "eval" / "tasks" / "base.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m and (m.startswith("scar.eval.embedders") or m == "scar.eval.harness")}


def test_the_oracle_told_the_key_scores_100_and_is_left_unchanged(sample_build):
    task = ScarTask(sample_build.path, sample_build.path.parent / "images")
    oracle = load_embedder("oracle")
    res = evaluate(oracle, task, progress=False, cache=False)
    assert res.main == 1.0
    # the harness scored a told copy: the loaded embedder still knows no answer
    with pytest.raises(KeyError, match="not told this task's answer key"):
        q = task.queries()[0].query
        oracle.encode([EmbedInput(q.text, bbox=q.bbox, image_path=q.image_path)], role="query")
    told = oracle.with_answer_key(task.answer_key())  # the same input, told: answered
    assert told.encode([EmbedInput(q.text, bbox=q.bbox, image_path=q.image_path)], role="query").shape[0] == 1
