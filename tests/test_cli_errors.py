"""The command line explains what went wrong and loads nothing it does not need: did-you-mean
for commands, options, choices, models and tasks; `scar tasks`; real path messages; a
`:Class` hint; offline failure in seconds; defaults in --help; a warm `scar eval` re-run
loads no model."""

import os
import resource
import subprocess
import sys
import time

import pytest
from support import count_loads

from scar.cli.main import main


def scar(*args, env=None):
    return subprocess.run([sys.executable, "-m", "scar.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, expected", [
    (["biuld"], "unknown command 'biuld': did you mean 'build'?"),
    (["eval", "--data", "x", "--modle", "random", "--out", "o"], "unknown option --modle (did you mean --model"),
    (["leaderboard", "x", "--format", "mdd"], "unknown value for --format 'mdd': did you mean 'md'?"),
])
def test_did_you_mean(args, expected, capsys):
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 2 and expected in capsys.readouterr().err


def test_unknown_model_and_task_messages(sample_build, tmp_path, capsys):
    data = str(sample_build.path.parent)
    assert main(["eval", "--data", data, "--model", "randon", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "scar eval: error: unknown embedder 'randon' (did you mean 'random'?)"  # no KeyError quotes
    assert main(["eval", "--data", data, "--tasks", "ImageNet1K", "--model", "random", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "did you mean 'ImageNet-1K'" in err and "VOC2007" not in err  # a suggestion, not 41 names
    assert main(["eval", "--data", data, "--tasks", "zzzz", "--model", "random", "--out", str(tmp_path)]) == 1
    assert "scar tasks" in capsys.readouterr().err


def test_scar_tasks_lists_them(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "SCaR_RefCOCO_plus" in out and "ImageNet-1K" in out and "Classification" in out and "OOD" in out


def test_paths_and_class_hint(sample_build, tmp_path, capsys):
    assert main(["eval", "--data", "/nonexistent/data", "--model", "random", "--out", str(tmp_path)]) == 1
    assert "scar eval: error: --data /nonexistent/data: no such file or folder" in capsys.readouterr().err
    (tmp_path / "mine.py").write_text("x = 1\n")
    assert main(["eval", "--data", str(sample_build.path.parent), "--model", str(tmp_path / "mine.py"),
                 "--out", str(tmp_path / "r")]) == 1
    assert f"--model {tmp_path / 'mine.py'}:MyEmbedder" in capsys.readouterr().err


@pytest.mark.slow  # scar eval in a fresh process
def test_offline_hub_model_fails_fast_on_one_line(sample_build, tmp_path):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = scar("eval", "--data", str(sample_build.path.parent), "--model", "clip:nosuch/model", "--out",
             str(tmp_path), env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert r.returncode == 1
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "nosuch/model" in lines[0] and "not in the local Hugging Face cache" in lines[0], lines
    # no retries, no torch import: seconds of CPU (the machine running the tests may be loaded, so the
    # wall clock bound is looser than the CPU one; huggingface_hub's retries alone sleep over 30 s)
    assert cpu < 5 and wall < 20, (cpu, wall)


@pytest.mark.slow  # every command's help in a fresh process
def test_help_shows_defaults_and_eval_ends_with_next(sample_build, tmp_path):
    text = " ".join(scar("eval", "--help").stdout.split())
    assert "seed of the random embedder (default: 0)" in text and "--loader-threads N background threads" in text
    assert "build processes (default: 2)" in text and " --workers " not in text  # one meaning per option name
    r = scar("eval", "--data", str(sample_build.path.parent), "--model", "random", "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == f"next: scar leaderboard {tmp_path / 'r'}"


@pytest.mark.slow  # two scar eval runs with a model load
def test_a_warm_rerun_loads_no_model(sample_build, tmp_path, monkeypatch, capsys):
    import transformers

    from scar.testing.tiny import tiny_clip

    ckpt = tiny_clip(tmp_path / "tiny-clip")
    loads = count_loads(monkeypatch, transformers.AutoModel)
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))
    args = ["eval", "--data", str(sample_build.path.parent), "--model", f"clip:{ckpt}", "--out", str(tmp_path / "r")]
    assert main(args) == 0 and len(loads) == 1  # a cold run loads the model once
    assert main(args) == 0 and len(loads) == 1  # stored results: no model
    assert "[stored]" in capsys.readouterr().out
    assert main([*args, "--overwrite"]) == 0 and len(loads) == 1  # every vector cached: still no model
    assert main([*args, "--overwrite", "--no-cache"]) == 0 and len(loads) == 2  # now it must encode


def test_one_meaning_per_option_name():
    """An option name shared by subcommands means the same thing in each: --workers is the build's
    process pool (demo, build), never eval's image-decoding threads."""
    from scar.cli.main import COMMANDS, command_options

    users = {name for name in COMMANDS if any("--workers" in a.option_strings for a in command_options(name))}
    assert users == {"demo", "build"}
