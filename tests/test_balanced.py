"""The balanced candidate design: a 5 x 2 grid whose structure gives the GT away to no one."""

from collections import Counter

import pyarrow.parquet as pq
import pytest

from scar.build.pipeline import build
from support import cfg
from scar.build.steps.balanced import PAIRS, pair_for
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
