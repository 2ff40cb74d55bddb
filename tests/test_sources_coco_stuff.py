"""COCO-Stuff on tiny files in the official format: things + stuff, scene, drops, build."""

import json

import pyarrow.parquet as pq
import pytest

from scar import lexicon
from scar.build.pipeline import build
from support import cfg
from scar.build.sources.coco_stuff import CocoStuffSource, infer_scene, stuff_table
from scar.build.sources.common import rle_area
from scar.schema import EVAL_SCHEMA, check_eval_table

from fixtures.make_fixtures import write_coco_stuff


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_coco_stuff(tmp_path_factory.mktemp("coco_stuff"))


def test_entities_samples_masks_and_scene(root):
    src = CocoStuffSource(str(root), "val")
    groups = list(src.groups())
    assert [g[0].image_id for g in groups] == ["1", "3"]
    g = groups[0]
    ctx = g[0].context
    # every annotation is an entity (crowd, tiny, outside, "other" included); stuff ids are namespaced
    assert [(e.id, e.category, e.kind) for e in ctx.entities] == [
        ("1", "cup", "thing"), ("2", "chair", "thing"), ("3", "person", "thing"), ("4", "person", "thing"),
        ("5", "cup", "thing"), ("6", "cup", "thing"), ("stuff-10000", "wall", "stuff"),
        ("stuff-10001", "floor", "stuff"), ("stuff-10002", "counter", "stuff"), ("stuff-10003", "other", "other")]
    assert ctx.stuff == ["wall-brick", "floor-wood", "counter"]
    assert ctx.scene == "kitchen"  # the counter (a specific place) beats the walls' generic "room"
    # five samples, largest first, the cup (smallest eligible) over the limit
    assert [s.id for s in g] == ["coco-stuff/1/stuff-10000", "coco-stuff/1/stuff-10001", "coco-stuff/1/2",
                                 "coco-stuff/1/3", "coco-stuff/1/stuff-10002"]
    assert g[3].region.bbox == (50.0, 10.0, 14.0, 30.0)  # clipped at the right edge
    areas = {s.region.entity_id: rle_area(s.region.mask) for s in g}
    assert areas["stuff-10000"] == 64 * 24 and areas["stuff-10002"] == 30 * 12
    assert areas["2"] == pytest.approx(18 * 30, rel=0.15)  # polygon rasterised by pycocotools
    assert groups[1][0].context.scene == "beach" and groups[1][0].context.stuff == ["sea", "sand"]


def test_drop_reasons(root):
    src = CocoStuffSource(str(root), "val")
    list(src.groups())
    stats, rej = src.drain()
    reasons = {r.sample_id: r.reason for r in rej}
    assert reasons["coco-stuff/1/4"].startswith("crowd region")
    assert reasons["coco-stuff/1/5"].startswith("box too small")
    assert reasons["coco-stuff/1/6"].startswith("degenerate box")
    assert reasons["coco-stuff/1/1"].startswith("over per-image limit")
    assert "000000000002.jpg missing" in reasons["coco-stuff/2"]
    assert "bbox [1, 2, 3] is not 4 numbers" in reasons["coco-stuff/ann#7"]
    assert "unknown category_id 999" in reasons["coco-stuff/ann#10006"]
    assert stats.rejected == {"crowd region": 1, "box too small": 1, "degenerate box": 1, "over per-image limit": 1,
                              "image file": 1, "annotation record": 2}


def test_train_split_and_missing_files(root, tmp_path):
    groups = list(CocoStuffSource(str(root), "train").groups())
    assert [(g[0].image_id, [s.region.entity_id for s in g]) for g in groups] == \
        [("4", ["20", "stuff-20000"]), ("11", ["21"])]
    with pytest.raises(FileNotFoundError, match="instances_val2017.json"):
        CocoStuffSource(str(tmp_path), "val")
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val2017.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="stuff_val2017.json"):
        CocoStuffSource(str(tmp_path), "val")


def test_scene_table_and_rule():
    table = stuff_table()
    assert len(table) == 91  # stuff classes 92-182
    for cls, (noun, scene, _) in table.items():
        assert lexicon.is_noun(noun), cls
        assert scene is None or scene in lexicon.scenes() or lexicon.is_noun(scene), cls
    assert infer_scene([("wall-other", 3000), ("counter", 200)], 10000) == "kitchen"
    assert infer_scene([("wall-other", 3000), ("counter", 100)], 10000) == "room"  # counter under 2%
    assert infer_scene([("sky-other", 5000)], 10000) is None


def test_build_writes_the_eval_contract(root, tmp_path):
    rep = build(cfg("coco-stuff", root, "val", tmp_path, output={"link_images": True}))
    t = pq.read_table(rep.path)
    check_eval_table(t, str(rep.path))
    assert rep.path.name == "SCaR_eval_COCO_Stuff.parquet" and t.schema.names == EVAL_SCHEMA.names
    assert t.num_rows == rep.rows >= 3
    for row in t.to_pylist():
        assert row["source"] == "coco-stuff" and row["split"] == "val"
        assert row["id"].startswith(f"coco-stuff/{row['image_id']}/")
        assert row["qry_image_path"].startswith("coco_stuff_val/") and \
            (tmp_path / "images" / row["qry_image_path"]).is_file()
        assert len(row["tgt_text"]) == 10 and len(set(row["tgt_text"])) == 10
        assert row["segmentation"]["size"] == [48, 64]
    lines = [json.loads(x) for x in rep.rejections_path.read_text().splitlines()]
    assert {"crowd region: crowd annotations are context only"} <= {r["reason"] for r in lines}
    assert "- source settings:" in (tmp_path / "README.md").read_text()
