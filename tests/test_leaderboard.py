from scar.leaderboard import build_table, render_markdown
from scar.results import TaskResult, load_results


def _res(task, model="m", p=0.5, kind="model"):
    return TaskResult(task=task, suite="scar", model=model, model_revision="r1", model_kind=kind,
                      main_score="precision_at_1", scores={"precision_at_1": p, "ci95_low": p - .1, "ci95_high": p + .1},
                      n=100, tie_rate=0.0, seconds=1.0, data={"dataset": "f", "revision": "x", "split": "test"})


def test_overall_only_with_all_five_sources(tmp_path):
    tasks = ["SCaR_RefCOCO_plus", "SCaR_RefCOCOg", "SCaR_VisualGenome", "SCaR_COCO_Stuff", "SCaR_ADE20K"]
    full = [_res(t, "a", p=0.1 * (i + 1)) for i, t in enumerate(tasks)]
    partial = [_res(t, "b") for t in tasks[:3]]
    t = build_table(full + partial)
    assert t.columns == ["Model", "Kind", "Revision", "RefCOCO+", "RefCOCOg", "VisualGenome", "COCO-Stuff",
                         "ADE20K", "Overall"]
    rows = {r["Model"]: r for r in t.rows}
    assert rows["a"]["Overall"] == "30.0" and rows["a"]["ADE20K"] == "50.0"
    assert rows["b"]["Overall"] == "–" and rows["b"]["ADE20K"] == "–"
    for r in full:
        r.save(tmp_path)
    assert len(load_results(tmp_path)) == 5
    md = render_markdown(t)
    assert "| a | model | r1 | 10.0 | 20.0 | 30.0 | 40.0 | 50.0 | 30.0 |" in md


def test_models_before_sanity_rows():
    t = build_table([_res("SCaR_Sample", "random", 0.1, "sanity"), _res("SCaR_Sample", "zz", 0.3)])
    assert [r["Model"] for r in t.rows] == ["zz", "random"] and "Sample" in t.columns
