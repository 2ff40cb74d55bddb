"""Leaderboard tables from results, beside the paper's numbers (reference data in-repo)."""

import csv
import json
import re
from pathlib import Path

import pytest

from scar.leaderboard.table import (SCAR_COLUMNS, build_table, load_model_map, mmeb_aggregate, mmeb_task_table,
                              paper_rows, published_mmeb, render_csv, render_markdown, table_json)
from scar.leaderboard.export import write_mmeb_json, write_mteb
from scar.eval.results import TaskResult, load_results

from support import REF, REPO  # noqa: E402
MODELS = REF.parent / "models.yaml"
TASKS = ["SCaR_RefCOCO_plus", "SCaR_RefCOCOg", "SCaR_VisualGenome", "SCaR_COCO_Stuff", "SCaR_ADE20K"]


def res(task, model="m", p=0.5, kind="model", suite="scar", variant=None, rev="r1"):
    return TaskResult(task=task, suite=suite, model=model, model_revision=rev, model_kind=kind,
                      main_score="precision_at_1", scores={"precision_at_1": p, "ci95_low": p - .1, "ci95_high": p + .1},
                      n=100, tie_rate=0.0, seconds=1.0, data={"dataset": "f", "revision": "x", "split": "test"},
                      variant=variant)


def test_overall_only_with_all_five_sources(tmp_path):
    full = [res(t, "a", p=0.1 * (i + 1)) for i, t in enumerate(TASKS)]
    partial = [res(t, "b") for t in TASKS[:3]]
    t = build_table(full + partial, "scar", reported=False)
    assert t.columns == [*SCAR_COLUMNS, "Overall"]
    rows = {r.model: r for r in t.rows}
    assert rows["a"].values["Overall"] == pytest.approx(30.0) and rows["a"].values["ADE20K"] == pytest.approx(50.0)
    assert rows["b"].values["Overall"] is None and "ADE20K" not in rows["b"].values
    md = render_markdown(t)
    assert "| ◆ a | measured | 10.0 | 20.0 | 30.0 | **40.0** | **50.0** | **30.0** |" in md  # 10.0: chance, not bold
    assert "| ◆ b | measured | **50.0** | **50.0** | **50.0** | – | – | – |" in md
    for r in full:
        r.save(tmp_path)
    assert len(load_results(tmp_path)) == 5


def test_paper_overall_is_the_mean_of_its_five_sources_except_virtue_2b():
    rows = paper_rows(REF, "scar")
    assert len(rows) == 27
    flagged = {r.label: r.flags["Overall"] for r in rows if "Overall" in r.flags}
    assert list(flagged) == ["VIRTUE-2B"] and "printed 30.4" in flagged["VIRTUE-2B"] and "30.60" in flagged["VIRTUE-2B"]
    for r in rows:
        mean = sum(r.values[c] for c in SCAR_COLUMNS) / 5
        if r.label != "VIRTUE-2B":
            assert abs(mean - r.values["Overall"]) <= 0.05, r.label
    md = render_markdown(build_table([], "scar", reference=REF))
    assert "| VIRTUE-2B | reported | 28.8 | 42.4 | 24.4 | 29.9 | 27.5 | 30.4 ⚑ |" in md
    assert "mean of the five sources is 30.60" in md


def test_published_mmeb_scores_reproduce_the_paper_table():
    tasks = mmeb_task_table(REF)
    assert len(tasks) == 36
    assert sum(1 for m, _ in tasks.values() if m == "Grounding") == 4
    assert sum(1 for _, s in tasks.values() if s == "IND") == 20
    published = published_mmeb(REF)
    paper = {r.label: r for r in paper_rows(REF, "mmeb")}
    with open(REF / "mmeb_published_to_paper.csv", newline="") as f:
        pairs = list(csv.DictReader(f))
    assert pairs
    by_file = {p.name: json.loads(p.read_text())["metadata"]["model_name"] for p in (REF / "mmeb_published_scores").glob("*.json")}
    checked = 0
    for pair in pairs:
        if not pair["paper_model"]:
            continue  # published, but not in the paper
        m = re.search(r"within ([0-9.]+)|up to ([0-9.]+)", pair["note"])
        tol = float(m.group(1) or m.group(2))
        checked += 1
        agg = mmeb_aggregate(published[by_file[pair["published_file"]]], tasks)
        ref = paper[pair["paper_model"]]
        for g in ("Classification", "VQA", "Retrieval", "Grounding", "IND", "OOD", "Overall"):
            assert abs(agg[g] - ref.values[g]) <= tol + 1e-9, (pair["paper_model"], g, agg[g])
    assert checked == 5


def test_mmeb_group_missing_a_task_is_not_averaged():
    tasks = mmeb_task_table(REF)
    scores = {t: 0.5 for t in tasks}
    del scores["VOC2007"]  # a Classification, IND task
    agg = mmeb_aggregate(scores, tasks)
    assert agg["Classification"] is None and agg["IND"] is None and agg["Overall"] is None
    assert agg["VQA"] == pytest.approx(50.0) and agg["OOD"] == pytest.approx(50.0)


def test_measured_rows_beside_reported_with_difference():
    measured = [res(t, "clip", 0.2, variant="red-circle") for t in TASKS]
    for r in measured:  # compared with the paper under its tie rule only
        r.scores["precision_at_1_official"] = 0.21
    t = build_table(measured + [res("SCaR_Sample", "random", 0.1, "sanity")], "scar", reference=REF,
                    model_map=load_model_map(MODELS))
    clip = next(r for r in t.rows if r.kind == "measured")
    assert clip.matches == "CLIP (+Red Circle)"
    assert clip.delta["RefCOCO+"] == pytest.approx(21.0 - 17.6)
    assert clip.delta["Overall"] == pytest.approx(21.0 - 19.0)
    kinds = [r.kind for r in t.rows]
    assert kinds[-1] == "sanity" and "reported" in kinds
    ranked = [r.label for r in t.ranked]  # placed by Overall under the paper's rule: 21.0
    assert ranked.index("clip (red-circle)") == ranked.index("VLM2Vec-2B (+Cropping)") + 1
    assert t.best["Overall"] == pytest.approx(56.9)  # VIRTUE-7B +SCaR-train; sanity rows never count
    md = render_markdown(t)
    assert "| ◆ clip (red-circle) | measured | 21.0 · strict 20.0 (+3.4) |" in md
    assert "matches paper row CLIP (+Red Circle)" in md
    assert render_csv(t).splitlines()[0].startswith("model,variant,kind,RefCOCO+")
    assert [r["matches"] for r in table_json(t)["rows"] if r["kind"] == "measured"] == ["CLIP (+Red Circle)"]
    strict_only = build_table([res(t, "clip", 0.2, variant="red-circle") for t in TASKS], "scar", reference=REF,
                              model_map=load_model_map(MODELS))
    row = next(r for r in strict_only.rows if r.kind == "measured")
    assert row.delta == {} and "strict rule only" in render_markdown(strict_only)  # never compared across rules


@pytest.mark.slow  # imports mteb and reads the export with its loaders
def test_exports_mmeb_json_and_mteb(tmp_path):
    tasks = list(mmeb_task_table(REF))[:3]
    results = [res(t, "mine", 0.25, suite="mmeb") for t in tasks] + [res("SCaR_Sample", "mine", 0.3)]
    for r in results:
        r.scores.update({"hit_at_5": 0.5, "ndcg_at_10": 0.4})
    [path] = write_mmeb_json(results, tmp_path / "sub.json")
    data = json.loads(path.read_text())
    published = json.loads(next((REF / "mmeb_published_scores").glob("*.json")).read_text())
    assert set(data) == set(published) == {"metadata", "metrics"}
    assert data["metrics"]["image"][tasks[0]]["hit@1"] == 0.25 and len(data["metrics"]["image"]) == 3
    assert data["metrics"]["image"][tasks[0]]["hit@5"] == 0.5
    assert data["metrics"]["image"][tasks[0]]["ndcg_linear@10"] == 0.4
    assert set(data["metrics"]["image"][tasks[0]]) <= set(published["metrics"]["image"]["ImageNet-1K"])
    files = write_mteb(results, tmp_path / "mteb")
    got = json.loads((tmp_path / "mteb" / "scar__mine" / "r1" / "SCaR_Sample.json").read_text())
    assert got["scores"]["test"][0]["main_score"] == 0.3 and got["task_name"] == "SCaR_Sample"
    assert len(files) == 4 and (tmp_path / "mteb" / "scar__mine" / "r1" / "model_meta.json").is_file()
    # mteb's own loaders read every file (mteb is pinned in the dev extra)
    import mteb
    from mteb.models.model_meta import ModelMeta

    for f in files:
        tr = mteb.TaskResult.from_disk(f)
        assert tr.task_name == f.stem and tr.mteb_version == mteb.__version__
        meta = ModelMeta.model_validate_json_resolved((f.parent / "model_meta.json").read_text())
        assert meta.name == "scar/mine" and meta.revision == "r1"


@pytest.mark.slow  # renders every committed table
def test_committed_tables_regenerate_from_the_committed_results():
    """leaderboard/README.md is exactly what `make leaderboard` makes from leaderboard/results."""
    from scar.eval.results import load_results

    results = load_results(REPO / "leaderboard" / "results")
    assert {r.model_kind for r in results} == {"sanity", "blind"}  # no model weights here: no measured model rows
    model_map = load_model_map(MODELS)
    tables = [build_table(results, s, reference=REF, model_map=model_map) for s in ("scar", "mmeb")]
    text = "\n".join(render_markdown(t) for t in tables)
    assert (REPO / "leaderboard" / "README.md").read_text(encoding="utf-8") == text
    from scar.leaderboard.page import render_html

    # the page too, byte for byte: `make leaderboard` on an unchanged checkout changes nothing
    assert (REPO / "leaderboard" / "index.html").read_text(encoding="utf-8") == render_html(tables)
