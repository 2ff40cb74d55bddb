"""API keys and tokens never reach a written file, a log line or the card: plant fake ones
in the environment, run the LLM path (generation + judge) against a local endpoint with
debug logging, audit, publish --dry-run, then grep every output."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scar.build.pipeline import build
from scar.testing.stub_server import StubEndpoint
from support import cfg

SCAR = str(Path(sys.executable).parent / "scar")
PLANTED = {"OPENAI_API_KEY": "sk-PLANTEDsecretPLANTEDsecret0042", "HF_TOKEN": "hf_PLANTEDtokenPLANTEDtokenPLANTED0042"}


def reply(body):
    props = body["response_format"]["json_schema"]["schema"]["properties"]
    if "false_for_region" in props:
        return {"false_for_region": [True] * 9}
    return {"scene": "kitchen"} if "scene" in props else {}


@pytest.mark.llm
def test_planted_keys_reach_no_file_or_log_line_of_a_build(tmp_path, gap_root, monkeypatch, caplog):
    """The build's part, in this process: the LLM path (generation + judge) with every logger
    at DEBUG (the HTTP client's included)."""
    for k, v in PLANTED.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    with StubEndpoint(reply) as stub, caplog.at_level(logging.DEBUG):
        rep = build(cfg("coco", gap_root, "val", out, name="T", output={"link_images": True},
                        generator={"name": "openai", "model": "stub-model", "base_url": stub.base_url,
                                   "complete_only": True, "judge": True}))
        assert stub.requests >= 2  # the LLM path really ran (the scene and the judge)
    assert rep.rows > 0 and any(r.name.startswith("openai") or r.name.startswith("httpx") for r in caplog.records)
    files = [p for base in (out, tmp_path / "cache") for p in base.rglob("*") if p.is_file()]
    assert any(p.name == "README.md" for p in files)
    for secret in PLANTED.values():
        assert secret not in caplog.text
        for p in files:
            assert secret.encode() not in p.read_bytes(), p


@pytest.mark.slow  # three commands in fresh processes, the audit loading its text model
@pytest.mark.llm
def test_planted_keys_appear_nowhere(tmp_path, gap_root):
    root = gap_root
    out, cache = tmp_path / "out", tmp_path / "cache"
    env = {**os.environ, **PLANTED, "SCAR_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    logs = []
    with StubEndpoint(reply) as stub:
        for cmd in (
            ["-vv", "build", "--source", "coco", "--name", "T", "--root", str(root), "--split", "val", "--out", str(out),
             "--generator", "openai", "--complete-only", "--judge", "--llm-model", "stub-model", "--llm-base-url",
             stub.base_url, "--link-images"],
            ["-vv", "audit", str(out), "--results", str(out / "results")],
            ["-vv", "publish", str(out), "--repo-id", "me/scar-test", "--dry-run"],
        ):
            r = subprocess.run([SCAR, *cmd], capture_output=True, text=True, env=env)
            assert r.returncode == 0, r.stderr
            logs += [r.stdout, r.stderr]
        assert stub.requests >= 2  # the LLM path really ran (the scene and the judge)
    assert "rows" in logs[0] and "would upload" in logs[4]
    files = [p for base in (out, cache) for p in base.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files) and any(p.name == "README.md" for p in files)
    for secret in PLANTED.values():
        for p in files:
            assert secret.encode() not in p.read_bytes(), p
        for text in logs:
            assert secret not in text
