"""Leaderboard tables that explain themselves: one table ranked under the paper's tie rule,
baselines below it, the oracle nowhere, and readings computed from the numbers."""

import subprocess
import sys
from pathlib import Path

import pytest

from scar.cli import main
from scar.eval.results import TaskResult
from scar.leaderboard.table import build_table, default_reference_dir, render_markdown, table_json

REF = default_reference_dir()

TASKS = ["SCaR_RefCOCO_plus", "SCaR_RefCOCOg", "SCaR_VisualGenome", "SCaR_COCO_Stuff", "SCaR_ADE20K"]


def res(task, model="m", hits=50, n=100, kind="model", ties=0.0, official=None, variant=None, rev="r1"):
    p = hits / n
    scores = {"precision_at_1": p, "ci95_low": max(0.0, p - .1), "ci95_high": min(1.0, p + .1)}
    if official is not None:
        scores["precision_at_1_official"] = official
    return TaskResult(task=task, suite="scar", model=model, model_revision=rev, model_kind=kind,
                      main_score="precision_at_1", scores=scores, n=n, tie_rate=ties, variant=variant,
                      data={"dataset": "f", "revision": "x", "split": "test"})


def test_measured_rows_rank_among_paper_rows_baselines_below_oracle_nowhere():
    mine = [res(t, "mine", hits=40, official=0.45) for t in TASKS]  # strict 40, paper rule 45
    zero = [res(t, "zero", hits=0) for t in TASKS]
    base = [res("SCaR_Sample", m, hits=h, n=25, kind=k, ties=tr)
            for m, h, k, tr in (("random", 3, "sanity", 0.0), ("constant", 0, "sanity", 1.0),
                                ("oracle", 25, "sanity", 0.0), ("blind-medoid", 25, "blind", 0.0))]
    t = build_table(mine + zero + base, "scar", reference=REF)
    labels = [r.label for r in t.rows]
    assert "oracle" not in labels and "oracle" not in render_markdown(t) and "oracle" not in str(table_json(t))
    # ranked under the paper's rule: 45.0 sits right below VLM2Vec-2B (+SCaR-train) (46.7); the 0.0 row is the
    # last ranked row, never the first
    ranked = [r.label for r in t.ranked]
    assert ranked.index("mine") == ranked.index("VLM2Vec-2B (+SCaR-train)") + 1
    assert ranked[-1] == "zero" and ranked[0] == "VIRTUE-7B (+SCaR-train)"
    assert labels[len(ranked):] == ["blind-medoid", "constant", "random"]  # blind rows, then the chance lines
    row = next(r for r in t.rows if r.model == "mine")
    assert row.values["Overall"] == pytest.approx(45.0) and row.strict["Overall"] == pytest.approx(40.0)
    md = render_markdown(t)
    assert "| ◆ mine | measured | 45.0 · strict 40.0 |" in md
    assert "| random | chance line |" in md and "| constant | chance line |" in md
    # nothing that does not beat chance is bold: the 0.0 row, the chance lines, the blind row
    for line in md.splitlines():
        if line.startswith(("| ◆ zero", "| random", "| constant", "| blind-medoid")):
            assert "**" not in line, line
    assert "Sample" not in t.best  # no ranked row has a Sample value


def test_empty_columns_and_notes_about_absent_rows_are_left_out():
    t = build_table([res("SCaR_Sample", "random", hits=3, n=25, kind="sanity")], "scar", reported=False)
    assert t.columns == ["Sample"]  # no empty official or Overall columns
    md = render_markdown(t)
    assert "'reported'" not in md and "'published'" not in md and "'blind'" not in md and "Bold" not in md
    assert "'random' and 'constant' are chance lines" in md


def test_readings_blind_solvable_giveaway_and_ties():
    rows = [res("SCaR_Paper", "blind-medoid", hits=25, n=25, kind="blind"),
            res("SCaR_Reverse", "blind-medoid", hits=0, n=200, kind="blind"),
            res("SCaR_Tied", "blind-lexical-overlap", hits=0, n=200, kind="blind", ties=1.0),
            res("SCaR_Fair", "blind-medoid", hits=21, n=200, kind="blind"),
            res("SCaR_Paper", "random", hits=3, n=25, kind="sanity"),
            res("SCaR_Paper", "constant", hits=0, n=25, kind="sanity", ties=1.0, official=1.0),
            res("SCaR_Tied", "blind-lexical-overlap-official", hits=0, n=200, kind="blind", ties=1.0, official=1.0)]
    t = build_table(rows, "scar", reported=False)
    text = "\n".join(t.readings)
    assert "Chance is 10.0 in every column" in text
    assert "Paper is solvable without the image: blind-medoid 100.0 (25 of 25 rows, 95% CI 86.3–100.0)" in text
    assert "Scores on Paper do not measure grounding" in text
    assert "Reverse: blind-medoid 0.0 (0 of 200 rows" in text and "far below chance" in text
    assert "Tied: blind-lexical-overlap ties at the top on 100% of the rows" in text
    assert "Fair: no blind baseline beats chance" in text
    assert "Paper: random scores 12.0 (3 of 25 rows" in text and "consistent with chance" in text
    assert "Paper: constant ties everywhere and scores 0.0" in text
    assert "under the paper's tie rule it would score 100.0" in text  # baselines are read under the strict rule
    assert "Tied is solvable" not in text  # a baseline that ties everything never 'solves' a file
    assert "rebuild Paper with `scar build ... --candidates balanced`" in text
    assert "Next:" in text and "score a model" in text
    assert "## Readings" in render_markdown(t)


def test_a_measured_row_that_does_not_beat_chance_is_said_so():
    t = build_table([res("SCaR_Mine", "mine", hits=2, n=20), res("SCaR_Good", "mine", hits=80, n=100)],
                    "scar", reported=False)
    text = "\n".join(t.readings)
    assert "Mine: ◆" not in text
    assert "Mine: mine 10.0 (2 of 20 rows, 95% CI 1.2–31.7) does not beat chance (10.0)" in text
    assert "Good: mine 80.0 (80 of 100 rows" in text and "beats chance" in text
    assert t.best == {"Good": 80.0}  # the 10.0 column is not highlighted


@pytest.mark.parametrize("args, message", [
    (["/nonexistent/results"], "no such file or folder"),
    (["{empty}"], "no result JSON"),
])
@pytest.mark.slow  # scar leaderboard in a fresh process
def test_leaderboard_fails_loudly_on_a_missing_or_empty_path(tmp_path, args, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = [a.format(empty=empty) for a in args]
    r = subprocess.run([sys.executable, "-m", "scar.cli", "leaderboard", *argv], capture_output=True, text=True)
    assert r.returncode == 1 and message in r.stderr and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1  # one line, no traceback
    r = subprocess.run([sys.executable, "-m", "scar.cli", "leaderboard", *argv, "--format", "html", "--out",
                        str(tmp_path / "p.html")], capture_output=True, text=True)
    assert r.returncode == 1 and not (tmp_path / "p.html").exists()


def test_leaderboard_finds_results_under_a_build_folder(tmp_path, capsys):
    (tmp_path / "audit.json").write_text("{}")  # what a build folder also holds: not a result
    res("SCaR_Sample", "random", hits=3, n=25, kind="sanity").save(tmp_path / "results")
    rc = main(["leaderboard", str(tmp_path), "--no-reported"])  # in-process: the fresh-process check is the slow one above
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "| random | chance line | 12.0 |" in out
