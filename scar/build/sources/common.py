"""Helpers shared by the source readers: RLE masks, image files, COCO-format JSON.

COCO-format files (COCO, COCO-Stuff, RefCOCO's ``instances.json``) are checked
record by record before use: a malformed image or annotation record is rejected
with its reason through the source (``Source.reject``) and the read goes on.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image
from pycocotools import mask as mask_utils


def to_rle(segmentation: Any, height: int, width: int) -> dict[str, Any]:
    """Polygons, uncompressed or compressed RLE -> compressed RLE with str counts."""
    if isinstance(segmentation, list):
        if not segmentation or not all(isinstance(p, list) and len(p) >= 6 for p in segmentation):
            raise ValueError("polygon segmentation needs lists of at least 3 points")
        rles = mask_utils.frPyObjects(segmentation, height, width)
        rle = rles[0] if len(rles) == 1 else mask_utils.merge(rles)  # one polygon: its RLE is the mask's
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), str):
        size = [int(v) for v in segmentation.get("size", [])]
        if size != [height, width]:
            raise ValueError(f"RLE size {size} is not the image's [{height}, {width}]")
        rle = {"size": size, "counts": segmentation["counts"].encode("ascii")}
    else:
        raise ValueError(f"unsupported segmentation of type {type(segmentation).__name__}")
    counts = rle["counts"]
    return {"size": [int(v) for v in rle["size"]],
            "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def rle_area(rle: dict[str, Any]) -> int:
    counts = rle["counts"]
    return int(mask_utils.area({"size": rle["size"], "counts": counts.encode() if isinstance(counts, str) else counts}))


def first_existing(root: Path, candidates: list[str], what: str) -> Path:
    """The first of ``root/<candidate>`` that exists; a clear error listing them otherwise."""
    for c in candidates:
        if (root / c).exists():
            return root / c
    from scar.errors import MissingInput

    raise MissingInput(f"{what} not found under {root}; looked for: {', '.join(candidates)}")


def check_image_file(path: Path | str, size: tuple[int, int] | None = None, verify: bool = True) -> str | None:
    """None when the image file is usable, else the problem. ``size`` (w, h) is checked
    when given; ``verify`` False only checks that the file exists. ``path`` a ``Path`` or its
    string (the problem names it as given).

    A JPEG is read once, from its start up to the scan data: its header is taken without PIL
    when it is one PIL opens without question (:func:`_jpeg_header`, the common case), else PIL
    opens it (``Image.open`` + ``verify``, which names what is wrong). A JPEG with no end-of-image
    marker after its scan data is truncated. Other formats: PIL (``verify`` checks a PNG's chunks)."""
    if not verify:
        return None if Path(path).is_file() else f"{path} missing"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # never waits on a FIFO
    except OSError:
        return _check_with_pil(Path(path), size)  # what is wrong with it, in PIL's or pathlib's words
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return f"{path} missing"  # (pathlib's is_file: a folder or a device is no image file)
        head = _jpeg_header(os.pread(fd, _JPEG_HEAD, 0))
        if head is None:
            return _check_with_pil(Path(path), size)
        got, scan = head
        if not _jpeg_ends(fd, scan, st.st_size):
            return f"{path} unreadable: truncated: no JPEG end-of-image marker after the scan data"
    finally:
        os.close(fd)
    if size is not None and got != tuple(size):
        return f"{path} is {got[0]}x{got[1]}, annotation says {size[0]}x{size[1]}"
    return None


def _check_with_pil(path: Path, size: tuple[int, int] | None) -> str | None:
    """``check_image_file`` through PIL: ``Image.open`` (the header), ``verify`` (a PNG's chunks)
    and, for a JPEG, the end-of-image marker."""
    if not path.is_file():
        return f"{path} missing"
    try:
        with Image.open(path) as img:  # the size is the header's; verify() then checks the rest, once
            got = img.size
            scan = img.fp.tell() if img.format == "JPEG" else None  # PIL stops after the scan header
            img.verify()
        if scan is not None:
            with open(path, "rb") as f:
                if not _jpeg_ends(f.fileno(), scan, os.fstat(f.fileno()).st_size):
                    return f"{path} unreadable: truncated: no JPEG end-of-image marker after the scan data"
    except Exception as e:  # PIL raises many types for corrupt files
        return f"{path} unreadable: {type(e).__name__}: {e}"
    if size is not None and got != tuple(size):
        return f"{path} is {got[0]}x{got[1]}, annotation says {size[0]}x{size[1]}"
    return None


#: Bytes of a JPEG read for its header: the tables and the frame header fit, with room to spare.
_JPEG_HEAD = 65536
#: Start-of-frame markers (PIL's ``SOF`` handler; DHP, 0xDE, is left to PIL).
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
#: Segments PIL skips or stores without looking inside: DHT, DAC, DNL, DRI, EXP, COM.
_OPAQUE = frozenset({0xC4, 0xCC, 0xDC, 0xDD, 0xDF, 0xFE})
#: Application segments PIL parses further (EXIF, MPO): left to PIL.
_PARSED_APP = ((0xE1, b"Exif\0\0"), (0xE2, b"MPF\0"))


def _jpeg_header(head: bytes) -> tuple[tuple[int, int], int] | None:
    """((width, height), offset of the scan data) of a JPEG whose header segments, up to the
    start of scan, are all in ``head`` and are ones PIL's JPEG reader opens without question
    (the same size it would report); None for anything else (another format, a fill byte, a
    marker PIL treats specially, a segment it would reject or parse further): PIL then decides."""
    if head[:3] != b"\xff\xd8\xff":
        return None
    pos, n, size, icc = 2, len(head), None, []
    while pos + 4 <= n:
        if head[pos] != 0xFF:
            return None
        marker, end = head[pos + 1], pos + 2 + ((head[pos + 2] << 8) | head[pos + 3])
        if end < pos + 4 or end > n:
            return None
        if marker == 0xDA:  # start of scan: PIL stops here
            if size is None or size[0] <= 0 or size[1] <= 0:
                return None
            limit = Image.MAX_IMAGE_PIXELS
            return (size, end) if limit is None or size[0] * size[1] <= limit else None
        if marker in _SOF:  # PIL: 8-bit samples, 1, 3 or 4 components, whole 3-byte component
            # records; the last frame header counts
            if end - pos < 10 or (end - pos - 10) % 3 or head[pos + 4] != 8 or head[pos + 9] not in (1, 3, 4):
                return None
            size = ((head[pos + 7] << 8) | head[pos + 8], (head[pos + 5] << 8) | head[pos + 6])
            if icc and len(min(icc)) < 14:  # PIL reads the chunk count of the first ICC chunk
                return None
            icc = []
        elif marker == 0xDB:  # quantization tables of 64 one- or two-byte entries each
            q = pos + 4
            while q < end:
                q += 65 if head[q] < 16 else 129
            if q != end:
                return None
        elif 0xE0 <= marker <= 0xEF:
            body = head[pos + 4:end]
            if any(marker == m and body.startswith(tag) for m, tag in _PARSED_APP):
                return None
            if marker == 0xE2 and body.startswith(b"ICC_PROFILE\0"):
                icc.append(body)
            elif marker == 0xED and body.startswith(b"Photoshop 3.0\0") and not _photoshop_ok(body):
                return None
            if (marker == 0xE0 and body.startswith(b"JFIF") or marker == 0xEE and body.startswith(b"Adobe")) \
                    and len(body) < 7:
                return None  # PIL reads a version word at offset 5
        elif marker not in _OPAQUE:
            return None
        pos = end
    return None


def _photoshop_ok(s: bytes) -> bool:
    """Whether PIL walks a Photoshop APP13 segment's resource blocks without an IndexError (a
    block cut short elsewhere only ends its walk)."""
    off = 14
    while s[off:off + 4] == b"8BIM":
        off += 6  # the tag, the resource code
        if off > len(s):
            return True
        if off >= len(s):
            return False  # PIL indexes the name's length byte
        off += 1 + s[off]
        off += off & 1
        if off + 4 > len(s):
            return True
        off += 4 + int.from_bytes(s[off:off + 4], "big")
        off += off & 1
    return True


def _jpeg_ends(fd: int, scan: int, size: int) -> bool:
    """Whether the JPEG open as ``fd`` (``size`` bytes) has its end-of-image marker after the
    scan data starting at ``scan``: the last two bytes, else anywhere after ``scan`` (data after
    the marker is allowed)."""
    if size - scan >= 2 and os.pread(fd, 2, size - 2) == b"\xff\xd9":
        return True
    return b"\xff\xd9" in os.pread(fd, max(size - scan, 0), scan)


class RealPaths:
    """``str(path.resolve())`` of image files, each folder resolved once (``os.path.realpath``
    of a whole path looks up every component of it); only a file that is a link is resolved on."""

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}

    def __call__(self, path: Path) -> str:
        folder, name = os.path.split(os.fspath(path))
        real = self._folders.get(folder)
        if real is None:
            real = self._folders[folder] = os.path.realpath(folder)
        full = os.path.join(real, name)
        return os.path.realpath(full) if os.path.islink(full) else full


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header; ValueError naming the file otherwise."""
    try:
        with Image.open(path) as img:
            size = img.size
            img.verify()
        return size
    except FileNotFoundError:
        raise
    except Exception as e:
        raise ValueError(f"{path} unreadable: {type(e).__name__}: {e}") from e


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not readable as JSON: {e}") from e


class CocoIndex:
    """The validated records of one or more COCO-format files, grouped by image."""

    def __init__(self) -> None:
        self.images: dict[Any, dict] = {}
        self.categories: dict[Any, dict] = {}
        self.anns: dict[Any, list[dict]] = defaultdict(list)
        self.duplicate_ids: set = set()

    def image_ids(self) -> list:
        return sorted(self.images, key=lambda i: (not isinstance(i, int), i if isinstance(i, int) else 0, str(i)))


def load_coco(path: Path, source, index: CocoIndex | None = None, *, images: bool = True) -> CocoIndex:
    """Read a COCO-format file into ``index`` (a new one by default), rejecting bad
    records through ``source``. With ``images`` False the file's image records are
    not added; its annotations must then refer to images already in the index."""
    where = str(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object with images, annotations, categories")
    for fld in ("images", "annotations", "categories"):
        if not isinstance(data.get(fld), list):
            raise ValueError(f"{where}: top-level field {fld!r} missing or not a list")
    index = index if index is not None else CocoIndex()
    for i, c in enumerate(data["categories"]):
        if isinstance(c, dict) and _is_id(c.get("id")) and isinstance(c.get("name"), str):
            index.categories[c["id"]] = c
        else:
            source.reject(None, "category record: needs an integer or string id and a string name",
                          record={"file": where, "index": i, "category": c}, sample_id=f"{source.name}/category#{i}")
    if images:
        ids = [im.get("id") for im in data["images"] if isinstance(im, dict) and _is_id(im.get("id"))]
        seen, dup = set(), set()
        for iid in ids:
            (dup if iid in seen else seen).add(iid)
        index.duplicate_ids |= dup
        for i, im in enumerate(data["images"]):
            problem = _bad_image(im)
            if problem is None and im["id"] in dup:  # which photo its annotations belong to is unknown
                problem = f"image id {im['id']!r} is used by {ids.count(im['id'])} image records"
            if problem:
                source.reject(None, f"image record: {problem}", record={"file": where, "index": i, "image": im},
                              sample_id=f"{source.name}/image#{i}")
                continue
            index.images[im["id"]] = im
    for i, a in enumerate(data["annotations"]):
        problem = _bad_annotation(a, index.categories, index.images, index.duplicate_ids)
        if problem:
            aid = a.get("id", i) if isinstance(a, dict) else i
            source.reject(None, f"annotation record: {problem}", record={"file": where, "index": i, "annotation": a},
                          sample_id=f"{source.name}/ann#{aid}")
            continue
        index.anns[a["image_id"]].append(a)
    return index


def _is_id(v: Any) -> bool:
    """An id is an integer or a string (a list or an object cannot key a record)."""
    return isinstance(v, (int, str)) and not isinstance(v, bool)


def _bad_image(im: Any) -> str | None:
    if not isinstance(im, dict):
        return "not an object"
    for k in ("id", "file_name", "width", "height"):
        if k not in im:
            return f"missing field {k!r}"
    if not _is_id(im["id"]):
        return f"id {im['id']!r} is not an integer or a string"
    if not isinstance(im["file_name"], str):
        return f"file_name {im['file_name']!r} is not a string"
    if not (isinstance(im["width"], int) and isinstance(im["height"], int)) or im["width"] <= 0 or im["height"] <= 0:
        return f"bad size {im['width']}x{im['height']}"
    return bad_file_name(im["file_name"])


_POSIX = os.name == "posix"


def bad_file_name(name: Any) -> str | None:
    text = str(name)
    if _POSIX and text and text[0] != "/" and ".." not in text:  # relative, no ".." part: the usual name
        return None
    fn = Path(text)
    if not str(name) or fn.is_absolute() or ".." in fn.parts:
        return f"file_name {name!r} leaves the image folder"
    return None


def _bad_annotation(a: Any, cats: dict, images: dict, duplicates: set = frozenset()) -> str | None:
    if not isinstance(a, dict):
        return "not an object"
    for k in ("id", "image_id", "category_id", "bbox"):
        if k not in a:
            return f"missing field {k!r}"
    for k in ("id", "image_id", "category_id"):
        if not _is_id(a[k]):
            return f"{k} {a[k]!r} is not an integer or a string"
    for k in ("phrase", "kind"):
        if a.get(k) is not None and not isinstance(a[k], str):
            return f"{k} {a[k]!r} is not a string"
    b = a["bbox"]
    if not (isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                         for v in b)):
        return f"bbox {b!r} is not 4 numbers"
    x, y, w, h = b
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(w) and math.isfinite(h)):
        return f"bbox {b!r} is not finite"
    if a["category_id"] not in cats:
        return f"unknown category_id {a['category_id']!r}"
    if a["image_id"] in duplicates:
        return f"image_id {a['image_id']!r} names several image records"
    if a["image_id"] not in images:
        return f"image_id {a['image_id']!r} is not among the images"
    return None
