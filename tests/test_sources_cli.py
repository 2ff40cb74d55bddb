"""`scar sources list|stats|overlap` and the build's source options, as a user runs them."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.make_fixtures import write_all
from scar.cli import main

SCAR = shutil.which("scar", path=str(Path(sys.executable).parent)) or "scar"


def run(*args):
    return subprocess.run([SCAR, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=300)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("data"))


def test_list_and_help(capsys):
    assert main(["sources", "list"]) == 0
    out = capsys.readouterr().out
    for key in ("refcoco+", "refcocog", "coco-stuff", "visualgenome", "ade20k", "coco"):
        assert f"\n{key} " in "\n" + out
    with pytest.raises(SystemExit) as e:
        main(["build", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--images", "--masks", "--sam-model", "--exclude-coco", "--max-per-image", "--min-area"):
        assert opt in out


@pytest.mark.slow
def test_stats_prints_the_paper_table_with_drop_reasons(data_root, tmp_path):
    r = run("sources", "stats", "--data-root", str(data_root), "-q", "--json", str(tmp_path / "s.json"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "| Source | Train images | Train samples | Eval images | Eval samples |"
    figures = {(f["source"], f["split"]): f for f in json.loads((tmp_path / "s.json").read_text())}
    ade = figures[("ade20k", "val")]
    assert (ade["images"], ade["samples"], ade["rejected"]) == (1, 4, {"image file": 2, "unknown category": 1})
    assert f"| ADE20K | 1 | 4 | {ade['images']} | {ade['samples']} |" in lines
    total = [ln for ln in lines if ln.startswith("| Total |")][0]
    assert total == "| Total | {:,} | {:,} | {:,} | {:,} |".format(
        *(sum(f[k] for (s, sp), f in figures.items() if sp == split) for split in ("train", "val")
          for k in ("images", "samples")))
    assert "| coco-stuff | val | 13 | 7 | annotation record | 2 |" in lines
    assert "|  |  |  |  | over per-image limit | 1 |" in lines
    r = run("sources", "stats", "--source", "refcocog", "--root", str(data_root / "refcocog"), "--split", "val", "-q")
    assert r.returncode == 0 and "| RefCOCOg | — | — | 1 | 3 |" in r.stdout


@pytest.mark.slow
def test_overlap_reports_leaks(data_root, tmp_path):
    r = run("sources", "overlap", "--data-root", str(data_root), "-q", "--json", str(tmp_path / "o.json"))
    assert r.returncode == 0, r.stderr
    assert "| coco-stuff train | refcoco+ val | 1 | yes | 11 |" in r.stdout
    assert "| coco-stuff train | visualgenome val | 1 | yes | 11 |" in r.stdout
    data = json.loads((tmp_path / "o.json").read_text())
    assert data["images"]["visualgenome/val"] == {"images": 3, "coco_images": 1}
    assert not any(o["a"][0] == "ade20k" or o["b"][0] == "ade20k" for o in data["overlaps"])


@pytest.mark.slow
def test_source_options_reach_the_source(data_root, tmp_path):
    r = run("build", "--source", "ade20k", "--root", str(data_root / "ade20k"), "--split", "val",
            "--out", str(tmp_path), "--exclude-coco", "-q")
    assert r.returncode == 1 and "--exclude-coco does not apply to --source ade20k" in r.stderr
    r = run("sources", "stats", "--source", "visualgenome", "--root", str(data_root / "visualgenome"),
            "--split", "val", "--exclude-coco", "--max-per-image", "1", "-q")
    assert r.returncode == 0, r.stderr
    assert "| VisualGenome | — | — | 1 | 1 |" in r.stdout and "| coco image | 1 |" in r.stdout
