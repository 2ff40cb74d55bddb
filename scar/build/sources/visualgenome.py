"""Visual Genome: ``--source visualgenome``.

Layout under ``--root`` (``--images DIR`` points at images kept elsewhere)::

    ROOT/image_data.json   ROOT/objects.json   ROOT/relationships.json   ROOT/region_descriptions.json
    ROOT/images/*.jpg      (or ROOT/VG_100K/*.jpg and ROOT/VG_100K_2/*.jpg, as unpacked,
                           or ROOT/images/VG_100K/*.jpg and ROOT/images/VG_100K_2/*.jpg)

An image is looked for by its ``url``'s last two parts (``VG_100K_2/1.jpg``) under the root
and under ``images/``, then by its file name in each image folder.

The four files are JSON arrays with one record per image; they are streamed (ijson)
in step, so memory stays at one image's records (a file out of order still works,
buffering the records it skips). Format traps handled: objects have ``names`` (a
list) where relationship ends may have ``name``; older dumps use ``id`` instead of
``image_id``; region descriptions use ``width``/``height`` where objects use ``w``/``h``.

- Split: VisualGenome has no official one. An image is ``val`` when
  ``int(sha256("visualgenome:<image_id>")[:8], 16) % 100 < val_percent``
  (default 5, about 5,400 of 108,077 images), else ``train``: deterministic and
  independent of file order. ``exclude_coco`` (``--exclude-coco``) drops the images
  that are COCO images (``coco_id`` set in ``image_data.json``).
- Entities: every object (category = its first name, lower-cased; ``synsets``, the WordNet
  senses the annotators chose, kept on the entity and preferred by the sense lookup), and the
  subject/object of a relationship missing from ``objects.json``.
- Seeds: an object is eligible when it is the subject of a relationship (the one
  with the lowest ``relationship_id`` goes into ``Sample.relationship``) or when a
  region description matches it: the region whose box has the highest IoU with the
  object's (at least ``phrase_iou``, default 0.5) and whose phrase contains the
  object's name gives ``Sample.phrase``.
- Stuff: with ``--stuff FILE`` (COCO-Stuff's ``stuff_train2017.json`` and/or
  ``stuff_val2017.json``), an image with a ``coco_id`` gets that COCO image's stuff classes,
  which ground its scene.
- Masks: none in VisualGenome; ``--masks box`` (default) gives the box polygon,
  ``--masks sam`` a SAM mask prompted by the box.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from scar.build.base import Source
from scar.build.sources.coco import read_stuff, stuff_files
from scar.build.sources.common import bad_file_name, check_image_file, first_existing
from scar.types import Entity, ImageContext, Relationship, Sample

log = logging.getLogger(__name__)

FILES = ("image_data.json", "objects.json", "relationships.json", "region_descriptions.json")


def vg_split(image_id: int, val_percent: float = 5) -> str:
    """The documented, deterministic image-level split of VisualGenome."""
    h = int(hashlib.sha256(f"visualgenome:{image_id}".encode()).hexdigest()[:8], 16)
    return "val" if h % 100 < val_percent else "train"


def _image_id(rec: dict) -> Any:
    return rec.get("image_id", rec.get("id"))


def _name(obj: dict) -> str | None:
    names = obj.get("names")
    name = names[0] if isinstance(names, list) and names else obj.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    return " ".join(name.lower().split())


_SYNSET = re.compile(r"^[a-z0-9_.'-]+\.n\.[0-9]{2}$")


def _synsets(obj: dict) -> tuple[str, ...]:
    """The object's WordNet noun synsets (``"synsets": ["clock.n.01"]``), well-formed names only."""
    raw = obj.get("synsets")
    if not isinstance(raw, list):
        return ()
    return tuple(s.strip().lower() for s in raw if isinstance(s, str) and _SYNSET.match(s.strip().lower()))


def _box(obj: dict) -> tuple[float, float, float, float] | None:
    try:
        vals = [obj["x"], obj["y"], obj.get("w", obj.get("width")), obj.get("h", obj.get("height"))]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            return None
        return tuple(float(v) for v in vals)
    except KeyError:
        return None


class RecordStream:
    """Per-image records of one VG file, looked up in file order (ijson)."""

    def __init__(self, path: Path) -> None:
        import ijson

        self.path = path
        self._f = open(path, "rb")
        self._it = ijson.items(self._f, "item", use_float=True)
        self._stash: dict[Any, dict] = {}
        self._skipped: set = set()
        self._warned = False

    def skip(self, image_id: Any) -> None:
        """This image's record is not wanted (another split): drop it when it comes."""
        if self._stash.pop(image_id, None) is None:
            self._skipped.add(image_id)

    def get(self, image_id: Any) -> dict | None:
        if image_id in self._stash:
            return self._stash.pop(image_id)
        try:
            for rec in self._it:
                rid = _image_id(rec) if isinstance(rec, dict) else None
                if rid == image_id:
                    return rec
                if rid in self._skipped:
                    self._skipped.discard(rid)
                    continue
                if not self._warned:
                    log.warning("%s is not in the order of image_data.json; buffering records", self.path)
                    self._warned = True
                self._stash[rid] = rec
        except Exception as e:  # ijson raises its own errors for broken JSON
            raise ValueError(f"{self.path}: not readable as a JSON array of per-image records: {e}") from e
        return None

    @property
    def buffered(self) -> list[Any]:
        """Image ids whose records were read ahead of their turn and are held in memory."""
        return list(self._stash)

    @property
    def skipping(self) -> set[Any]:
        """Image ids whose records are still to be passed over when they come."""
        return set(self._skipped)

    def close(self) -> None:
        self._f.close()


class VisualGenomeSource(Source):
    name = "visualgenome"

    def __init__(self, root: str, split: str, *, images: str | None = None, exclude_coco: bool = False,
                 val_percent: float = 5, phrase_iou: float = 0.5, stuff: str | list[str] | None = None,
                 **settings: Any) -> None:
        super().__init__(root, split, **settings)
        #: ``--stuff FILE`` (repeatable): COCO-Stuff stuff JSONs; an image with a ``coco_id`` gets the
        #: stuff classes of that COCO image (scene evidence)
        self.stuff_files = stuff_files(stuff)
        r = Path(root)
        self.files = {f: first_existing(r, [f], f"VisualGenome {f}") for f in FILES}
        if images:
            self.image_dirs = [Path(images)]
        else:
            self.image_dirs = [d for d in (r / "images", r / "VG_100K", r / "VG_100K_2", r / "images" / "VG_100K",
                                           r / "images" / "VG_100K_2") if d.is_dir()]
            if not self.image_dirs:
                raise FileNotFoundError(f"VisualGenome image folder not found under {r}; looked for: images/, "
                                        "VG_100K/, VG_100K_2/")
        self.image_dir = self.image_dirs[0]
        if not 0 <= val_percent <= 100:
            raise ValueError(f"val_percent must be in [0, 100], got {val_percent}")
        self.exclude_coco = bool(exclude_coco)
        self.val_percent = val_percent
        self.phrase_iou = phrase_iou

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "exclude_coco": self.exclude_coco,
                "split_rule": f"sha256('visualgenome:<image_id>') % 100 < {self.val_percent} -> val"}

    def image_path(self, file_name: str, url: str | None = None) -> Path:
        tail = [p for p in str(url or "").split("/") if p][-2:]
        if len(tail) == 2 and not bad_file_name("/".join(tail)):
            for base in (Path(self.root), Path(self.root) / "images", *self.image_dirs):
                if (base / tail[0] / tail[1]).is_file():
                    return base / tail[0] / tail[1]
        for d in self.image_dirs:
            if (d / file_name).is_file():
                return d / file_name
        return self.image_dirs[0] / file_name

    def image_records(self) -> Iterator[dict]:
        """The valid records of ``image_data.json`` in this split (streamed)."""
        return (im for im, mine in self._all_records() if mine)

    def _all_records(self) -> Iterator[tuple[dict, bool]]:
        """Every valid record of ``image_data.json``, and whether it is in this split."""
        import ijson

        path = self.files["image_data.json"]
        with open(path, "rb") as f:
            try:
                for i, im in enumerate(ijson.items(f, "item", use_float=True)):
                    problem = _bad_image(im)
                    if problem:
                        self.reject(None, f"image record: {problem}", record={"file": str(path), "index": i,
                                                                              "image": im},
                                    sample_id=f"{self.name}/image#{i}")
                        continue
                    yield im, vg_split(_image_id(im), self.val_percent) == self.split
            except ijson.JSONError as e:
                raise ValueError(f"{path}: not readable as a JSON array: {e}") from e

    def image_index(self) -> Iterator[tuple[str, int | None]]:
        for im in self.image_records():
            coco = im.get("coco_id")
            if self.exclude_coco and coco:
                continue
            yield str(_image_id(im)), int(coco) if isinstance(coco, int) else None

    def read(self) -> Iterator[list[Sample]]:
        stuff = read_stuff(self.stuff_files, self)
        streams = {f: RecordStream(self.files[f]) for f in FILES[1:]}
        try:
            for im, mine in self._all_records():
                iid = _image_id(im)
                if not mine:
                    for s in streams.values():
                        s.skip(iid)
                    continue
                if self.exclude_coco and im.get("coco_id"):
                    for s in streams.values():
                        s.skip(iid)
                    self.reject_image(iid, f"coco image: excluded by --exclude-coco (coco_id {im['coco_id']})",
                                      record={"image": im})
                    continue
                objs, rels, regs = (streams[f].get(iid) for f in FILES[1:])
                group = self._image(im, objs or {}, rels or {}, regs or {}, stuff.get(im.get("coco_id")) or [])
                if group:
                    yield group
        finally:
            for s in streams.values():
                s.close()

    def _image(self, im: dict, objs: dict, rels: dict, regs: dict, stuff: list[str] = ()) -> list[Sample]:
        iid = _image_id(im)
        file_name = str(im.get("url") or f"{iid}.jpg").rsplit("/", 1)[-1]
        path = self.image_path(file_name, im.get("url"))
        problem = check_image_file(path, (im["width"], im["height"]), verify=self.check_images)
        if problem:
            self.reject_image(iid, f"image file: {problem}", record={"image": im})
            return []
        ctx = ImageContext(image_id=str(iid), file_name=file_name, path=str(path.resolve()),
                           width=int(im["width"]), height=int(im["height"]), stuff=list(stuff))
        for o in objs.get("objects") or []:
            self._add_entity(ctx, o, "object")
        seeds: dict[str, Relationship] = {}
        rel_list = [r for r in rels.get("relationships") or [] if isinstance(r, dict)]
        for r in sorted(rel_list, key=lambda r: (not isinstance(r.get("relationship_id"), int),
                                                 r.get("relationship_id") or 0)):
            pred = r.get("predicate")
            s = self._add_entity(ctx, r.get("subject"), "relationship subject")
            o = self._add_entity(ctx, r.get("object"), "relationship object")
            if s is None or o is None or not isinstance(pred, str) or not pred.strip():
                self.reject(None, "relationship record: needs a subject, an object and a predicate",
                            record={"image_id": str(iid), "relationship": r},
                            sample_id=f"{self.name}/{iid}/rel#{r.get('relationship_id')}")
                continue
            if s.id == o.id:
                continue
            rel = Relationship(s.id, " ".join(pred.lower().split()), o.id)
            ctx.relationships.append(rel)
            seeds.setdefault(s.id, rel)
        self._match_phrases(ctx, [g for g in regs.get("regions") or [] if isinstance(g, dict)])
        eligible = [e for e in ctx.entities if e.id in seeds or e.phrase]
        return self.select(ctx, eligible, relationships=seeds)

    def _add_entity(self, ctx: ImageContext, o: Any, what: str) -> Entity | None:
        if not isinstance(o, dict) or "object_id" not in o:
            self.reject(None, f"object record: {what} without object_id", record={"image_id": ctx.image_id,
                                                                                   "object": o},
                        sample_id=f"{self.name}/{ctx.image_id}/object?")
            return None
        oid = str(o["object_id"])
        for e in ctx.entities:
            if e.id == oid:
                return e
        name, box = _name(o), _box(o)
        if name is None or box is None:
            self.reject(None, f"object record: {what} {oid} needs a name and a numeric box",
                        record={"image_id": ctx.image_id, "object": o}, sample_id=self.sample_id(ctx.image_id, oid))
            return None
        e = Entity(id=oid, category=name, bbox=box, area=box[2] * box[3], synsets=_synsets(o))
        ctx.entities.append(e)
        return e

    def _match_phrases(self, ctx: ImageContext, regions: list[dict]) -> None:
        regs = [(g, _box(g)) for g in regions if isinstance(g.get("phrase"), str) and g["phrase"].strip()]
        regs = [(g, b) for g, b in regs if b is not None and b[2] > 0 and b[3] > 0]
        if not regs or not ctx.entities:
            return
        R = np.array([b for _, b in regs])
        E = np.array([e.bbox for e in ctx.entities])
        ix = np.clip(np.minimum(E[:, None, 0] + E[:, None, 2], R[None, :, 0] + R[None, :, 2])
                     - np.maximum(E[:, None, 0], R[None, :, 0]), 0, None)
        iy = np.clip(np.minimum(E[:, None, 1] + E[:, None, 3], R[None, :, 1] + R[None, :, 3])
                     - np.maximum(E[:, None, 1], R[None, :, 1]), 0, None)
        inter = ix * iy
        union = (E[:, 2] * E[:, 3])[:, None] + (R[:, 2] * R[:, 3])[None, :] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)
        for i, e in enumerate(ctx.entities):
            word = re.compile(rf"\b{re.escape(e.category)}\b")
            order = sorted(np.nonzero(iou[i] >= self.phrase_iou)[0],
                           key=lambda j: (-iou[i, j], str(regs[j][0].get("region_id"))))
            for j in order:
                phrase = " ".join(regs[j][0]["phrase"].split())
                if word.search(phrase.lower()):
                    e.phrase = phrase
                    break


def _bad_image(im: Any) -> str | None:
    if not isinstance(im, dict):
        return "not an object"
    iid = _image_id(im)
    if not isinstance(iid, int):
        return "missing integer image_id (or id)"
    w, h = im.get("width"), im.get("height")
    if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
        return f"bad size {w}x{h}"
    if im.get("url") is not None:
        return bad_file_name(str(im["url"]).rsplit("/", 1)[-1])
    return None
