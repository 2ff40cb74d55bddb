"""The review page and its JSON API, served on 127.0.0.1 with the standard library.

Routes: ``GET /?token=T`` the page; ``GET /api/progress``; ``GET /api/sample/<i>``;
``POST /api/decision`` ``{"id", "action", "reason", "candidates"}``; ``GET /image/<path>``
(files under the image root only).

What a request must carry to be served (a page on another origin, a DNS-rebinding name
or a plain form post gets a 403/415 and nothing is recorded):

- a ``Host`` header naming this server (``127.0.0.1:<port>`` or ``localhost:<port>``);
- the session token, a random value made when the server starts and printed in its URL:
  in the ``X-Scar-Token`` header for the API, or ``?token=`` for the page and images;
- for a POST: ``Content-Type: application/json``, no foreign ``Origin``, a body of at
  most ``MAX_BODY`` bytes nested at most ``MAX_DEPTH`` deep, fields of the documented types.
"""

from __future__ import annotations

import hmac
import json
import logging
import mimetypes
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from scar.build.review.store import Decision, ReviewStore

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # an edit is 10 captions of at most 300 characters
MAX_DEPTH = 4  # {"candidates": [...]} is 2 deep
MAX_REASON = 2000
BACKLOG = 256


def _page() -> bytes:
    return resources.files("scar.build.review").joinpath("page.html").read_bytes()


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text (brackets inside strings ignored),
    counted without parsing, so a hostile body cannot exhaust the parser's recursion."""
    depth = deepest = 0
    in_str = escape = False
    for b in raw:
        if in_str:
            if escape:
                escape = False
            elif b == 0x5C:  # backslash
                escape = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif b in (0x5D, 0x7D):
            depth -= 1
    return deepest


class _Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_decision(raw: bytes) -> Decision:
    """A Decision from a request body, or ``_Refused`` saying what is wrong with it."""
    if json_depth(raw) > MAX_DEPTH:
        raise _Refused(400, f"JSON nested deeper than {MAX_DEPTH}")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise _Refused(400, f"body is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise _Refused(400, "body must be a JSON object")
    unknown = set(data) - {"id", "action", "reason", "candidates"}
    if unknown:
        raise _Refused(400, f"unknown field(s) {sorted(unknown)}")
    rid, action, reason, cands = data.get("id"), data.get("action"), data.get("reason", ""), data.get("candidates")
    if not isinstance(rid, str) or not isinstance(action, str) or not isinstance(reason, str):
        raise _Refused(400, "id and action must be strings (reason too, when given)")
    if len(reason) > MAX_REASON or len(rid) > 500:
        raise _Refused(400, f"reason longer than {MAX_REASON} characters")
    if cands is not None and not (isinstance(cands, list) and all(isinstance(c, str) for c in cands)):
        raise _Refused(400, "candidates must be a list of strings")
    return Decision(id=rid, action=action, reason=reason, candidates=cands)


class ReviewServer(ThreadingHTTPServer):
    """The HTTP server with the session ``token`` and the ``url`` to open (it holds the token)."""

    request_queue_size = BACKLOG  # listen backlog: a burst of connections is queued, not reset
    daemon_threads = True

    token: str
    host_name: str

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host_name}:{self.port}/?token={self.token}"

    def allowed_hosts(self) -> set[str]:
        names = {self.host_name, "127.0.0.1", "localhost"} if self.host_name in ("127.0.0.1", "localhost") \
            else {self.host_name}
        return {f"{n}:{self.port}" for n in names}


def make_server(out: str | Path, *, host: str = "127.0.0.1", port: int = 0,
                image_root: str | Path | None = None, token: str | None = None) -> ReviewServer:
    """A server over the build folder ``out``; ``port`` 0 (the default) takes a free port.
    Raises OSError (``errno.EADDRINUSE``) when ``port`` is taken."""
    store = ReviewStore(out)
    root = Path(image_root) if image_root else store.out / "images"
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server: ReviewServer

        def log_message(self, fmt, *args):  # quiet: the library logs at debug level
            log.debug("review %s", fmt % args)

        def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("Referrer-Policy", "no-referrer")
            if ctype.startswith("text/html"):
                self.send_header("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; "
                                 "style-src 'unsafe-inline'; img-src 'self'; connect-src 'self'; "
                                 "frame-ancestors 'none'; form-action 'none'")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, data) -> None:
            self._send(code, json.dumps(data).encode())

        def _check(self, query: dict[str, list[str]], *, header_only: bool = False) -> None:
            """Host, then the token (header, or ``?token=`` unless ``header_only``)."""
            host = (self.headers.get("Host") or "").strip().lower()
            if host not in self.server.allowed_hosts():
                raise _Refused(403, "wrong Host header (open the URL printed by scar review)")
            got = self.headers.get("X-Scar-Token")
            if got is None and not header_only:
                got = (query.get("token") or [None])[0]
            if not got or not hmac.compare_digest(got.encode(), self.server.token.encode()):
                raise _Refused(403, "missing or wrong session token (open the URL printed by scar review)")

        def do_GET(self):  # noqa: N802
            parts = urlsplit(self.path)
            path, query = unquote(parts.path), parse_qs(parts.query)
            try:
                if path == "/favicon.ico":
                    return self._send(204, b"", "image/x-icon")
                self._check(query)
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
                else:
                    self._json(404, {"error": f"no route {path}"})
            except _Refused as e:
                self._json(e.code, {"error": str(e)})
            except (IndexError, ValueError) as e:
                self._json(400, {"error": str(e)})

        def do_POST(self):  # noqa: N802
            try:
                self._check({}, header_only=True)
                origin = self.headers.get("Origin")
                if origin is not None and origin.lower() not in {f"http://{h}" for h in self.server.allowed_hosts()}:
                    raise _Refused(403, f"requests from {origin} are not accepted")
                if urlsplit(self.path).path != "/api/decision":
                    raise _Refused(404, f"no route {self.path}")
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if ctype != "application/json":
                    raise _Refused(415, "Content-Type must be application/json")
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    raise _Refused(411, "Content-Length required") from None
                if not 0 < length <= MAX_BODY:
                    self.close_connection = True
                    raise _Refused(413, f"body must be 1..{MAX_BODY} bytes, got {length}")
                d = parse_decision(self.rfile.read(length))
                with lock:
                    store.record(d)
                    self._json(200, {"ok": True, "progress": store.progress()})
            except _Refused as e:
                self._json(e.code, {"error": str(e)})
            except (KeyError, ValueError, TypeError) as e:
                self._json(400, {"error": str(e).strip('"')})

    srv = ReviewServer((host, port), Handler)
    srv.token = token or secrets.token_urlsafe(24)
    srv.host_name = host
    return srv
