"""The import contract (pyproject.toml [tool.importlinter]): scar.cli on top; scar.build,
scar.eval and scar.leaderboard below it, build and eval independent; the shared records
at the bottom; no cycles between sibling modules; scar.testing used by tests only."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint(cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=cwd,
                          capture_output=True, text=True, timeout=120, **kw)


def test_the_package_keeps_its_import_contract():
    r = _lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 kept, 0 broken" in r.stdout


@pytest.mark.slow  # import-linter on a copy of the package
def test_the_contract_catches_an_upward_import(tmp_path):
    """The same contract on a copy of the package with one eval -> build import added."""
    import shutil

    shutil.copytree(ROOT / "scar", tmp_path / "scar", ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "scar" / "data").mkdir()
    (tmp_path / "scar" / "data" / "__init__.py").write_text("")
    metrics = tmp_path / "scar" / "eval" / "metrics.py"
    metrics.write_text(metrics.read_text() + "\nfrom scar.build import card  # noqa\n")
    r = _lint(tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert r.returncode == 1 and "scar.eval.metrics -> scar.build.card" in r.stdout, r.stdout


def test_every_top_level_module_is_in_a_layer():
    """A new shared module (or subpackage) must be placed in the contract, or it is unchecked."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    placed = {m.strip() for layer in layers for m in layer.replace(":", "|").split("|")}
    top = {f"scar.{p.stem}" for p in (ROOT / "scar").iterdir()
           if (p.suffix == ".py" or (p / "__init__.py").exists()) and not p.name.startswith("_")}
    assert top - placed == {"scar.testing"}, top - placed
