"""The evaluation harness: embed each distinct input once, score, record provenance."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from scar.embedders.base import EmbedInput, Embedder
from scar.metrics import correct_and_ties, per_type_accuracy, wilson_interval
from scar.results import TaskResult
from scar.tasks.base import InputSpec, Task

log = logging.getLogger(__name__)


def to_input(spec: InputSpec, load_image: bool) -> EmbedInput:
    image = None
    if load_image and spec.image_path:
        from PIL import Image

        with Image.open(spec.image_path) as im:
            image = im.convert("RGB")
        image.filename = spec.image_path
    return EmbedInput(spec.text, image, spec.bbox)


def embed_unique(embedder: Embedder, specs: Sequence[InputSpec], role: str, *, progress: bool = True,
                 batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised embeddings of ``specs`` (each distinct spec encoded once) and a
    mask of the valid rows (False where the vector was zero or non-finite, or the
    input could not be loaded)."""
    uniq = list(dict.fromkeys(specs))
    index = {s: i for i, s in enumerate(uniq)}
    bs = batch_size or embedder.batch_size
    load_image = "image" in embedder.modalities
    vecs: list[np.ndarray | None] = [None] * len(uniq)
    bar = tqdm(total=len(uniq), desc=f"{embedder.name} {'queries' if role == 'query' else 'candidates'}", unit="in", disable=not progress, leave=False)
    for start in range(0, len(uniq), bs):
        batch = uniq[start:start + bs]
        inputs, ok = [], []
        for s in batch:
            try:
                inputs.append(to_input(s, load_image))
                ok.append(True)
            except OSError as e:
                log.warning("%s: cannot load %s: %s", role, s.image_path, e)
                ok.append(False)
        good = inputs
        out = np.asarray(embedder.encode(good, role=role), dtype=np.float32) if good else None
        if out is not None and (out.ndim != 2 or out.shape[0] != len(good)):
            raise ValueError(f"{embedder.name}.encode returned shape {out.shape} for {len(good)} {role} inputs")
        j = 0
        for i, k in enumerate(ok):
            if k:
                vecs[start + i] = out[j]
                j += 1
        bar.update(len(batch))
    bar.close()
    dim = next((v.shape[0] for v in vecs if v is not None), 1)
    mat = np.stack([v if v is not None else np.full(dim, np.nan, np.float32) for v in vecs])
    norms = np.linalg.norm(mat, axis=1)
    valid = np.isfinite(mat).all(axis=1) & np.isfinite(norms) & (norms > 0)
    bad = [uniq[i] for i in np.flatnonzero(~valid)[:3]]
    if bad:
        log.warning("%s: %d %s input(s) gave a zero, non-finite or missing vector, e.g. %s",
                    embedder.name, int((~valid).sum()), role, bad)
    mat = np.where(valid[:, None], mat / np.where(norms > 0, norms, 1)[:, None], 0).astype(np.float32)
    rows = np.array([index[s] for s in specs], dtype=np.int64)
    return mat[rows], valid[rows]


def evaluate(embedder: Embedder, task: Task, *, progress: bool = True, batch_size: int | None = None) -> TaskResult:
    t0 = time.perf_counter()
    embedder.bind_task(task)
    queries = task.queries()
    if not queries:
        raise ValueError(f"task {task.meta.name} has no queries")
    k = len(queries[0].candidates)
    if any(len(q.candidates) != k for q in queries):
        raise ValueError(f"task {task.meta.name}: queries have different numbers of candidates")
    qv, qok = embed_unique(embedder, [q.query for q in queries], "query", progress=progress, batch_size=batch_size)
    flat = [c for q in queries for c in q.candidates]
    cv, cok = embed_unique(embedder, flat, "candidate", progress=progress, batch_size=batch_size)
    cv = cv.reshape(len(queries), k, -1)
    cok = cok.reshape(len(queries), k)
    scores = np.einsum("nd,nkd->nk", qv, cv)
    correct, tied = correct_and_ties(scores)
    errors = ~qok | ~cok.all(axis=1)
    correct &= ~errors
    n, hits = len(queries), int(correct.sum())
    lo, hi = wilson_interval(hits, n)
    result_scores = {"precision_at_1": hits / n, "ci95_low": lo, "ci95_high": hi}
    if all(q.neg_types for q in queries):
        masked = np.where(errors[:, None], -np.inf, scores)
        masked[:, 0] = np.where(errors, -np.inf, scores[:, 0])
        for t, acc in per_type_accuracy(masked, [q.neg_types for q in queries]).items():
            result_scores[f"accuracy_{t}"] = acc
    meta = embedder.meta()
    m = task.meta
    return TaskResult(
        task=m.name, suite=m.suite, model=meta.name, model_revision=meta.revision, model_kind=meta.kind,
        main_score=m.main_score, scores=result_scores, n=n, tie_rate=float(tied.mean()),
        seconds=round(time.perf_counter() - t0, 3),
        data={"dataset": m.dataset, "revision": m.revision, "split": m.split},
        variant=meta.variant, dtype=meta.dtype, resolution=meta.resolution, n_errors=int(errors.sum()),
        meta_task=m.meta_task, ind_ood=m.ind_ood,
    )
