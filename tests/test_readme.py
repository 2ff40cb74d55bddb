"""The README's examples work as written: every `scar ...` line of its code blocks parses
with the real parser (no option that does not exist), the `scar eval` synopsis is the
parser's own usage, and the examples that need no external data run end to end, the
Python API example included."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from scar.cli.main import parser as scar_parser, synopsis

README = Path(__file__).resolve().parents[1] / "README.md"
#: Lines that stand for a family of commands ("scar build ... --engine ray"): shown, not runnable.
ELLIPSIS = {"scar build ... --engine ray", "scar build ... --engine ray --ray-address auto"}


def blocks() -> list[tuple[str, str]]:
    """(language, body) of every fenced code block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)


def scar_lines() -> list[str]:
    """Every `scar` command of the README's example blocks (not the synopsis), comments cut."""
    out = []
    synopsis_block = blocks()[1][1]  # the block under "## The command line"
    for lang, body in blocks():
        if body == synopsis_block or lang == "python":
            continue
        for line in body.splitlines():
            cmd = line.split("  #")[0].split(" # ")[0].strip()
            if cmd.startswith("scar "):
                out.append(cmd)
    return out


def expand(cmd: str) -> list[list[str]]:
    """argv lists for a README line: `a|b` alternatives of an option value expanded."""
    words = shlex.split(cmd)[1:]
    variants = [[]]
    for w in words:
        alts = w.split("|") if "|" in w and not w.startswith("hf://") else [w]
        variants = [v + [a] for v in variants for a in alts]
    return variants


def test_the_eval_synopsis_is_the_parsers():
    block = blocks()[1][1]
    assert synopsis("eval") in block, "README's `scar eval` synopsis is stale; replace it with:\n" + synopsis("eval")


def test_every_scar_example_parses():
    lines = scar_lines()
    assert len(lines) >= 15 and any(line.startswith("scar eval --data demo_out") for line in lines)
    skipped = {line for line in lines if "..." in line}
    assert skipped == ELLIPSIS
    parser = scar_parser()
    for line in sorted(set(lines) - skipped):
        for argv in expand(line):
            try:
                parser.parse_args(argv)
            except SystemExit as e:
                pytest.fail(f"README example does not parse: scar {' '.join(argv)} (exit {e.code})")


@pytest.mark.slow
@pytest.mark.timeout(1500)  # a demo, a build and several commands on 2 shared cores
def test_the_examples_run(tmp_path):
    """The demo, the eval and leaderboard examples on its output, and the Python API example, in
    a fresh folder, as a user would type them."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    def run(cmd: str):
        r = subprocess.run([sys.executable, "-m", "scar.cli", *shlex.split(cmd)[1:]], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{cmd}\n{r.stderr[-2000:]}"
        return r

    run("scar demo --out demo_out")
    lines = scar_lines()
    evals = [line for line in lines if line.startswith("scar eval --data demo_out")]
    assert evals
    for line in evals:
        assert "next: scar leaderboard results" in run(line).stdout
    for line in (x for x in lines if x.startswith("scar leaderboard RESULTS")):
        for argv in expand(line.replace("RESULTS", "results").replace("PATH", "table.out")):
            fmt = argv[argv.index("--format") + 1] if "--format" in argv else "md"
            if fmt == "mmeb-json":
                continue  # the demo has no MMEB results: shown by its own test (test_leaderboard)
            run("scar " + " ".join(shlex.quote(a) for a in argv))
    run("scar validate demo_out")
    run("scar tasks")

    # the API example: "my_coco" is a COCO-format folder (annotations/instances_val.json + images/val/)
    from scar.build import samples

    samples.materialize(tmp_path / "my_coco")
    [api] = [body for lang, body in blocks() if lang == "python" and "scar.build_dataset(" in body]
    r = subprocess.run([sys.executable, "-c", api], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "# SCaR leaderboard" in r.stdout and "| random | chance line |" in r.stdout
    assert "missing image" not in r.stderr
    [embedder] = [body for lang, body in blocks() if lang == "python" and "class MyEmbedder" in body]
    exec(compile(embedder, "README.md", "exec"), {})  # the interface example imports and defines
