"""The cheap per-sample paths (issue 15, item 8) give what the plain code gave."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from scar.types import Candidate, Element, Entity, ImageContext, Region, Relationship, Sample


def _sample() -> Sample:
    ctx = ImageContext("7", "7.jpg", "/data/7.jpg", 200, 100,
                       entities=[Entity("1", "cup", (1.0, 2.0, 3.0, 4.0), synsets=("cup.n.01",)),
                                 Entity("2", "chair", (50.0, 20.0, 30.0, 40.0))],
                       relationships=[Relationship("1", "on", "2")], stuff=["wall"])
    return Sample(id="coco/7/1", source="coco", split="val", image_id="7", file_name="7.jpg", width=200, height=100,
                  region=Region((1.0, 2.0, 3.0, 4.0), "cup", "1", mask={"size": [100, 200], "counts": "ab"}),
                  phrase="a cup", object=Element("cup", "annotation", "cup"),
                  relation=Element("on the chair", "annotation", "on", anchor="2"),
                  scene=Element("in a kitchen", "lexical", "kitchen"),
                  candidates=[Candidate("cup on the chair in a kitchen"),
                              Candidate("bowl on the chair in a kitchen", "object", "bowl")],
                  context=ctx, relationship=Relationship("1", "on", "2"))


def test_to_record_is_asdict_without_the_context():
    s = _sample()
    want = dataclasses.asdict(s)
    del want["context"]
    got = s.to_record()
    assert got == want and list(got) == list(want)
    assert isinstance(got["region"]["bbox"], tuple) and got["region"]["mask"] is not s.region.mask
    got["candidates"][0]["text"] = "changed"  # a copy: the sample stays as it was
    assert s.candidates[0].text == "cup on the chair in a kitchen"


GT = {"object": "cup", "relation": "on the table", "scene": "in a kitchen"}


def _texts(*swaps: tuple[str, str]) -> tuple[list[str], list[str], list[str]]:
    """The GT and 9 distractors: ``swaps`` first, then object swaps to fill the list."""
    texts, types, values = ["cup on the table in a kitchen"], [], []
    fill = [("object", w) for w in ("bowl", "plate", "fork", "spoon", "knife", "glass", "jar", "pan", "pot")]
    for t, v in [*swaps, *fill][:9]:
        parts = dict(GT)
        parts.update(zip(t.split("+"), v.split(" + ")))
        texts.append(" ".join(parts[e] for e in ("object", "relation", "scene")))
        types.append(t)
        values.append(v)
    return texts, types, values


def test_candidate_problems_every_rule_in_order():
    from scar.build.filters.candidates import candidate_problems

    texts, types, values = _texts(("object+scene", "bowl + in a garage"), ("relation", "under the table"))
    assert list(candidate_problems(texts, types, values, GT)) == []
    texts[3] = "bowl {scene} x"  # a leak, and not the GT with the object replaced
    texts[5] = "x" * 301
    texts[6] = "scene: " + texts[6]
    values[0] = "cup + in a garage"  # distractor 1, two elements: keeps the GT's object
    values[6] = "cup"  # distractor 7, one element: keeps the GT's object
    types[8] = "colour"  # distractor 9
    assert list(candidate_problems(texts, types, values, GT)) == [
        (1, "swap: object swap keeps the GT value 'cup'"),
        (3, "swap: 'bowl {scene} x' is not the GT with only object replaced"),
        (5, f"swap: {'x' * 301!r} is not the GT with only object replaced"),
        (6, f"swap: {texts[6]!r} is not the GT with only object replaced"),
        (7, "swap: object swap keeps the GT value 'cup'"),
        (9, "neg_type: bad type 'colour' / value 'jar'"),
        (3, "leak: template token or control character in 'bowl {scene} x'"),
        (5, "length: 301 characters"),
        (6, f"leak: template token or control character in {texts[6]!r}"),
    ]


def test_a_leak_is_found_in_one_candidate_never_across_two():
    from scar.build.filters.candidates import candidate_problems

    texts = [f"cup on the table number {i}" for i in range(9)] + ["relation : x"]
    texts[3] = texts[3] + " object"  # "... object" then ": " would only leak if the texts ran together
    texts[4] = ": " + texts[4]
    assert list(candidate_problems(texts)) == [(9, "leak: template token or control character in 'relation : x'")]
    texts[9] = "fine text"
    assert list(candidate_problems(texts)) == []
    texts[0] = "bad\ttab"
    assert list(candidate_problems(texts)) == [(0, "leak: template token or control character in 'bad\\ttab'")]


def test_object_swaps_limit_is_the_head_of_the_full_list():
    from scar.build.steps.lexical import object_swaps

    for gt, scene in (("cup", "kitchen"), ("dog", "park"), ("person", None)):
        full = object_swaps(gt, source="coco", in_image=["chair", "table"], exclude={gt}, scene=scene)
        assert len(full) > 6
        for k in (1, 3, 6):
            assert object_swaps(gt, source="coco", in_image=["chair", "table"], exclude={gt}, scene=scene,
                                limit=k) == full[:k]
        again = object_swaps(gt, source="coco", in_image=["table", "Chair"], exclude={gt}, scene=scene)
        assert again == full and again is not full  # memoised on the sets; a fresh list each time


def test_real_paths_are_what_resolve_gives(tmp_path, monkeypatch):
    from scar.build.sources.common import RealPaths

    real = tmp_path / "data" / "images"
    (real / "sub").mkdir(parents=True)
    for name in ("a.jpg", "sub/b.jpg", "elsewhere.jpg"):
        (real / name).write_bytes(b"x")
    (tmp_path / "linked").symlink_to(tmp_path / "data")  # a linked folder
    (real / "link.jpg").symlink_to(real / "elsewhere.jpg")  # a linked file
    monkeypatch.chdir(tmp_path)
    paths = RealPaths()
    for p in (real / "a.jpg", tmp_path / "linked" / "images" / "sub" / "b.jpg", tmp_path / "linked/images/link.jpg",
              real / "link.jpg", Path("linked/images/a.jpg"), Path("linked/images/missing.jpg")):
        for _ in range(2):  # the folder's answer is kept
            assert paths(p) == str(p.resolve()), p


def test_box_rle_is_the_merged_polygon_rle():
    import random

    from pycocotools import mask as mask_utils

    from scar.build.masks import box_rle

    rng = random.Random(0)
    for _ in range(500):
        h, w = rng.randint(1, 700), rng.randint(1, 700)
        box = [rng.uniform(-5, w), rng.uniform(-5, h), rng.uniform(0, w), rng.uniform(0, h)]
        if rng.random() < 0.5:
            box = [float(int(v)) for v in box]
        x, y, bw, bh = box
        want = mask_utils.merge(mask_utils.frPyObjects([[x, y, x + bw, y, x + bw, y + bh, x, y + bh]], h, w))
        assert box_rle(box, h, w) == {"size": [h, w], "counts": want["counts"].decode("ascii")}



def test_box_counts_are_pycocotools_polygon_counts():
    """The box RLE worked out directly is the string pycocotools' polygon rasteriser writes, on
    boxes where rounding decides: tiny images, corners on the 1/5-pixel grid the rasteriser
    scales to (integers, halves, tenths), boxes past the image's edges, zero and near-zero
    sizes, the whole image; a negative corner is left to pycocotools."""
    import random

    from pycocotools import mask as mask_utils

    from scar.build.masks import _box_counts, box_rle

    rng = random.Random(5)

    def coord(limit: int) -> float:
        k = rng.random()
        if k < 0.3:
            return float(rng.randint(0, limit))
        if k < 0.5:
            return rng.randint(0, 2 * limit) / 2
        if k < 0.6:
            return rng.randint(0, 10 * limit) / 10
        return rng.uniform(0, limit)

    for _ in range(20000):
        h, w = rng.choice([1, 2, 3, 5, 7, 10, 37, 480]), rng.choice([1, 2, 3, 5, 7, 10, 37, 640])
        x, y, bw, bh = coord(w), coord(h), coord(w), coord(h)
        if rng.random() < 0.1:
            bw = rng.choice([0.0, 0.1, 0.2, 0.3, 0.5, 1e-9])
        if rng.random() < 0.1:
            bh = rng.choice([0.0, 0.1, 0.2, 0.3, 0.5, 1e-9])
        if rng.random() < 0.05:
            x, y, bw, bh = 0.0, 0.0, float(w), float(h)
        want = mask_utils.frPyObjects([[x, y, x + bw, y, x + bw, y + bh, x, y + bh]], h, w)[0]["counts"]
        got = _box_counts(x, y, bw, bh, h, w)
        assert got == want.decode("ascii"), (x, y, bw, bh, h, w)
        assert box_rle((x, y, bw, bh), h, w) == {"size": [h, w], "counts": got}
    assert _box_counts(-0.5, 1.0, 2.0, 2.0, 10, 10) is None
    want = mask_utils.frPyObjects([[-0.5, 1.0, 1.5, 1.0, 1.5, 3.0, -0.5, 3.0]], 10, 10)[0]["counts"].decode("ascii")
    assert box_rle((-0.5, 1.0, 2.0, 2.0), 10, 10) == {"size": [10, 10], "counts": want}

def _jpegs() -> list[bytes]:
    """Small JPEGs as PIL writes them: baseline, progressive, grey, CMYK, with an ICC profile,
    with a comment."""
    import io

    import numpy as np
    from PIL import Image

    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8))
    out = []
    for img, kw in ((im, {}), (im, {"progressive": True}), (im.convert("L"), {}), (im.convert("CMYK"), {}),
                    (im, {"icc_profile": b"\0" * 40}), (im, {"comment": b"a comment"})):
        buf = io.BytesIO()
        img.save(buf, "JPEG", **kw)
        out.append(buf.getvalue())
    return out


def test_jpeg_header_is_what_pil_reads_or_left_to_pil():
    """Whenever the header is read without PIL, PIL opens the same bytes and reports the same size
    and scan offset; headers with random bytes changed either agree or are left to PIL."""
    import io
    import random
    import warnings

    from PIL import Image

    from scar.build.sources.common import _jpeg_header

    rng = random.Random(0)
    seeds, taken = _jpegs(), 0
    assert all(_jpeg_header(b) is not None for b in seeds)  # the common case needs no PIL
    for _ in range(1500):
        b = bytearray(rng.choice(seeds))
        sos = b.find(b"\xff\xda")
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(sos + 14)] = rng.choice([0, 1, 6, 8, 0xFF, 0xD8, 0xDA, 0xC0, 0xDB, rng.randrange(256)])
        got = _jpeg_header(bytes(b))
        if got is None:
            continue
        taken += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(bytes(b))) as img:
                assert img.format == "JPEG" and (img.size, img.fp.tell()) == got
    assert taken > 500


def test_image_check_quarantines_truncated_and_corrupt_files(tmp_path):
    import numpy as np
    from PIL import Image

    from scar.build.sources.common import check_image_file

    good = _jpegs()[0]
    exif = Image.Exif()
    exif[0x0110] = "camera"
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "exif.jpg", exif=exif.tobytes())  # PIL's path
    cases = {"good.jpg": good, "trailing.jpg": good + b"\0" * 50, "cut.jpg": good[: len(good) // 2],
             "no_eoi.jpg": good[:-2], "header_only.jpg": good[:100], "corrupt.jpg": b"\xff\xd8not a jpeg",
             "exif_cut.jpg": (tmp_path / "exif.jpg").read_bytes()[:-20]}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "folder.jpg").mkdir()
    assert check_image_file(tmp_path / "good.jpg", (40, 30)) is None
    assert check_image_file(tmp_path / "trailing.jpg", (40, 30)) is None  # data after the end marker is allowed
    assert check_image_file(tmp_path / "exif.jpg", (40, 30)) is None
    assert check_image_file(tmp_path / "good.jpg", (30, 40)).endswith("good.jpg is 40x30, annotation says 30x40")
    for name in ("cut.jpg", "no_eoi.jpg", "exif_cut.jpg"):
        assert check_image_file(tmp_path / name, (40, 30)) == (
            f"{tmp_path / name} unreadable: truncated: no JPEG end-of-image marker after the scan data")
    assert check_image_file(tmp_path / "header_only.jpg").startswith(f"{tmp_path / 'header_only.jpg'} unreadable: ")
    assert check_image_file(tmp_path / "corrupt.jpg") == (
        f"{tmp_path / 'corrupt.jpg'} unreadable: UnidentifiedImageError: cannot identify image file "
        f"'{tmp_path / 'corrupt.jpg'}'")
    assert check_image_file(tmp_path / "missing.jpg") == f"{tmp_path / 'missing.jpg'} missing"
    assert check_image_file(tmp_path / "folder.jpg") == f"{tmp_path / 'folder.jpg'} missing"
    assert check_image_file(tmp_path / "cut.jpg", verify=False) is None  # only that it exists


def test_leak_search_is_the_one_pattern_search():
    import random
    import re

    from scar.build.filters.candidates import leaks

    one = re.compile(r"[{}<>\[\]|\\]|\b(?:object|relation|scene)\s*:|[\x00-\x1f]")  # the rule as one pattern
    rng = random.Random(0)
    parts = ["cup", " ", "object", "relation", "scene", ":", " :", "\t", "\x1f", "{", "]", "|", "\\", "x", "objects",
             "_scene", "é", "\x7f", "<", "\n"]
    hits = 0
    for _ in range(3000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 6)))
        assert leaks(text) == (one.search(text) is not None), repr(text)
        hits += leaks(text)
    assert 300 < hits < 2700


def test_with_box_is_dataclasses_replace():
    from scar.build.selection import _with_box

    e = Entity("3", "cup", (1.0, 2.0, 3.0, 4.0), area=12.0, iscrowd=True, kind="stuff",
               segmentation={"size": [5, 5], "counts": "x"}, phrase="a cup", synsets=("cup.n.01",))
    new = _with_box(e, (0.0, 0.0, 2.0, 2.0))
    assert new == dataclasses.replace(e, bbox=(0.0, 0.0, 2.0, 2.0)) and type(new) is Entity
    assert new is not e and e.bbox == (1.0, 2.0, 3.0, 4.0)
    assert not hasattr(Entity, "__post_init__") and not hasattr(Entity, "__slots__")


def test_one_shard_build_takes_the_shard_file_as_written_by_concat(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from scar.build.writer import ShardedRun

    schema = pa.schema([("x", pa.int64()), ("t", pa.list_(pa.string()))])
    for rows in ([], [{"x": i, "t": [str(i)] * 3} for i in range(50)]):
        table = pa.Table.from_pylist(rows, schema=schema)
        out = tmp_path / f"out{len(rows)}"
        run = ShardedRun(out / ".scar-work" / "s", {}, resume=False)
        run.finish_shard(0, {"main": table}, [], {"rows": len(rows), "stats": {}, "provenance": {}})
        assert run.concat("main", schema, out / "final.parquet") == len(rows)
        streamed = ShardedRun(out / ".scar-work" / "again", {}, resume=False)  # the general path
        streamed.done, streamed._written = run.done, {}
        streamed.work = run.work
        assert streamed.concat("main", schema, out / "streamed.parquet") == len(rows)
        assert (out / "final.parquet").read_bytes() == (out / "streamed.parquet").read_bytes()
        assert pq.read_table(out / "final.parquet").to_pylist() == rows
        run.cleanup()
        streamed.cleanup()
        assert (out / "final.parquet").is_file()


def test_context_with_is_dataclasses_replace():
    from scar.build.selection import _context_with

    ctx = _sample().context
    ctx._derived["nouns"] = {"cup": 1}  # a look-up made on the old context stays there
    ents = [dataclasses.replace(e) for e in ctx.entities]
    new = _context_with(ctx, ents)
    want = dataclasses.replace(ctx, entities=ents, relationships=list(ctx.relationships), stuff=list(ctx.stuff))
    assert type(new) is ImageContext and new == want and new.__dict__ == want.__dict__
    assert new._derived == {} and ctx._derived == {"nouns": {"cup": 1}}
    assert new.relationships is not ctx.relationships and new.stuff is not ctx.stuff and new.entities is ents
    assert [f.name for f in dataclasses.fields(ImageContext) if not f.init] == ["_derived"]
    assert not hasattr(ImageContext, "__post_init__") and not hasattr(ImageContext, "__slots__")


def test_length_problems_are_found_without_a_leak():
    from scar.build.filters.candidates import candidate_problems

    texts, types, values = _texts(("relation", "under the table"))
    texts[2], texts[4] = "ab", "y" * 301
    assert [p for p in candidate_problems(texts) if p[1].startswith("length")] == [
        (2, "length: 2 characters"), (4, "length: 301 characters")]
    assert list(candidate_problems([])) == [(None, "count: 0 candidates")]


def test_bad_file_name_is_the_path_rule():
    from scar.build.sources.common import bad_file_name

    def rule(name):  # the rule as pathlib states it
        fn = Path(str(name))
        return f"file_name {name!r} leaves the image folder" if not str(name) or fn.is_absolute() or ".." in fn.parts \
            else None

    for name in ("a.jpg", "sub/a.jpg", "./a.jpg", "a//b.jpg", "..", "../a.jpg", "a/../b.jpg", "a/..", "/etc/passwd",
                 "//x.jpg", "", "a..b.jpg", "..a.jpg", "a/..b/c.jpg", ".", 7, "a\\..\\b.jpg"):
        assert bad_file_name(name) == rule(name), name


def test_image_file_is_the_image_path(tmp_path):
    """The COCO source's image file string is the path ``image_path`` joins, for names pathlib
    joins as they are and for those it changes (``.`` parts, doubled or trailing slashes)."""
    from scar.build.sources.coco import CocoSource

    for folder in ("images/val", "/data/coco/val2017", ".", "/"):
        src = CocoSource.__new__(CocoSource)
        src.image_dir = Path(folder)
        for name in ("a.jpg", "sub/a.jpg", "./a.jpg", "a/./b.jpg", "a/.", "a//b.jpg", "a/", "/abs.jpg", "..",
                     "../a.jpg", "a/../b.jpg", ".a.jpg", "a..b.jpg", "a b.jpg", "é.jpg", "a\\b.jpg"):
            got = src._image_file(name)
            assert str(got) == str(src.image_path(name)), (folder, name)
    src.image_dir = Path("images/val")
    assert src._image_file("sub/a.jpg") == "images/val/sub/a.jpg"  # as a string: no Path made

def test_polygon_rle_is_the_merged_rle():
    import random

    from pycocotools import mask as mask_utils

    from scar.build.sources.common import to_rle

    rng = random.Random(1)
    for _ in range(300):
        h, w = rng.randint(1, 400), rng.randint(1, 400)
        polys = [[rng.uniform(-3, w + 3) if i % 2 == 0 else rng.uniform(-3, h + 3) for i in range(2 * rng.randint(3, 9))]
                 for _ in range(rng.choice([1, 1, 2, 3]))]
        want = mask_utils.merge(mask_utils.frPyObjects(polys, h, w))
        assert to_rle(polys, h, w) == {"size": [h, w], "counts": want["counts"].decode("ascii")}


def test_box_measures_are_the_corner_formulas():
    import pickle
    import random

    from scar.build.steps.spatial import Box

    rng = random.Random(2)
    for _ in range(200):
        x, y, w, h = (rng.uniform(-50, 500) for _ in range(4))
        b = Box.of((x, y, w, h))
        x2, y2 = x + w, y + h
        assert (b.x1, b.y1, b.x2, b.y2) == (x, y, x2, y2)
        assert (b.w, b.h, b.cx, b.cy) == (x2 - x, y2 - y, (x + x2) / 2, (y + y2) / 2)
        assert b.area == max(x2 - x, 0) * max(y2 - y, 0)
        assert b == Box(x, y, x2, y2) and hash(b) == hash(Box(x, y, x2, y2)) and b != Box(x, y, x2, y2 + 1)
        assert pickle.loads(pickle.dumps(b)) == b


def test_stable_draws_are_what_a_new_random_draws():
    """``StableDraws.sample`` re-seeds one generator instead of making ``stable_rng(...)``: the
    same draws for populations below and above ``Random.sample``'s set-size switch (21 for k <= 5),
    for k above 5, for sizes just past a power of two (many rejections), and for k = 0 and k = n."""
    import random

    from scar.build.steps.lexical import StableDraws, stable_rng

    draws = StableDraws()
    rnd = random.Random(1)
    cases = [(n, k) for n in (1, 2, 3, 5, 6, 8, 9, 17, 21, 22, 33, 65, 85, 86, 100, 200) for k in (0, 1, 3, 5, 6, 9) if k <= n]
    cases += [(n, n) for n in (4, 21, 30)]
    for n, k in cases:
        for _ in range(40):
            seed, sid = rnd.randrange(1000), f"coco/{rnd.randrange(10**6)}/{rnd.randrange(99)}"
            population = [f"w{i}" for i in range(n)] if rnd.random() < 0.5 else range(n)
            want = stable_rng(seed, sid, "object").sample(population, k)
            assert draws.sample(seed, (sid, "object"), population, k) == want, (n, k, seed, sid)
    try:
        draws.sample(0, ("x",), [1, 2], 3)
    except ValueError:
        pass
    else:
        raise AssertionError("a sample larger than the population must be refused, as Random.sample does")
