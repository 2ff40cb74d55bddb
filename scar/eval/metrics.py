"""Scoring of ranked candidates under one of two tie rules.

The GT is candidate 0 of each query. Padded candidate slots carry ``-inf`` and never count.

- ``strict`` (the default): the GT's rank is pessimistic, 1 + the number of distractors
  scoring at least ``gt - TIE_ATOL``, so a GT that ties with any distractor at the top is
  a miss (a constant embedder scores 0, never 100%); a row whose GT input is repeated
  among its distractors is left out (the harness records it as malformed).
- ``official``: what the reference harnesses compute (TIGER-AI-Lab/VLM2Vec ``eval.py``
  @6e1e1d4 and sony/virtue ``codes/eval.py`` @36d8a8b, scored by
  ``src/utils/eval_utils/metrics.py`` / ``codes/src/eval_utils/metrics.py``). They rank a
  query's candidates with ``np.argsort(-scores)``, which keeps the listed order among
  exactly equal scores for these list sizes, and match the ranking to the GT by candidate
  *name* (its text). So an exact tie goes to the GT (listed first), and a distractor equal
  to the GT counts as the GT: the rank is 1 + the number of other candidates scoring
  strictly more. A constant embedder scores 100% under this rule: use it to compare with
  a paper's number, not to rank models.
"""

from __future__ import annotations

import math

import numpy as np

from scar.errors import ScarUserError

TIE_ATOL = 1e-6
KS = (1, 5, 10)
MAX_K = max(KS)
TIES = ("strict", "official")
DEFAULT_TIES = "strict"


def check_ties(ties: str) -> str:
    if ties not in TIES:
        raise ScarUserError(f"ties {ties!r}: use one of {', '.join(TIES)}")
    return ties


def beats_gt(distractor, gt, ties: str = DEFAULT_TIES):
    """Where a distractor's score ranks it above the GT under ``ties``."""
    if check_ties(ties) == "official":
        return distractor > gt
    return distractor >= gt - TIE_ATOL


def gt_rank(scores: np.ndarray, ties: str = DEFAULT_TIES, same_as_gt: np.ndarray | None = None) -> np.ndarray:
    """(n, k) similarities, GT in column 0 -> the GT's 1-based rank under ``ties``.
    ``same_as_gt`` (n, k-1): distractors that are the GT's input again; under the
    official rule they count as the GT (never above it)."""
    above = beats_gt(scores[:, 1:], scores[:, :1], ties)
    if same_as_gt is not None and ties == "official":
        above = above & ~same_as_gt
    return 1 + above.sum(axis=1)


def top_tied(scores: np.ndarray) -> np.ndarray:
    """True where the best score is shared (within TIE_ATOL) by two or more candidates."""
    top = scores.max(axis=1, keepdims=True)
    return (np.abs(scores - top) <= TIE_ATOL).sum(axis=1) >= 2


def correct_and_ties(scores: np.ndarray, ties: str = DEFAULT_TIES) -> tuple[np.ndarray, np.ndarray]:
    """(correct at 1, tied at the top) per query."""
    return gt_rank(scores, ties) == 1, top_tied(scores)


def ranking_metrics(ranks: np.ndarray) -> dict[str, float]:
    """precision@1 (= hit@1, the main score), hit@k, MRR@10 and nDCG@10 (one relevant
    candidate) from GT ranks. A rank above MAX_K may be given as any value > MAX_K."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.size == 0:
        return {}
    out = {"precision_at_1": float((ranks == 1).mean())}
    for k in KS:
        out[f"hit_at_{k}"] = float((ranks <= k).mean())
    inside = ranks <= MAX_K
    out[f"mrr_at_{MAX_K}"] = float(np.where(inside, 1.0 / ranks, 0.0).mean())
    out[f"ndcg_at_{MAX_K}"] = float(np.where(inside, 1.0 / np.log2(ranks + 1.0), 0.0).mean())
    return out


def bootstrap_interval(hits: int, n: int, *, level: float = 0.95, resamples: int = 10_000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of a proportion (seeded, so results are stable).
    Resampling n queries with replacement gives Binomial(n, hits/n) hits, drawn directly."""
    if n == 0:
        return (math.nan, math.nan)
    draws = np.random.default_rng(seed).binomial(n, hits / n, size=resamples) / n
    a = (1 - level) / 2
    lo, hi = np.quantile(draws, [a, 1 - a])
    return (float(lo), float(hi))


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n (kept for comparison)."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def exact_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson ("exact") interval of a proportion k/n: the interval holds the truth at
    least ``level`` of the time for every n, where Wilson's holds it less often at a few dozen rows
    (with 16 rows and a chance of 10%, Wilson's lower end clears chance in 6.8% of chance-level
    runs; this one in under 2.5%). Its lower end lies above p exactly when the one-sided binomial
    test rejects p at (1 - level) / 2."""
    if n == 0:
        return (math.nan, math.nan)
    from scipy.special import betaincinv

    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, a))
    hi = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1 - a))
    return (lo, hi)


def per_type_accuracy(scores: np.ndarray, neg_types: list[tuple[str, ...]],
                      types=("object", "relation", "scene"), ties: str = DEFAULT_TIES) -> dict[str, float]:
    """For each distractor type t: the share of queries whose GT beats every
    distractor that changes t (queries without such a distractor are left out; a tie
    is decided by ``ties``). A type like ``object+relation`` counts for both."""
    out = {}
    for t in types:
        hits, n = 0, 0
        for row, nt in zip(scores, neg_types):
            idx = [j + 1 for j, v in enumerate(nt) if t in v.split("+")]
            if not idx:
                continue
            n += 1
            hits += not bool(beats_gt(row[idx], row[0], ties).any())
        if n:
            out[t] = hits / n
    return out


def pool_ranks(queries: np.ndarray, pool: np.ndarray, gt: np.ndarray,
               ties: str = DEFAULT_TIES) -> tuple[np.ndarray, np.ndarray]:
    """GT ranks (under ``ties``) and top ties when every query shares one candidate
    pool: a top-k search (faiss when installed, else numpy) instead of scoring the whole
    pool per query. Ranks above MAX_K come back as MAX_K + 1. ``gt``: the GT's row in
    ``pool``."""
    k = min(MAX_K + 1, pool.shape[0])
    ids = _topk_ids(queries, pool, k)
    ranks = np.empty(len(queries), np.int64)
    tied = np.zeros(len(queries), bool)
    for i, (q, row) in enumerate(zip(queries, ids)):
        row = row[row >= 0]
        s = pool[row] @ q  # exact rescoring of the returned candidates
        g = float(pool[gt[i]] @ q)
        # Distractors in the top list ranked above the GT. When the list's lowest score
        # still ranks above it, the count is >= MAX_K and the rank is past MAX_K either way.
        ranks[i] = 1 + int(beats_gt(s[row != gt[i]], g, ties).sum())
        top = np.sort(s)[::-1]
        tied[i] = len(top) > 1 and top[0] - top[1] <= TIE_ATOL
    return ranks, tied


def _topk_ids(queries: np.ndarray, pool: np.ndarray, k: int) -> np.ndarray:
    try:
        import faiss
    except ImportError:
        faiss = None
    if faiss is not None:
        index = faiss.IndexFlatIP(pool.shape[1])
        index.add(np.ascontiguousarray(pool, dtype=np.float32))
        return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)[1]
    out = np.empty((len(queries), k), np.int64)
    step = max(1, 20_000_000 // max(1, pool.shape[0]))
    for s in range(0, len(queries), step):
        sc = queries[s:s + step] @ pool.T
        part = np.argpartition(-sc, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(sc, part, axis=1).argsort(axis=1)[:, ::-1]
        out[s:s + step] = np.take_along_axis(part, order, axis=1)
    return out


def chance_position(hits: int, n: int, chance: float, *, tie_rate: float = 0.0) -> tuple[str, tuple[float, float]]:
    """Where ``hits`` of ``n`` lie against ``chance`` (a fraction): ``above`` or ``below``
    when the exact 95% interval (:func:`exact_interval`, Clopper-Pearson) excludes it, ``ties``
    when it is below chance because most rows tie at the top (a tie is a miss: the score then
    says nothing about the candidates), else ``at``. Returns the position and the interval."""
    lo, hi = exact_interval(hits, n)
    if n == 0:
        return "at", (lo, hi)
    if lo > chance:
        return "above", (lo, hi)
    if hi < chance:
        return ("ties" if tie_rate >= 0.5 else "below"), (lo, hi)
    return "at", (lo, hi)
