"""`scar eval` reads one validated EvalConfig: the CLI makes it from its flags, Python
callers make it directly, and both run the same code (scar.eval.config.run)."""

import json

import pytest
from pydantic import ValidationError

from scar.cli import main
from scar.eval.config import EvalConfig, run


def test_python_config_and_cli_write_the_same_results(tmp_path, sample_build, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))
    data = str(sample_build.path.parent)
    seen = []
    outcomes = run(EvalConfig(data=data, models=("random", "constant"), out=tmp_path / "py", seed=3),
                   progress=False, on_outcome=lambda emb, oc: seen.append((emb.run_name, oc.task, oc.status)))
    assert [(o.task, o.status) for o in outcomes] == [("SCaR_Sample", "done")] * 2
    assert seen == [("random", "SCaR_Sample", "done"), ("constant", "SCaR_Sample", "done")]
    assert main(["eval", "--data", data, "--model", "random", "--model", "constant", "--seed", "3",
                 "--out", str(tmp_path / "cli"), "-q"]) == 0
    for run_name in ("random", "constant"):
        (a,) = (tmp_path / "py" / run_name).rglob("SCaR_Sample.json")
        (b,) = (tmp_path / "cli" / run_name).rglob("SCaR_Sample.json")
        ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
        assert ra["scores"] == rb["scores"] and ra["settings"] == rb["settings"] and ra["n"] == rb["n"]
    # a second run with the same config is a resume: nothing recomputed
    again = run(EvalConfig(data=data, models=("random",), out=tmp_path / "py", seed=3), progress=False)
    assert [o.status for o in again] == ["skipped"]


def test_config_refuses_unknown_keys_and_inconsistent_settings(tmp_path):
    with pytest.raises(ValidationError, match="extra"):
        EvalConfig(data="d", models=("random",), out=tmp_path, workers=4)  # the build's word, not eval's
    with pytest.raises(ValidationError, match="virtue"):
        EvalConfig(data="d", models=("clip",), out=tmp_path, virtue_src=tmp_path)
    with pytest.raises(ValidationError, match="at least 1"):
        EvalConfig(data="d", models=(), out=tmp_path)
    cfg = EvalConfig(data="d", models=("virtue",), out=tmp_path, virtue_src=tmp_path, model_args={"sam-model": "x"})
    assert cfg.model_args == {"sam_model": "x"}
    assert cfg.embedder_defaults() == {"seed": 0, "virtue_src": str(tmp_path)}  # only what was given
    with pytest.raises(ValidationError):
        cfg.seed = 1  # frozen: what ran is what the config says


@pytest.mark.parametrize("flags, says", [
    (["--model-arg", "fusion"], "--model-arg 'fusion': use KEY=VALUE"),
    (["--loader-threads", "-1"], "--loader-threads: Input should be greater than or equal to 0"),
    (["--batch-size", "0"], "--batch-size: Input should be greater than 0"),
    (["--virtue-src", "x"], "error: --virtue-src (virtue_src) is for the virtue embedder"),
])
def test_cli_names_the_bad_flag_in_one_line(tmp_path, capsys, flags, says):
    assert main(["eval", "--data", str(tmp_path), "--model", "random", "--out", str(tmp_path / "o"), *flags]) == 1
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # refused before anything ran
