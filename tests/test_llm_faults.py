"""The LLM path through the real ``openai`` client against a small local endpoint that
answers 429, 500, a hang, broken JSON or bad content on command (stdlib http.server):
the run finishes, nothing invalid is written, every failure is counted."""

import json

import pyarrow.parquet as pq
import pytest

from scar.cli import main
from scar.build.pipeline import build
from scar.testing.stub_server import StubEndpoint
from scar.testing.stub_server import canned_reply as reply
from support import cfg

pytestmark = pytest.mark.llm  # every test talks to an OpenAI-compatible endpoint

#: The "hang" fault is an endpoint that never answers (until the test stops it): the client's
#: timeout must fire. 5 s leaves an honest reply on a loaded 2-core machine far inside it, so
#: only the hung request times out.
FAST = {"timeout": 5.0, "max_attempts": 6}



@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("scar.build.llm.client.LLMConfig.backoff", 0.01)
    return tmp_path / "cache"



def _build(root, out, stub, limit=None, **opts):
    return build(cfg("coco", root, "val", out, name="T", source={"limit": limit},
                     generator={"name": "openai", "model": "stub-model", "base_url": stub.base_url, **opts}))


@pytest.mark.slow  # waits out the 5 s timeout of the request that is never answered
def test_every_fault_kind_is_retried_and_counted(gap_root, tmp_path):
    with StubEndpoint(reply) as stub:
        stub.fail("429", "500", "hang", "broken_json", "bad_content")
        rep = _build(gap_root, tmp_path / "out", stub, complete_only=True, concurrency=1, **FAST)
        assert stub.requests == 4 + 5  # 4 samples, 5 failed attempts
    llm = rep.generation["llm"]
    assert llm["requests"] == 9 and llm["retries"] == 5 and "failed" not in llm
    for kind in ("rate_limit", "server", "timeout", "invalid_response", "invalid_json"):
        assert llm[f"errors.{kind}"] == 1, kind
    assert rep.rows == 4 and rep.rejected == 0
    assert rep.generation["provenance"]["scene"] == {"llm:stub-model": 4}
    rows = pq.read_table(rep.path).to_pylist()
    assert all(r["gt_scene"] == "in a kitchen" and r["scene_provenance"] == "llm:stub-model" for r in rows)
    card = json.loads((rep.path.parent / "card.json").read_text())["files"][rep.path.name]["generation"]
    assert card["llm"]["prompt"] == "complete-v1" and card["llm"]["errors.timeout"] == 1


@pytest.mark.slow  # retries with backoff against a failing endpoint
def test_persistent_failure_is_quarantined_and_the_run_goes_on(gap_root, tmp_path):
    image2 = lambda body: "500" if "chair" in body["messages"][1]["content"].split("Other things")[0] else None  # noqa
    with StubEndpoint(reply, fault_for=image2) as stub:
        rep = _build(gap_root, tmp_path / "out", stub, complete_only=True, max_attempts=3, timeout=2.0)
    assert rep.rows == 2  # the two mug samples
    rej = [json.loads(x) for x in rep.rejections_path.read_text().splitlines()]
    assert len(rej) == 2 and all(r["reason"].startswith("llm: server: HTTP 500") and "after 3 attempts" in r["reason"]
                                 for r in rej)
    assert {r["record"]["region"]["category"] for r in rej} == {"chair"}
    llm = rep.generation["llm"]
    assert llm["failed"] == 2 and llm["errors.server"] == 6 and llm["requests"] == 8
    assert all(r["category"] == "mug" for r in pq.read_table(rep.path).to_pylist())


def test_invalid_swaps_are_retried_with_the_reason_then_quarantined(gap_root, tmp_path):
    def bad(body):  # the first sample is the mug: "container" is a hypernym of it, never a valid swap
        r = reply(body)
        r["object_swaps"] = ["bottle", "container", "plate"]
        return r

    with StubEndpoint(bad) as stub:
        rep = _build(gap_root, tmp_path / "out", stub, max_attempts=2, limit=1, concurrency=1)
        retry_body = stub.bodies[-1]
    assert rep.rows == 0 and rep.rejected == 1
    reason = json.loads(rep.rejections_path.read_text())["reason"]
    assert reason.startswith("llm: invalid_content: object swap 'container' is a hypernym of the object 'mug'")
    assert "That reply was invalid" in retry_body["messages"][-1]["content"]  # the model is told why
    assert not list((tmp_path / "cache").rglob("*.json"))  # nothing invalid is cached


def test_full_mode_writes_validated_swaps_and_the_cache_makes_zero_requests(gap_root, tmp_path):
    with StubEndpoint(reply) as stub:
        first = _build(gap_root, tmp_path / "a", stub)
        n = stub.requests
        again = _build(gap_root, tmp_path / "b", stub)
        assert stub.requests == n == 4  # one request per sample, then none
    assert again.generation["llm"]["cache_hits"] == 4 and "requests" not in again.generation["llm"]
    assert first.path.read_bytes() == again.path.read_bytes()
    for row in pq.read_table(first.path).to_pylist():
        assert row["neg_types"] == ["object"] * 3 + ["relation"] * 3 + ["scene"] * 3
        assert row["neg_values"][:3] == ["bowl", "plate", "bottle"]


def test_budget_stops_requests_before_it_is_exceeded(gap_root, tmp_path):
    with StubEndpoint(reply) as stub:
        # at 1000 USD per 1M tokens a request costs ~0.1 USD and reserves its worst case (~0.4) first
        rep = _build(gap_root, tmp_path / "out", stub, complete_only=True, concurrency=1, max_tokens=100,
                     price=(1000.0, 1000.0), max_cost=0.6)
    llm = rep.generation["llm"]
    assert 0 < llm["cost_usd"] <= 0.6 and rep.rows == llm["requests"] >= 1
    rej = [json.loads(x)["reason"] for x in rep.rejections_path.read_text().splitlines()]
    assert rej and all(r.startswith("llm: budget: --max-cost 0.6 USD reached") for r in rej)
    assert rep.rows + len(rej) == 4


def test_cli_openai_vision_and_option_errors(gap_root, tmp_path, capsys):
    with StubEndpoint(reply) as stub:
        rc = main(["-q", "build", "--source", "coco", "--root", str(gap_root), "--split", "val", "--out",
                   str(tmp_path / "o"), "--name", "T", "--generator", "openai", "--llm-model", "m", "--llm-base-url",
                   stub.base_url, "--complete-only", "--llm-vision", "--limit", "1"])
        body = stub.bodies[0]
    assert rc == 0
    out = capsys.readouterr().out
    assert "1 rows" in out and "scene llm:m 1" in out and "1 requests, 0 cache hits" in out
    image = body["messages"][1]["content"][1]
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/jpeg;base64,")
    rc = main(["build", "--source", "coco", "--root", str(gap_root), "--split", "val", "--out", str(tmp_path / "p"),
               "--generator", "openai", "--llm-model", "m", "--max-cost", "1"])
    assert rc == 1 and "--max-cost needs the model's prices" in capsys.readouterr().err
    rc = main(["build", "--source", "coco", "--root", str(gap_root), "--split", "val", "--out", str(tmp_path / "p"),
               "--llm-model", "m"])
    assert rc == 1 and "--generator lexical takes no LLM options" in capsys.readouterr().err
