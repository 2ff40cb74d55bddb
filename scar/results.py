"""TaskResult: what one embedder scored on one task, with what produced it.

Saved as ``RESULTS/{model}/{revision}/{task}.json``.
"""

from __future__ import annotations

import json
import platform
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scar import __version__


def _versions() -> dict[str, str]:
    import numpy
    import pyarrow

    return {"scar": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "pyarrow": pyarrow.__version__}


@dataclass
class TaskResult:
    task: str
    suite: str
    model: str
    model_revision: str
    model_kind: str
    main_score: str
    scores: dict[str, float]
    n: int
    tie_rate: float
    seconds: float
    data: dict[str, Any]
    variant: str | None = None
    dtype: str | None = None
    resolution: str | None = None
    n_errors: int = 0
    meta_task: str | None = None
    ind_ood: str | None = None
    versions: dict[str, str] = field(default_factory=_versions)
    toolkit_version: str = __version__

    @property
    def main(self) -> float:
        return self.scores[self.main_score]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskResult:
        known = {f for f in cls.__dataclass_fields__}
        missing = [f for f in ("task", "model", "scores", "main_score") if f not in data]
        if missing:
            raise ValueError(f"result JSON lacks field(s) {missing}")
        return cls(**{k: v for k, v in data.items() if k in known})

    def path_in(self, root: str | Path) -> Path:
        model = _safe(self.model + (f"@{self.variant}" if self.variant else ""))
        return Path(root) / model / _safe(self.model_revision) / f"{_safe(self.task)}.json"

    def save(self, root: str | Path) -> Path:
        path = self.path_in(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", s)


def load_results(root: str | Path) -> list[TaskResult]:
    """Every result JSON under ``root`` (a folder) or ``root`` itself (a file)."""
    root = Path(root)
    files = [root] if root.is_file() else sorted(root.rglob("*.json"))
    out = []
    for f in files:
        try:
            out.append(TaskResult.from_json(json.loads(f.read_text(encoding="utf-8"))))
        except (json.JSONDecodeError, ValueError, TypeError) as e:
            raise ValueError(f"{f}: not a scar result: {e}") from e
    return out
