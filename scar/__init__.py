"""scar: build, score and publish SCaR (Segmentation-and-Scene Caption Retrieval).

The stable Python API is re-exported here and imported lazily (PEP 562), so
``import scar`` stays light: it never imports torch, transformers or pandas. Code that
uses these names keeps working when modules move inside the package.

Build half (``scar/build/``)::

    scar.build_dataset(scar.BuildConfig(source={...}, output={"dir": out}, ...)) -> scar.BuildReport
    scar.validate_folder(out) -> list[problem]
    scar.publish(out, repo_id, ...)

Scoring half (``scar/eval/``)::

    scar.load_embedder("random") -> scar.Embedder      # or subclass scar.Embedder
    scar.load_tasks(["scar"], data) -> list[scar.Task]
    scar.evaluate(embedder, task) -> scar.TaskResult
    scar.run_eval(embedder, tasks, out) -> list[outcome]  (one JSON per task, resumable)
    scar.run_eval_config(scar.EvalConfig(data=..., models=[...], out=...)) -> list[outcome]  (= scar eval)
    scar.load_results(folder) -> list[scar.TaskResult]

Leaderboard (``scar/leaderboard/``)::

    scar.leaderboard.build_table(results, "scar") -> Table
    scar.leaderboard.to_frame(results) -> pandas.DataFrame

The subpackages ``scar.build``, ``scar.eval`` and ``scar.leaderboard`` are modules, so
the build function is ``scar.build_dataset`` (a function named ``scar.build`` would be
hidden by the subpackage as soon as anything imports ``scar.build.<module>``). Names not
listed in ``__all__`` are internal and may move between releases (CHANGELOG.md).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: public name -> "module:attribute", imported on first access
_EXPORTS: dict[str, str] = {
    # build half
    "build_dataset": "scar.build.pipeline:build",
    "BuildConfig": "scar.build.config:BuildConfig",
    "BuildReport": "scar.build.pipeline:BuildReport",
    "validate_folder": "scar.build.validate:validate_folder",
    "publish": "scar.build.publish:publish",
    # scoring half
    "Embedder": "scar.eval.embedders.base:Embedder",
    "EmbedInput": "scar.eval.embedders.base:EmbedInput",
    "EmbedderMeta": "scar.eval.embedders.base:EmbedderMeta",
    "load_embedder": "scar.eval.embedders:load_embedder",
    "Task": "scar.eval.tasks.base:Task",
    "load_tasks": "scar.eval.tasks.suites:resolve_tasks",
    "evaluate": "scar.eval.harness:evaluate",
    "run_eval": "scar.eval.harness:run_eval",
    "EvalConfig": "scar.eval.config:EvalConfig",
    "run_eval_config": "scar.eval.config:run",
    "TaskResult": "scar.eval.results:TaskResult",
    "load_results": "scar.eval.results:load_results",
    "audit_folder": "scar.eval.audit:audit_folder",
    # shared records
    "Sample": "scar.types:Sample",
}
_SUBPACKAGES = ("build", "eval", "leaderboard", "data")

__all__ = ["__version__", *_EXPORTS, *_SUBPACKAGES]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is not None:
        module, _, attr = target.partition(":")
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # the next access skips this function
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what type checkers and IDEs see; nothing is imported at run time
    from scar import build, data, eval, leaderboard  # noqa: F401
    from scar.build.config import BuildConfig  # noqa: F401
    from scar.build.pipeline import BuildReport  # noqa: F401
    from scar.build.pipeline import build as build_dataset  # noqa: F401
    from scar.build.publish import publish  # noqa: F401
    from scar.build.validate import validate_folder  # noqa: F401
    from scar.eval.audit import audit_folder  # noqa: F401
    from scar.eval.embedders import load_embedder  # noqa: F401
    from scar.eval.embedders.base import Embedder, EmbedderMeta, EmbedInput  # noqa: F401
    from scar.eval.harness import evaluate, run_eval  # noqa: F401
    from scar.eval.results import TaskResult, load_results  # noqa: F401
    from scar.eval.tasks.base import Task  # noqa: F401
    from scar.eval.tasks.suites import resolve_tasks as load_tasks  # noqa: F401
    from scar.types import Sample  # noqa: F401
