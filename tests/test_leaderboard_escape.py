"""A result's model name cannot forge a row of the Markdown leaderboard (issue 17, item 10):
``|`` and line breaks in names are escaped, HTML is not passed through."""

import re

from scar.eval.results import TaskResult
from scar.leaderboard.table import build_table, render_markdown

TASKS = ["SCaR_RefCOCO_plus", "SCaR_RefCOCOg", "SCaR_VisualGenome", "SCaR_COCO_Stuff", "SCaR_ADE20K"]
EVIL = "evil | 99.9 | 99.9 | 99.9 | 99.9 | 99.9 | 99.9 | paper |\n| FORGED <script>x</script>"


def _res(task, model, p):
    return TaskResult(task=task, suite="scar", model=model, model_revision="r", model_kind="model",
                      main_score="precision_at_1", scores={"precision_at_1": p, "ci95_low": p - .1, "ci95_high": p + .1},
                      n=100, tie_rate=0.0, seconds=1.0, data={"dataset": "f", "revision": "x", "split": "test"})


def test_a_model_name_cannot_forge_a_markdown_row():
    results = [_res(t, EVIL, 0.3) for t in TASKS] + [_res(t, "honest", 0.4) for t in TASKS]
    md = render_markdown(build_table(results, "scar", reported=False))
    tables = [[line for line in block.splitlines() if line.startswith("|")] for block in md.split("\n\n")]
    tables = [t for t in tables if t]
    assert len(tables) >= 2  # the leaderboard and the per-task table(s)
    cells = lambda line: len(re.split(r"(?<!\\)\|", line))  # noqa: E731 - unescaped pipes only
    for rows in tables:  # every row has its header's cells: nothing added, nothing forged
        assert all(cells(r) == cells(rows[0]) for r in rows if not r.startswith("|---")), md
        assert not any(r.lstrip("| ").startswith("FORGED") for r in rows)
    assert "<script>" not in md and "evil \\| 99.9" in md
