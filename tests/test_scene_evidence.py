"""Scenes from evidence, with abstention (issue 15 item 4), through the real build: a COCO-format
folder whose images hold chosen object categories, built by ``scar.build.pipeline.build``, then
the written rows and rejects read back.

- a specific scene only when an object that almost only occurs there decides it (an oven: a
  kitchen); several typical objects (a car and a truck) decide only the kind: ``outdoors``;
- ``indoors``/``outdoors`` from the place cues (``scar/data/place_cues.tsv``), from the object
  categories [lexical] or the stuff classes alone [annotation];
- no cue, or cues of both kinds: the entities are rejected with the reason (abstention);
- scene swaps: same-kind scenes without a vote for a specific scene; scenes of the other kind
  for a generic one, none that the caption's own subject or anchor rules out.
"""

from __future__ import annotations

import json
from importlib import resources

import pyarrow.parquet as pq
import pytest
from support import cfg, write_coco

from scar import lexicon
from scar.build.pipeline import build
from scar.build.steps import scenes
from scar.build.steps.compose import ComposeCaption
from scar.types import Entity, ImageContext, Region, Sample

CATS = ["person", "car", "truck", "oven", "refrigerator", "mug", "laptop", "keyboard", "zebra", "couch",
        "bus", "tv", "remote", "dining table"]

#: image id -> the categories of its boxes (each box its own place in a 400x300 picture)
IMAGES = {
    1: ["oven", "refrigerator", "mug"],          # signature objects: a kitchen
    2: ["car", "truck", "person"],               # street-ish votes, no signature: outdoors
    3: ["laptop", "keyboard", "mug"],            # indoor cues only: indoors
    4: ["person", "mug"],                        # nothing says where: abstain
    5: ["bus", "couch", "person"],               # cues of both kinds: abstain
    6: ["zebra", "zebra"],                       # outdoors, but the caption's zebra rules out every indoor swap
    7: ["tv", "remote", "dining table"],         # indoors; a tv rules out the scenes of open nature
}


def _coco(root):
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(CATS)]
    cid = {n: i + 1 for i, n in enumerate(CATS)}
    images, anns = [], []
    boxes = [(10, 20, 110, 100), (150, 30, 100, 120), (280, 60, 100, 90), (60, 170, 120, 110)]
    for iid, names in IMAGES.items():
        images.append({"id": iid, "file_name": f"{iid:012d}.jpg", "width": 400, "height": 300})
        for k, n in enumerate(names):
            x, y, w, h = boxes[k]
            anns.append({"id": 100 * iid + k, "image_id": iid, "category_id": cid[n], "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0,
                         "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
    return write_coco(root, images, anns, cats)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scenes")
    root = _coco(tmp / "src")
    build(cfg("coco", root, "val", tmp / "out", name="S"))
    rows = pq.read_table(tmp / "out" / "SCaR_eval_S.parquet").to_pylist()
    rejects = [json.loads(x) for x in (tmp / "out" / "rejected" / "S_val.jsonl").read_text().splitlines()]
    return rows, rejects


def _rows(built, image_id):
    return [r for r in built[0] if str(r["image_id"]) == str(image_id)]


def _reasons(built, image_id):
    return [j["reason"] for j in built[1] if (j.get("record") or {}).get("id", "").split("/")[-2:-1] == [str(image_id)]]


def _scene_swaps(row):
    return [v for t, v in zip(row["neg_types"], row["neg_values"]) if t == "scene"]


def _noun(phrase):
    return next(n for n, p in lexicon.scenes().items() if p == phrase)


def test_signature_objects_decide_a_specific_scene(built):
    rows = _rows(built, 1)
    assert rows and {(r["gt_scene"], r["scene_provenance"]) for r in rows} == {("in a kitchen", "lexical")}
    for r in rows:
        swaps = [_noun(p) for p in _scene_swaps(r)]
        assert len(swaps) == 3 and all(lexicon.scene_kind(n) == "indoor" for n in swaps), swaps
        assert not set(swaps) & scenes.evidence(IMAGES[1], []), swaps  # no scene the objects vote for


def test_typical_objects_decide_only_indoors_or_outdoors(built):
    outdoor, indoor = _rows(built, 2), _rows(built, 3)
    assert outdoor and {(r["gt_scene"], r["scene_provenance"]) for r in outdoor} == {("outdoors", "lexical")}
    assert indoor and {r["gt_scene"] for r in indoor} == {"indoors"}
    assert all(r["tgt_text"][0].endswith(" indoors") for r in indoor)  # <object> <relation> <scene>
    for r in indoor:  # generic indoors: scenes of the other kind, so definitely false
        swaps = [_noun(p) for p in _scene_swaps(r)]
        assert len(swaps) == 3 and all(lexicon.scene_kind(n) == "outdoor" for n in swaps), swaps
    vehicles = 0
    for r in outdoor:
        swaps = [_noun(p) for p in _scene_swaps(r)]
        assert len(swaps) == 3 and all(lexicon.scene_kind(n) == "indoor" for n in swaps), swaps
        if r["category"] in ("car", "truck") or "the car" in r["gt_relation"] or "the truck" in r["gt_relation"]:
            # a car rules out every room but those where cars are kept: "car in a garage" is possible
            assert set(swaps) <= {"garage", "warehouse", "museum"}, (r["tgt_text"][0], swaps)
            vehicles += 1
    assert vehicles >= 2


def test_no_evidence_or_disagreeing_evidence_abstains_with_the_reason(built):
    assert not _rows(built, 4) and not _rows(built, 5)
    why4, why5 = _reasons(built, 4), _reasons(built, 5)
    assert why4 and all(w.startswith("scene: the image has no scene label") and "no indoor or outdoor cue" in w
                        and "abstained" in w for w in why4), why4
    assert why5 and all("disagree" in w and "'bus'" in w and "'couch'" in w for w in why5), why5


def test_a_caption_that_rules_out_every_swap_is_dropped(built):
    assert not _rows(built, 6)
    n = sum(lexicon.scene_kind(s) == "indoor" for s in lexicon.scenes())
    assert f"scene: only 0 valid swaps for 'outdoor': the caption's 'zebra' rules out {n} of {n} indoor scenes" \
        in _reasons(built, 6), _reasons(built, 6)


def test_indoor_things_rule_out_open_nature(built):
    rows = _rows(built, 7)
    assert rows and {r["gt_scene"] for r in rows} == {"indoors"}
    tvs = 0
    for r in rows:
        swaps = [_noun(p) for p in _scene_swaps(r)]
        assert swaps and all(lexicon.scene_kind(n) == "outdoor" for n in swaps)
        if r["category"] == "tv" or r["gt_relation"].endswith("the tv"):
            assert not set(swaps) & scenes.NATURAL_OUTDOOR, (r["tgt_text"][0], swaps)
            tvs += 1
    assert tvs >= 1
    # the rule itself: a tv rules out the scenes of open nature, a zebra every indoor scene but none outdoors
    assert scenes.ruled_out_by("tv") == scenes.NATURAL_OUTDOOR
    assert scenes.ruled_out_by("zebra") == {s for s in lexicon.scenes() if lexicon.scene_kind(s) == "indoor"}
    assert scenes.ruled_out_by("cup") == frozenset()


def test_stuff_alone_decides_the_kind_with_annotation_provenance():
    ctx = ImageContext("1", "a.jpg", "/x/a.jpg", 300, 200, entities=[Entity("1", "mug", (10, 80, 20, 20)),
                                                                      Entity("2", "person", (150, 60, 60, 60))],
                       stuff=["ceiling-merged", "wall-other-merged"])
    s = Sample("T_val_1", "coco", "val", "1", "a.jpg", 300, 200, Region((10, 80, 20, 20), "mug", "1"), context=ctx)
    [s] = ComposeCaption()([s])
    assert (s.scene.text, s.scene.value, s.scene.provenance) == ("indoors", "indoor", "annotation")
    # the stuff table decides a specific scene before any cue: sand + sea -> a beach
    assert scenes.choose(["cup"], ["sand", "sea"]).noun == "beach"
    # an outdoor stuff class against an indoor object: no scene
    c = scenes.choose(["oven"], ["sky-other-merged"])
    assert c.noun is None and "disagree" in c.reason


def test_place_cue_table_is_well_formed():
    # the bundled table as users get it: name <TAB> kind <TAB> weight [<TAB> scenes it is kept in]
    rows = {}
    for ln in resources.files("scar.data").joinpath("place_cues.tsv").read_text(encoding="utf-8").splitlines():
        if ln.strip() and not ln.startswith("#"):
            cols = [c.strip() for c in ln.split("\t")]
            housed = frozenset(x.strip() for x in cols[3].split(";") if x.strip()) if len(cols) == 4 else frozenset()
            rows[cols[0].lower()] = (cols[1], float(cols[2]), housed)
    assert scenes.place_weights() == {k: (kind, w) for k, (kind, w, _) in rows.items()}  # what the code reads
    assert rows["car"][2] == {"garage", "warehouse", "museum"}
    for name, (kind, weight, housed) in rows.items():
        assert kind in ("indoor", "outdoor") and weight in (0.5, 1.0), name
        assert all(lexicon.scene_kind(h) == "indoor" for h in housed), name  # kept indoors: indoor scenes
    # every scene the object table decides has a signature object (a vote of SIGNATURE alone)
    table = scenes.object_table()
    assert scenes.from_objects(["laptop", "keyboard", "mouse"]) is None  # a home desk is no office
    assert scenes.from_objects(["toilet"]) == "bathroom"
    assert scenes.from_objects(["boat"]) is None and scenes.from_objects(["train"]) is None
    assert max(table["oven"].values()) >= scenes.SIGNATURE


def test_strong_cues_outweigh_one_weak_cue_of_the_other_kind():
    """A bus, a car, a truck and a traffic light outweigh a book (a weak indoor cue: seen in both
    kinds of place); one fire hydrant does not outweigh it, and a decisive cue of each kind
    (a dining table and a boat) leaves the kind undecided."""
    from scar.build.steps import scenes

    kind, why = scenes.decide_kind(["bus", "car", "truck", "traffic light", "book", "person"])
    assert kind == "outdoor" and "book" in why
    assert scenes.decide_kind(["fire hydrant", "book"])[0] is None
    assert scenes.decide_kind(["dining table", "boat"])[0] is None
