"""Results and leaderboard tables as pandas DataFrames (as mteb gives its results).

``to_frame(results)`` turns scored results into one row per (run, task) with every
score as a column; ``to_frame(results, wide=True)`` pivots the main score into one row per
run and one column per task; ``to_frame(table)`` gives a leaderboard ``Table``'s rows
(scores ×100), which is also how the CSV export is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from scar.eval.results import TaskResult
    from scar.leaderboard.table import Table

#: the columns that identify a run and a task, first in every long frame
ID_COLUMNS = ["model", "variant", "model_revision", "model_kind", "suite", "task"]


def _result_row(r: TaskResult) -> dict[str, Any]:
    row: dict[str, Any] = {"model": r.model, "variant": r.variant or "", "model_revision": r.model_revision,
                           "model_kind": r.model_kind, "suite": r.suite, "task": r.task,
                           "main_metric": r.main_metric, "main_score": r.main, "n": r.n, "n_errors": r.n_errors,
                           "tie_rate": r.tie_rate, "dataset": r.dataset, "dataset_revision": r.dataset_revision,
                           "seconds": r.seconds, "toolkit_version": r.toolkit_version}
    for k, v in sorted(r.scores.items()):
        row.setdefault(k, v)
    return row


def to_frame(results: Iterable[TaskResult] | Table, *, wide: bool = False) -> pd.DataFrame:
    """A DataFrame of ``results`` (TaskResults, e.g. from ``scar.load_results``) or of a
    leaderboard ``Table`` (from ``build_table``).

    Results, long (default): one row per result, the identifying columns first, then
    ``main_metric``, ``main_score`` (a fraction), ``n``, ``tie_rate``... and every score.
    Results, ``wide=True``: the main score, one row per (model, variant, model_revision),
    one column per task. A Table: its rows, ``model``, ``variant``, ``kind``, one column per
    table column (scores ×100, NaN where there is none), ``revision``, ``matches``, ``source``.
    """
    import pandas as pd

    if hasattr(results, "rows") and hasattr(results, "columns"):  # a Table (its module renders CSV with this)
        if wide:
            raise ValueError("wide=True applies to results, not to a Table (already one row per model)")
        table = results
        strict = [c for c in table.columns if any(c in getattr(r, "strict", {}) for r in table.rows)]
        records = [{"model": r.model, "variant": r.variant, "kind": r.kind,
                    **{c: (float("nan") if r.values.get(c) is None else float(r.values[c])) for c in table.columns},
                    **{f"{c} (strict)": float(r.strict.get(c, float("nan"))) for c in strict},
                    "revision": r.revision or "", "matches": r.matches or "", "source": r.source}
                   for r in table.rows]
        return pd.DataFrame.from_records(
            records, columns=["model", "variant", "kind", *table.columns, *(f"{c} (strict)" for c in strict),
                              "revision", "matches", "source"])
    rows = [_result_row(r) for r in results]
    frame = pd.DataFrame.from_records(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=[*ID_COLUMNS, "main_metric", "main_score"])
    if wide:
        return frame.pivot_table(index=["model", "variant", "model_revision"], columns="task",
                                 values="main_score", aggfunc="first").rename_axis(columns=None)
    return frame.sort_values(ID_COLUMNS, kind="stable").reset_index(drop=True)
