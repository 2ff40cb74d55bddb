"""Support from masks (scar.build.steps.support): "on the table" only where the masks show it."""

from __future__ import annotations

import numpy as np

from scar.build.steps import support


def canvas() -> np.ndarray:
    return np.zeros((100, 200), dtype=bool)


def table_top() -> np.ndarray:
    """A table top seen at an angle: rows 40-80, columns 20-180."""
    m = canvas()
    m[40:80, 20:180] = True
    return m


def test_a_cup_standing_on_the_table_rests_on_it():
    cup = canvas()
    cup[30:60, 90:110] = True  # its base at row 59, inside the table top
    table = table_top() & ~cup  # the cup hides the table behind it
    assert support.rests_on(cup, table)


def test_a_chair_cut_off_by_the_table_edge_does_not():
    """Behind the table: its lowest pixels touch the table's top edge, but no table lies beside
    and beyond its base."""
    chair = canvas()
    chair[5:40, 60:100] = True  # ends where the table begins
    assert not support.rests_on(chair, table_top())


def test_a_thing_hanging_above_the_table_does_not():
    lamp = canvas()
    lamp[0:20, 90:110] = True  # a gap of 20 rows to the table
    assert not support.rests_on(lamp, table_top())


def test_empty_or_mismatched_masks_do_not():
    cup = canvas()
    cup[30:60, 90:110] = True
    assert not support.rests_on(cup, np.zeros((50, 50), dtype=bool))
    assert not support.rests_on(canvas(), table_top())


def test_on_a_microwave_means_on_its_top():
    """A teddy bear seen through a microwave's door is inside it, not on it: on a surface whose
    top is only an edge of the picture the base must lie in the box's top band; a table top is
    seen as an area, so anywhere over it."""
    microwave = (0.0, 0.0, 200.0, 100.0)
    through_the_door = (40.0, 10.0, 50.0, 50.0)  # base at row 60
    on_top = (40.0, 0.0, 50.0, 20.0)  # base at row 20
    assert not support.box_allows(through_the_door, microwave, "microwave")
    assert support.box_allows(on_top, microwave, "microwave")
    assert support.box_allows(through_the_door, microwave, "table")
    assert not support.box_allows((150.0, 10.0, 100.0, 50.0), (0.0, 0.0, 120.0, 100.0), "table")  # centre off it


def test_masks_decode_from_the_rle_the_sources_write():
    from scar.build.sources.common import to_rle

    rle = to_rle([[10, 10, 50, 10, 50, 40, 10, 40]], 100, 200)
    m = support.decode(rle)
    assert m.shape == (100, 200) and m[20, 20] and not m[60, 60]
    assert support.decode(None) is None


def test_a_build_says_on_the_table_where_the_masks_show_it(tmp_path):
    """Through the real build: a mug whose polygon stands on a table's polygon is "on the table";
    the same mug with its polygon hanging above the table is not (its box still overlaps)."""
    import pyarrow.parquet as pq

    from scar.build.pipeline import build
    from support import cfg, write_coco

    def poly(x1, y1, x2, y2):
        return [[x1, y1, x2, y1, x2, y2, x1, y2]]

    cats = [{"id": 1, "name": "mug"}, {"id": 2, "name": "dining table"}]
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 200, "height": 100, "scene": "kitchen"} for i in (1, 2)]
    anns = []
    for i, cup in ((1, (90, 30, 110, 60)), (2, (90, 8, 110, 38))):
        x1, y1, x2, y2 = cup
        anns.append({"id": 10 * i + 1, "image_id": i, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                     "area": (x2 - x1) * (y2 - y1), "iscrowd": 0, "segmentation": poly(*cup)})
        anns.append({"id": 10 * i + 2, "image_id": i, "category_id": 2, "bbox": [20, 40, 160, 40], "area": 6400,
                     "iscrowd": 0, "segmentation": poly(20, 40, 180, 80)})
    rep = build(cfg("coco", write_coco(tmp_path / "src", images, anns, cats), "val", tmp_path / "out"))
    rel = {r["id"]: r["gt_relation"] for r in pq.read_table(rep.path).to_pylist()}
    assert rel.get("coco/1/11") == "on the table", rel
    assert rel.get("coco/2/21") != "on the table", rel
