"""Leaderboards from scored results: tables (``build_table``, pure), DataFrames
(``to_frame``), the static page and the exports to the community boards' formats.

The names below are imported on first use, so ``import scar.leaderboard`` stays light::

    from scar import leaderboard, load_results
    results = load_results("leaderboard/results")
    table = leaderboard.build_table(results, "scar")       # paper rows from package data
    text = leaderboard.render_markdown(table)              # Markdown; the CLI prints it
    leaderboard.to_frame(results).to_csv("scores.csv")      # one row per (run, task)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Table": "scar.leaderboard.table:Table",
    "Row": "scar.leaderboard.table:Row",
    "build_table": "scar.leaderboard.table:build_table",
    "render_markdown": "scar.leaderboard.table:render_markdown",
    "render_csv": "scar.leaderboard.table:render_csv",
    "table_json": "scar.leaderboard.table:table_json",
    "to_frame": "scar.leaderboard.frame:to_frame",
    "render_html": "scar.leaderboard.page:render_html",
    "write_mmeb_json": "scar.leaderboard.export:write_mmeb_json",
    "write_mteb": "scar.leaderboard.export:write_mteb",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from scar.leaderboard.export import write_mmeb_json, write_mteb  # noqa: F401
    from scar.leaderboard.frame import to_frame  # noqa: F401
    from scar.leaderboard.page import render_html  # noqa: F401
    from scar.leaderboard.table import Row, Table, build_table, render_csv, render_markdown, table_json  # noqa: F401
