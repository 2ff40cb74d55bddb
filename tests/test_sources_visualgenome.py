"""VisualGenome: streamed files, the hash split, entities/relationships/phrases, box
masks, --exclude-coco, the format traps, and a build that runs to the end."""

import json

import pytest

from scar.build.masks import FillMasks
from scar.build.pipeline import build
from support import cfg
from scar.build.sources.common import rle_area
from scar.build.sources.visualgenome import RecordStream, VisualGenomeSource, vg_split
from scar.types import Relationship

from fixtures.make_fixtures import vg_ids, write_visualgenome


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_visualgenome(tmp_path_factory.mktemp("vg"))


def _read(src):
    groups = list(src.groups())
    _, rej = src.drain()
    return groups, {r.sample_id: r.reason for r in rej}


def test_split_rule_is_deterministic_and_about_five_percent():
    share = sum(vg_split(i) == "val" for i in range(1, 20001)) / 20000
    assert 0.04 < share < 0.06
    assert [vg_split(i) for i in range(1, 50)] == [vg_split(i) for i in range(1, 50)]
    assert all(vg_split(i, 0) == "train" for i in range(100)) and all(vg_split(i, 100) == "val" for i in range(100))


def test_val_entities_relationships_and_phrases(root):
    (a, b, c), _ = vg_ids()
    groups, rej = _read(VisualGenomeSource(str(root), "val"))
    assert [g[0].image_id for g in groups] == [str(a), str(b)]
    g = groups[0]
    ctx = g[0].context
    assert ctx.file_name == f"{a}.jpg" and ctx.path.endswith(f"VG_100K/{a}.jpg") and ctx.scene is None
    # objects (names[0] lower-cased) + the relationship end missing from objects.json (saddle)
    assert [(e.id, e.category) for e in ctx.entities] == [("1", "man"), ("2", "horse"), ("3", "hat"),
                                                          ("4", "tree"), ("5", "fly"), ("7", "saddle")]
    assert ctx.entity("4").bbox == (50.0, 0.0, 14.0, 20.0)  # clipped at the right edge
    assert ctx.relationships == [Relationship("1", "wearing", "3"), Relationship("2", "next to", "1"),
                                 Relationship("7", "near", "2")]
    # eligible: subjects of a relationship or objects matched by a region phrase; largest first
    assert [(s.id, s.phrase, s.relationship) for s in g] == [
        (f"visualgenome/{a}/2", None, Relationship("2", "next to", "1")),        # "brown animal" does not name it
        (f"visualgenome/{a}/1", "man with a hat", Relationship("1", "wearing", "3")),
        (f"visualgenome/{a}/4", "a tree behind the horse", None),
        (f"visualgenome/{a}/7", None, Relationship("7", "near", "2"))]
    # no masks in VisualGenome: the build's masks step gives the box polygon
    assert g[2].region.mask is None
    FillMasks()(g)
    assert rle_area(g[2].region.mask) == pytest.approx(14 * 20, abs=20)
    assert groups[1][0].context.path.endswith(f"VG_100K_2/{b}.jpg")  # the folder the url names
    assert rej[f"visualgenome/{a}/6"].startswith("object record: object 6 needs a name")
    assert rej[f"visualgenome/{a}/rel#104"].startswith("relationship record")
    assert f"{c}.jpg missing" in rej[f"visualgenome/{c}"]
    assert rej["visualgenome/image#5"] == "image record: missing integer image_id (or id)"


def test_train_split_older_dump_and_exclude_coco(root):
    _, (d, e) = vg_ids()
    groups, _ = _read(VisualGenomeSource(str(root), "train"))
    assert [(s.id, s.phrase, s.relationship) for g in groups for s in g] == [
        (f"visualgenome/{d}/30", None, Relationship("30", "on", "31")),   # `id` instead of `image_id`
        (f"visualgenome/{e}/40", "white boat on water", None)]
    (a, b, _), _ = vg_ids()
    groups, rej = _read(VisualGenomeSource(str(root), "val", exclude_coco=True))
    assert [g[0].image_id for g in groups] == [str(a)]
    assert rej[f"visualgenome/{b}"] == "coco image: excluded by --exclude-coco (coco_id 11)"


def test_image_index_gives_coco_ids(root):
    (a, b, c), _ = vg_ids()
    assert list(VisualGenomeSource(str(root), "val").image_index()) == [(str(a), None), (str(b), 11), (str(c), None)]
    assert list(VisualGenomeSource(str(root), "val", exclude_coco=True).image_index()) == [(str(a), None),
                                                                                          (str(c), None)]


def test_other_split_records_are_dropped_not_buffered(root, tmp_path, caplog):
    # the val read passes over train images' records: aligned files must not buffer them
    with caplog.at_level("WARNING", logger="scar.build.sources.visualgenome"):
        list(VisualGenomeSource(str(root), "val").groups())
        list(VisualGenomeSource(str(root), "train").groups())
    assert "not in the order" not in caplog.text
    f = tmp_path / "objects.json"
    f.write_text(json.dumps([{"image_id": i, "objects": []} for i in (1, 2, 3, 4)]))
    stream = RecordStream(f)
    stream.skip(1)
    assert stream.get(2)["image_id"] == 2 and stream.get(4)["image_id"] == 4
    assert stream.buffered == [3] and not stream.skipping  # only the record passed over unasked
    stream.close()


def test_files_out_of_order_still_pair_by_image(root, tmp_path, caplog):
    for f in ("image_data.json", "objects.json", "relationships.json", "region_descriptions.json"):
        (tmp_path / f).write_text((root / f).read_text())
    (tmp_path / "images").symlink_to(root / "VG_100K")
    objs = json.loads((tmp_path / "objects.json").read_text())
    (tmp_path / "objects.json").write_text(json.dumps(objs[::-1]))
    (tmp_path / "VG_100K_2").symlink_to(root / "VG_100K_2")
    ref = [[(s.id, s.phrase, s.relationship) for s in g] for g in VisualGenomeSource(str(root), "val").groups()]
    with caplog.at_level("WARNING", logger="scar.build.sources.visualgenome"):
        got = [[(s.id, s.phrase, s.relationship) for s in g] for g in VisualGenomeSource(str(tmp_path), "val").groups()]
    assert got == ref
    assert caplog.text.count("objects.json is not in the order of image_data.json") == 1  # said once, then buffered
    (tmp_path / "relationships.json").write_text('[{"image_id": 1, "relationships": [')
    with pytest.raises(ValueError, match="relationships.json: not readable"):
        list(VisualGenomeSource(str(tmp_path), "val").groups())


def test_build_runs_and_records_why(root, tmp_path):
    rep = build(cfg("visualgenome", root, "val", tmp_path))
    assert rep.path.name == "SCaR_eval_VisualGenome.parquet" and rep.path.is_file()
    lines = [json.loads(x) for x in rep.rejections_path.read_text().splitlines()]
    assert len(lines) == rep.rejected
    later = {r["sample_id"] for r in lines if r["step"] != "visualgenome"}
    assert rep.rows + len(later) == 5  # every sample the source gave became a row or says why not
    assert "box polygon where the source has no mask" in (tmp_path / "README.md").read_text()
