"""The stable top-level API (scar/__init__.py, scar/leaderboard/__init__.py): every name
resolves lazily to the object it documents, `import scar` imports none of the heavy
packages, and results come back as DataFrames."""

import re
import subprocess
import sys

import pandas as pd

import pytest

import scar
from scar import leaderboard


@pytest.mark.slow  # a fresh process (test_cli keeps the fast check)
def test_import_scar_is_light_and_names_resolve_lazily():
    code = ("import sys, scar, scar.leaderboard\n"
            "heavy = [m for m in ('torch', 'transformers', 'pandas', 'scar.build.pipeline', 'scar.eval.harness') "
            "if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "scar.build_dataset, scar.evaluate\n"
            "assert 'scar.build.pipeline' in sys.modules and 'scar.eval.harness' in sys.modules\n"
            "assert 'torch' not in sys.modules\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_every_public_name_is_the_documented_object():
    from scar.build.pipeline import BuildReport, build
    from scar.eval.embedders import load_embedder
    from scar.eval.embedders.base import Embedder
    from scar.eval.harness import evaluate, run_eval
    from scar.eval.results import TaskResult, load_results
    from scar.eval.tasks.suites import resolve_tasks
    from scar.leaderboard.table import build_table

    assert scar.build_dataset is build and scar.BuildReport is BuildReport
    assert scar.evaluate is evaluate and scar.run_eval is run_eval and scar.load_tasks is resolve_tasks
    assert scar.load_embedder is load_embedder and scar.Embedder is Embedder
    assert scar.TaskResult is TaskResult and scar.load_results is load_results
    assert leaderboard.build_table is build_table
    for name in scar.__all__:
        assert getattr(scar, name) is not None, name
        assert name in dir(scar)
    for name in leaderboard.__all__:
        assert callable(getattr(leaderboard, name)), name
    # the subpackages stay modules: a function of the same name would be hidden by them
    assert scar.build.__name__ == "scar.build" and scar.leaderboard is leaderboard
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        scar.nosuch  # noqa: B018
    assert scar.__version__ == "0.2.0"


def test_score_and_tabulate_through_the_top_level_names(tmp_path):
    from eval_fixtures import scar_eval

    scar_eval(tmp_path / "data", "Synth", n=40)
    tasks = scar.load_tasks(None, tmp_path / "data")
    outcomes = scar.run_eval(scar.load_embedder("random"), tasks, tmp_path / "results", progress=False)
    assert [o.status for o in outcomes] == ["done"]
    one = scar.evaluate(scar.load_embedder("oracle"), tasks[0], progress=False, cache=False)
    assert one.main == 1.0 and one.task == "SCaR_Synth"
    results = [*scar.load_results(tmp_path / "results"), one]

    long = leaderboard.to_frame(results)
    assert isinstance(long, pd.DataFrame) and len(long) == 2
    assert list(long.columns[:6]) == ["model", "variant", "model_revision", "model_kind", "suite", "task"]
    by_model = long.set_index("model")
    assert by_model.loc["oracle", "main_score"] == 1.0 and by_model.loc["random", "n"] == 40
    assert "precision_at_1" in long.columns and "tie_rate" in long.columns

    wide = leaderboard.to_frame(results, wide=True)
    assert wide.shape == (2, 1) and wide.loc[("oracle", "", "answers"), "SCaR_Synth"] == 1.0

    table = leaderboard.build_table(results, "scar", reported=False)
    frame = leaderboard.to_frame(table)
    assert list(frame["model"]) == [r.model for r in table.rows]
    assert list(frame.columns) == ["model", "variant", "kind", *table.columns, "revision", "matches", "source"]
    csv = leaderboard.render_csv(table).splitlines()
    assert csv[0] == ",".join(frame.columns)
    rnd = next(line for line in csv[1:] if line.startswith("random,"))
    assert re.search(r",\d+\.\d\d,", rnd)  # scores x100, two decimals; empty cells where there is no score
    assert ",," in rnd
    assert not any(line.startswith("oracle,") for line in csv)  # told the answers: never a leaderboard row
    with pytest.raises(ValueError, match="wide=True"):
        leaderboard.to_frame(table, wide=True)


def test_a_run_folder_is_named_in_one_place(tmp_path):
    """The embedder, the stored result and the exports name a run's folder the same way."""
    import numpy as np

    from scar.eval.results import run_name, safe_name
    from scar.leaderboard.export import write_mmeb_json

    class Odd(scar.Embedder):
        name = "org/model:x"
        variant = "red-circle"
        revision = "rev/1"

        def encode(self, inputs, *, role):
            return np.ones((len(inputs), 2), dtype=np.float32)

    emb = Odd()
    assert emb.run_name == run_name("org/model:x", "red-circle") == "org__model_x__red-circle"
    assert safe_name(emb.run_name) == emb.run_name  # idempotent
    r = scar.TaskResult(task="ImageNet-1K", suite="mmeb", model=emb.name, model_revision=emb.revision,
                        model_kind="model", main_score=0.5, scores={"hit_at_1": 0.5}, n=2, tie_rate=0.0,
                        variant=emb.variant)
    path = r.save(tmp_path / "results")
    assert path == scar.TaskResult.path_for(tmp_path / "results", emb.run_name, emb.revision, r.task)
    assert path.relative_to(tmp_path / "results").parts == ("org__model_x__red-circle", "rev__1", "ImageNet-1K.json")
    [sub] = write_mmeb_json([r], tmp_path / "mmeb")
    assert sub.name == "org__model_x__red-circle.json"
