"""On-disk cache of validated LLM replies, under ``scar.cache.cache_dir("llm")``.

Content-addressed: the key is the SHA-256 of the model, the prompt version (and the prompt
file's hash), the request's messages, its reply schema and the sampling settings. A re-run
with the same inputs therefore makes zero calls. Only replies that passed validation are
stored. Writes are atomic (temporary file + rename), so concurrent workers never see a
half-written entry; an unreadable entry counts as a miss and is overwritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from scar.cache import cache_dir

log = logging.getLogger(__name__)


def cache_key(**parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class LLMCache:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir("llm")
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        p = self.path(key)
        try:
            entry = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as e:
            log.warning("LLM cache entry %s unreadable (%s); treating it as a miss", p, e)
            return None
        return entry if isinstance(entry, dict) and "reply" in entry else None

    def put(self, key: str, reply: dict[str, Any], **meta: Any) -> None:
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"reply": reply, **meta}, f, sort_keys=True, ensure_ascii=False)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
