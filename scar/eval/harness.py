"""The evaluation harness: embed each distinct input once (cached on disk, images
decoded in the background), score with ties against the GT, record provenance.

``evaluate(embedder, task)`` scores one task; ``run_eval(embedder, tasks, out)`` scores
several, writes one JSON per task and skips a task whose stored result was made from
the same data file and settings (``overwrite=True`` recomputes, from the cache).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from scar.errors import ScarUserError
from scar.eval import dist
from scar.eval.embedders.base import Embedder, EmbedInput
from scar.eval.metrics import (
    DEFAULT_TIES,
    TIES,
    bootstrap_interval,
    check_ties,
    gt_rank,
    per_type_accuracy,
    pool_ranks,
    ranking_metrics,
    top_tied,
)
from scar.eval.results import SCORING_VERSION, TaskResult
from scar.eval.tasks.base import InputSpec, RowError, Task
from scar.eval.tasks.images import (
    FILE_HASHES,
    BadRow,
    images_fingerprint,
    load_rgb,
    prefetch,
)

log = logging.getLogger(__name__)
MAX_ERROR_RATE = 0.01
INVALID_VECTOR = "invalid vector (zero or non-finite)"


class TaskFailed(RuntimeError):
    """More than the allowed share of a task's rows could not be used."""

    def __init__(self, message: str, errors: list[RowError]) -> None:
        super().__init__(message)
        self.errors = errors


def to_input(spec: InputSpec, load_image: bool, show_path: bool = True) -> EmbedInput:
    """The embedder's view of an input: the image decoded when ``load_image``; its path
    only when ``show_path`` (image embedders, and those that declare ``uses_image_path``)."""
    image = load_rgb(spec.image_path) if load_image and spec.image_path else None
    return EmbedInput(spec.text, image, spec.bbox, spec.image_path if show_path else None)



@dataclass
class Encoded:
    """L2-normalised vectors of one role's distinct inputs (zero rows where invalid)."""

    vectors: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)  # input index -> reason
    stats: Counter = field(default_factory=Counter)


def embed_unique(embedder: Embedder, specs: Sequence[InputSpec], role: str, *, cache=None, progress: bool = True,
                 batch_size: int | None = None, workers: int = 2) -> Encoded:
    """Encode distinct ``specs`` (each once; none at all when ``cache`` has it)."""
    takes_images = "image" in embedder.modalities
    uses_path = bool(getattr(embedder, "uses_image_path", False))
    bs = max(1, int(batch_size or embedder.batch_size or 32))
    errors: dict[int, str] = {}
    raw: dict[int, np.ndarray] = {}
    stats: Counter = Counter(unique=len(specs))
    keys: list[str | None] = [None] * len(specs)
    if cache is not None:
        from scar.eval.embedders.cache import input_key

        def sha_of(path: str) -> tuple[str, str | None]:
            try:
                return path, FILE_HASHES(path)
            except OSError:
                return path, None

        paths = sorted({s.image_path for s in specs if s.image_path}) if takes_images else []
        shas = dict(prefetch(paths, sha_of, depth=64, workers=workers))  # each image file read once
        for i, s in enumerate(specs):
            sha = shas.get(s.image_path) if takes_images and s.image_path else None
            if takes_images and s.image_path and sha is None:
                errors[i] = "missing image"
            else:
                keys[i] = input_key(role, s.text, sha, s.bbox, s.image_path if uses_path else None)
        hits = cache.get_many([k for k in keys if k])
        for i, k in enumerate(keys):
            if k in hits:
                raw[i] = hits[k]
        stats["cached"] = len(raw)
    todo, same = [], {}  # inputs the embedder sees identically (same key) are encoded once
    first: dict[str, int] = {}
    for i in range(len(specs)):
        if i in raw or i in errors:
            continue
        if keys[i] is not None and keys[i] in first:
            same[i] = first[keys[i]]
            continue
        if keys[i] is not None:
            first[keys[i]] = i
        todo.append(i)
    mine = dist.shard(todo)  # under torchrun: this rank's part (all of todo otherwise)
    if mine:
        embedder.ensure_loaded()  # only now: stored results and cached vectors need no model
    batches = [mine[s:s + bs] for s in range(0, len(mine), bs)]

    def load(batch: list[int]) -> tuple[list[int], object, dict[int, str]]:
        """In a loader thread: decode the batch's images, then the embedder's ``prepare``."""
        good, inputs, bad = [], [], {}
        for i in batch:
            try:
                inputs.append(to_input(specs[i], takes_images, takes_images or uses_path))
                good.append(i)
            except BadRow as e:
                bad[i] = e.reason
        return good, (embedder.prepare(inputs, role=role) if inputs else None), bad

    what = "queries" if role == "query" else "candidates"
    bar = tqdm(total=len(mine), desc=f"{embedder.run_name} {what}", unit="in", disable=not progress or not dist.is_main(),
               leave=False)
    it = prefetch(batches, load, depth=2, workers=workers if takes_images else 0)
    dim = None
    while True:
        t = time.perf_counter()
        loaded = next(it, None)
        stats["load_wait_s"] += time.perf_counter() - t
        if loaded is None:
            break
        good, prepared, bad = loaded
        errors.update(bad)
        if good:
            t = time.perf_counter()
            out = np.asarray(embedder.encode_prepared(prepared, role=role), dtype=np.float32)
            stats["model_s"] += time.perf_counter() - t
            stats["encode_calls"] += 1
            stats["encoded"] += len(good)
            if out.ndim != 2 or out.shape[0] != len(good):
                raise ValueError(f"{embedder.name}.encode returned shape {out.shape} for {len(good)} {role} inputs")
            if dim is not None and out.shape[1] != dim:
                raise ValueError(f"{embedder.name}.encode returned {out.shape[1]}-d vectors after {dim}-d ones")
            dim = out.shape[1]
            for i, v in zip(good, out):
                raw[i] = v
            if cache is not None:
                cache.put_many([(keys[i], v) for i, v in zip(good, out) if keys[i]])
        bar.update(len(good) + len(bad))
    bar.close()
    dist.gather(todo, raw, errors)  # every rank gets every shard's vectors and errors
    for i, j in same.items():
        if j in raw:
            raw[i] = raw[j]
        elif j in errors:
            errors[i] = errors[j]
    dims = {v.shape[0] for v in raw.values()}
    if len(dims) > 1:
        raise ValueError(f"{embedder.name}: {role} vectors of different sizes {sorted(dims)} (stale cache? "
                         "use a new revision or clear $SCAR_CACHE/embeddings)")
    d = dims.pop() if dims else 1
    mat = np.zeros((len(specs), d), np.float32)
    for i, v in raw.items():
        norm = float(np.linalg.norm(v))
        if np.isfinite(v).all() and np.isfinite(norm) and norm > 0:
            mat[i] = v / norm
        else:
            errors[i] = INVALID_VECTOR
    if errors:
        log.warning("%s: %d %s input(s) unusable, e.g. %s: %s", embedder.run_name, len(errors), role,
                    specs[next(iter(errors))], next(iter(errors.values())))
    return Encoded(mat, errors, stats)


def _index(specs: list[InputSpec]) -> tuple[list[InputSpec], dict[InputSpec, int]]:
    index: dict[InputSpec, int] = {}
    for s in specs:
        index.setdefault(s, len(index))
    return list(index), index


def _local_scores(qv: np.ndarray, cv: np.ndarray, q_idx: np.ndarray, c_idx: np.ndarray) -> np.ndarray:
    """(n, kmax) scores of each query against its own candidates; pads are -inf."""
    n, k = c_idx.shape
    out = np.full((n, k), -np.inf, np.float32)
    step = max(1, 16_000_000 // max(1, k * cv.shape[1]))
    for s in range(0, n, step):
        ci = c_idx[s:s + step]
        sc = np.einsum("nd,nkd->nk", qv[q_idx[s:s + step]], cv[np.maximum(ci, 0)])
        out[s:s + step] = np.where(ci >= 0, sc, -np.inf)
    return out


def evaluate(embedder: Embedder, task: Task, *, progress: bool = True, batch_size: int | None = None,
             cache: bool | object = True, workers: int = 2, max_error_rate: float = MAX_ERROR_RATE,
             scoring: str = "auto", ties: str = DEFAULT_TIES) -> TaskResult:
    """Score ``embedder`` on ``task``. ``cache``: True for the on-disk embedding cache
    (when the embedder is cacheable and versioned), False, or an EmbeddingCache.
    ``scoring``: ``local`` (per-query candidates), ``pool`` (one shared candidate pool,
    top-k search) or ``auto``. ``ties``: ``strict`` or ``official`` (``scar.eval.metrics``;
    under ``strict`` a row whose GT input is repeated among its distractors is left out);
    the result's ``scores`` also hold the main score under each rule
    (``precision_at_1_strict``, ``precision_at_1_official``) over the rows scored.
    Raises TaskFailed when more than ``max_error_rate`` of the rows cannot be used."""
    check_ties(ties)
    m_main = task.meta.main_score
    t0 = time.perf_counter()
    if embedder.needs_answer_key:  # the oracle sanity check: told the task's answers
        embedder = embedder.with_answer_key(task.answer_key(), task.meta.name)
    queries = task.queries()
    row_errors = list(task.row_errors())
    total = len(queries) + len(row_errors)
    if total == 0:
        raise ScarUserError(f"task {task.meta.name} has no rows")
    store = _open_cache(embedder, cache)
    uq, qindex = _index([q.query for q in queries])
    uc, cindex = _index([c for q in queries for c in q.candidates])
    kw = dict(cache=store, progress=progress, batch_size=batch_size, workers=workers)
    eq = embed_unique(embedder, uq, "query", **kw)
    ec = embed_unique(embedder, uc, "candidate", **kw)
    if eq.vectors.shape[1] != ec.vectors.shape[1] and len(eq.errors) < len(uq) and len(ec.errors) < len(uc):
        raise ValueError(f"{embedder.name}: query vectors are {eq.vectors.shape[1]}-d but candidate vectors "
                         f"{ec.vectors.shape[1]}-d")
    kmax = max((len(q.candidates) for q in queries), default=1)
    q_idx = np.array([qindex[q.query] for q in queries], np.int64)
    c_idx = np.full((len(queries), kmax), -1, np.int64)
    for r, q in enumerate(queries):
        c_idx[r, :len(q.candidates)] = [cindex[c] for c in q.candidates]
    good = np.ones(len(queries), bool)
    same_as_gt = (c_idx[:, 1:] == c_idx[:, :1]) & (c_idx[:, 1:] >= 0)
    for r, q in enumerate(queries):
        if ties == "strict" and same_as_gt[r].any():
            good[r] = False
            row_errors.append(RowError(q.row, "malformed candidates", "the GT is repeated among the distractors"))
            continue
        reason = eq.errors.get(int(q_idx[r]))
        if reason is None:
            bad = [ec.errors[int(j)] for j in c_idx[r] if j >= 0 and int(j) in ec.errors]
            reason = f"candidate: {bad[0]}" if bad else None
        if reason:
            good[r] = False
            row_errors.append(RowError(q.row, reason))
    row_errors.sort(key=lambda e: e.row)
    n = int(good.sum())
    if total and len(row_errors) / total > max_error_rate:
        counts = Counter(e.reason for e in row_errors)
        raise TaskFailed(f"task {task.meta.name}: {len(row_errors)} of {total} rows unusable "
                         f"(over {100 * max_error_rate:g}%): {dict(counts.most_common(5))}", row_errors)
    if n == 0:
        raise TaskFailed(f"task {task.meta.name}: no usable rows", row_errors)
    gq, gc = q_idx[good], c_idx[good]
    shared = scoring == "pool" or (scoring == "auto" and n > 1 and _shared_pool(gc))
    extra: dict[str, float] = {}
    if shared:
        pool_ids = np.unique(gc[gc >= 0])
        pos = np.searchsorted(pool_ids, gc[:, 0])
        got = {rule: pool_ranks(eq.vectors[gq], ec.vectors[pool_ids], pos, rule) for rule in TIES}
        ranks_by, tied = {rule: g[0] for rule, g in got.items()}, got[ties][1]
        scores = None
    else:
        scores = _local_scores(eq.vectors, ec.vectors, gq, gc)
        ranks_by = {rule: gt_rank(scores, rule, same_as_gt[good]) for rule in TIES}
        tied = top_tied(scores)
        types = [q.neg_types for q, g in zip(queries, good) if g]
        if all(types):
            extra = {f"accuracy_{t}": v for t, v in per_type_accuracy(scores, types, ties=ties).items()}
    ranks = ranks_by[ties]
    result_scores = ranking_metrics(ranks)
    for rule, rr in ranks_by.items():  # the main score under each rule, over the rows scored here
        extra[f"{m_main}_{rule}"] = ranking_metrics(rr)[m_main]
    hits = int((ranks == 1).sum())
    lo, hi = bootstrap_interval(hits, n)
    result_scores.update({"ci95_low": lo, "ci95_high": hi, **extra})
    meta, m = embedder.meta(), task.meta
    stats = {f"{role}_{k}": (round(v, 4) if isinstance(v, float) else v)
             for role, e in (("query", eq), ("candidate", ec)) for k, v in e.stats.items()}
    res = TaskResult(
        task=m.name, suite=m.suite, model=meta.name, model_revision=meta.revision, model_kind=meta.kind,
        main_score=result_scores[m.main_score], main_metric=m.main_score, scores=result_scores, n=n,
        tie_rate=float(np.mean(tied)), seconds=round(time.perf_counter() - t0, 3),
        variant=meta.variant, dtype=meta.dtype, resolution=meta.resolution, device=meta.device,
        dataset=m.dataset, dataset_revision=m.revision, fingerprint=m.fingerprint, split=m.split,
        errors=dict(Counter(e.reason for e in row_errors)), ci95=[lo, hi], meta_task=m.meta_task,
        ind_ood=m.ind_ood, settings=settings_of(embedder), scoring="pool" if shared else "local",
        timings=stats, rows=total, ties=ties,
    )
    res.error_rows = row_errors
    res.predictions = _predictions([q for q, g in zip(queries, good) if g], ranks, scores, eq.vectors[gq],
                                   ec.vectors, gc)
    return res


def _predictions(queries, ranks, scores, qv, cv, c_idx) -> list[dict]:
    """Per scored row: candidate indices (in the row's own list) best first, their scores
    and the GT's rank. Exact ties keep the listed order (the GT first), as the reference's
    ``np.argsort`` does. With a shared pool (``scores`` None) only the top MAX_K are listed."""
    from scar.eval.metrics import MAX_K

    out = []
    for r, q in enumerate(queries):
        k = len(q.candidates)
        row = scores[r, :k] if scores is not None else cv[c_idx[r, :k]] @ qv[r]
        order = np.argsort(-row, kind="stable")
        if scores is None:
            order = order[:MAX_K]
        out.append({"row": int(q.row), "ranked": [int(i) for i in order],
                    "scores": [round(float(row[i]), 7) for i in order], "gt_rank": int(ranks[r])})
    return out


def _shared_pool(c_idx: np.ndarray) -> bool:
    """True when every query has the same candidate set (in any order)."""
    first = np.sort(c_idx[0])
    return c_idx.shape[1] > 1 and bool((np.sort(c_idx, axis=1) == first).all())


def _open_cache(embedder: Embedder, cache):
    if cache is True:
        if not embedder.cacheable or embedder.revision in (None, "", "unversioned"):
            return None
        from scar.eval.embedders.cache import EmbeddingCache

        return EmbeddingCache(embedder)
    return None if cache is False or cache is None else cache


def inputs_of(task: Task) -> dict:
    """What the task's rows point at beyond the data file: the image root and the content
    of every image they use (``images_fingerprint``). Part of what a stored result must
    match to be reused."""
    paths = [s.image_path for q in task.queries() for s in (q.query, *q.candidates) if s.image_path]
    return images_fingerprint(getattr(task, "image_root", None), paths)


def settings_of(embedder: Embedder) -> dict:
    """What a stored result must match to be reused."""
    m = embedder.meta()
    return {"model": m.name, "revision": m.revision, "variant": m.variant, "dtype": m.dtype,
            "resolution": m.resolution, "params": json.loads(json.dumps(embedder.params(), default=str)),
            "scoring_version": SCORING_VERSION}


@dataclass
class Outcome:
    task: str
    status: str  # "done" | "skipped" | "failed"
    result: TaskResult | None = None
    path: Path | None = None
    error: str | None = None


def run_eval(embedder: Embedder, tasks: Sequence[Task], out: str | Path, *, overwrite: bool = False,
             progress: bool = True, batch_size: int | None = None, cache: bool = True, workers: int = 2,
             on_outcome: Callable[[Outcome], None] | None = None, ties: str = DEFAULT_TIES) -> list[Outcome]:
    """Score ``embedder`` on each task; one JSON per task under ``out``. A task whose
    stored result has the same data fingerprint, the same images (root and content,
    ``inputs_of``) and the same settings is skipped (resume),
    scored under the same tie rule."""
    check_ties(ties)
    store = _open_cache(embedder, cache)
    outcomes = []
    for task in tasks:
        path = TaskResult.path_for(out, embedder.run_name, embedder.revision, task.meta.name)
        oc = None
        inputs = None
        if path.is_file() and not overwrite:
            try:
                old = TaskResult.from_json(json.loads(path.read_text(encoding="utf-8")))
            except (ValueError, TypeError) as e:
                log.warning("%s: unreadable stored result, recomputing: %s", path, e)
            else:
                inputs = inputs_of(task)
                if old.fingerprint == task.meta.fingerprint and old.settings == settings_of(embedder) \
                        and old.inputs == inputs and old.ties == ties:
                    oc = Outcome(task.meta.name, "skipped", old, path)
                else:
                    log.info("%s: stored result was made from other data, images or settings; recomputing", path)
        if oc is None:
            try:
                res = evaluate(embedder, task, progress=progress, batch_size=batch_size,
                               cache=store if store is not None else False,
                               workers=workers, ties=ties)
                res.inputs = inputs if inputs is not None else inputs_of(task)
                saved = res.save(out, run=embedder.run_name) if dist.is_main() else path  # rank 0 writes
                oc = Outcome(task.meta.name, "done", res, saved)
            except TaskFailed as e:
                errs = path.with_name(f"{path.stem}.errors.jsonl")
                errs.parent.mkdir(parents=True, exist_ok=True)
                if dist.is_main():
                    errs.write_text("".join(json.dumps(r.to_json()) + "\n" for r in e.errors), encoding="utf-8")
                oc = Outcome(task.meta.name, "failed", None, errs, f"{e} (rows: {errs})")
        outcomes.append(oc)
        if on_outcome:
            on_outcome(oc)
    return outcomes
