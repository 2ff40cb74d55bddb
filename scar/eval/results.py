"""TaskResult: what one embedder scored on one task, with what produced it.

Saved as ``RESULTS/<run>/<revision>/<task>.json`` where ``<run>`` is the embedder name
plus its variant, ``/`` written as ``__`` (``openai__clip-vit-large-patch14__red-circle``).
Rows left out are listed next to it in ``<task>.errors.jsonl`` (row, reason).
"""

from __future__ import annotations

import functools
import json
import platform
import re
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from scar import __version__
from scar.errors import ScarUserError

#: Bumped when scoring changes, so stored results are not reused across it.
SCORING_VERSION = "2"


def _versions() -> dict[str, str]:
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> dict[str, str]:
    """Looked up once a process: each ``metadata.version`` scans the installed distributions
    (about 4 ms for the four below), and every TaskResult records them."""
    import numpy
    import pyarrow

    out = {"scar": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
           "pyarrow": pyarrow.__version__}
    for dist in ("torch", "transformers", "sentence-transformers", "faiss-cpu"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


@dataclass
class TaskResult:
    task: str
    suite: str
    model: str
    model_revision: str
    model_kind: str  # "model" | "sanity" | "blind"
    #: the main score as a fraction in [0, 1] (a metric *name* is accepted for
    #: backward compatibility and resolved from ``scores``)
    main_score: float | str
    scores: dict[str, float]
    n: int  # usable rows scored
    tie_rate: float
    seconds: float = 0.0
    data: dict[str, Any] | None = None  # legacy: {"dataset", "revision", "split"}
    variant: str | None = None
    dtype: str | None = None
    resolution: str | None = None
    n_errors: int | None = None  # derived from ``errors``
    meta_task: str | None = None
    ind_ood: str | None = None
    versions: dict[str, str] = field(default_factory=_versions)
    toolkit_version: str = __version__
    main_metric: str = "precision_at_1"
    dataset: str | None = None
    dataset_revision: str | None = None
    fingerprint: str | None = None  # sha256 of the data file(s)
    split: str = "test"
    errors: dict[str, int] = field(default_factory=dict)  # reason -> rows left out
    ci95: list[float] | None = None
    device: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    scoring: str = "local"  # "local" (per-query candidates) | "pool" (shared pool, top-k search)
    timings: dict[str, Any] = field(default_factory=dict)
    rows: int | None = None  # rows in the data file (n + errors)
    #: the images the rows used (root, count, sha256 of their paths, sizes and contents):
    #: a stored result is reused only when they are unchanged
    inputs: dict[str, Any] | None = None
    #: the tie rule the ranks were computed under (scar.eval.metrics): "strict" | "official"
    ties: str = "strict"
    error_rows: list = field(default_factory=list, repr=False, compare=False)
    #: one dict per scored row (row, ranked, scores, gt_rank), written to <task>.predictions.jsonl
    predictions: list = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.main_score, str):
            if self.main_score not in self.scores:
                raise ValueError(f"main score {self.main_score!r} is not among the scores {sorted(self.scores)}")
            self.main_metric, self.main_score = self.main_score, self.scores[self.main_score]
        self.main_score = float(self.main_score)
        if self.data:
            self.dataset = self.dataset or self.data.get("dataset")
            self.dataset_revision = self.dataset_revision or self.data.get("revision")
            self.split = self.data.get("split", self.split)
        self.data = {"dataset": self.dataset, "revision": self.dataset_revision or self.fingerprint, "split": self.split}
        if self.n_errors is None:
            self.n_errors = int(sum(self.errors.values()))
        elif self.n_errors and not self.errors:
            self.errors = {"unspecified": int(self.n_errors)}
        if self.ci95 is None and "ci95_low" in self.scores:
            self.ci95 = [self.scores["ci95_low"], self.scores["ci95_high"]]
        elif self.ci95 is not None:
            self.scores.setdefault("ci95_low", self.ci95[0])
            self.scores.setdefault("ci95_high", self.ci95[1])
        if self.rows is None:
            self.rows = self.n + self.n_errors

    @property
    def main(self) -> float:
        return float(self.main_score)

    @property
    def run(self) -> str:
        return run_name(self.model, self.variant)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("data")
        d.pop("error_rows")
        d.pop("predictions")
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskResult:
        known = set(cls.__dataclass_fields__) - {"error_rows", "predictions"}
        missing = [f for f in ("task", "model", "scores", "main_score") if f not in data]
        if missing:
            raise ScarUserError(f"result JSON lacks field(s) {missing}")
        return cls(**{k: v for k, v in data.items() if k in known})

    @staticmethod
    def path_for(root: str | Path, run: str, revision: str | None, task: str) -> Path:
        return Path(root) / safe_name(run) / safe_name(str(revision)) / f"{safe_name(task)}.json"

    def path_in(self, root: str | Path) -> Path:
        return self.path_for(root, self.run, self.model_revision, self.task)

    def save(self, root: str | Path, run: str | None = None) -> Path:
        """Write the JSON (and the rows left out, if any, and the per-query predictions)
        under ``root``: ``<task>.json``, ``<task>.errors.jsonl``, ``<task>.predictions.jsonl``
        (one line per scored row: ``row`` in the data file, ``ranked`` candidate indices best
        first, ``scores`` in the same order, ``gt_rank`` under the result's tie rule), as the
        reference harnesses write ``<task>_pred.jsonl``, so two runs or two harnesses can be
        compared query by query."""
        path = self.path_for(root, run, self.model_revision, self.task) if run else self.path_in(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        errs = path.with_name(f"{path.stem}.errors.jsonl")
        if self.error_rows:
            errs.write_text("".join(json.dumps(e.to_json() if hasattr(e, "to_json") else e) + "\n"
                                    for e in self.error_rows), encoding="utf-8")
        elif errs.exists():
            errs.unlink()
        preds = path.with_name(f"{path.stem}.predictions.jsonl")
        if self.predictions:
            preds.write_text("".join(json.dumps(p) + "\n" for p in self.predictions), encoding="utf-8")
        elif preds.exists():
            preds.unlink()
        return path


def run_label(model: str, variant: str | None) -> str:
    """The name a run is shown and submitted under: the model, then ``__<variant>``."""
    return model + (f"__{variant}" if variant else "")


def safe_name(s: str) -> str:
    """One path part: ``/`` written as ``__``, any character but letters, digits and
    ``._@+-`` as ``_``. Idempotent."""
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", str(s).replace("/", "__"))


def run_name(model: str, variant: str | None) -> str:
    """A run's results folder: ``safe_name(run_label(model, variant))``, e.g.
    ``openai__clip-vit-large-patch14__red-circle``. The one place it is computed."""
    return safe_name(run_label(model, variant))


def load_results(root: str | Path) -> list[TaskResult]:
    """Every result JSON under ``root`` (a folder) or ``root`` itself (a file)."""
    root = Path(root)
    files = [root] if root.is_file() else sorted(root.rglob("*.json"))
    out = []
    for f in files:
        try:
            out.append(TaskResult.from_json(json.loads(f.read_text(encoding="utf-8"))))
        except (json.JSONDecodeError, ValueError, TypeError) as e:
            raise ScarUserError(f"{f}: not a scar result: {e}") from e
    return out
