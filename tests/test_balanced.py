"""The balanced candidate design: a 5 x 2 grid whose structure gives the GT away to no one."""

import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from scar.build.pipeline import build
from support import cfg
from scar.build.steps.balanced import PAIRS, mix_to_chance, overlap_chance, pair_for
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


@pytest.mark.slow  # a build of coco_tiny through the CLI (~15 s) and MiniLM over its candidates
def test_blind_baselines_are_at_chance_on_coco_tiny(tmp_path):
    """Issue 15's "Done when": with --candidates balanced, on at least 100 rows of real COCO
    annotations, blind-medoid and blind-lexical-overlap (ties broken at random) within chance
    +- 5 points (chance 10% with 10 candidates)."""
    root = Path(__file__).parent / "fixtures" / "realdata" / "coco_tiny"
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scar.cli", "-q", "build", "--source", "coco", "--root", str(root), "--split", "val",
           "--candidates", "balanced", "--seed", "0", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    cands = pq.read_table(out / "SCaR_eval_COCO.parquet", columns=["tgt_text"]).column(0).to_pylist()
    assert len(cands) >= 100 and {len(c) for c in cands} == {10}
    lexical = random_tie_accuracy(lexical_scores(cands))
    medoid = random_tie_accuracy(medoid_scores(cands, minilm_encoder()[0]))
    assert 0.05 <= lexical <= 0.15, lexical
    assert 0.05 <= medoid <= 0.15, medoid
