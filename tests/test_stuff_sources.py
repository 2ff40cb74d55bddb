"""COCO-Stuff stuff JSON (``--stuff FILE``) for every COCO-image source, and VisualGenome's
``synsets``, through the real readers and the real build.

The stuff file is COCO-Stuff's official example (``tests/fixtures/realdata/coco_stuff_examples``:
COCO train2017 images 934 and 13715, origin in the realdata README); the VisualGenome records are
the real first five images of v1.2 (``tests/fixtures/realdata/visualgenome``), with ``coco_id`` set
on two of them to those COCO images (the released records carry null there).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from scar import lexicon
from scar.build import recipe as recipe_mod
from scar.build.pipeline import build
from scar.build.sources.refcoco import RefCocoPlusSource
from scar.build.sources.visualgenome import VisualGenomeSource
from support import REPO, cfg

from fixtures.make_fixtures import write_refcoco

REAL = Path(__file__).parent / "fixtures" / "realdata"
STUFF = REAL / "coco_stuff_examples" / "stuff_examples.json"
VG = REAL / "visualgenome"
#: VisualGenome image id -> the COCO image it is made to be (coco_id)
COCO_OF = {1: 934, 2: 13715}


@pytest.fixture(scope="module")
def vg_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("vg")
    for f in ("objects.json", "relationships.json", "region_descriptions.json"):
        shutil.copy(VG / f, root / f)
    images = json.loads((VG / "image_data.json").read_text())
    (root / "images").mkdir()
    for im in images:
        im["coco_id"] = COCO_OF.get(im["image_id"])
        Image.new("RGB", (im["width"], im["height"]), (90, 120, 150)).save(root / "images" / f"{im['image_id']}.jpg")
    (root / "image_data.json").write_text(json.dumps(images))
    return root


def test_visualgenome_images_with_a_coco_id_get_that_images_stuff(vg_root):
    src = VisualGenomeSource(str(vg_root), "val", val_percent=100, stuff=str(STUFF), check_images=False)
    stuff = {}
    for group in src.read():
        ctx = group[0].context
        stuff[int(ctx.image_id)] = ctx.stuff
    assert set(COCO_OF) <= set(stuff), stuff
    # image 934 of COCO-Stuff: tree and sand cover at least 5% of it ("other" never counts)
    assert stuff[1] == ["sand", "tree"], stuff[1]
    assert stuff[2] and "other" not in stuff[2]
    assert all(not v for k, v in stuff.items() if k not in COCO_OF)  # no coco_id: no stuff
    plain = VisualGenomeSource(str(vg_root), "val", val_percent=100, check_images=False)
    assert all(not g[0].context.stuff for g in plain.read())


def test_visualgenome_entities_carry_their_synsets_and_the_sense_uses_them(vg_root):
    src = VisualGenomeSource(str(vg_root), "val", val_percent=100, check_images=False)
    ents = {e.id: e for g in src.read() for e in g[0].context.entities}
    raw = {str(o["object_id"]): o for rec in json.loads((VG / "objects.json").read_text()) for o in rec["objects"]}
    assert ents["1058498"].synsets == ("clock.n.01",)
    with_synsets = [e for e in ents.values() if e.synsets]
    assert len(with_synsets) > 0.8 * len(ents)
    for e in with_synsets:
        if e.id in raw:
            assert list(e.synsets) == [s.lower() for s in raw[e.id]["synsets"]], e
    # the annotators' sense decides: "sneakers" is gym_shoe.n.01, its caption noun "sneaker"
    sneakers = ents["5048"]
    assert (sneakers.category, sneakers.synsets) == ("sneakers", ("gym_shoe.n.01",))
    assert lexicon.category_sense("visualgenome", sneakers.category, sneakers.synsets) == \
        lexicon.Sense("gym_shoe.n.01", "sneaker")
    # an abstract sense names no visible thing (shade.n.01: relative darkness), while the name
    # alone would get a concrete sense (a window shade)
    shade = ents["5045"]
    assert shade.synsets == ("shade.n.01",)
    assert lexicon.category_sense("visualgenome", "shade", shade.synsets) is None
    assert lexicon.category_sense("visualgenome", "shade") is not None
    assert lexicon.category_sense("visualgenome", "x", ("no_such_word.n.01",)) == lexicon.category_sense("visualgenome", "x")


def test_visualgenome_build_grounds_the_scene_in_coco_stuff(vg_root, tmp_path):
    build(cfg("visualgenome", vg_root, "val", tmp_path / "out", source={"val_percent": 100, "stuff": [str(STUFF)],
                                                                        "check_images": False}))
    rows = pq.read_table(tmp_path / "out" / "SCaR_eval_VisualGenome.parquet").to_pylist()
    beach = [r for r in rows if r["image_id"] == "1"]
    assert beach and {(r["gt_scene"], r["scene_provenance"]) for r in beach} == {("on a beach", "annotation")}


def test_refcoco_reads_the_stuff_of_its_coco_images(tmp_path):
    root = write_refcoco(tmp_path / "rp", "refcoco+")
    data = json.loads(STUFF.read_text())  # the real file, its image 934 renumbered as the fixture's image 11
    for im in data["images"]:
        im["id"] = 11 if im["id"] == 934 else im["id"]
    for a in data["annotations"]:
        a["image_id"] = 11 if a["image_id"] == 934 else a["image_id"]
    stuff_file = tmp_path / "stuff_train2017.json"
    stuff_file.write_text(json.dumps(data))
    groups = list(RefCocoPlusSource(str(root), "val", stuff=str(stuff_file)).read())
    assert groups and {g[0].image_id: g[0].context.stuff for g in groups} == {"11": ["sand", "tree"]}
    assert all(not g[0].context.stuff for g in RefCocoPlusSource(str(root), "val").read())
    build(cfg("refcoco+", root, "val", tmp_path / "out", source={"stuff": [str(stuff_file)]}))
    rows = pq.read_table(tmp_path / "out" / "SCaR_eval_RefCOCO_plus.parquet").to_pylist()
    assert rows and {r["gt_scene"] for r in rows} == {"on a beach"}
    assert {r["scene_provenance"] for r in rows} == {"annotation"}


def test_the_recipe_wires_the_stuff_files_under_the_data_root(tmp_path):
    _, plans = recipe_mod.load_recipe(REPO / "pipelines" / "scar.yaml", tmp_path / "data",
                                      {"output": {"dir": str(tmp_path / "o")}})
    stuff = {(p.config.source.name, p.config.source.split): p.config.source.stuff for p in plans}
    train = tmp_path / "data" / "coco_stuff" / "annotations" / "stuff_train2017.json"
    val = tmp_path / "data" / "coco_stuff" / "annotations" / "stuff_val2017.json"
    for name in ("refcoco+", "refcocog"):
        assert stuff[(name, "train")] == stuff[(name, "val")] == [train]
    assert stuff[("visualgenome", "train")] == stuff[("visualgenome", "val")] == [train, val]
    assert stuff[("coco-stuff", "val")] is None and stuff[("ade20k", "val")] is None
