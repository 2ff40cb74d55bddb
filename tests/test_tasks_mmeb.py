"""MMEB: suites as data, the published scores against the paper's table, and the harness
on a local MMEB-eval copy in the real layout (sanity embedders, pool path, bad rows, Hub)."""

import csv
import json
import re
import zipfile
from pathlib import Path

import pytest

from eval_fixtures import mmeb_copy
from scar.eval.embedders import load_embedder
from scar.eval.harness import evaluate
from scar.names import OFFICIAL, SOURCES
from scar.eval.tasks import MmebTask, aggregate, load_suite, resolve_tasks

REF = Path(__file__).resolve().parents[1] / "scar" / "data" / "reference"
FIXTURE_TASKS = ["ImageNet-1K", "MSCOCO_t2i", "VisDial"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def mmeb(tmp_path_factory):
    return mmeb_copy(tmp_path_factory.mktemp("mmeb") / "MMEB-eval")


def test_suites_match_the_reference_task_table_and_source_names():
    mm = load_suite("mmeb")
    ref = list(csv.DictReader(open(REF / "mmeb_tasks.csv", encoding="utf-8")))
    assert [(t.name, t.meta_task, t.ind_ood) for t in mm.tasks] == [(r["task"], r["meta_task"], r["split"]) for r in ref]
    assert len(mm.tasks) == 36 and mm.hub == "TIGER-Lab/MMEB-eval"
    sc = load_suite("scar")
    assert [(t.name, t.file, t.column) for t in sc.tasks] == \
        [(SOURCES[k].task, SOURCES[k].eval_file(), SOURCES[k].column) for k in OFFICIAL]


def _tolerance(note: str) -> float:
    m = re.search(r"(?:within|up to) ([0-9.]+)", note)
    assert m, note
    return float(m.group(1))


def test_published_per_task_scores_reproduce_the_papers_mmeb_table():
    suite = load_suite("mmeb")
    paper = {r["model"]: r for r in csv.DictReader(open(REF / "paper_mmeb_results.csv", encoding="utf-8"))
             if not r["variant"]}
    pairs = [r for r in csv.DictReader(open(REF / "mmeb_published_to_paper.csv", encoding="utf-8")) if r["paper_model"]]
    assert len(pairs) == 5
    for pair in pairs:
        data = json.loads((REF / "mmeb_published_scores" / pair["published_file"]).read_text(encoding="utf-8"))
        scores = {t: 100 * v["hit@1"] for t, v in data["metrics"]["image"].items()}
        agg = aggregate(scores, suite)
        tol = _tolerance(pair["note"])
        for col in ("Classification", "VQA", "Retrieval", "Grounding", "IND", "OOD", "Overall"):
            assert agg[col] == pytest.approx(float(paper[pair["paper_model"]][col]), abs=tol + 1e-9), \
                (pair["published_file"], col)
        assert agg["Overall"] == pytest.approx(sum(scores.values()) / 36)
    partial = aggregate({t.name: 50.0 for t in suite.tasks if t.meta_task != "VQA"}, suite)
    assert partial["VQA"] is None and partial["Overall"] is None and partial["Grounding"] == 50.0


def test_tasks_read_the_local_copy(mmeb):
    tasks = resolve_tasks(["ImageNet-1K,MSCOCO_t2i", "VisDial"], mmeb)
    assert [t.meta.name for t in tasks] == FIXTURE_TASKS
    inet, t2i, visdial = tasks
    assert inet.meta.meta_task == "Classification" and inet.meta.ind_ood == "IND" and inet.meta.suite == "mmeb"
    q = inet.queries()[0]
    assert q.query.text == "Represent the given image for classification" and q.query.image_path.endswith("0.png")
    assert q.candidates[0].text == "a photo of a cup" and q.candidates[0].image_path is None
    c = t2i.queries()[0]
    assert c.query.image_path is None and c.candidates[0].text == "Represent the given image."
    assert all(x.image_path for x in c.candidates) and len(inet.queries()) == 200
    with pytest.raises(KeyError, match="did you mean 'ImageNet-1K'"):
        resolve_tasks(["ImageNet-1k"], mmeb)
    with pytest.raises(FileNotFoundError, match="33 task file"):
        resolve_tasks(["mmeb"], mmeb)


@pytest.mark.parametrize("task", FIXTURE_TASKS)
def test_sanity_embedders_on_mmeb(mmeb, task):
    (t,) = resolve_tasks([task], mmeb)
    runs = [evaluate(load_embedder("random", seed=s), t, progress=False) for s in range(5)]
    rnd = runs[0]
    mean = sum(r.main for r in runs) / len(runs)  # 1,000 seeded draws: chance (0.10) within ~3 s.d.
    assert rnd.n == 200 and all(0.02 < r.main < 0.2 for r in runs) and 0.07 < mean < 0.13
    assert evaluate(load_embedder("oracle"), t, progress=False).main == 1.0
    const = evaluate(load_embedder("constant"), t, progress=False)
    assert const.main == 0.0 and const.tie_rate == 1.0
    assert rnd.scoring == ("pool" if task == "ImageNet-1K" else "local")


def test_pool_and_local_scoring_agree(mmeb):
    (t,) = resolve_tasks(["ImageNet-1K"], mmeb)
    emb = load_embedder("random", seed=5)
    pool, local = (evaluate(emb, t, progress=False, scoring=s) for s in ("pool", "local"))
    assert pool.scoring == "pool" and local.scoring == "local"
    for k, v in local.scores.items():
        assert pool.scores[k] == pytest.approx(v), k
    assert pool.tie_rate == local.tie_rate


def test_bad_mmeb_rows_are_counted(tmp_path):
    ok = {"qry_text": "<|image_1|> Represent", "qry_img_path": "ImageNet-1K/0.png",
          "tgt_text": ["a", "b"], "tgt_img_path": ["", ""]}
    bad = [dict(ok, qry_img_path="../outside.png"), dict(ok, tgt_img_path=[""]),
           dict(ok, tgt_text=["a", "a"]), dict(ok, tgt_text=["", "b"])]
    root = mmeb_copy(tmp_path / "m", n=20, extra_rows={"ImageNet-1K": bad})
    t = MmebTask("ImageNet-1K", root)
    assert [(e.row, e.reason) for e in t.row_errors()] == [
        (20, "image outside the image root"), (21, "malformed candidates"), (23, "malformed candidates")]
    assert len(t.queries()) == 21  # the GT repeated among the distractors (row 22): the tie rule decides
    strict = evaluate(load_embedder("random"), t, progress=False, max_error_rate=1.0)
    official = evaluate(load_embedder("random"), t, progress=False, max_error_rate=1.0, ties="official")
    assert (strict.ties, official.ties) == ("strict", "official")
    assert strict.n == 20 and strict.errors == {"image outside the image root": 1, "malformed candidates": 3}
    assert official.n == 21 and official.errors == {"image outside the image root": 1, "malformed candidates": 2}
    assert 22 in {e.row for e in strict.error_rows} and 22 not in {e.row for e in official.error_rows}


def test_hub_copy_is_downloaded_once_and_read_offline_after(mmeb, tmp_path, monkeypatch):
    import huggingface_hub

    commit = "a" * 40
    snap = tmp_path / "hub" / "snapshots" / commit
    snap.mkdir(parents=True)
    for t in FIXTURE_TASKS:
        (snap / t).symlink_to(mmeb / t)
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted((mmeb / "images").rglob("*.png"))[:5] + sorted((mmeb / "images").rglob("*.jpg")):
            z.write(f, f"eval_images/{f.relative_to(mmeb / 'images')}")
    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo, **kw: calls.append(("snapshot", repo, kw["allow_patterns"][0])) or str(snap))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download",
                        lambda repo, name, **kw: calls.append(("file", repo, name)) or str(archive))
    (t,) = resolve_tasks(["MSCOCO_t2i"], "hf://TIGER-Lab/MMEB-eval")
    assert t.meta.revision == commit and t.image_root.name == "eval_images"
    assert calls == [("snapshot", "TIGER-Lab/MMEB-eval", "MSCOCO_t2i/*"), ("file", "TIGER-Lab/MMEB-eval", "images.zip")]
    assert evaluate(load_embedder("oracle"), t, progress=False).main == 1.0
    resolve_tasks(["MSCOCO_t2i"], "hf://TIGER-Lab/MMEB-eval")
    assert [c[0] for c in calls].count("file") == 1  # unpacked once, in $SCAR_CACHE
    with pytest.raises(ValueError, match="MMEB tasks only"):
        resolve_tasks(["scar"], "hf://Sony/SCaR-Eval")
