"""Scoring of ranked candidates: precision@1 with ties broken against the GT."""

from __future__ import annotations

import math

import numpy as np

TIE_ATOL = 1e-6


def correct_and_ties(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scores``: (n, k) similarities, GT in column 0. A query is correct only when
    the GT scores strictly above every distractor (a tie is a miss). A query is tied
    when its best score is shared by two or more candidates."""
    gt = scores[:, 0]
    best_other = scores[:, 1:].max(axis=1)
    correct = gt > best_other + TIE_ATOL
    top = scores.max(axis=1, keepdims=True)
    tied = (np.abs(scores - top) <= TIE_ATOL).sum(axis=1) >= 2
    return correct, tied


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def per_type_accuracy(scores: np.ndarray, neg_types: list[tuple[str, ...]], types=("object", "relation", "scene")):
    """For each distractor type t: the share of queries whose GT beats every
    distractor that changes t (queries without such a distractor are left out)."""
    out = {}
    for t in types:
        hits, n = 0, 0
        for row, nt in zip(scores, neg_types):
            idx = [j + 1 for j, v in enumerate(nt) if t in v.split("+")]
            if not idx:
                continue
            n += 1
            hits += bool(row[0] > row[idx].max() + TIE_ATOL)
        if n:
            out[t] = hits / n
    return out
