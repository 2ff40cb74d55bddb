"""The harness on real Parquet: chance, ceiling, ties, dedup, bad vectors, user models."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scar.embedders import Embedder, load_embedder
from scar.evaluate import evaluate
from scar.metrics import correct_and_ties, wilson_interval
from scar.schema import EVAL_RELEASED, QRY_TEXT
from scar.tasks import ScarTask
from scar.tasks.scar_task import query_text


def synthetic_eval(path, n=1000, seed=0):
    """A released-columns-only eval file with n random queries of 10 candidates."""
    rng = np.random.default_rng(seed)
    words = ["cup", "dog", "car", "tree", "man", "lamp", "box", "bench"]
    rows = []
    for i in range(n):
        cands = [f"{i} {rng.choice(words)} {j}" for j in range(10)]
        rows.append({"qry_text": QRY_TEXT, "qry_image_path": f"x_val/{i % 7}.jpg", "tgt_text": cands,
                     "bbox": [float(i), 2.0, 10.0, 12.5]})
    pq.write_table(pa.Table.from_pylist(rows, schema=EVAL_RELEASED), path)
    return path


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return ScarTask(synthetic_eval(tmp_path_factory.mktemp("e") / "SCaR_eval_Synth.parquet"))


def test_query_text_follows_official_prompt():
    assert query_text(QRY_TEXT, (1.0, 2.0, 10.0, 20.0)).endswith("\nReferring object bbox: [1.0, 2.0, 11.0, 22.0]")
    assert "<|image_1|>" not in query_text(QRY_TEXT, (1, 2, 3, 4))
    assert query_text(QRY_TEXT, (1, 2, 3, 4)).endswith("[1, 2, 4, 6]")


def test_random_is_near_chance(synth):
    res = evaluate(load_embedder("random", seed=0), synth, progress=False)
    assert res.n == 1000
    lo, hi = res.scores["ci95_low"], res.scores["ci95_high"]
    assert lo <= 0.10 <= hi and 0.06 < res.main < 0.14
    assert res.tie_rate == 0.0 and res.task == "SCaR_Synth" and res.model_kind == "sanity"
    assert res.data["revision"] and res.versions["scar"]


def test_oracle_is_perfect(synth):
    assert evaluate(load_embedder("oracle"), synth, progress=False).main == 1.0


def test_constant_never_beats_chance(synth):
    res = evaluate(load_embedder("constant"), synth, progress=False)
    assert res.main == 0.0 and res.tie_rate == 1.0


def test_ties_go_against_the_gt():
    s = np.array([[1.0, 1.0, 0.0], [0.9, 0.1, 0.2], [0.5, 0.7, 0.1]])
    correct, tied = correct_and_ties(s)
    assert correct.tolist() == [False, True, False] and tied.tolist() == [True, False, False]
    lo, hi = wilson_interval(50, 100)
    assert lo == pytest.approx(0.404, abs=1e-3) and hi == pytest.approx(0.596, abs=1e-3)


class Counting(Embedder):
    name = "counting"
    modalities = ("text",)

    def __init__(self):
        self.seen = []

    def encode(self, inputs, *, role):
        self.seen += [(role, x.text) for x in inputs]
        return np.stack([np.random.default_rng(abs(hash(x.text)) % 2**32).standard_normal(8) for x in inputs]).astype(np.float32)


def test_each_unique_input_embedded_once(tmp_path):
    rows = [{"qry_text": QRY_TEXT, "qry_image_path": "x_val/a.jpg", "tgt_text": ["a", "b", "c"], "bbox": [0.0, 0, 1, 1]}] * 3
    path = tmp_path / "SCaR_eval_Dup.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=EVAL_RELEASED), path)
    emb = Counting()
    res = evaluate(emb, ScarTask(path), progress=False)
    assert res.n == 3
    assert sorted(emb.seen) == sorted([("query", query_text(QRY_TEXT, (0.0, 0.0, 1.0, 1.0)))] +
                                      [("candidate", t) for t in "abc"])


class ZeroForB(Embedder):
    name = "zero-b"
    modalities = ("text",)

    def encode(self, inputs, *, role):
        return np.stack([np.zeros(4) if x.text == "b" else np.arange(1, 5) * (1 + len(x.text or "")) for x in inputs])


def test_zero_vector_is_an_error_for_that_input(tmp_path):
    rows = [{"qry_text": QRY_TEXT, "qry_image_path": "x_val/a.jpg", "tgt_text": ["a", "b", "c"], "bbox": [0.0, 0, 1, 1]},
            {"qry_text": QRY_TEXT, "qry_image_path": "x_val/a.jpg", "tgt_text": ["a", "c", "d"], "bbox": [0.0, 0, 2, 1]}]
    path = tmp_path / "SCaR_eval_Zero.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=EVAL_RELEASED), path)
    res = evaluate(ZeroForB(), ScarTask(path), progress=False)
    assert res.n_errors == 1 and res.n == 2


def test_user_model_from_file(tmp_path, synth):
    f = tmp_path / "mine.py"
    f.write_text(
        "import numpy as np\nfrom scar.embedders import Embedder\n"
        "class Mine(Embedder):\n    name = 'mine'\n    modalities = ('text',)\n"
        "    def encode(self, inputs, *, role):\n        return np.ones((len(inputs), 3), np.float32)\n")
    emb = load_embedder(f"{f}:Mine")
    assert emb.name == "mine" and emb.revision.startswith("file-")
    assert evaluate(emb, synth, progress=False).main == 0.0
    with pytest.raises(TypeError, match="not a scar.embedders.Embedder"):
        load_embedder(f"{f}:np")
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
    assert {"accuracy_object", "accuracy_relation", "accuracy_scene"} <= set(res.scores)
    assert evaluate(load_embedder("oracle"), task, progress=False).scores["accuracy_scene"] == 1.0
