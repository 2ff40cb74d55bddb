"""The blind-solvability audit on real files, with the real MiniLM sentence embedder."""

import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scar.build.card import record_audit
from scar.eval.audit import (
    audit_folder,
    format_table,
    grid_type_chance,
    lexical_scores,
    medoid_scores,
    minilm_encoder,
    random_tie_accuracy,
)
from scar.eval.metrics import gt_rank
from scar.eval.results import load_results
from scar.schema import EVAL_RELEASED, QRY_TEXT

PAPER_EXAMPLE = [  # the paper's own example: GT + 3 scene, 3 relation, 3 object swaps
    "salad fork on table", "salad fork on kitchen counter", "salad fork on dining tray",
    "salad fork on picnic blanket", "salad fork under the napkin on the table", "salad fork beside table",
    "salad fork above table", "butter knife on table", "dinner spoon on table", "serving tongs on table"]


@pytest.fixture(scope="module")
def encode():
    return minilm_encoder()[0]


@pytest.mark.slow
def test_the_medoid_picks_the_gt_of_the_papers_example(encode):
    scores = medoid_scores([PAPER_EXAMPLE], encode)
    assert gt_rank(scores)[0] == 1
    shuffled = PAPER_EXAMPLE[3:] + PAPER_EXAMPLE[:3]  # the rule does not depend on the GT's position
    assert int(scores[0].argmax()) == 0 and int(medoid_scores([shuffled], encode)[0].argmax()) == 7


def test_lexical_overlap_scores():
    s = lexical_scores([["p q r", "p q s", "x y z"]])
    assert s[0, 0] == pytest.approx((2 / 4 + 0) / 2) and s[0, 2] == 0


@pytest.mark.slow
def test_audit_on_the_sample_and_on_a_released_only_file(sample_build, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sample_build.path.parent, out, symlinks=True)
    rows = pq.read_table(out / "SCaR_eval_Sample.parquet").to_pylist()
    pq.write_table(pa.Table.from_pylist([{k: r[k] for k in EVAL_RELEASED.names} for r in rows[:10]],
                                        schema=EVAL_RELEASED), out / "SCaR_eval_Released.parquet")
    report = audit_folder(out, results=tmp_path / "results")
    assert record_audit(out, report)
    sample = report["files"]["SCaR_eval_Sample.parquet"]
    assert sample["rows"] == len(rows) and sample["chance"] == 0.1
    med = sample["blind"]["blind-medoid"]
    lo, hi = med["ci95"]
    assert 0 <= lo <= med["accuracy"] <= hi <= 1 and "accuracy_object" in med
    assert sample["swap_types"] == {"object": 3 * len(rows), "relation": 3 * len(rows), "scene": 3 * len(rows)}
    assert set(sample["provenance"]) == {"object", "relation", "scene"}
    # readings computed from the numbers: the paper's design is solvable blind (docs/benchmark.md, "Scoring pitfalls")
    assert sample["type_chance"] == {"object": 0.25, "relation": 0.25, "scene": 0.25}  # 3 distractors per type
    # the medoid all but solves the paper's design: even the CI's lower end is far above chance
    # (15 of the bundled sample's 17 rows at 2830360)
    assert lo > 3 * sample["chance"] and med["accuracy"] >= 0.8
    hits = round(med["accuracy"] * len(rows))
    assert any(v.startswith("SCaR_eval_Sample.parquet is solvable without the image: blind-medoid picks the ground "
                            f"truth in {hits} of {len(rows)} rows") for v in sample["verdicts"])
    assert "--candidates balanced" in sample["verdicts"][-1]
    table = format_table(report)
    assert "chance" in table.splitlines()[0] and "\nReadings:\n" in table and "(chance 25.0)" in table
    assert sample["image_overlap"] == {"SCaR_eval_Released.parquet": len({r["qry_image_path"] for r in rows[:10]})}
    released = report["files"]["SCaR_eval_Released.parquet"]
    assert set(released["blind"]) == {"blind-medoid", "blind-lexical-overlap"} and "swap_types" not in released
    saved = json.loads((out / "audit.json").read_text())
    assert saved["files"]["SCaR_eval_Sample.parquet"]["blind"]["blind-medoid"]["accuracy"] == med["accuracy"]
    assert "## Audit: `SCaR_eval_Sample.parquet`" in (out / "README.md").read_text()
    res = {(r.model, r.task): r for r in load_results(tmp_path / "results")}
    assert res[("blind-medoid", "SCaR_Sample")].model_kind == "blind"
    assert res[("blind-medoid", "SCaR_Sample")].main == pytest.approx(med["accuracy"])
    assert ("blind-lexical-overlap", "SCaR_Released") in res


def test_random_tie_accuracy():
    scores = np.array([[1.0, 1.0, 0.0, 0.0], [0.5, 1.0, 0.0, 0.0], [2.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    assert random_tie_accuracy(scores) == pytest.approx((1 / 2 + 0 + 1 + 1 / 4) / 4)


def test_the_type_chance_of_a_grid_depends_on_its_scores():
    """A 5 x 2 grid (scene x object) whose GT row scores above the other row: every cell of
    the higher row beats all cells with another object (chance 5/10 for the object type, not
    1/6), and only the top cell beats every cell with another scene (1/10). A paper-design row
    keeps 1/(1 + m)."""
    scenes = ["in a gym", "in a cafe", "in a shop", "in a bar"]
    types = [("scene",) * 4 + ("object",) + ("object+scene",) * 4,
             ("object",) * 3 + ("relation",) * 3 + ("scene",) * 3]
    values = [scenes + ["dog"] + [f"dog + {v}" for v in scenes], ["a", "b", "c", "x", "y", "z", "p", "q", "r"]]
    scores = np.array([[10, 9, 8, 7, 6, 5, 4, 3, 2, 1], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]], dtype=float)
    got = grid_type_chance(scores, types, values)
    assert got["object"] == pytest.approx((5 / 10 + 1 / 4) / 2)
    assert got["scene"] == pytest.approx((1 / 10 + 1 / 4) / 2)
    assert got["relation"] == pytest.approx(1 / 4)  # only the paper row changes the relation
