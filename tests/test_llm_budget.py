"""``--max-cost`` is a bound and ``--llm-timeout`` a deadline, whatever the endpoint does
(issue 17, items 4 and 5; issue 13: one budget per build).

A hostile OpenAI-compatible endpoint (stdlib http.server) reports absurd, negative or no
usage, sends a 2 MB reply, or drips its answer a byte at a time; the booked cost never
passes the cap, honest replies are not refused while others are in flight, the judge
and generation share one budget (one Ray actor), and a dripping server cannot hold a
request past the deadline."""

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import create_model

from scar.build.llm.client import Budget, LLMClient, LLMConfig, LLMFailure
from scar.build.pipeline import build, make_steps
from scar.testing.stub_server import StubEndpoint
from support import cfg, write_coco

pytestmark = pytest.mark.llm  # every test talks to an OpenAI-compatible endpoint

REPLY = {"scene": "kitchen"}
Scene = create_model("Scene", scene=(str, ...))


class Hostile:
    """``usage``: the usage object to report ("missing": none); ``pad``: bytes of
    whitespace inside the reply; ``drip``: seconds between the bytes of the body."""

    def __init__(self, usage="honest", pad=0, drip=0.0, latency=0.0):
        self.usage, self.pad, self.drip, self.latency = usage, pad, drip, latency
        self.requests = 0
        self._lock = threading.Lock()

    def __enter__(self):
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer._lock:
                    outer.requests += 1
                time.sleep(outer.latency)
                content = json.dumps(REPLY)[:-1] + " " * outer.pad + "}"
                body = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": content}}]}
                if outer.usage == "honest":
                    body["usage"] = {"prompt_tokens": 50, "completion_tokens": 1, "total_tokens": 51}
                elif outer.usage != "missing":
                    body["usage"] = outer.usage
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                if not outer.drip:
                    self.wfile.write(raw)
                    return
                try:
                    for i in range(len(raw)):
                        self.wfile.write(raw[i:i + 1])
                        self.wfile.flush()
                        time.sleep(outer.drip)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        # a quick shutdown: the loop looks at its flag every 0.05 s (0.5 s by default)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _ask(base_url, n, **cfg):
    """``n`` concurrent requests through one client; the results and the client."""
    config = LLMConfig(model="m", base_url=base_url, use_cache=False, max_attempts=1, backoff=0.01, **cfg)
    client = LLMClient(config)

    async def go():
        async with client:
            return await asyncio.gather(*(client.complete([{"role": "user", "content": f"q{i}"}], Scene,
                                                          prompt_id="t") for i in range(n)),
                                        return_exceptions=True)

    return asyncio.run(go()), client


# price: $1 per completion token; max_tokens 10 -> a reservation of about $10 per request
PRICED = {"price_in": 0.0, "price_out": 1e6, "max_tokens": 10, "max_cost": 35.0}


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": 10, "completion_tokens": 5_000_000, "total_tokens": 5_000_010},  # absurd
    {"prompt_tokens": 10, "completion_tokens": -30_000, "total_tokens": -29_990},  # negative
    "missing",
    {"prompt_tokens": "many", "completion_tokens": None},
])
def test_reported_usage_cannot_break_the_cap(usage):
    with Hostile(usage=usage) as h:
        res, client = _ask(h.base_url, 8, concurrency=4, **PRICED)
    ok = [r for r in res if not isinstance(r, BaseException)]
    assert client.budget.spent <= PRICED["max_cost"]
    # every answered request booked its whole reservation (never less, never more)
    assert client.budget.spent == pytest.approx(10.0 * len(ok))
    assert len(ok) == 3 and h.requests == 3  # $35 holds three $10 reservations, then no request is sent
    assert all(isinstance(r, LLMFailure) and r.kind == "budget" for r in res if r not in ok)
    assert client.counters["usage_invalid"] == 3


def test_a_2mb_reply_books_at_most_the_reservation():
    with Hostile(usage={"prompt_tokens": 10, "completion_tokens": 500_000}, pad=2_000_000) as h:
        res, client = _ask(h.base_url, 2, concurrency=1, **PRICED)
    assert client.budget.spent <= 20.0 + 1e-9


@pytest.mark.slow  # waits on the endpoint's latency
def test_honest_replies_wait_for_room_instead_of_failing():
    """$1 per request booked, $10 reserved: 30 requests fit in $35 only if a request
    waits for in-flight reservations to settle (the old budget refused 23 of 30)."""
    with Hostile(latency=0.05) as h:
        res, client = _ask(h.base_url, 30, concurrency=8, **{**PRICED, "max_cost": 40.0})
    assert not [r for r in res if isinstance(r, BaseException)]
    assert client.budget.spent == pytest.approx(30.0)  # one completion token at $1 each
    assert h.requests == 30 and client.counters.get("budget_waits", 0) > 0


@pytest.mark.slow  # waits out a dripping endpoint
def test_the_deadline_covers_the_whole_request():
    """A server dripping one byte every 0.2 s (a reply of ~300 bytes takes a minute): each
    attempt is cut at --llm-timeout 1, two attempts take ~2 s, not minutes."""
    with Hostile(drip=0.2) as h:
        t = time.perf_counter()
        res, client = _ask(h.base_url, 1, timeout=1.0, max_tokens=10)
        took = time.perf_counter() - t
    assert isinstance(res[0], LLMFailure) and res[0].kind == "timeout"
    assert took < 5, took


def test_budget_rule_waits_then_refuses():
    b = Budget(10.0)
    assert b.try_reserve(6.0) == "ok"
    assert b.try_reserve(6.0) == "wait"  # in-flight 6 + 6 > 10, but 6 alone fits once it settles
    b.settle(6.0, 1.0)
    assert b.try_reserve(6.0) == "ok"
    b.settle(6.0, 100.0)  # books at most the reservation
    assert b.spent == 7.0
    assert b.try_reserve(6.0) == "never"  # 7 booked + 6 > 10: no settlement can make room


def _gap_root(tmp_path, n_images):
    cats = [{"id": 1, "name": "mug"}, {"id": 2, "name": "chair"}]
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 200, "height": 100} for i in range(1, n_images + 1)]
    anns = [a for i in range(1, n_images + 1) for a in (
        {"id": 10 * i + 1, "image_id": i, "category_id": 1, "bbox": [10, 40, 20, 20], "area": 400, "iscrowd": 0},
        {"id": 10 * i + 2, "image_id": i, "category_id": 2, "bbox": [100, 40, 20, 20], "area": 400, "iscrowd": 0})]
    return write_coco(tmp_path / "src", images, anns, cats)


def _reply(body):
    """Every element asked for: the scene, and a relation to the other object of the image."""
    props = body["response_format"]["json_schema"]["schema"]["properties"]
    if "false_for_region" in props:
        return {"false_for_region": [True] * 9}
    rel = "near the chair" if "Region: a mug" in json.dumps(body["messages"]) else "below the mug"
    return {k: v for k, v in {"scene": "kitchen", "relation": rel, "object": "mug"}.items() if k in props}


@pytest.mark.llm
def test_max_cost_with_judge_is_one_cap(tmp_path, monkeypatch):
    """Generation and judge book into one budget: their costs together stay under
    --max-cost (with a budget each, they spent up to twice the cap)."""
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))
    root = _gap_root(tmp_path, 4)  # 8 samples: 8 generation requests, then 8 judge requests
    cap = 4.5
    opts = {"model": "stub", "concurrency": 1, "max_tokens": 32, "price": (0.0, 1e6 / 32), "max_cost": cap,
            "complete_only": True, "use_cache": False}
    steps = make_steps(cfg("coco", root, "val", tmp_path / "out", generator={
        "name": "openai", "judge": True, **opts, "base_url": "http://127.0.0.1:9/v1"}))
    llm = [st for st in steps if hasattr(st, "budget")]
    assert len(llm) == 2 and llm[0].budget is llm[1].budget
    with StubEndpoint(_reply) as stub:
        rep = build(cfg("coco", root, "val", tmp_path / "out", name="T",
                        generator={"name": "openai", "judge": True, **opts, "base_url": stub.base_url}))
    gen, judge = rep.generation["llm"]["cost_usd"], rep.generation["llm_judge"]["cost_usd"]
    assert gen > 0 and judge > 0
    assert gen + judge <= cap
    rej = [json.loads(x)["reason"] for x in rep.rejections_path.read_text().splitlines()]
    assert any("budget" in r for r in rej)  # the cap really bound


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.llm
def test_one_budget_actor_under_ray_for_steps_that_share_a_budget(tmp_path):
    from scar.build.engines.ray import portable

    class FakeRay:
        made = 0

        def remote(self, **kw):
            def wrap(cls):
                class Handle:
                    @staticmethod
                    def remote(*a):
                        FakeRay.made += 1
                        return object()
                return Handle
            return wrap

    steps = make_steps(cfg("coco", _gap_root(tmp_path, 1), "val", tmp_path / "out", generator={
        "name": "openai", "model": "stub", "base_url": "http://127.0.0.1:9/v1", "price": (1.0, 1.0),
        "max_cost": 1.0, "complete_only": True, "judge": True}))
    out, actors = portable(steps, FakeRay())
    llm = [st for st in out if hasattr(st, "budget")]
    assert len(actors) == 1 == FakeRay.made and llm[0].budget is llm[1].budget
