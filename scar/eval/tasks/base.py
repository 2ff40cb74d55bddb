"""Task and TaskMeta: one retrieval task (queries, their candidates, GT at index 0).

A task reads its file once and hands the harness the usable rows (``queries``) and
the rows it had to leave out, each with its reason (``row_errors``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InputSpec:
    """A hashable description of one input; the harness embeds each distinct one once.
    ``image_path`` is already resolved inside the task's image root."""

    text: str | None
    image_path: str | None = None
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class TaskMeta:
    name: str
    suite: str  # "scar" | "mmeb" | a user's suite
    dataset: str  # file name or Hub id
    revision: str | None  # dataset revision: Hub commit when known, else None
    split: str
    main_score: str = "precision_at_1"
    meta_task: str | None = None
    ind_ood: str | None = None
    fingerprint: str | None = None  # sha256 of the data file(s) actually read


@dataclass(frozen=True)
class Query:
    query: InputSpec
    candidates: tuple[InputSpec, ...]  # GT first
    neg_types: tuple[str, ...] | None = None  # aligned with candidates[1:]
    row: int = -1  # row in the data file


@dataclass(frozen=True)
class RowError:
    """A row left out of ``n``: its index in the file, a short reason, details."""

    row: int
    reason: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"row": self.row, "reason": self.reason, "detail": self.detail}


class Task(ABC):
    meta: TaskMeta

    @abstractmethod
    def queries(self) -> list[Query]:
        """The usable queries of the task, in file order."""

    def row_errors(self) -> list[RowError]:
        """Rows that cannot be used (bad path, malformed candidates...), with reasons."""
        return []

    @property
    def n_rows(self) -> int:
        return len(self.queries()) + len(self.row_errors())

    def answer_key(self) -> list[tuple[InputSpec, InputSpec]]:
        """(query, GT candidate) input pairs, for an embedder told the answers (the ``oracle``
        sanity check, ``Embedder.needs_answer_key``)."""
        return [(q.query, q.candidates[0]) for q in self.queries()]
