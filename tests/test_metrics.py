"""Ranking metrics: pessimistic GT ranks, ties, padded slots, the pool path, intervals."""

import builtins
import math

import numpy as np
import pytest

from scar.eval.metrics import (MAX_K, bootstrap_interval, correct_and_ties, gt_rank, per_type_accuracy, pool_ranks,
                          ranking_metrics, top_tied, wilson_interval)


def test_ties_go_against_the_gt_and_pads_never_count():
    s = np.array([[1.0, 1.0, 0.0], [0.9, 0.1, 0.2], [0.5, 0.7, 0.1], [0.3, -np.inf, 0.3 - 5e-7],
                  [0.2, 0.2 + 2e-6, -np.inf]])
    assert gt_rank(s).tolist() == [2, 1, 2, 2, 2]
    correct, tied = correct_and_ties(s)
    assert correct.tolist() == [False, True, False, False, False]
    assert tied.tolist() == [True, False, False, True, False]
    assert top_tied(np.array([[0.1, 0.5, 0.5]])).tolist() == [True]  # two distractors tied: still a tie


def test_ranking_metrics_from_ranks():
    m = ranking_metrics(np.array([1, 2, 11]))
    assert m["precision_at_1"] == m["hit_at_1"] == pytest.approx(1 / 3)
    assert m["hit_at_5"] == m["hit_at_10"] == pytest.approx(2 / 3)
    assert m["mrr_at_10"] == pytest.approx((1 + 0.5) / 3)
    assert m["ndcg_at_10"] == pytest.approx((1 + 1 / math.log2(3)) / 3)


def test_bootstrap_interval_is_seeded_and_sensible():
    lo, hi = bootstrap_interval(50, 100)
    assert (lo, hi) == bootstrap_interval(50, 100)
    assert 0.38 < lo < 0.42 and 0.58 < hi < 0.62
    wl, wh = wilson_interval(50, 100)
    assert abs(lo - wl) < 0.02 and abs(hi - wh) < 0.02
    assert bootstrap_interval(0, 40) == (0.0, 0.0) and bootstrap_interval(40, 40) == (1.0, 1.0)
    nlo, nhi = bootstrap_interval(500, 1000)
    assert nhi - nlo < hi - lo


def test_chance_verdicts_use_an_exact_interval():
    """A random baseline with 4 hits of 16 rows at chance 10% is at chance: the exact binomial tail
    P(X >= 4) is 0.068 (Wilson's lower end, 10.2%, would have called it above chance); 5 of 16 is above
    (tail 0.017 < 0.025). The interval is the Clopper-Pearson one (beta quantiles) at its ends."""
    from math import comb

    from scar.eval.metrics import chance_position, exact_interval

    tail = sum(comb(16, j) * 0.1 ** j * 0.9 ** (16 - j) for j in range(4, 17))
    assert 0.068 < tail < 0.069 and wilson_interval(4, 16)[0] > 0.1
    assert chance_position(4, 16, 0.1)[0] == "at" and chance_position(5, 16, 0.1)[0] == "above"
    lo, hi = exact_interval(4, 16)
    assert lo == pytest.approx(0.0727, abs=1e-4) and hi == pytest.approx(0.5238, abs=1e-4)
    assert exact_interval(0, 16)[0] == 0.0 and exact_interval(16, 16)[1] == 1.0
    assert chance_position(0, 200, 0.1)[0] == "below"
    assert chance_position(0, 200, 0.1, tie_rate=0.9)[0] == "ties"


def test_per_type_accuracy_uses_only_that_types_distractors():
    s = np.array([[0.5, 0.9, 0.1, 0.1], [0.5, 0.1, 0.9, 0.1]])
    types = [("object", "relation", "scene"), ("object", "relation", "object+scene")]
    assert per_type_accuracy(s, types) == {"object": 0.5, "relation": 0.5, "scene": 1.0}


def _local(q, pool, gt):
    order = [np.r_[g, np.delete(np.arange(len(pool)), g)] for g in gt]
    scores = np.stack([pool[o] @ v for o, v in zip(order, q)])
    return gt_rank(scores), top_tied(scores)


@pytest.mark.parametrize("with_faiss", [True, False])
def test_pool_path_matches_scoring_every_candidate(with_faiss, monkeypatch):
    if not with_faiss:
        real = builtins.__import__
        monkeypatch.setattr(builtins, "__import__",
                            lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name)) if name == "faiss"
                            else real(name, *a, **k))
    rng = np.random.default_rng(0)
    pool = rng.standard_normal((40, 8)).astype(np.float32)
    pool[7] = pool[3]  # two candidates with one vector: a tie whenever one of them is the GT's rival
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    q = rng.standard_normal((300, 8)).astype(np.float32)
    gt = rng.integers(0, 40, 300)
    gt[:20] = 3
    q[:20] = pool[3]  # the GT's twin ties with it at the top: a miss
    ranks, tied = pool_ranks(q, pool, gt)
    want, want_tied = _local(q, pool, gt)
    assert ranking_metrics(ranks) == ranking_metrics(want)
    assert (np.minimum(ranks, MAX_K + 1) == np.minimum(want, MAX_K + 1)).all()
    assert (tied == want_tied).all() and tied[:20].all() and (ranks[:20] == 2).all()
    const = np.ones((40, 8), np.float32) / math.sqrt(8)
    r, t = pool_ranks(q[:5], const, gt[:5])
    assert t.all() and (r > MAX_K).all()


def test_official_tie_rule_gives_exact_ties_to_the_gt():
    # 7 rows: an exact tie at the top (rows 0, 1, 4, 5, 6), a near tie (row 2), a clear miss (row 3)
    s = np.array([[0.5, 0.5, 0.1], [0.3, 0.3, 0.3], [0.4, 0.4 + 1e-7, 0.0], [0.1, 0.9, 0.2],
                  [0.0, 0.0, 0.0], [0.8, 0.8, -np.inf], [0.6, 0.2, 0.6]], np.float32)
    strict, official = gt_rank(s), gt_rank(s, "official")
    assert strict.tolist() == [2, 3, 2, 3, 3, 2, 2]
    assert official.tolist() == [1, 1, 2, 3, 1, 1, 1]
    assert ranking_metrics(strict)["hit_at_1"] == 0.0
    assert ranking_metrics(official)["hit_at_1"] == pytest.approx(5 / 7)
    # a distractor that is the GT's input again counts as the GT under the official rule only
    same = np.array([[False, False], [True, False], [False, False], [True, False], [False, False],
                     [False, False], [False, False]])
    assert gt_rank(s, "official", same).tolist() == [1, 1, 2, 2, 1, 1, 1]
    assert gt_rank(s, "strict", same).tolist() == strict.tolist()
    types = [("object", "object")] * 7
    assert per_type_accuracy(s, types, ties="official")["object"] == pytest.approx(5 / 7)
    assert per_type_accuracy(s, types)["object"] == 0.0  # every row has a tie or a better distractor
    with pytest.raises(ValueError, match="ties"):
        gt_rank(s, "lenient")


def test_pool_path_official_rule_matches_local():
    rng = np.random.default_rng(1)
    pool = rng.normal(size=(6, 4)).astype(np.float32)
    pool[3] = pool[0]  # an exact tie with the GT of query 0
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    q = pool[[0, 1, 2]] + 0.01
    gt = np.array([0, 1, 2])
    scores = q @ pool.T
    local = np.stack([np.concatenate([[scores[i, g]], np.delete(scores[i], g)]) for i, g in enumerate(gt)])
    for ties in ("strict", "official"):
        ranks, _ = pool_ranks(q, pool, gt, ties)
        assert ranks.tolist() == gt_rank(local, ties).tolist(), ties
    assert pool_ranks(q, pool, gt, "official")[0][0] == 1 and pool_ranks(q, pool, gt)[0][0] == 2
