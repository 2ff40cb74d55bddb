"""Image paths and bytes: resolved inside the image root only, hashed once, decoded
in background threads so the model never waits for the disk."""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BadRow(ValueError):
    """A row that cannot be used; ``reason`` is a short category for the counts."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def resolve_image(root: Path, rel: str, *, must_exist: bool = True) -> str:
    """``root/rel`` as an absolute path. A path from a data file may not leave the
    root: absolute paths and ``..`` are refused (symlinks the user placed inside the
    root are followed: they are the user's choice, not the file's)."""
    if not isinstance(rel, str) or not rel.strip():
        raise BadRow("malformed image path", repr(rel))
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or p.drive:
        raise BadRow("image outside the image root", rel)
    full = Path(os.path.abspath(root)) / p
    if must_exist and not full.is_file():
        raise BadRow("missing image", str(full))
    return str(full)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class FileHashes:
    """sha256 of image files, each file read once: keyed by path, size and mtime (an
    edited file is hashed again), remembered in memory and, across runs, in a small
    SQLite table under ``$SCAR_CACHE/images`` (so fingerprinting a folder of images the
    second time costs one ``stat`` per file)."""

    def __init__(self, persist: bool = True) -> None:
        self._memo: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()
        self._persist = persist
        self._db = None
        self._db_root: str | None = None

    def _table(self):
        """The persistent table for the current ``$SCAR_CACHE`` (None when it cannot be opened)."""
        if not self._persist:
            return None
        import sqlite3

        from scar.cache import cache_dir

        root = str(cache_dir("images"))
        if self._db is None or self._db_root != root:
            try:
                db = sqlite3.connect(os.path.join(root, "sha256.sqlite"), timeout=60, check_same_thread=False)
                db.execute("CREATE TABLE IF NOT EXISTS sha (path TEXT, size INTEGER, mtime INTEGER, digest TEXT, "
                           "PRIMARY KEY (path, size, mtime))")
                db.commit()
            except sqlite3.Error:
                return None
            self._db, self._db_root = db, root
        return self._db

    def __call__(self, path: str) -> str:
        import sqlite3

        st = os.stat(path)
        key = (path, st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._memo:
                return self._memo[key]
            db = self._table()
            if db is not None:
                try:
                    row = db.execute("SELECT digest FROM sha WHERE path=? AND size=? AND mtime=?", key).fetchone()
                except sqlite3.Error:
                    row = None
                if row:
                    self._memo[key] = row[0]
                    return row[0]
        digest = file_sha256(path)
        with self._lock:
            self._memo[key] = digest
            db = self._table()
            if db is not None:
                try:
                    with db:
                        db.execute("INSERT OR REPLACE INTO sha VALUES (?, ?, ?, ?)", (*key, digest))
                except sqlite3.Error:
                    pass
        return digest


FILE_HASHES = FileHashes()


def images_fingerprint(root: str | Path | None, paths: Iterable[str]) -> dict[str, Any]:
    """What the images of a task are: the image root (absolute), how many distinct
    images the rows use, and a sha256 over each one's path inside the root, size and
    content hash (``FILE_HASHES``). A missing file counts as missing. A stored result is
    reused only when this matches (so an overwritten image or another ``--image-root``
    recomputes it)."""
    root_s = os.path.abspath(root) if root is not None else None
    h = hashlib.sha256()
    n = 0
    for p in sorted(set(paths)):
        rel = os.path.relpath(p, root_s) if root_s else p
        try:
            size, digest = os.stat(p).st_size, FILE_HASHES(p)
        except OSError:
            size, digest = -1, "missing"
        h.update(f"{rel}\0{size}\0{digest}\n".encode())
        n += 1
    return {"image_root": root_s, "images": n, "sha256": h.hexdigest()}


def load_rgb(path: str) -> Any:
    """Decode an image to RGB (PIL); raises BadRow("unreadable image") when it cannot."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            image = im.convert("RGB")
    except FileNotFoundError:
        raise BadRow("missing image", path) from None
    except Image.DecompressionBombError as e:  # as the build side: a bad image, not a crash
        raise BadRow("unreadable image", f"{path}: decompression bomb: {e}") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise BadRow("unreadable image", f"{path}: {e}") from None
    return image


def prefetch(items: Iterable[T], fn: Callable[[T], R], *, depth: int = 2, workers: int = 2) -> Iterator[R]:
    """``map(fn, items)`` computed ahead in background threads, at most ``depth``
    results waiting, results in order. Exceptions are re-raised in the consumer."""
    if workers <= 0:
        yield from map(fn, items)
        return
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scar-loader")

    def feed() -> None:
        try:
            for item in items:
                if stop.is_set():
                    break
                q.put(pool.submit(fn, item))
        finally:
            if not stop.is_set():
                q.put(None)

    feeder = threading.Thread(target=feed, name="scar-loader-feed", daemon=True)
    feeder.start()
    try:
        while (fut := q.get()) is not None:
            yield fut.result()
    finally:
        stop.set()
        while not q.empty():  # unblock the feeder
            try:
                q.get_nowait()
            except queue.Empty:
                break
        pool.shutdown(wait=False, cancel_futures=True)
