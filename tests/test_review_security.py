"""What the review server accepts (issue 17, item 2 and the review clauses of item 10):
only requests that name this server in ``Host`` and carry the session token printed in
its URL; a POST only as JSON from no foreign origin, with a bounded body and depth. A
hostile page in Chromium (no-cors fetch, a text/plain form) records nothing; a burst of
200 connections is queued, not reset; a busy port gives a one-line message."""

import errno
import http.client
import json
import shutil
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scar.build.review.server import MAX_BODY, make_server
from scar.build.review.store import ReviewStore
from support import CHROMIUM, FLAGS

SCAR = str(Path(sys.executable).parent / "scar")


@pytest.fixture()
def folder(sample_build, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sample_build.path.parent, out, symlinks=True)
    return out


@pytest.fixture()
def srv(folder):
    s = make_server(folder)
    threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()  # quick shutdown
    yield s
    s.shutdown()
    s.server_close()


def _req(srv, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    h = {"Host": f"127.0.0.1:{srv.port}", "X-Scar-Token": srv.token, "Content-Type": "application/json"}
    h.update(headers or {})
    h = {k: v for k, v in h.items() if v is not None}
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def _decision(srv, folder):
    row = ReviewStore(folder).rows[0]
    return json.dumps({"id": row["id"], "action": "reject", "reason": "x"}).encode()


def test_random_port_and_token_in_url(folder):
    a, b = make_server(folder), make_server(folder)
    try:
        assert a.port != b.port and a.port != 8765
        assert a.token != b.token and len(a.token) >= 24 and f"token={a.token}" in a.url
    finally:
        a.server_close()
        b.server_close()


def test_token_host_origin_and_type_are_checked(srv, folder):
    body = _decision(srv, folder)
    assert _req(srv, "GET", "/", headers={"X-Scar-Token": None})[0] == 403  # the page needs the token too
    assert _req(srv, "GET", f"/?token={srv.token}", headers={"X-Scar-Token": None})[0] == 200
    assert _req(srv, "GET", "/api/progress", headers={"X-Scar-Token": "guess"})[0] == 403
    assert _req(srv, "GET", "/api/progress", headers={"Host": "evil.example.com"})[0] == 403  # DNS rebinding
    assert _req(srv, "GET", "/api/progress", headers={"Host": f"evil.example.com:{srv.port}"})[0] == 403
    assert _req(srv, "POST", "/api/decision", body, headers={"X-Scar-Token": None})[0] == 403
    assert _req(srv, "POST", f"/api/decision?token={srv.token}", body, headers={"X-Scar-Token": None})[0] == 403
    assert _req(srv, "POST", "/api/decision", body, headers={"Origin": "http://evil.example.com"})[0] == 403
    assert _req(srv, "POST", "/api/decision", body, headers={"Content-Type": "text/plain"})[0] == 415
    assert _req(srv, "POST", "/api/decision", body, headers={"Host": "evil.example.com"})[0] == 403
    assert not (folder / "review" / "decisions.jsonl").exists() or \
        (folder / "review" / "decisions.jsonl").read_text() == ""
    status, data = _req(srv, "POST", "/api/decision", body, headers={"Origin": f"http://127.0.0.1:{srv.port}"})
    assert status == 200 and json.loads(data)["progress"]["reject"] == 1
    assert _req(srv, "GET", "/api/progress", headers={"Host": f"localhost:{srv.port}"})[0] == 200


def test_bodies_are_bounded(srv, folder):
    row_id = ReviewStore(folder).rows[0]["id"]
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:  # 5 MB announced: refused unread
        s.sendall(f"POST /api/decision HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nX-Scar-Token: {srv.token}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n".encode()
                  + b'{"id": "' + row_id.encode() + b'", "action": "reject", "reason": "' + b"x" * 60_000)
        assert s.recv(100).startswith(b"HTTP/1.0 413")
    long_reason = json.dumps({"id": row_id, "action": "reject", "reason": "x" * (MAX_BODY // 2)}).encode()
    assert _req(srv, "POST", "/api/decision", long_reason)[0] == 400
    deep = b"[" * 100_000 + b"]" * 100_000
    assert _req(srv, "POST", "/api/decision", deep[:MAX_BODY])[0] in (400, 413)
    deep_small = b"[" * 30_000 + b"]" * 30_000
    status, data = _req(srv, "POST", "/api/decision", deep_small)
    assert status == 400 and b"nested" in data
    assert _req(srv, "POST", "/api/decision", b'{"id": "x", "action": "accept", "extra": 1}')[0] == 400
    assert _req(srv, "GET", "/api/progress")[0] == 200  # the server still answers
    assert ReviewStore(folder).decisions == {}


def test_a_burst_of_connections_is_queued_not_reset(srv):
    """200 clients at once (the old backlog of 5 reset about a quarter of them)."""
    def hit(_):
        try:
            return _req(srv, "GET", "/api/progress")[0]
        except (ConnectionError, OSError) as e:
            return type(e).__name__

    with ThreadPoolExecutor(200) as ex:
        got = list(ex.map(hit, range(200)))
    assert got.count(200) == 200, {x: got.count(x) for x in set(got)}


@pytest.mark.slow  # drives Chromium
@pytest.mark.browser
def test_a_page_on_another_origin_cannot_record_decisions(srv, folder, tmp_path):
    """A hostile page served from another port posts with fetch(no-cors) and a
    text/plain form, as an attacker's site would: nothing is recorded."""
    assert CHROMIUM, "Chromium is needed for page tests: apt-get install chromium"
    from playwright.sync_api import sync_playwright

    target = f"http://127.0.0.1:{srv.port}/api/decision"
    body = _decision(srv, folder).decode()
    evil = f"""<!doctype html><body>
<form id=f method=POST action="{target}" enctype="text/plain" target=sink>
<input name='{body[:-1]}, "x": "' value='"}}'></form><iframe name=sink></iframe>
<script>
fetch("{target}", {{method: "POST", mode: "no-cors", body: {json.dumps(body)},
  headers: {{"Content-Type": "text/plain"}}}}).finally(function () {{
  document.getElementById('f').submit(); setTimeout(function () {{ document.title = 'done'; }}, 800);
}});
</script></body>"""

    class Evil(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):  # noqa: N802
            raw = evil.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    host = ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=host.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{host.server_address[1]}/")
            page.wait_for_function("document.title === 'done'", timeout=15000)
            browser.close()
    finally:
        host.shutdown()
        host.server_close()
    assert ReviewStore(folder).decisions == {}


@pytest.mark.slow  # scar review in a fresh process
def test_a_busy_port_is_one_clear_line(folder):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        with pytest.raises(OSError) as e:
            make_server(folder, port=port)
        assert e.value.errno == errno.EADDRINUSE
        r = subprocess.run([SCAR, "review", str(folder), "--port", str(port)], capture_output=True, text=True,
                           timeout=60)
    finally:
        s.close()
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and f"port {port} is in use" in r.stderr, r.stderr
