"""RefCOCO+ (UNC) and RefCOCOg (UMD): ``--source refcoco+`` / ``--source refcocog``.

Layout under ``--root`` (``--images DIR`` points at COCO train2014 kept elsewhere)::

    ROOT/refcoco+/refs(unc).p   ROOT/refcoco+/instances.json   ROOT/images/train2014/*.jpg
    ROOT/refcocog/refs(umd).p   ROOT/refcocog/instances.json   ROOT/images/train2014/*.jpg

``refs(*).p`` is a pickled list of refs (``ref_id``, ``ann_id``, ``image_id``,
``split``, ``category_id``, ``sentences`` [{``raw``, ``sent``, ``tokens``,
``sent_id``}], ``file_name``). It is untrusted input: it is read by
:class:`SafeUnpickler`, which admits only builtin containers and scalars and refuses
every global (a crafted pickle cannot run code).

One sample per referred object (never one per sentence): the ref's ``split``
decides membership (``val`` -> ``--split val``, ``train`` -> ``--split train``;
``testA``/``testB``/``test`` refs are not read). The seed phrase is the ref's
expression with the lowest ``sent_id`` whose text (``sent``, else ``raw``) is not
empty. A second ref of the same annotation is rejected as a duplicate. The image
comes from ``instances.json`` (a ref's ``file_name`` carries an annotation suffix,
``COCO_train2014_000000581857_16.jpg``, that is not a file). Every annotation of the
image in ``instances.json`` is an entity of its context; only referred objects are
eligible to become samples, under the common rules. With ``--stuff FILE`` (COCO-Stuff's
``stuff_train2017.json``), the stuff classes of each image ground its scene.
"""

from __future__ import annotations

import io
import pickle
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scar.build.sources.coco import CocoSource, stuff_files
from scar.build.sources.common import first_existing, load_coco
from scar.types import Sample

_SCALARS = (str, bytes, int, float, bool, type(None))


class UnsafePickle(ValueError):
    pass


class SafeUnpickler(pickle.Unpickler):
    """Admits builtin containers and scalars only: any class or function is refused."""

    def find_class(self, module: str, name: str):
        raise UnsafePickle(f"refused to load {module}.{name}: only builtin containers and scalars are allowed "
                           "in a refs pickle")


def load_refs(path: Path) -> list[dict]:
    """The refs of a ``refs(*).p`` file, read safely. Python 2 pickles (the official
    files) are read with their byte strings decoded as UTF-8."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ValueError(f"{path}: not readable: {e}") from e
    try:
        data = SafeUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except UnsafePickle as e:
        raise ValueError(f"{path}: {e}") from e
    except Exception as e:  # a truncated or corrupt pickle raises many types
        raise ValueError(f"{path}: not a readable refs pickle: {type(e).__name__}: {e}") from e
    data = _decode(data)
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of refs, got {type(data).__name__}")
    return data


def _decode(obj: Any) -> Any:
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    if isinstance(obj, dict):
        return {_decode(k): _decode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_decode(v) for v in obj]
    return obj


def seed_phrase(ref: dict) -> str | None:
    """The documented rule: the expression with the lowest ``sent_id`` with text."""
    sents = [s for s in ref.get("sentences") or [] if isinstance(s, dict)]
    for s in sorted(sents, key=lambda s: (not isinstance(s.get("sent_id"), int), s.get("sent_id") or 0)):
        text = s.get("sent") or s.get("raw")
        if isinstance(text, str) and text.strip():
            return " ".join(text.split())
    return None


class _RefSource(CocoSource):
    dataset: str = ""
    refs_name: str = ""
    #: ref ``split`` values read for each ``--split``.
    SPLIT_OF = {"train": ("train",), "val": ("val",)}

    def __init__(self, root: str, split: str, *, images: str | None = None, stuff: str | list[str] | None = None,
                 **settings: Any) -> None:
        super(CocoSource, self).__init__(root, split, **settings)
        r = Path(root)
        self.naming = None
        #: ``--stuff FILE``: COCO-Stuff's stuff JSON (``stuff_train2017.json`` holds the train2014
        #: images RefCOCO uses; image ids are COCO ids); its classes ground the scenes
        self.stuff_files = stuff_files(stuff)
        self.refs_file = first_existing(r, [f"{self.dataset}/{self.refs_name}"], f"{self.name} refs file")
        self.ann_file = first_existing(r, [f"{self.dataset}/instances.json"], f"{self.name} instances.json")
        self.image_dir = Path(images) if images else first_existing(
            r, ["images/train2014", "train2014"], "COCO train2014 image folder")

    @property
    def id_source(self) -> str:
        return self.name

    def refs(self) -> list[dict]:
        """The refs of this split, checked; bad ones rejected with their reason."""
        out, seen = [], {}
        for i, ref in enumerate(load_refs(self.refs_file)):
            problem = _bad_ref(ref)
            if problem:
                self.reject(None, f"ref record: {problem}", record={"file": str(self.refs_file), "index": i,
                                                                    "ref": ref}, sample_id=f"{self.name}/ref#{i}")
                continue
            if ref["split"] not in self.SPLIT_OF[self.split]:
                continue
            if ref["ann_id"] in seen:
                self.reject(None, f"duplicate ref: annotation {ref['ann_id']} is already referred by ref "
                                  f"{seen[ref['ann_id']]}", record={"ref": ref},
                            sample_id=self.sample_id(ref["image_id"], ref["ann_id"]))
                continue
            seen[ref["ann_id"]] = ref["ref_id"]
            out.append(ref)
        return out

    def image_index(self) -> Iterator[tuple[str, int | None]]:
        for iid in sorted({ref["image_id"] for ref in self.refs()}):
            yield str(iid), iid  # RefCOCO images are COCO train2014 images, same ids

    def read(self) -> Iterator[list[Sample]]:
        refs = self.refs()
        index = load_coco(self.ann_file, self)
        by_image: dict[Any, list[dict]] = defaultdict(list)
        for ref in refs:
            if ref["image_id"] not in index.images:
                self.reject(None, f"ref image: image {ref['image_id']} of ref {ref['ref_id']} is not in instances.json",
                            record={"ref": ref}, sample_id=self.sample_id(ref["image_id"], ref["ann_id"]))
                continue
            by_image[ref["image_id"]].append(ref)
        stuff = self.stuff_by_image()
        for image_id in sorted(by_image):
            ctx = self.context(index, image_id)
            if ctx is None:
                continue
            ctx.stuff = stuff.get(image_id, ctx.stuff)
            ids = {e.id for e in ctx.entities}
            eligible = []
            for ref in by_image[image_id]:
                aid = str(ref["ann_id"])
                if aid not in ids:
                    self.reject(None, f"ref annotation: annotation {aid} of ref {ref['ref_id']} is not in "
                                      "instances.json", record={"ref": ref}, sample_id=self.sample_id(image_id, aid))
                    continue
                e = ctx.entity(aid)
                e.phrase = seed_phrase(ref)
                if e.phrase is None:
                    self.reject(None, f"ref without expression: ref {ref['ref_id']} has no non-empty sentence",
                                record={"ref": ref}, sample_id=self.sample_id(image_id, aid))
                    continue
                eligible.append(e)
            raw = self._raw(index, image_id)
            group = self.select(ctx, eligible, mask=lambda e, _r=raw, _c=ctx: self.mask(e, _r, _c))
            if group:
                yield group


def _bad_ref(ref: Any) -> str | None:
    if not isinstance(ref, dict):
        return "not a dict"
    for k in ("ref_id", "ann_id", "image_id", "split", "sentences"):
        if k not in ref:
            return f"missing field {k!r}"
    if not isinstance(ref["sentences"], list):
        return "sentences is not a list"
    if not all(isinstance(ref[k], int) for k in ("ann_id", "image_id")):
        return "ann_id and image_id must be integers"
    return None


class RefCocoPlusSource(_RefSource):
    name = "refcoco+"
    dataset = "refcoco+"
    refs_name = "refs(unc).p"


class RefCocogSource(_RefSource):
    name = "refcocog"
    dataset = "refcocog"
    refs_name = "refs(umd).p"
