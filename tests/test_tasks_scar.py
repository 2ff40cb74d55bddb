"""SCaR tasks and suites: --tasks resolution against a folder of eval files, suite YAML checks."""

import pytest

from eval_fixtures import scar_eval
from scar.eval.tasks import load_suite, resolve_tasks


def test_tasks_scar_needs_the_five_released_files(tmp_path):
    for stem in ("RefCOCO_plus", "ADE20K", "Extra"):
        scar_eval(tmp_path, stem, n=5)
    with pytest.raises(FileNotFoundError, match=r"3 task file\(s\) not found.*SCaR_eval_RefCOCOg.parquet"):
        resolve_tasks(["scar"], tmp_path)
    tasks = resolve_tasks(["SCaR_ADE20K,SCaR_RefCOCO_plus", "SCaR_Extra", "SCaR_ADE20K"], tmp_path)
    assert [t.meta.name for t in tasks] == ["SCaR_ADE20K", "SCaR_RefCOCO_plus", "SCaR_Extra"]
    assert all(t.meta.suite == "scar" and len(t.meta.fingerprint) == 64 for t in tasks)
    assert [t.meta.name for t in resolve_tasks(None, tmp_path)] == ["SCaR_ADE20K", "SCaR_Extra", "SCaR_RefCOCO_plus"]
    (only,) = resolve_tasks(["SCaR_Extra"], tmp_path / "SCaR_eval_Extra.parquet")
    assert only.image_root == tmp_path / "images" and len(only.queries()) == 5
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        resolve_tasks(["scar"], tmp_path / "nope")


def test_suite_yaml_errors_name_the_file_and_field(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("suite: mine\nloader: scar\ntasks:\n  - {name: SCaR_A, colour: red}\n")
    with pytest.raises(ValueError, match=r"mine.yaml: tasks\[0\] \(SCaR_A\): unknown field\(s\) \['colour'\]"):
        load_suite(bad)
    bad.write_text("suite: mine\ntasks: []\n")
    with pytest.raises(ValueError, match="mine.yaml: missing field 'loader'"):
        load_suite(bad)
    good = tmp_path / "two.yaml"
    good.write_text("suite: two\nloader: scar\ntasks:\n  - {name: SCaR_A}\n  - {name: SCaR_B, file: b.parquet}\n")
    scar_eval(tmp_path, "A", n=3)
    with pytest.raises(FileNotFoundError, match="b.parquet"):
        resolve_tasks([str(good)], tmp_path)
    with pytest.raises(FileNotFoundError, match="suite file .*nothere.yaml not found"):
        load_suite(tmp_path / "nothere.yaml")
