"""The console script, as a user runs it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

SCAR = shutil.which("scar", path=str(Path(sys.executable).parent)) or "scar"


def run(*args, cwd=None):
    return subprocess.run([SCAR, *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy(), timeout=600)


@pytest.mark.slow  # every command's help in a fresh process
def test_help_explains():
    r = run("--help")
    assert r.returncode == 0
    for word in ("demo", "build", "eval", "leaderboard", "models", "SCaR"):
        assert word in r.stdout
    r = run("build", "--help")
    assert "--workers" in r.stdout and "--seed" in r.stdout and "--limit" in r.stdout


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    r = run("demo", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "harness check: oracle (told the answers) scores 100.0" in r.stdout and "| oracle" not in r.stdout
    assert (out / "leaderboard.md").read_text().startswith("# SCaR leaderboard")
    t = pq.read_table(out / "SCaR_eval_Sample.parquet")
    assert t.num_rows > 0
    results = {p.parts[-3] for p in (out / "results").rglob("*.json")}
    assert results == {"random", "oracle", "constant", "all-MiniLM-L6-v2", "blind-medoid", "blind-lexical-overlap"}
    assert "| constant | chance line |" in r.stdout and "## Readings" in r.stdout and "| all-MiniLM-L6-v2 | blind |" in r.stdout
    assert "| blind-medoid | blind |" in r.stdout and (out / "audit.json").is_file()


@pytest.mark.slow
def test_build_eval_leaderboard_commands(sample_root, tmp_path):
    out = tmp_path / "o"
    r = run("build", "--source", "coco", "--name", "Sample", "--root", str(sample_root), "--split", "val",
            "--out", str(out), "--limit", "8", "--link-images", "-q")
    assert r.returncode == 0, r.stderr
    assert "SCaR_eval_Sample.parquet" in r.stdout
    r = run("eval", "--data", str(out), "--model", "random", "--model", "constant", "--out", str(out / "res"), "-q")
    assert r.returncode == 0, r.stderr
    assert "constant" in r.stdout and "P@1   0.0" in r.stdout
    r = run("leaderboard", str(out / "res"), "--out", str(out / "lb.md"))
    assert r.returncode == 0 and "| constant |" in (out / "lb.md").read_text()
    assert "random" in run("models").stdout
    # the official tie rule gives every exact tie to the GT: the constant embedder scores 100%
    r = run("eval", "--data", str(out), "--model", "constant", "--out", str(out / "res_official"), "--ties", "official",
            "-q")
    assert r.returncode == 0, r.stderr
    assert "P@1 100.0" in r.stdout and "official tie rule" in r.stdout
    stored = json.loads(next((out / "res_official").rglob("*.json")).read_text())
    assert stored["ties"] == "official" and stored["main_score"] == 1.0
    assert stored["scores"]["precision_at_1_official"] == 1.0 and stored["scores"]["precision_at_1_strict"] == 0.0
    for rule in ("strict", "official"):
        r = run("leaderboard", str(out / "res_official"), "--ties", rule, "--no-reported")
        assert r.returncode == 0 and "| constant |" in r.stdout, r.stderr


@pytest.mark.slow
def test_clear_errors():
    r = run("build", "--source", "refcocg", "--root", ".", "--split", "val", "--out", "x")
    assert r.returncode == 2 and "did you mean 'refcocog'" in r.stderr  # choices from the source registry
    r = run("eval", "--data", "/nonexistent/SCaR_eval_X.parquet", "--model", "random", "--out", "x")
    assert r.returncode == 1 and "no such file" in r.stderr


def test_import_scar_stays_light():
    code = ("import sys, scar, scar.cli.main, scar.build.pipeline, scar.eval.harness, scar.leaderboard.table; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
