"""The per-image cap with stand-ins (scar.build.steps.cap, scar.build.selection ``reserve``):
an entity the caption steps leave out gives its place to the next in the ranking."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from scar.build.pipeline import build
from scar.build.steps.cap import PerImageCap
from support import cfg, write_coco

CATS = [{"id": 1, "name": "bowl"}, {"id": 2, "name": "chair"}, {"id": 3, "name": "blorfl"}, {"id": 4, "name": "oven"},
        {"id": 5, "name": "bottle"}]


def _root(tmp_path):
    """One kitchen picture (an oven decides indoors): the largest entity is a category no
    WordNet noun names (compose leaves it out), then an oven, a chair, a bowl and a bottle."""
    images = [{"id": 1, "file_name": "1.jpg", "width": 400, "height": 200}]
    boxes = {31: (3, [150, 20, 120, 150]), 41: (4, [300, 60, 90, 110]), 21: (2, [10, 60, 80, 100]),
             11: (1, [100, 120, 30, 30]), 51: (5, [280, 20, 15, 30])}
    anns = [{"id": i, "image_id": 1, "category_id": c, "bbox": b, "area": b[2] * b[3], "iscrowd": 0}
            for i, (c, b) in boxes.items()]
    return write_coco(tmp_path / "src", images, anns, CATS)


def test_a_stand_in_takes_the_place_of_an_entity_the_captions_leave_out(tmp_path):
    rep = build(cfg("coco", _root(tmp_path), "val", tmp_path / "out", source={"max_per_image": 2}))
    rows = pq.read_table(rep.path).to_pylist()
    rejects = {json.loads(ln)["sample_id"]: json.loads(ln)["reason"] for ln in rep.rejections_path.open()}
    assert rejects["coco/1/31"].startswith("object: no WordNet noun")  # the largest: no noun names it
    kept = [r["id"] for r in rows]
    assert len(kept) == 2 and "coco/1/31" not in kept, (kept, rejects)
    # the two next in the ranking that got a caption, largest box first
    areas = [r["bbox"][2] * r["bbox"][3] for r in rows]
    assert areas == sorted(areas, reverse=True)
    capped = [k for k, v in rejects.items() if v.startswith("over per-image limit")]
    assert set(kept) | set(capped) | {"coco/1/31"} >= {"coco/1/41", "coco/1/21", "coco/1/11"}
    assert not set(kept) & set(capped)


def test_without_stand_ins_the_build_keeps_fewer(tmp_path):
    """With an LLM generator the source reads no stand-ins (requests cost); the same rule
    without them: ``reserve=0`` at the source level leaves the image one row short."""
    from scar.build.sources import SOURCES

    src = SOURCES.get("coco")(str(_root(tmp_path)), "val", max_per_image=2, reserve=0)
    (group,) = list(src.groups())
    assert [s.region.entity_id for s in group] == ["31", "41"]
    src = SOURCES.get("coco")(str(_root(tmp_path)), "val", max_per_image=2, reserve=2)
    (group,) = list(src.groups())
    assert [s.region.entity_id for s in group] == ["31", "41", "21", "11"]  # chosen, then stand-ins by rank


def test_the_cap_keeps_the_first_of_each_image_and_says_why(tmp_path):
    from scar.build.sources import SOURCES

    src = SOURCES.get("coco")(str(_root(tmp_path)), "val", max_per_image=2, reserve=3)
    (group,) = list(src.groups())
    cap = PerImageCap(2)
    kept = cap(group[1:])  # as if compose had left the first (largest) out
    assert [s.region.entity_id for s in kept] == ["41", "21"]
    stats, rejected = cap.drain()
    assert [r.sample_id for r in rejected] == ["coco/1/11", "coco/1/51"]
    assert all(r.reason.startswith("over per-image limit: 4 samples of the image") for r in rejected)
    assert stats.n_in == 4 and stats.n_out == 2
    with pytest.raises(ValueError, match="max_per_image"):
        PerImageCap(0)
