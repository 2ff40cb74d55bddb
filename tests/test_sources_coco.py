"""The COCO source on tiny files in the real format: masks, crowd, bad records."""

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from scar.build.sources.coco import CocoSource

from support import write_coco

CATS = [{"id": 1, "name": "cup"}, {"id": 2, "name": "chair"}, {"id": 3, "name": "person"}]


def _ann(i, image_id=1, cat=1, bbox=(10, 10, 20, 20), **kw):
    x, y, w, h = bbox
    poly = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    return {"id": i, "image_id": image_id, "category_id": cat, "bbox": list(bbox), "iscrowd": 0,
            "segmentation": poly, "area": w * h, **kw}


def test_reads_entities_masks_and_context(tmp_path):
    rle = mask_utils.encode(np.asfortranarray(np.pad(np.ones((10, 10), np.uint8), ((50, 40), (50, 40)))))
    crowd = {"id": 9, "image_id": 1, "category_id": 3, "bbox": [50, 50, 10, 10], "iscrowd": 1, "area": 100,
             "segmentation": {"size": [100, 100], "counts": rle["counts"].decode()}}
    anns = [_ann(i, bbox=(5 * i, 5 * i, 8 + i, 8 + i)) for i in range(1, 8)] + [crowd]
    root = write_coco(tmp_path, [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100, "scene": "kitchen"}],
                      anns, CATS)
    groups = list(CocoSource(str(root), "val", name="T").groups())
    assert len(groups) == 1
    g = groups[0]
    assert len(g) == 5  # at most 5 per image, the largest first
    assert [s.region.entity_id for s in g] == ["7", "6", "5", "4", "3"]
    assert [s.id for s in g][:2] == ["t/1/7", "t/1/6"]  # <source>/<image_id>/<ann_id>, the stem for coco
    ctx = g[0].context
    assert len(ctx.entities) == 8 and ctx.scene == "kitchen"  # all entities, the crowd one too
    assert "9" not in {s.region.entity_id for s in g}  # crowd regions never become samples
    m = g[0].region.mask
    area = mask_utils.area({"size": m["size"], "counts": m["counts"].encode()})
    assert area == pytest.approx(15 * 15, rel=0.2)


def test_bad_records_are_quarantined_and_the_read_goes_on(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64},
              {"id": 2, "file_name": "missing.jpg", "width": 64, "height": 64},
              {"id": 3, "file_name": "corrupt.jpg", "width": 64, "height": 64},
              {"id": 4, "file_name": "../../etc/passwd", "width": 64, "height": 64},
              {"id": 5, "file_name": "b.jpg", "width": 64}]
    anns = [_ann(1), {**_ann(2), "bbox": [1, 2, 3]}, _ann(3, cat=99), _ann(4, image_id=2), _ann(5, image_id=3),
            {"id": 6, "image_id": 1, "category_id": 1}]
    root = write_coco(tmp_path, images[:1], [], CATS)
    (root / "images" / "val" / "corrupt.jpg").write_bytes(b"\xff\xd8not a jpeg")
    (root / "annotations" / "instances_val.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": CATS}))
    src = CocoSource(str(root), "val")
    samples = [s for g in src.groups() for s in g]
    assert [s.region.entity_id for s in samples] == ["1"]
    _, rej = src.drain()
    reasons = sorted(r.reason for r in rej)
    assert any("bbox [1, 2, 3] is not 4 numbers" in r for r in reasons)
    assert any("unknown category_id 99" in r for r in reasons)
    assert any("missing field 'bbox'" in r for r in reasons)
    assert any("missing field 'height'" in r for r in reasons)
    assert any("leaves the image folder" in r for r in reasons)
    assert any("missing.jpg missing" in r for r in reasons)
    assert any("corrupt.jpg unreadable" in r for r in reasons)
    assert all(r.record for r in rej)


def test_missing_files_name_what_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match="instances_val.json"):
        CocoSource(str(tmp_path), "val")


def test_unreadable_json_names_the_file(tmp_path):
    root = write_coco(tmp_path, [], [], CATS)
    (root / "annotations" / "instances_val.json").write_text("{not json")
    with pytest.raises(ValueError, match="instances_val.json: not readable as JSON"):
        list(CocoSource(str(root), "val").groups())


def test_annotations_and_images_options(tmp_path):
    root = write_coco(tmp_path / "data", [{"id": 3, "file_name": "c.jpg", "width": 64, "height": 48}],
                      [_ann(1, image_id=3, bbox=(60, 40, 10, 10))], CATS)
    src = CocoSource(str(tmp_path / "elsewhere"), "val", name="Mine",
                     annotations=str(root / "annotations" / "instances_val.json"), images=str(root / "images" / "val"))
    [group] = list(src.groups())
    assert group[0].id == "mine/3/1" and group[0].region.bbox == (60.0, 40.0, 4.0, 8.0)  # clipped to the image
    assert list(src.image_index()) == [("3", None)]  # a generic COCO-format set: ids are not known COCO ids


def test_stuff_file_grounds_the_scene(tmp_path):
    """``--stuff FILE``: COCO-Stuff's official example stuff annotations (tests/fixtures/realdata/
    coco_stuff_examples, origin in its README) become the images' stuff, and the scene the stuff
    decides is the caption's, provenance annotation; without the file the same things have none."""
    from pathlib import Path

    from PIL import Image

    from scar.build.steps.compose import ComposeCaption

    stuff_file = Path(__file__).parent / "fixtures" / "realdata" / "coco_stuff_examples" / "stuff_examples.json"
    images = json.loads(stuff_file.read_text())["images"]
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "images" / "val").mkdir(parents=True)
    anns = []
    for k, im in enumerate(images):
        Image.new("RGB", (im["width"], im["height"])).save(root / "images" / "val" / im["file_name"])
        anns += [_ann(10 * k + 1, image_id=im["id"], cat=1, bbox=(10, 100, 60, 60)),
                 _ann(10 * k + 2, image_id=im["id"], cat=2, bbox=(120, 100, 60, 60))]
    (root / "annotations" / "instances_val.json").write_text(json.dumps({
        "images": images, "annotations": anns,
        "categories": [{"id": 1, "name": "cup"}, {"id": 2, "name": "chair"}]}))

    def scenes_of(src):
        out = {}
        for group in src.read():
            for s in ComposeCaption()(group):
                out[s.image_id] = (s.scene.value, s.scene.provenance)
        return out

    with_stuff = CocoSource(str(root), "val", stuff=str(stuff_file))
    stuff = with_stuff.stuff_by_image()
    assert set(stuff) == {im["id"] for im in images} and all(stuff.values())
    assert "other" not in {n for names in stuff.values() for n in names}
    got = scenes_of(with_stuff)
    assert got and all(prov == "annotation" for _, prov in got.values()), got
    assert scenes_of(CocoSource(str(root), "val")) == {}  # cup + chair alone decide no scene
