"""The balanced candidate design: a 5 x 2 grid whose structure gives the GT away to no one."""

import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from scar import lexicon
from scar.build.pipeline import build
from support import cfg
from scar.build.steps.balanced import PAIRS, mix_to_chance, overlap_chance, pair_for, typicality_offset
from scar.eval.audit import lexical_scores, medoid_scores, minilm_encoder, random_tie_accuracy
from scar.build.validate import validate_eval
from scar.testing.synthetic import write_synthetic_coco
from scar.types import ELEMENTS


@pytest.fixture(scope="module")
def balanced(tmp_path_factory):
    data = write_synthetic_coco(tmp_path_factory.mktemp("syn"), n_images=20, split="val", seed=11)
    out = tmp_path_factory.mktemp("bal")
    return build(cfg("coco", data, "val", out, name="Bal", generator={"candidates": "balanced"}))


@pytest.mark.slow
def test_every_candidate_has_the_same_neighbourhood(balanced):
    rows = pq.read_table(balanced.path).to_pylist()
    assert len(rows) >= 30
    pairs = Counter()
    for row in rows:
        gt = {e: row[f"gt_{e}"] for e in ELEMENTS}
        cands = [dict(gt)]
        for t, v in zip(row["neg_types"], row["neg_values"]):
            c = dict(gt)
            for e, x in zip(t.split("+"), v.split(" + ")):
                c[e] = x
            cands.append(c)
        assert [" ".join(c[e] for e in ELEMENTS) for c in cands] == row["tgt_text"]
        varying = [e for e in ELEMENTS if len({c[e] for c in cands}) > 1]
        assert len(varying) == 2
        a = next(e for e in varying if len({c[e] for c in cands}) == 5)
        b = next(e for e in varying if len({c[e] for c in cands}) == 2)
        pairs[(a, b)] += 1
        for c in cands:  # 4 neighbours differing in A only, 1 in B only: the GT is not special
            diff = [[e for e in ELEMENTS if o[e] != c[e]] for o in cands if o is not c]
            assert sorted(map(tuple, diff)).count((a,)) == 4 and sorted(map(tuple, diff)).count((b,)) == 1
        assert Counter(row["neg_types"]) == Counter({a: 4, b: 1, "+".join(e for e in ELEMENTS if e in (a, b)): 4})
    assert len(pairs) >= 4  # the grid's pair rotates across samples
    assert validate_eval(balanced.path, None) == []


def test_pair_rotation_is_deterministic_and_covers_all_pairs():
    got = {pair_for(0, f"s/{i}/1") for i in range(200)}
    assert got == set(PAIRS)
    assert pair_for(0, "x") == pair_for(0, "x")


def test_overlap_chance_is_the_audits_random_tie_accuracy():
    """The build's per-row figure and the audit's are one statistic (token Jaccard, ties at random)."""
    sets = [["a cup on a table", "a bowl on a table", "a cup under a table", "a bowl under a table"],
            ["cup left", "cup right", "bowl left side", "bowl right"],
            ["x y", "x z", "q r", "x y z"]]
    for texts in sets:
        assert overlap_chance(texts) == pytest.approx(random_tie_accuracy(lexical_scores([texts])))
    assert overlap_chance(sets[0]) == 0.25  # a four-way tie
    assert overlap_chance(sets[2]) == 0.0  # "x y z" shares the most


def test_mix_to_chance_averages_to_chance():
    rng = random.Random(0)
    assert mix_to_chance([0.0, 0.1, 0.5], rng, 0.1) == 0.1
    assert mix_to_chance([0.0, 0.0], rng, 0.1) is None and mix_to_chance([0.5, 1.0], rng, 0.1) is None
    picks = [mix_to_chance([0.0, 0.25, 1.0], rng, 0.1) for _ in range(20000)]
    assert set(picks) == {0.0, 0.25} and np.mean(picks) == pytest.approx(0.1, abs=0.01)


@pytest.mark.slow  # a build of coco_tiny through the CLI (~15 s) and MiniLM over its candidates (~15 s), per case
@pytest.mark.parametrize("name,seed", [("COCO", 0), ("COCO_tiny", 0), ("COCO", 1)])
def test_blind_baselines_are_at_chance_on_coco_tiny(tmp_path, name, seed):
    """Issue 15's "Done when": with --candidates balanced, on at least 100 rows of real COCO
    annotations, blind-medoid and blind-lexical-overlap (ties broken at random) within chance
    +- 5 points (chance 10% with 10 candidates). Not only the build the design was looked at
    with: another file stem (the sample ids, which seed every draw, change with it) and
    another seed give other grids of the same images."""
    root = Path(__file__).parent / "fixtures" / "realdata" / "coco_tiny"
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scar.cli", "-q", "build", "--source", "coco", "--root", str(root), "--split", "val",
           "--candidates", "balanced", "--seed", str(seed), "--name", name, "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    cands = pq.read_table(out / f"SCaR_eval_{name}.parquet", columns=["tgt_text"]).column(0).to_pylist()
    assert len(cands) >= 100 and {len(c) for c in cands} == {10}
    lexical = random_tie_accuracy(lexical_scores(cands))
    medoid = random_tie_accuracy(medoid_scores(cands, minilm_encoder()[0]))
    assert 0.05 <= lexical <= 0.15, lexical
    assert 0.05 <= medoid <= 0.15, medoid


def _elements(obj, rel, scene):
    return {"object": obj, "relation": rel, "scene": scene}


def test_the_phrase_table_covers_the_vocabularies_a_lexical_build_writes():
    """Every frame relation, pairwise relation to a noun of the swap tables, scene phrase and
    object noun has its own row (no composition), and the table is what the tool would write
    from today's vocabularies (a vocabulary change without rerunning the tool fails here)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import build_phrase_vectors

    index, m = lexicon._phrase_table()
    assert sorted(index) == build_phrase_vectors.phrases()
    assert m.shape == (len(index), build_phrase_vectors.DIM)
    assert np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-5)
    for text in ["on the left side", "to the right of the refrigerator", "in a kitchen", "indoors", "baseball glove"]:
        assert text in index
    # a phrase outside the table is composed from its known runs; nothing known gives None
    v = lexicon.phrase_vector("sitting on the bench")
    parts = m[index["sitting on"]] + m[index["the"]] + m[index["bench"]]
    assert np.allclose(v, parts / np.linalg.norm(parts), atol=1e-6)
    assert lexicon.phrase_vector("qwzx vrrp") is None


def test_the_bundled_vectors_know_what_is_alike():
    """The table's cosines are MiniLM's up to the compression: a kitchen is nearer a restaurant
    than a ski slope, a dog nearer a cat than a refrigerator."""
    def cos(a, b):
        return float(lexicon.phrase_vector(a) @ lexicon.phrase_vector(b))

    assert cos("in a kitchen", "in a restaurant") > cos("in a kitchen", "on a ski slope")
    assert cos("dog", "cat") > cos("dog", "refrigerator")


def test_typicality_offset_prefers_a_ground_truth_in_the_middle_of_its_set():
    """A GT whose scene is the odd one out (a kitchen among four snowy or mountain places, which
    a medoid never picks: a give-away too) is far from typical; the same GT among four other
    indoor places is near typical."""
    gt = _elements("cup", "on the left side", "in a kitchen")

    def grid(scenes):
        out = [gt]
        for rel in ["on the left side", "on the right side"]:
            for sc in ["in a kitchen", *scenes]:
                if (rel, sc) != ("on the left side", "in a kitchen"):
                    out.append(_elements("cup", rel, sc))
        return out

    odd = typicality_offset(grid(["on a ski slope", "on a snowfield", "on a beach", "on a mountain"]))
    typical = typicality_offset(grid(["in a restaurant", "in a cafe", "in a bar", "in a living room"]))
    assert typical < 0.5 < 1.5 < odd
    assert typicality_offset([gt] * 10) == 0.0  # no spread: nothing to say
