"""One cache root for everything scar caches (LLM replies, embeddings, downloads), and the one
digest of a model folder's files that cache keys and recorded revisions use."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path


def cache_root() -> Path:
    """``$SCAR_CACHE`` if set, else ``~/.cache/scar``. Created on first use."""
    root = Path(os.environ.get("SCAR_CACHE") or Path.home() / ".cache" / "scar").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_dir(*parts: str) -> Path:
    """A sub-folder of the cache root, e.g. ``cache_dir("llm")``."""
    path = cache_root().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def files_digest(files: Iterable[Path], root: Path) -> str:
    """sha256 (hex) over each file's path relative to ``root`` and its bytes, in the order given."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(root)}\0".encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
