"""Tasks: a dataset to score with its pinned metadata (SCaR files, MMEB tasks, suites)."""

from scar.eval.tasks.base import InputSpec, Query, RowError, Task, TaskMeta
from scar.eval.tasks.mmeb import MmebTask
from scar.eval.tasks.scar_task import ScarTask, scar_tasks
from scar.eval.tasks.suites import Suite, aggregate, load_suite, resolve_tasks

__all__ = ["InputSpec", "Query", "RowError", "Task", "TaskMeta", "ScarTask", "scar_tasks", "MmebTask",
           "Suite", "aggregate", "load_suite", "resolve_tasks"]
