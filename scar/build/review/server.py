"""The review page and its JSON API, served on 127.0.0.1 with the standard library.

Routes: ``GET /`` the page; ``GET /api/progress``; ``GET /api/sample/<i>``;
``POST /api/decision`` ``{"id", "action", "reason", "candidates"}``; ``GET /image/<path>``
(files under the image root only).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import unquote

from scar.build.review.store import Decision, ReviewStore

log = logging.getLogger(__name__)


def _page() -> bytes:
    return resources.files("scar.build.review").joinpath("page.html").read_bytes()


def make_server(out: str | Path, *, host: str = "127.0.0.1", port: int = 0,
                image_root: str | Path | None = None) -> ThreadingHTTPServer:
    store = ReviewStore(out)
    root = Path(image_root) if image_root else store.out / "images"
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # quiet: the library logs at debug level
            log.debug("review %s", fmt % args)

        def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, data) -> None:
            self._send(code, json.dumps(data).encode())

        def do_GET(self):  # noqa: N802
            path = unquote(self.path.split("?", 1)[0])
            try:
                if path == "/":
                    self._send(200, _page(), "text/html; charset=utf-8")
                elif path == "/api/progress":
                    with lock:
                        self._json(200, store.progress())
                elif path.startswith("/api/sample/"):
                    with lock:
                        self._json(200, store.sample(int(path.rsplit("/", 1)[1])))
                elif path.startswith("/image/"):
                    rel = Path(path[len("/image/"):])
                    if rel.is_absolute() or ".." in rel.parts:
                        return self._json(403, {"error": "outside the image root"})
                    f = root / rel
                    if not f.is_file():
                        return self._json(404, {"error": f"no image {rel}"})
                    self._send(200, f.read_bytes(), mimetypes.guess_type(f.name)[0] or "application/octet-stream")
                elif path == "/favicon.ico":
                    self._send(204, b"", "image/x-icon")
                else:
                    self._json(404, {"error": f"no route {path}"})
            except (IndexError, ValueError) as e:
                self._json(400, {"error": str(e)})

        def do_POST(self):  # noqa: N802
            if self.path != "/api/decision":
                return self._json(404, {"error": f"no route {self.path}"})
            try:
                length = int(self.headers.get("Content-Length", 0))
                data = json.loads(self.rfile.read(length) or b"{}")
                d = Decision(id=str(data["id"]), action=str(data["action"]), reason=str(data.get("reason", "")),
                             candidates=data.get("candidates"))
                with lock:
                    store.record(d)
                    self._json(200, {"ok": True, "progress": store.progress()})
            except (KeyError, ValueError, TypeError, json.JSONDecodeError) as e:
                self._json(400, {"error": str(e).strip('"')})

    return ThreadingHTTPServer((host, port), Handler)
