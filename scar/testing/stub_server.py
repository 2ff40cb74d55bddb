"""A small OpenAI-compatible endpoint (stdlib ``http.server`` in a thread) for tests,
benchmarks and dry runs of the LLM path.

- answers ``POST /v1/chat/completions`` after a fixed ``latency`` with ``reply(body)``
  (a dict sent as the message content, JSON-encoded), with usage counts;
- or forwards each request to an ``upstream`` server (a counting proxy in front of the
  local llama.cpp server);
- scripted faults, one per request, in order: ``"429"``, ``"500"``, ``"hang"`` (no answer
  until stopped), ``"broken_json"`` (a body that is not JSON), ``"bad_content"`` (a valid
  response whose message is not JSON); ``fault_for(body)`` picks a fault per request;
- ``requests`` counts the chat requests received; ``bodies`` keeps them.
"""

from __future__ import annotations

import collections
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("429", "500", "hang", "broken_json", "bad_content")


class StubEndpoint:
    def __init__(self, reply: Callable[[dict], dict] | dict | None = None, *, upstream: str | None = None,
                 latency: float = 0.0, fault_for: Callable[[dict], str | None] | None = None) -> None:
        if reply is None and upstream is None:
            raise ValueError("StubEndpoint needs a reply or an upstream")
        self.reply = reply
        self.upstream = upstream.rstrip("/") if upstream else None
        self.latency = latency
        self.fault_for = fault_for  # a fault chosen from the request body (after the scripted ones)
        self.faults: collections.deque[str] = collections.deque()
        self.requests = 0
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    def fail(self, *faults: str) -> None:
        """Answer the next requests with these faults, in order."""
        for f in faults:
            if f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}; known: {FAULTS}")
        self.faults.extend(faults)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> StubEndpoint:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once (no delayed-ACK stall)

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with stub._lock:
                    stub.requests += 1
                    stub.bodies.append(body)
                    fault = stub.faults.popleft() if stub.faults else None
                if fault is None and stub.fault_for is not None:
                    fault = stub.fault_for(body)
                if fault == "hang":
                    stub._stop.wait()
                    return
                if fault in ("429", "500"):
                    return self._send(int(fault), {"error": {"message": f"stub fault {fault}", "type": "stub"}})
                if fault == "broken_json":
                    return self._send(200, b'{"id": "x", "choices": [{"message": ')
                if stub.upstream:
                    req = urllib.request.Request(stub.upstream + self.path.removeprefix("/v1"),
                                                 data=json.dumps(body).encode(),
                                                 headers={"Content-Type": "application/json"})
                    try:
                        with urllib.request.urlopen(req, timeout=600) as r:
                            data = json.loads(r.read())
                            status = r.status
                    except urllib.error.HTTPError as e:
                        return self._send(e.code, e.read())
                else:
                    if stub.latency:
                        time.sleep(stub.latency)
                    content = stub.reply(body) if callable(stub.reply) else stub.reply
                    data = _completion(body, json.dumps(content))
                    status = 200
                if fault == "bad_content":
                    data["choices"][0]["message"]["content"] = '{"scene": "kitch'
                self._send(status, data)

            def _send(self, status: int, payload) -> None:
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # shutdown() waits for the loop to look at its flag: every 0.5 s by default, 0.05 s here
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> StubEndpoint:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _completion(body: dict, content: str) -> dict[str, Any]:
    n_in = sum(len(json.dumps(m.get("content", ""))) for m in body.get("messages", [])) // 4
    return {"id": "stub-1", "object": "chat.completion", "created": 0, "model": body.get("model", "stub"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": n_in, "completion_tokens": len(content) // 4,
                      "total_tokens": n_in + len(content) // 4}}


def canned_reply(body: dict) -> dict[str, Any]:
    """A valid reply to a generation request (for tests and benchmarks): the scene
    "kitchen" and the frame relation "in the center" (it names no other object, so it
    passes the check that a GT relation's anchor is in the image) when asked for, and fixed
    swaps when the request wants them."""
    props = body["response_format"]["json_schema"]["schema"]["properties"]
    r: dict[str, Any] = {"scene": "kitchen"} if "scene" in props else {}
    if "relation" in props:
        r["relation"] = "in the center"
    if "object_swaps" in props:
        r.update(object_swaps=["bowl", "plate", "bottle"],
                 relation_swaps=["above the table", "inside the box", "far from the lamp"],
                 scene_swaps=["beach", "garage", "forest"])
    return r
