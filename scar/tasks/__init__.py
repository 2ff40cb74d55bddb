"""Tasks: a dataset to score with its pinned metadata."""

from scar.tasks.base import InputSpec, Task, TaskMeta
from scar.tasks.scar_task import ScarTask, scar_tasks

__all__ = ["InputSpec", "Task", "TaskMeta", "ScarTask", "scar_tasks"]
