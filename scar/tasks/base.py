"""Task and TaskMeta: one retrieval task (queries, their candidates, GT at index 0)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InputSpec:
    """A hashable description of one input; the harness embeds each distinct one once."""

    text: str | None
    image_path: str | None = None
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class TaskMeta:
    name: str
    suite: str  # "scar" | "mmeb"
    dataset: str  # file or Hub id
    revision: str  # content hash or Hub revision
    split: str
    main_score: str = "precision_at_1"
    meta_task: str | None = None
    ind_ood: str | None = None


@dataclass(frozen=True)
class Query:
    query: InputSpec
    candidates: tuple[InputSpec, ...]  # GT first
    neg_types: tuple[str, ...] | None = None  # aligned with candidates[1:]


class Task(ABC):
    meta: TaskMeta

    @abstractmethod
    def queries(self) -> list[Query]:
        """All queries of the task, in file order."""

    def answer_key(self) -> list[tuple[Any, str]]:
        """(query input, GT text) pairs, for the ``oracle`` sanity embedder only."""
        from scar.evaluate import to_input

        return [(to_input(q.query, load_image=False), q.candidates[0].text) for q in self.queries()]
