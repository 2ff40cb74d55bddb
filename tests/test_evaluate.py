"""The harness on real Parquet: chance, ceiling, ties, dedup, bad rows, cache, resume, user models."""

import json

import numpy as np
import pytest

from eval_fixtures import scar_eval
from scar.eval.embedders import Embedder, load_embedder
from scar.eval.harness import TaskFailed, evaluate, run_eval
from scar.eval.results import TaskResult, load_results
from scar.schema import QRY_TEXT
from scar.eval.tasks import ScarTask
from scar.eval.tasks.scar_task import query_text


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """Large enough for the chance test's interval (1000 queries)."""
    return ScarTask(scar_eval(tmp_path_factory.mktemp("e"), n=1000, neg_types=True))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """For what holds at any size (the ceiling, all ties, the predictions file): 200 queries."""
    return ScarTask(scar_eval(tmp_path_factory.mktemp("s"), n=200, neg_types=True))


def test_query_text_follows_official_prompt():
    assert query_text(QRY_TEXT, (1.0, 2.0, 10.0, 20.0)).endswith("\nReferring object bbox: [1.0, 2.0, 11.0, 22.0]")
    assert "<|image_1|>" not in query_text(QRY_TEXT, (1, 2, 3, 4))
    assert query_text(QRY_TEXT, (1, 2, 3, 4)).endswith("[1, 2, 4, 6]")


@pytest.mark.slow  # scores a synthetic set large enough for chance
def test_random_is_near_chance(synth):
    res = evaluate(load_embedder("random", seed=0), synth, progress=False)
    assert res.n == 1000 and res.n_errors == 0 and res.errors == {}
    lo, hi = res.ci95
    assert lo <= 0.10 <= hi and 0.06 < res.main_score < 0.14
    assert res.tie_rate == 0.0 and res.task == "SCaR_Synth" and res.model_kind == "sanity"
    assert res.fingerprint == synth.meta.fingerprint and len(res.fingerprint) == 64
    assert res.versions["scar"] and res.scoring == "local"
    assert 0 < res.scores["mrr_at_10"] < 1 and res.scores["hit_at_10"] == 1.0
    assert {"accuracy_object", "accuracy_relation", "accuracy_scene"} <= set(res.scores)


def test_oracle_is_perfect_and_constant_scores_zero_with_all_ties(small):
    res = evaluate(load_embedder("oracle"), small, progress=False)
    assert res.n == 200 and res.main == 1.0 and res.scores["accuracy_scene"] == 1.0 and res.ci95 == [1.0, 1.0]
    res = evaluate(load_embedder("constant"), small, progress=False)
    assert res.main == 0.0 and res.tie_rate == 1.0
    # every GT ties with its 9 distractors: its pessimistic rank is 10
    assert res.scores["hit_at_5"] == 0.0 and res.scores["hit_at_10"] == 1.0
    assert res.scores["mrr_at_10"] == pytest.approx(0.1)


class Counting(Embedder):
    name = "counting"
    modalities = ("text", "image")
    revision = "v1"

    def __init__(self, dim=8):
        self.seen = []
        self.dim = dim

    def encode(self, inputs, *, role):
        self.seen += [(role, x.text, x.image is not None, x.image_path) for x in inputs]
        out = []
        for x in inputs:
            seed = abs(hash((role, x.text, x.image_path))) % 2**32
            out.append(np.random.default_rng(seed).standard_normal(self.dim))
        return np.stack(out).astype(np.float32)


def test_each_unique_input_encoded_once_and_cache_makes_a_rerun_encode_nothing(tmp_path):
    rows = [{"qry_text": QRY_TEXT, "qry_image_path": "x_val/0.png", "tgt_text": ["a", "b", "c"],
             "bbox": [0.0, 0, 1, 1]}] * 3
    path = scar_eval(tmp_path, "Dup", n=0, images=1, rows=rows)
    emb = Counting()
    res = evaluate(emb, ScarTask(path), progress=False)
    assert res.n == 3
    q = query_text(QRY_TEXT, (0.0, 0.0, 1.0, 1.0))
    assert sorted(s[:3] for s in emb.seen) == sorted([("query", q, True)] + [("candidate", t, False) for t in "abc"])
    assert res.timings["query_unique"] == 1 and res.timings["candidate_unique"] == 3
    emb2 = Counting()
    again = evaluate(emb2, ScarTask(path), progress=False)
    assert emb2.seen == [] and again.main == res.main and again.timings["candidate_cached"] == 3


def test_cache_key_follows_image_bytes_and_settings(tmp_path):
    path = scar_eval(tmp_path, "Img", n=20, images=2)
    evaluate(Counting(), ScarTask(path), progress=False)
    from PIL import Image

    Image.new("RGB", (5, 5), (1, 2, 3)).save(tmp_path / "images" / "x_val" / "1.png")  # same name, new bytes
    emb = Counting()
    evaluate(emb, ScarTask(path), progress=False)
    assert {s[3].rsplit("/", 1)[-1] for s in emb.seen if s[0] == "query"} == {"1.png"}
    other = Counting()
    other.variant = "crop"  # another setting: nothing shared
    evaluate(other, ScarTask(path), progress=False)
    assert len([s for s in other.seen if s[0] == "query"]) == 20


class ZeroForB(Embedder):
    name = "zero-b"
    modalities = ("text",)

    def encode(self, inputs, *, role):
        return np.stack([np.zeros(4) if x.text == "b" else np.arange(1, 5) * (1 + len(x.text or "")) for x in inputs])


def test_zero_vector_is_an_error_for_rows_using_it(tmp_path):
    rows = [{"qry_text": QRY_TEXT, "qry_image_path": "x_val/0.png", "tgt_text": [f"a{i}", "c", "d"],
             "bbox": [0.0, 0, 1, 1]} for i in range(200)]
    rows.append({"qry_text": QRY_TEXT, "qry_image_path": "x_val/0.png", "tgt_text": ["a", "b", "c"],
                 "bbox": [0.0, 0, 2, 1]})
    res = evaluate(ZeroForB(), ScarTask(scar_eval(tmp_path, "Zero", n=0, images=1, rows=rows)), progress=False)
    assert res.n_errors == 1 and res.n == 200 and res.rows == 201
    assert res.errors == {"candidate: invalid vector (zero or non-finite)": 1}
    assert [e.row for e in res.error_rows] == [200]


def _bad_rows():
    base = {"qry_text": QRY_TEXT, "qry_image_path": "x_val/0.png", "tgt_text": ["g", "h", "i"], "bbox": [0.0, 0, 1, 1]}
    return [dict(base, qry_image_path="x_val/missing.png"), dict(base, qry_image_path="../../etc/passwd"),
            dict(base, qry_image_path="/etc/passwd"), dict(base, tgt_text=["g", "g", "i"]),
            dict(base, tgt_text=["g"]), dict(base, bbox=[0.0, 0.0, -1.0, 2.0])]


def test_bad_rows_are_left_out_with_reasons_and_too_many_fail_the_task(tmp_path):
    good = scar_eval(tmp_path / "ok", "Ok", n=600, rows=_bad_rows())
    res = evaluate(load_embedder("random"), ScarTask(good), progress=False)
    assert res.n == 600 and res.n_errors == 6
    assert res.errors == {"missing image": 1, "image outside the image root": 2, "malformed candidates": 2,
                          "malformed bbox": 1}
    bad = scar_eval(tmp_path / "bad", "Bad", n=100, rows=_bad_rows())
    with pytest.raises(TaskFailed, match=r"6 of 106 rows unusable") as e:
        evaluate(load_embedder("random"), ScarTask(bad), progress=False)
    assert [r.row for r in e.value.errors] == list(range(100, 106))
    outcome = run_eval(load_embedder("random"), [ScarTask(bad)], tmp_path / "res", progress=False)[0]
    assert outcome.status == "failed"
    lines = [json.loads(x) for x in outcome.path.read_text().splitlines()]
    assert lines[1] == {"row": 101, "reason": "image outside the image root", "detail": "../../etc/passwd"}


def test_results_layout_resume_and_overwrite(tmp_path):
    synth = ScarTask(scar_eval(tmp_path, n=100))
    emb = Counting()
    emb.name, emb.variant = "org/my-model", "red-circle"
    out = tmp_path / "res"
    first = run_eval(emb, [synth], out, progress=False)[0]
    assert first.status == "done"
    assert first.path == out / "org__my-model__red-circle" / "v1" / "SCaR_Synth.json"
    data = json.loads(first.path.read_text())
    for key in ("task", "model", "variant", "model_revision", "dataset", "dataset_revision", "fingerprint",
                "main_score", "scores", "n", "errors", "tie_rate", "ci95", "dtype", "resolution", "seconds",
                "versions", "settings"):
        assert key in data, key
    assert data["dataset"] == "SCaR_eval_Synth.parquet" and 0 <= data["main_score"] <= 1
    assert data["settings"]["variant"] == "red-circle"
    n_seen = len(emb.seen)
    again = run_eval(emb, [synth], out, progress=False)[0]
    assert again.status == "skipped" and len(emb.seen) == n_seen and again.result.main == first.result.main
    emb.dtype = "bfloat16"  # another setting, same folder: recomputed (from scratch: other cache)
    assert run_eval(emb, [synth], out, progress=False)[0].status == "done"
    fresh = Counting()
    fresh.name, fresh.variant = "org/my-model", "red-circle"
    redo = run_eval(fresh, [synth], out, overwrite=True, progress=False)[0]
    assert redo.status == "done" and fresh.seen == []  # --overwrite recomputes from the embedding cache
    assert len(load_results(out)) == 1


def test_legacy_result_json_still_loads(tmp_path):
    legacy = {"task": "SCaR_X", "suite": "scar", "model": "m", "model_revision": "r", "model_kind": "model",
              "main_score": "precision_at_1", "scores": {"precision_at_1": 0.5, "ci95_low": 0.4, "ci95_high": 0.6},
              "n": 10, "tie_rate": 0.0, "seconds": 1.0, "data": {"dataset": "f", "revision": "x", "split": "test"},
              "n_errors": 2}
    r = TaskResult.from_json(legacy)
    assert r.main == 0.5 and r.main_metric == "precision_at_1" and r.dataset_revision == "x"
    assert r.n_errors == 2 and r.ci95 == [0.4, 0.6] and r.data["dataset"] == "f"


@pytest.mark.slow
def test_user_model_from_file(tmp_path, synth):
    f = tmp_path / "mine.py"
    f.write_text(
        "import numpy as np\nfrom scar.eval.embedders import Embedder\n"
        "class Mine(Embedder):\n    name = 'mine'\n    modalities = ('text',)\n"
        "    def encode(self, inputs, *, role):\n        return np.ones((len(inputs), 3), np.float32)\n")
    emb = load_embedder(f"{f}:Mine", seed=3, device="cpu")
    assert emb.name == "mine" and emb.revision.startswith("file-")
    assert evaluate(emb, synth, progress=False).main == 0.0
    with pytest.raises(TypeError, match="not a scar.eval.embedders.Embedder"):
        load_embedder(f"{f}:np")
    with pytest.raises(TypeError, match="takes no fusion"):
        load_embedder(f"{f}:Mine", args={"fusion": "sum"})
    with pytest.raises(KeyError, match="did you mean 'random'"):
        load_embedder("randon")


def test_sample_task_with_images_and_types(sample_build):
    class ImageSize(Embedder):
        name = "image-size"

        def encode(self, inputs, *, role):
            if role == "query":
                assert all(x.image is not None and x.bbox is not None for x in inputs)
            return np.stack([np.random.default_rng(len(x.text)).standard_normal(4) for x in inputs]).astype(np.float32)

    task = ScarTask(sample_build.path)
    res = evaluate(ImageSize(), task, progress=False)
    assert {"accuracy_object", "accuracy_relation", "accuracy_scene"} <= set(res.scores) and res.n_errors == 0
    assert evaluate(load_embedder("oracle"), task, progress=False).scores["accuracy_scene"] == 1.0


@pytest.mark.slow  # 300 rows with their images decoded, twice
def test_unreadable_image_is_an_error_for_image_models(tmp_path):
    path = scar_eval(tmp_path, "Broken", n=300, images=3)
    (tmp_path / "images" / "x_val" / "2.png").write_bytes(b"not a png")
    res = evaluate(Counting(), ScarTask(path), progress=False, max_error_rate=0.5)
    assert res.errors == {"unreadable image": 100} and res.n == 200
    with pytest.raises(TaskFailed, match="unreadable image"):
        evaluate(Counting(), ScarTask(path), progress=False)


def test_cli_scores_a_users_file(tmp_path, capsys):
    from scar.cli import main

    f = tmp_path / "mine.py"
    f.write_text("import numpy as np\nfrom scar.eval.embedders import Embedder\n"
                 "class Mine(Embedder):\n    name = 'org/mine'\n    modalities = ('text',)\n"
                 "    def encode(self, inputs, *, role):\n"
                 "        return np.stack([[len(x.text or ''), 1.0, x.text.count('1') if x.text else 0] for x in inputs])\n")
    data = scar_eval(tmp_path, "User", n=50)
    assert main(["eval", "--data", str(data), "--model", f"{f}:Mine", "--out", str(tmp_path / "res"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "org__mine" in out and "SCaR_User" in out
    (res,) = load_results(tmp_path / "res")
    assert res.model == "org/mine" and res.model_revision.startswith("file-") and res.n == 50


def test_random_scores_the_same_wherever_the_folder_lies(sample_build, tmp_path):
    import shutil

    from scar.eval.harness import evaluate
    from scar.eval.tasks import ScarTask

    moved = tmp_path / "elsewhere" / "out"
    shutil.copytree(sample_build.path.parent, moved, symlinks=True)
    a = evaluate(load_embedder("random", seed=3), ScarTask(sample_build.path), progress=False, cache=False)
    b = evaluate(load_embedder("random", seed=3), ScarTask(moved / sample_build.path.name), progress=False,
                 cache=False)
    assert a.main == b.main and a.scores == b.scores


def test_predictions_are_written_per_query(small, tmp_path):
    oc = run_eval(load_embedder("random", seed=3), [small], tmp_path / "res", progress=False)[0]
    lines = [json.loads(s) for s in oc.path.with_name(f"{oc.path.stem}.predictions.jsonl").read_text().splitlines()]
    assert len(lines) == oc.result.n and [p["row"] for p in lines] == sorted(p["row"] for p in lines)
    by_row = {q.row: q for q in small.queries()}
    for p in lines:
        k = len(by_row[p["row"]].candidates)
        assert sorted(p["ranked"]) == list(range(k)) and p["scores"] == sorted(p["scores"], reverse=True)
        assert p["gt_rank"] == 1 + sum(s >= p["scores"][p["ranked"].index(0)] - 1e-6 for s, i in
                                       zip(p["scores"], p["ranked"]) if i != 0)
    assert sum(p["gt_rank"] == 1 for p in lines) / len(lines) == pytest.approx(oc.result.main)
    # the official rule's file agrees with its own ranks: a constant embedder ties everywhere, GT first
    oc = run_eval(load_embedder("constant"), [small], tmp_path / "off", progress=False, ties="official")[0]
    lines = [json.loads(s) for s in oc.path.with_name(f"{oc.path.stem}.predictions.jsonl").read_text().splitlines()]
    assert all(p["ranked"][0] == 0 and p["gt_rank"] == 1 for p in lines) and oc.result.main == 1.0
