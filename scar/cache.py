"""One cache root for everything scar caches (LLM replies, embeddings, downloads)."""

from __future__ import annotations

import os
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
