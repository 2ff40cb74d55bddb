"""ADE20K SceneParsing: connected regions of a class as entities, masks, scenes, drops, build."""

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from scar.build.pipeline import build
from support import cfg
from scar.build.sources.ade20k import Ade20kSource, read_classes
from scar.build.sources.common import rle_area
from scar.schema import EVAL_SCHEMA, check_eval_table

from fixtures.make_fixtures import write_ade20k


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_ade20k(tmp_path_factory.mktemp("ade"))


def test_regions_masks_and_scene(root):
    src = Ade20kSource(str(root), "val")
    groups = list(src.groups())
    assert len(groups) == 1
    g = groups[0]
    ctx = g[0].context
    assert (ctx.image_id, ctx.file_name, ctx.scene, ctx.width, ctx.height) == \
        ("ADE_val_00000001", "ADE_val_00000001.jpg", "bedroom", 64, 48)
    # two beds are two entities; the 2-pixel door fragment is noise (under min_pixels)
    assert [(e.id, e.category, e.bbox, e.area) for e in ctx.entities] == [
        ("1-1", "wall", (0.0, 0.0, 64.0, 20.0), 1280.0), ("4-1", "floor", (0.0, 36.0, 64.0, 12.0), 768.0),
        ("8-1", "bed", (4.0, 22.0, 20.0, 12.0), 240.0), ("8-2", "bed", (40.0, 24.0, 20.0, 10.0), 200.0)]
    assert [s.id for s in g] == ["ade20k/ADE_val_00000001/1-1", "ade20k/ADE_val_00000001/4-1",
                                 "ade20k/ADE_val_00000001/8-1", "ade20k/ADE_val_00000001/8-2"]
    assert [rle_area(s.region.mask) for s in g] == [1280, 768, 240, 200]
    _, rej = src.drain()
    reasons = {r.sample_id: r.reason for r in rej}
    assert "ADE_val_00000002.png missing" in reasons["ade20k/ADE_val_00000002"]
    assert reasons["ade20k/ADE_val_00000003"] == "image file: annotation ADE_val_00000003.png is 10x10, image is 64x48"
    assert reasons["ade20k/ADE_val_00000004"] == "unknown category: class index [200] not in objectInfo150.csv"


def test_settings_train_split_and_root_forms(root):
    frag = Ade20kSource(str(root), "val", min_pixels=1)
    ents = [e.id for g in frag.groups() for e in g[0].context.entities]
    assert "15-1" in ents  # the fragment, when min_pixels allows it
    train = list(Ade20kSource(str(root / "ADEChallengeData2016"), "train").groups())
    assert train[0][0].context.scene == "living room" and train[0][0].split == "train"
    assert read_classes(root / "ADEChallengeData2016" / "objectInfo150.csv")[15] == "door"
    txt = root / "objectInfo150.txt"  # the zip's tab-separated form
    txt.write_text("Idx\tRatio\tTrain\tVal\tName\n2\t0.1072\t6046\t612\tbuilding, edifice\n")
    assert read_classes(txt) == {2: "building"}


def test_scene_misc_is_none_and_palette_png(tmp_path):
    root = write_ade20k(tmp_path)
    base = root / "ADEChallengeData2016"
    lab = np.asarray(Image.open(base / "annotations" / "validation" / "ADE_val_00000001.png"))
    pal = Image.fromarray(lab, mode="L").convert("P")
    pal.save(base / "annotations" / "validation" / "ADE_val_00000002.png")
    groups = {g[0].image_id: g for g in Ade20kSource(str(root), "val").groups()}
    assert groups["ADE_val_00000002"][0].context.scene is None  # "misc" says nothing
    assert [s.region.entity_id for s in groups["ADE_val_00000002"]] == ["1-1", "4-1", "8-1", "8-2"]


def test_build_writes_the_eval_contract(root, tmp_path):
    rep = build(cfg("ade20k", root, "val", tmp_path))
    t = pq.read_table(rep.path)
    check_eval_table(t, str(rep.path))
    assert rep.path.name == "SCaR_eval_ADE20K.parquet" and t.schema.names == EVAL_SCHEMA.names
    assert t.num_rows == rep.rows >= 1
    for row in t.to_pylist():
        assert row["source"] == "ade20k" and row["qry_image_path"] == "ade20k_val/ADE_val_00000001.jpg"
        assert row["gt_scene"] and "bedroom" in row["tgt_text"][0]
        assert len(set(row["tgt_text"])) == 10 and row["segmentation"]["size"] == [48, 64]


def test_official_class_files_give_the_same_150_names():
    """The official objectInfo150.csv (``;`` between names and inside them) and .txt (sceneparsing
    repository, copied in tests/fixtures/realdata/ade20k; origin in its README) read alike."""
    from scar.build.sources.ade20k import read_classes

    base = Path(__file__).parent / "fixtures" / "realdata" / "ade20k" / "ADEChallengeData2016"
    csv_names, txt_names = read_classes(base / "objectInfo150.csv"), read_classes(base / "objectInfo150.txt")
    assert len(csv_names) == 150 and csv_names == txt_names
    assert [csv_names[i] for i in (45, 65, 74, 110, 137, 142)] == [
        "chest of drawers", "coffee table", "kitchen island", "swimming pool", "traffic light", "crt screen"]
    assert csv_names[72] == "stove"  # "stove;kitchen;stove;range;...": the first name only
