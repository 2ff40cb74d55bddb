"""Helpers shared by test modules (fixtures live in conftest.py; test modules never import
each other): a COCO-format folder writer, the build config helper, the golden files, an
independent WordNet check, Chromium for the page tests, and a build stopped at the writer's
stall point for the kill -9 tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from scar.build.config import BuildConfig, merge

REPO = Path(__file__).resolve().parents[1]
REF = REPO / "scar" / "data" / "reference"
GOLDEN = REPO / "tests" / "fixtures" / "golden"
#: Debian's Chromium for the page tests (never a browser downloaded by a test tool), and its flags
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


def golden_bytes(folder: str, rel: str) -> bytes:
    """A golden build file (tests/fixtures/golden/<folder>/<rel>; JSON lines are stored gzipped)."""
    import gzip

    p = GOLDEN / folder / rel
    return gzip.decompress(p.with_name(p.name + ".gz").read_bytes()) if rel.endswith(".jsonl") else p.read_bytes()


def write_coco(root: Path, images: list[dict], annotations: list[dict], categories: list[dict],
               split: str = "val", make_images: bool = True) -> Path:
    """A COCO-format folder: annotations/instances_<split>.json + images/<split>/*."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    data = {"images": images, "annotations": annotations, "categories": categories}
    (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    if make_images:
        rng = np.random.default_rng(0)
        for im in images:
            arr = rng.integers(0, 255, (im["height"], im["width"], 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / "images" / split / im["file_name"])
    return root

def cfg(key: str, root, split: str, out, *, name: str | None = None, **parts) -> BuildConfig:
    """A ``BuildConfig`` for tests: source, split and output folder (no progress bar), then
    ``parts`` nested as in ``BuildConfig`` (``generator={...}``, ``engine={...}``...)."""
    base = {"source": {"name": key, "root": root, "split": split, "stem": name},
            "output": {"dir": out, "progress": False}}
    return BuildConfig.model_validate(merge(base, parts))


def related_in_wordnet(a: str, b: str) -> bool:
    """An independent check of the library's WordNet rules, straight on nltk: a and b share a
    noun synset, or one is an ancestor (hypernym or instance hypernym) of the other, in any
    noun sense. WordNet loads on the first call, not at import (test collection stays fast)."""
    from scar.lexicon import wordnet

    wn = wordnet()  # the same data, loaded once per process

    sa = wn.synsets("_".join(a.lower().split()), pos="n")
    sb = wn.synsets("_".join(b.lower().split()), pos="n")
    hyper = lambda s: s.hypernyms() + s.instance_hypernyms()  # noqa: E731
    return any(x == y or y in set(x.closure(hyper)) or x in set(y.closure(hyper)) for x in sa for y in sb)


def _build_stalling_after(config: BuildConfig, n: int) -> None:
    import os

    from scar import lexicon
    from scar.build.pipeline import build
    from scar.build.writer import STALL_ENV

    os.environ[STALL_ENV] = str(n)
    lexicon.after_fork()  # its own WordNet file handles
    build(config)


def stalled_build(config: BuildConfig, n: int, timeout: float = 240):
    """A real build in a forked process (imports and WordNet inherited: no start-up cost),
    returned as (process, work folder) once it stands at the writer's stall point
    (``SCAR_STALL_AFTER_SHARDS``): its manifest records ``n`` shards and it has written
    ``stalled-after-<n>`` into its work folder. Nothing races the build: kill it there
    (``kill -9``) or remove the file to let it go on."""
    import multiprocessing
    import time

    import pytest

    from scar.names import source_name

    stem = source_name(config.source.name, config.source.stem).stem
    work = Path(config.output.dir) / ".scar-work" / f"{stem}_{config.source.split}"
    proc = multiprocessing.get_context("fork").Process(target=_build_stalling_after, args=(config, n), daemon=True)
    proc.start()
    marker = work / f"stalled-after-{n}"
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if not proc.is_alive():
            pytest.fail(f"the build ended (exit code {proc.exitcode}) before its shard {n}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {marker} after {timeout:.0f} s")
        time.sleep(0.02)
    return proc, work


def count_loads(monkeypatch, model_class) -> list:
    """Record every ``model_class.from_pretrained`` call (its first argument) and still load:
    the list a test reads to see how often a checkpoint was loaded."""
    loads: list = []
    real = model_class.from_pretrained.__func__

    def counting(cls, *a, **k):
        loads.append(a[0] if a else k)
        return real(cls, *a, **k)

    monkeypatch.setattr(model_class, "from_pretrained", classmethod(counting))
    return loads
