"""Resumable, deterministic builds: work in shards, finish with one file.

The image groups of a source, in their deterministic order, are cut into shards of
``shard_size`` images (``--shard-size``). Each finished shard is written atomically (temp file +
rename) under ``OUT/.scar-work/<stem>_<split>/`` together with its rejects, and recorded
in ``manifest.json`` (rewritten atomically). A killed build restarted with ``resume``
skips the recorded shards (their groups are read but not processed) and redoes the one
that was in flight. When every shard is done the rows are concatenated in shard order
into the final file with a fixed row-group size, so the result is byte-identical to an
uninterrupted run, whatever the number of workers or interruptions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from scar.errors import Busy, ScarUserError

log = logging.getLogger(__name__)

ROW_GROUP = 10_000
MANIFEST = "manifest.json"
#: A known point to interrupt a build at, for tests of ``kill -9`` and resume: with
#: ``SCAR_STALL_AFTER_SHARDS=N`` in its environment a build, once its manifest records N
#: shards, writes ``stalled-after-N`` into its work folder and waits while that file exists
#: (at most 10 minutes), so a test can wait for the file instead of racing the build.
STALL_ENV = "SCAR_STALL_AFTER_SHARDS"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_lines(path: Path, lines: Iterable[str]) -> int:
    """Write ``lines`` (one per line) atomically, streaming; return how many."""
    tmp, n = path.with_name(path.name + ".partial"), 0
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
            n += 1
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return n


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """Write ``table`` atomically, as ``ShardedRun.concat`` writes a final file of that one table
    (one ``ParquetWriter``, zstd, row groups of ``ROW_GROUP``, no row group for no rows): the
    same bytes, so a build of one shard takes the shard's file as its final file."""
    tmp = path.with_name(path.name + ".partial")
    with pq.ParquetWriter(tmp, table.schema, compression="zstd") as w:
        if table.num_rows:
            w.write_table(table, row_group_size=ROW_GROUP)
    os.replace(tmp, path)


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


class ShardedRun:
    """Book-keeping of one (source, split) build in ``work``.

    ``settings`` are what decides the rows (``BuildConfig.row_settings``); their hash is
    the fingerprint a resume must match. ``shard_size`` is the unit of resume: a
    resume with another shard size is refused too."""

    def __init__(self, work: Path, settings: dict[str, Any], *, resume: bool, shard_size: int = 256) -> None:
        self.work = Path(work)
        self.shard_size = shard_size
        self.settings = json.loads(json.dumps(settings, sort_keys=True, default=str))
        self.fp = hashlib.sha256(json.dumps(self.settings, sort_keys=True).encode()).hexdigest()[:16]
        self.manifest_path = self.work / MANIFEST
        self.done: dict[int, dict[str, Any]] = {}
        #: (shard, table name) -> (schema, rows) of the shard tables this process wrote
        self._written: dict[tuple[int, str], tuple[pa.Schema, int]] = {}
        self._lock = out_lock(self.work.parent.parent)  # OUT (above .scar-work): one build at a time
        if self.work.exists() and not resume:
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True, exist_ok=True)
        if resume and self.manifest_path.exists():
            m = json.loads(self.manifest_path.read_text())
            if m.get("fingerprint") != self.fp:
                before, now = _flat(m.get("settings") or {}), _flat(self.settings)
                changed = [f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in sorted(set(before) | set(now))
                           if before.get(k) != now.get(k)]
                raise ScarUserError(f"{self.work}: --resume with different settings than the interrupted build "
                                    f"({'; '.join(changed) or 'fingerprint ' + str(m.get('fingerprint'))}); "
                                    "rerun without --resume")
            if m.get("shard_size", shard_size) != shard_size:
                raise ScarUserError(f"{self.work}: --resume with --shard-size {shard_size}, the interrupted "
                                    f"build used {m['shard_size']}; give that or rerun without --resume")
            self.done = {int(k): v for k, v in m["shards"].items()}

    def shard_of(self, image_index: int) -> int:
        """The shard of the image at ``image_index`` in the source's order."""
        return image_index // self.shard_size

    def is_done(self, shard: int) -> bool:
        return shard in self.done and (self.work / self.done[shard]["file"]).is_file()

    def finish_shard(self, shard: int, tables: dict[str, pa.Table], rejects: list[dict[str, Any]],
                     stats: dict[str, Any]) -> None:
        """Write a shard's tables (name -> table) and rejects atomically, then record it."""
        names = {}
        for name, table in tables.items():
            path = self.work / f"shard-{shard:06d}.{name}.parquet"
            write_parquet_atomic(table, path)
            names[name] = path.name
            self._written[(shard, name)] = (table.schema, table.num_rows)
        rej = self.work / f"shard-{shard:06d}.rejected.jsonl"
        atomic_write_bytes(rej, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rejects).encode())
        self.done[shard] = {"file": next(iter(names.values())), "tables": names, "rejected": rej.name,
                            "stats": stats}
        atomic_write_bytes(self.manifest_path, json.dumps(
            {"fingerprint": self.fp, "settings": self.settings, "shard_size": self.shard_size,
             "shards": {str(k): v for k, v in sorted(self.done.items())}},
            indent=1, sort_keys=True).encode())
        if os.environ.get(STALL_ENV, "").strip() == str(len(self.done)):
            self._stall()

    def _stall(self) -> None:
        marker = self.work / f"stalled-after-{len(self.done)}"
        atomic_write_bytes(marker, f"pid {os.getpid()}\n".encode())
        log.warning("%s=%s: stalled after shard %d until %s is removed", STALL_ENV, len(self.done),
                    len(self.done), marker)
        deadline = time.monotonic() + 600
        while marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def shards(self) -> list[int]:
        return sorted(self.done)

    def concat(self, name: str, schema: pa.Schema, dest: Path) -> int:
        """Stream table ``name`` of every shard, in order, into ``dest``; return rows.

        Shard boundaries depend only on the group order, so the bytes do not depend on
        the number of workers or on interruptions; memory stays at one shard."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        shards = self.shards()
        written = self._written.get((shards[0], name)) if len(shards) == 1 else None
        if written is not None and written[0].equals(schema, check_metadata=True):
            # one shard this process wrote as this method would write it: its file is the final file
            src = self.work / self.done[shards[0]]["tables"][name]
            tmp.unlink(missing_ok=True)
            try:
                os.link(src, tmp)
            except OSError:  # no hard links here (another file system): a copy
                shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
            return written[1]
        rows = 0
        with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            for s in shards:
                t = pq.read_table(self.work / self.done[s]["tables"][name]).cast(schema)
                if t.num_rows:
                    w.write_table(t, row_group_size=ROW_GROUP)
                    rows += t.num_rows
        os.replace(tmp, dest)
        return rows

    def rejects(self) -> Iterator[str]:
        """The reject lines of every shard, in order, one shard in memory at a time."""
        for s in self.shards():
            yield from (self.work / self.done[s]["rejected"]).read_text().splitlines()

    def stats(self) -> list[dict[str, Any]]:
        return [self.done[s]["stats"] for s in self.shards()]

    def cleanup(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self._lock.release()


LOCK_FILE = ".scar-lock"
_HELD: dict[str, list] = {}  # resolved OUT -> [open lock file, holders in this process]
_HELD_GUARD = threading.Lock()


class OutLock:
    """An exclusive lock on a build folder (``OUT/.scar-lock``, ``fcntl.flock``) held from the
    start of a build until its card is written: a second build into the same folder from
    another process stops at once with a clear message instead of racing on shard names,
    the card and its configs. The kernel releases it when the process ends, also on
    ``kill -9``. Re-entrant within one process (several builds in a row, a retry after an
    error)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._released = False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        with _HELD_GUARD:
            held = _HELD.get(self.key)
            if held is None:
                return
            held[1] -= 1
            if held[1] <= 0:
                del _HELD[self.key]
                held[0].close()  # closing the file drops the flock


def out_lock(out: Path) -> OutLock:
    """Take ``out``'s build lock (see ``OutLock``); RuntimeError naming the holder when
    another process has it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (documented as unsupported)
        fcntl = None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    key = str(out.resolve())
    with _HELD_GUARD:
        if key in _HELD:
            _HELD[key][1] += 1
            return OutLock(key)
        f = open(out / LOCK_FILE, "a+", encoding="utf-8")
        try:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise Busy(f"{out}: another scar build ({holder}) is writing into this folder; wait for it to "
                               "finish or build into another --out") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}\n")
        f.flush()
        _HELD[key] = [f, 1]
        return OutLock(key)
