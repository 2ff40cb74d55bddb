"""The on-disk embedding cache: a second identical run encodes nothing.

One SQLite file per embedder setting under ``cache_dir("embeddings")`` (``$SCAR_CACHE``),
named by a hash of model + revision + variant + dtype + resolution + params + the key
version. Each row is keyed by a hash of the role and the input's full text, image bytes
(sha256, only when the embedder takes images), image path (only when it declares
``uses_image_path``) and box, and holds the raw float32 vector ``encode`` returned.
Writes are committed per batch, so a crashed run keeps what it encoded.

``KEY_VERSION`` is bumped whenever what enters a key changes: entries made under an
older scheme live in another file and are never read (they are recomputed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from pathlib import Path

import numpy as np
from filelock import FileLock

from scar.cache import cache_dir

log = logging.getLogger(__name__)


#: 2: the image path of ``uses_image_path`` embedders in the input key; user revisions
#: carry the hash of their file and local modules.
KEY_VERSION = 2


def setting_key(embedder) -> dict:
    m = embedder.meta()
    return {"model": m.name, "revision": m.revision, "variant": m.variant, "dtype": m.dtype,
            "resolution": m.resolution, "params": embedder.params(), "class": type(embedder).__qualname__,
            "key_version": KEY_VERSION}


def input_key(role: str, text: str | None, image_sha: str | None, bbox, image_path: str | None = None) -> str:
    payload = json.dumps([role, text, image_sha, None if bbox is None else [float(v) for v in bbox], image_path])
    return hashlib.sha256(payload.encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, embedder, root: str | Path | None = None) -> None:
        setting = setting_key(embedder)
        digest = hashlib.sha256(json.dumps(setting, sort_keys=True, default=str).encode()).hexdigest()[:24]
        folder = Path(root) if root else cache_dir("embeddings")
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{embedder.run_name.replace('/', '__')[:60]}-{digest}.sqlite"
        # Switching a file to WAL needs it to itself and does not wait on the busy timeout: two
        # processes opening a new cache at once (torchrun ranks, parallel jobs) would see
        # "database is locked" about one time in four. So the opening is done under a lock file;
        # reads and writes afterwards wait on SQLite's own timeout as usual.
        with FileLock(f"{self.path}.lock", timeout=300):
            self._db = sqlite3.connect(self.path, timeout=120, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS setting (json TEXT)")
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")
            if self._db.execute("SELECT COUNT(*) FROM setting").fetchone()[0] == 0:
                self._db.execute("INSERT INTO setting VALUES (?)", (json.dumps(setting, sort_keys=True, default=str),))
            self._db.commit()

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for s in range(0, len(keys), 500):
            chunk = keys[s:s + 500]
            rows = self._db.execute(f"SELECT key, dim, vec FROM vectors WHERE key IN ({','.join('?' * len(chunk))})",
                                    chunk).fetchall()
            for key, dim, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == dim:
                    out[key] = vec
        return out

    def put_many(self, items: list[tuple[str, np.ndarray]]) -> None:
        rows = [(k, int(v.shape[0]), np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in items]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    def close(self) -> None:
        self._db.close()
