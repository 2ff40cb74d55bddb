"""Malformed annotations are quarantined with their reason, never a crash (issue 17, item 8),
and a VisualGenome folder laid out as ``images/VG_100K/`` + ``images/VG_100K_2/`` finds its
images from the ``url`` field (item 10)."""

import json
import shutil

from scar.build.sources.coco import CocoSource
from scar.build.sources.visualgenome import VisualGenomeSource

from support import write_coco
from fixtures.make_fixtures import vg_ids, write_visualgenome

CATS = [{"id": 1, "name": "cup"}, {"id": 2, "name": "chair"}]


def _ann(i, image_id=1, cat=1, bbox=(10, 10, 20, 20), **kw):
    x, y, w, h = bbox
    return {"id": i, "image_id": image_id, "category_id": cat, "bbox": list(bbox), "iscrowd": 0,
            "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]], "area": w * h, **kw}


def _read(root):
    src = CocoSource(str(root), "val")
    samples = [s for g in src.groups() for s in g]
    _, rej = src.drain()
    return samples, rej


def test_bad_ids_and_types_are_quarantined(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64},
              {"id": [7], "file_name": "b.jpg", "width": 64, "height": 64},
              {"id": {"x": 1}, "file_name": "c.jpg", "width": 64, "height": 64}]
    anns = [_ann(1), _ann(2, cat=[1]), _ann(3, image_id={"id": 1}), {**_ann(4), "id": [4]},
            _ann(5, phrase=12345), _ann(6, bbox=(30, 30, 20, 20), phrase="the cup on the left")]
    cats = CATS + [{"id": [3], "name": "lamp"}]
    root = write_coco(tmp_path, images[:1], [], CATS)
    (root / "annotations" / "instances_val.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": cats}))
    samples, rej = _read(root)
    assert sorted(s.region.entity_id for s in samples) == ["1", "6"]
    assert next(s for s in samples if s.region.entity_id == "6").phrase == "the cup on the left"
    reasons = [r.reason for r in rej]
    for want in ("id [7] is not an integer or a string", "id {'x': 1} is not an integer or a string",
                 "category_id [1] is not an integer or a string", "image_id {'id': 1} is not an integer or a string",
                 "id [4] is not an integer or a string", "phrase 12345 is not a string",
                 "category record: needs an integer or string id"):
        assert any(want in r for r in reasons), (want, reasons)
    assert all(r.record for r in rej)


def test_a_duplicate_image_id_quarantines_both_photos_and_their_annotations(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64},
              {"id": 1, "file_name": "b.jpg", "width": 64, "height": 64},
              {"id": 2, "file_name": "c.jpg", "width": 64, "height": 64}]
    root = write_coco(tmp_path, images, [_ann(1), _ann(2, bbox=(5, 5, 30, 30)), _ann(3, image_id=2)], CATS)
    samples, rej = _read(root)
    assert [s.image_id for s in samples] == ["2"]  # never bound to the wrong photo
    reasons = [r.reason for r in rej]
    assert sum("image id 1 is used by 2 image records" in r for r in reasons) == 2
    assert sum("image_id 1 names several image records" in r for r in reasons) == 2


def test_visualgenome_images_nested_under_images(tmp_path):
    root = write_visualgenome(tmp_path / "vg")
    (root / "images").mkdir(exist_ok=True)
    for d in ("VG_100K", "VG_100K_2"):
        shutil.move(str(root / d), str(root / "images" / d))
    (a, b, c), _ = vg_ids()
    src = VisualGenomeSource(str(root), "val")
    groups = list(src.groups())
    _, rej = src.drain()
    assert [g[0].image_id for g in groups] == [str(a), str(b)]
    assert groups[1][0].context.path.endswith(f"images/VG_100K_2/{b}.jpg")
    missing = [r.reason for r in rej if r.reason.startswith("image file:")]
    assert len(missing) == 1 and f"{c}.jpg" in missing[0]  # only the image that really is missing
