"""Nothing stale at evaluation (issue 17, items 6 and 7): a decompression bomb is one bad
row; a stored result is not reused when its images were overwritten or ``--image-root``
points elsewhere; a user's embedder file or a helper it imports, once edited, gets a new
revision even when the class says ``revision = "v1"``; a text-only embedder never sees
``image_path`` unless it declares ``uses_image_path`` (then the path is in its cache key);
vectors cached under the old key scheme are recomputed, never read."""

import hashlib
import json
import shutil
import sqlite3
import warnings

import numpy as np
import pytest
from PIL import Image

from eval_fixtures import scar_eval
from scar.eval.embedders import Embedder, load_embedder
from scar.eval.embedders.cache import EmbeddingCache, setting_key
from scar.eval.harness import evaluate, run_eval
from scar.eval.tasks import ScarTask


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))


class Pixels(Embedder):
    """An image embedder whose vectors follow the pixels (mean colour + the text)."""

    name = "pixels"
    modalities = ("text", "image")
    revision = "v1"

    def encode(self, inputs, *, role):
        out = []
        for x in inputs:
            base = np.random.default_rng(int(hashlib.sha256((x.text or "").encode()).hexdigest()[:8], 16))
            v = base.standard_normal(8)
            if x.image is not None:
                v[:3] += np.asarray(x.image, np.float32).mean(axis=(0, 1)) / 10
            out.append(v)
        return np.stack(out).astype(np.float32)


@pytest.mark.slow  # decodes a large image header
def test_a_decompression_bomb_is_a_bad_row_not_a_crash(tmp_path):
    path = scar_eval(tmp_path, "Bomb", n=200, images=200)
    # a 20000 x 20000 PNG: a few KB on disk, past PIL's bomb limit when decoded
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Image.new("1", (20000, 20000)).save(tmp_path / "images" / "x_val" / "3.png")
    res = evaluate(Pixels(), ScarTask(path), progress=False)
    assert res.errors == {"unreadable image": 1} and res.n == 199


def test_overwritten_images_or_another_root_recompute_the_stored_result(tmp_path):
    data = tmp_path / "d"
    path = scar_eval(data, "Img", n=70, images=7)
    out = tmp_path / "res"
    first = run_eval(Pixels(), [ScarTask(path)], out, progress=False)[0]
    assert first.status == "done" and first.result.inputs["images"] == 7
    assert run_eval(Pixels(), [ScarTask(path)], out, progress=False)[0].status == "skipped"
    # the same names, other pixels: the stored result is stale
    for k in range(7):
        Image.new("RGB", (32, 24), (255 * (k % 2), 40 * k, 0)).save(data / "images" / "x_val" / f"{k}.png")
    again = run_eval(Pixels(), [ScarTask(path)], out, progress=False)[0]
    assert again.status == "done" and again.result.inputs != first.result.inputs
    assert run_eval(Pixels(), [ScarTask(path)], out, progress=False)[0].status == "skipped"
    other = tmp_path / "other_images"
    shutil.copytree(data / "images", other)
    moved = run_eval(Pixels(), [ScarTask(path, other)], out, progress=False)[0]
    assert moved.status == "done" and moved.result.inputs["image_root"] == str(other)


def _user_files(tmp_path, helper_scale="1.0", revision='"v1"'):
    (tmp_path / "helper_mod.py").write_text(f"SCALE = {helper_scale}\n")
    f = tmp_path / "mine.py"
    f.write_text(
        "import numpy as np\nfrom scar.eval.embedders import Embedder\n"
        "class Mine(Embedder):\n    name = 'mine'\n    modalities = ('text',)\n"
        f"    revision = {revision}\n"
        "    def encode(self, inputs, *, role):\n"
        "        from helper_mod import SCALE\n"
        "        return np.stack([[len(x.text or '') * SCALE, 1.0, (x.text or '').count('1')] for x in inputs])"
        ".astype(np.float32)\n")
    return f


def test_a_user_revision_follows_the_file_and_its_local_imports(tmp_path):
    f = _user_files(tmp_path)
    a = load_embedder(f"{f}:Mine")
    assert a.revision.startswith("v1+file-")  # the class's own "v1" cannot hide an edit
    _user_files(tmp_path, helper_scale="2.0")  # only the helper changes
    b = load_embedder(f"{f}:Mine")
    assert b.revision != a.revision and b.revision.startswith("v1+file-")
    _user_files(tmp_path, helper_scale="2.0", revision='"v2"')
    assert load_embedder(f"{f}:Mine").revision.split("+")[1] != b.revision.split("+")[1]
    _user_files(tmp_path, helper_scale="2.0", revision="'unversioned'")
    assert load_embedder(f"{f}:Mine").revision.startswith("file-")


def test_an_edited_helper_does_not_reuse_vectors_or_results(tmp_path):
    path = scar_eval(tmp_path / "d", "U", n=100)
    f = _user_files(tmp_path)
    out = tmp_path / "res"
    first = run_eval(load_embedder(f"{f}:Mine"), [ScarTask(path)], out, progress=False)[0]
    _user_files(tmp_path, helper_scale="-1.0")
    import sys

    sys.modules.pop("helper_mod", None)  # a new process would import the edited helper
    second = run_eval(load_embedder(f"{f}:Mine"), [ScarTask(path)], out, progress=False)[0]
    assert second.status == "done" and second.result.model_revision != first.result.model_revision
    assert second.result.timings["query_cached"] == 0


class SeesPath(Embedder):
    """A text embedder that reads the image path, declared or not."""

    name = "sees-path"
    modalities = ("text",)
    revision = "v1"

    def __init__(self):
        self.paths = []

    def encode(self, inputs, *, role):
        self.paths += [x.image_path for x in inputs]
        return np.stack([np.random.default_rng(abs(hash((role, x.text, x.image_path))) % 2**32).standard_normal(8)
                         for x in inputs]).astype(np.float32)


class DeclaresPath(SeesPath):
    name = "declares-path"
    uses_image_path = True


def test_text_embedders_see_image_path_only_when_they_declare_it(tmp_path):
    path = scar_eval(tmp_path, "P", n=70, images=7)
    task = ScarTask(path)
    plain = SeesPath()
    evaluate(plain, task, progress=False)
    assert set(plain.paths) == {None}  # not declared: never shown
    decl = DeclaresPath()
    evaluate(decl, task, progress=False)
    assert len({p for p in decl.paths if p}) == 7
    # with the cache, 7 queries that differ only by image stay 7 entries (they were merged into one)
    again = DeclaresPath()
    res = evaluate(again, task, progress=False)
    assert again.paths == [] and res.timings["query_cached"] == res.timings["query_unique"]
    assert res.timings["query_unique"] > 7


def test_vectors_cached_under_the_old_key_scheme_are_never_read(tmp_path):
    """Write poisoned vectors where the old scheme (no key version, no image path) would
    look them up: the new scheme recomputes and scores as a fresh run."""
    path = scar_eval(tmp_path, "K", n=60, images=6)
    task = ScarTask(path)
    fresh = evaluate(Pixels(), task, progress=False, cache=False)
    emb = Pixels()
    old_setting = {k: v for k, v in setting_key(emb).items() if k != "key_version"}
    digest = hashlib.sha256(json.dumps(old_setting, sort_keys=True, default=str).encode()).hexdigest()[:24]
    folder = tmp_path / "cache" / "embeddings"
    folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(folder / f"{emb.run_name}-{digest}.sqlite")
    db.execute("CREATE TABLE setting (json TEXT)")
    db.execute("CREATE TABLE vectors (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")
    from scar.eval.tasks.images import FILE_HASHES

    def old_key(role, text, sha, bbox):
        payload = json.dumps([role, text, sha, None if bbox is None else [float(v) for v in bbox]])
        return hashlib.sha256(payload.encode()).hexdigest()

    poison = np.ones(8, np.float32).tobytes()
    for q in task.queries():
        for role, specs in (("query", [q.query]), ("candidate", q.candidates)):
            for s in specs:
                sha = FILE_HASHES(s.image_path) if s.image_path else None
                db.execute("INSERT OR REPLACE INTO vectors VALUES (?, 8, ?)", (old_key(role, s.text, sha, s.bbox),
                                                                               poison))
    db.commit()
    db.close()
    res = evaluate(Pixels(), task, progress=False)
    assert res.timings["query_cached"] == 0 and res.main == fresh.main and res.tie_rate == fresh.tie_rate
    assert EmbeddingCache(Pixels()).path.name != f"{emb.run_name}-{digest}.sqlite"
