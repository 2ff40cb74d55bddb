"""Grounded composition: phrase parsing, VisualGenome relationships, scene fallbacks, the
object-swap widening rule, and the one-element-change property, on real WordNet."""

import pytest

from scar import lexicon
from scar.build.filters.candidates import CandidateChecks
from scar.build.steps import predicates, scenes
from scar.build.steps.compose import ComposeCaption
from scar.build.steps.lexical import LexicalNegatives, normalise, object_swaps
from scar.build.steps.parse import parse_phrase
from scar.types import ELEMENTS, Entity, ImageContext, Region, Relationship, Sample
from support import related_in_wordnet


@pytest.mark.parametrize("phrase,category,expected", [
    ("cup on the table in the kitchen", "cup", ("cup", "on", "table", "kitchen")),
    ("man riding a brown horse", "person", ("man", "riding", "horse", None)),
    ("a dog sitting on a red couch at the beach", "dog", ("dog", "sitting on", "couch", "beach")),
    ("woman in an orange space suit", "person", ("woman", "in", "suit", None)),  # "space suit" is no WordNet noun
    ("zebra next to the tree", None, ("zebra", "next to", "tree", None)),
    ("bus", "bus", ("bus", None, None, None)),
    ("zzzz qqqq", None, (None, None, None, None)),
])
def test_parse_phrase(phrase, category, expected):
    p = parse_phrase(phrase, category)
    assert (p.object, p.predicate, p.anchor, p.scene) == expected


def test_predicate_groups_refuse_paraphrases_and_entailments():
    assert predicates.lookup("Sits  On").surface == "sitting on"
    assert predicates.is_paraphrase("sitting on", "on")          # sitting on it => on it
    assert predicates.is_paraphrase("on", "sitting on")          # may be true
    assert predicates.is_paraphrase("next to", "beside")         # same group
    assert not predicates.is_paraphrase("sitting on", "standing on")
    assert not predicates.is_paraphrase("on", "under")
    for p in predicates.table().values():  # the curated contradictions are never paraphrases
        assert len(p.contradictions) >= 2, p.raw
        for c in p.contradictions:
            assert not predicates.is_paraphrase(p.surface, c), (p.raw, c)
    assert predicates.lookup("has") is None and predicates.lookup("of") is None  # not curated on purpose


def _vg_sample(predicate: str) -> Sample:
    ctx = ImageContext("7", "7.jpg", "/x/7.jpg", 400, 300, entities=[
        Entity("1", "man", (150, 60, 60, 120)), Entity("2", "bench", (120, 150, 140, 60)),
        Entity("3", "tree", (300, 10, 80, 200))],
        relationships=[Relationship("1", predicate, "2"), Relationship("3", "near", "1")], scene="park")
    return Sample("vg/7/1", "visualgenome", "val", "7", "7.jpg", 400, 300, Region((150, 60, 60, 120), "man", "1"),
                  phrase="man sitting on a bench", context=ctx)


def test_visualgenome_relationship_gives_the_relation_and_its_contradictions():
    s = ComposeCaption()([_vg_sample("sits on")])[0]
    assert (s.relation.text, s.relation.provenance, s.relation.anchor) == ("sitting on the bench", "annotation", "2")
    s = LexicalNegatives(seed=0)([s])[0]
    swaps = [c.neg_value for c in s.candidates if c.neg_type == "relation"]
    assert len(swaps) == 3 and all(t.endswith(" the bench") for t in swaps)
    for t in swaps:
        head, _ = predicates.split_relation(t)
        assert not predicates.is_paraphrase("sitting on", head), t  # never "on"/"on top of the bench"
    assert CandidateChecks()([s]) == [s]


def test_uncurated_predicate_falls_back_to_geometry():
    s = ComposeCaption()([_vg_sample("has")])[0]
    assert s.relation.provenance in ("annotation", "geometry")
    assert not s.relation.text.startswith("has")


def _plain(entities, *, scene=None, stuff=(), phrase=None, category="mug") -> Sample:
    ctx = ImageContext("1", "a.jpg", "/x/a.jpg", 300, 200, entities=entities, stuff=list(stuff), scene=scene)
    e = entities[0]
    return Sample("T_val_1", "coco", "val", "1", "a.jpg", 300, 200, Region(e.bbox, category, e.id),
                  phrase=phrase, context=ctx)


def test_scene_fallbacks_and_their_provenance():
    ents = [Entity("1", "mug", (10, 80, 20, 20)), Entity("2", "oven", (150, 60, 60, 60)),
            Entity("3", "refrigerator", (230, 10, 60, 180))]
    s = ComposeCaption()([_plain(ents)])[0]
    assert (s.scene.text, s.scene.provenance) == ("in a kitchen", "lexical")
    s = ComposeCaption()([_plain(ents[:1] + [Entity("4", "umbrella", (150, 60, 60, 60))],
                                 stuff=["sand", "sea-merged"])])[0]
    assert (s.scene.value, s.scene.provenance) == ("beach", "annotation")  # stuff outranks objects
    # a beach with an oven and a refrigerator: indoor things in an outdoor scene, abstain
    step = ComposeCaption()
    assert step([_plain(ents, stuff=["sand", "sea-merged"])]) == []
    assert "abstained" in step.drain()[1][0].reason
    s = ComposeCaption()([_plain(ents, phrase="mug in the garage")])[0]
    assert (s.scene.value, s.scene.provenance) == ("garage", "annotation")  # the phrase outranks stuff
    step = ComposeCaption(infer_scene=False)
    assert step([_plain(ents)]) == []
    assert step.drain()[1][0].reason.startswith("scene: the image has no scene label (stuff classes decide none")
    assert scenes.from_objects(["cup", "chair", "dining table"]) is None  # ambiguous: no scene
    for table in (scenes.stuff_table(), scenes.object_table()):
        for votes in table.values():
            assert set(votes) <= set(lexicon.scenes()), votes


def test_scene_swaps_avoid_scenes_the_image_supports():
    ents = [Entity("1", "mug", (10, 80, 20, 20)), Entity("2", "chair", (150, 60, 60, 60)),
            Entity("3", "car", (200, 100, 90, 60)), Entity("4", "parking meter", (100, 20, 20, 50))]
    s = ComposeCaption()([_plain(ents, scene="garage")])[0]
    s = LexicalNegatives(seed=3)([s])[0]
    swapped = [c.neg_value for c in s.candidates if c.neg_type == "scene"]
    assert not {"on a street", "in a parking lot"} & set(swapped)  # car / parking meter vote for them


def test_object_swaps_outside_the_tables_follow_the_same_rules():
    # "space shuttle" is no category of any vocabulary: WordNet rules + the curated groups
    swaps = object_swaps("space shuttle", source="coco", in_image=[], exclude=set())
    assert len(swaps) >= 3 and not any(related_in_wordnet("space shuttle", w) for w in swaps)
    # a COCO category: the table's swaps, the image's other objects first
    swaps = object_swaps("fire hydrant", source="coco", in_image=["car"], exclude=set())
    assert len(swaps) >= 3 and swaps[0] == "car"
    assert not any(related_in_wordnet("fire hydrant", w) for w in swaps)


def test_every_distractor_changes_exactly_one_element():
    samples = [_vg_sample("sits on"), _plain([Entity("1", "mug", (10, 80, 20, 20)), Entity("2", "oven", (150, 60, 60, 60)),
                                              Entity("3", "refrigerator", (230, 10, 60, 180))])]
    done = LexicalNegatives(seed=0)(ComposeCaption()(samples))
    assert len(done) == 2
    for s in done:
        gt = {n: s.element(n).text for n in ELEMENTS}
        assert len({normalise(c.text) for c in s.candidates}) == 10
        for c in s.candidates[1:]:
            parts = dict(gt, **{c.neg_type: c.neg_value})
            assert c.text == " ".join(parts[n] for n in ELEMENTS)
            assert sum(parts[n] != gt[n] for n in ELEMENTS) == 1


def test_a_person_cut_off_by_the_frame_and_wider_than_tall_is_no_person():
    """An arm reaching into the picture is annotated 'person'; the caption would say 'person'
    of an arm. Wider than tall and at the frame's edge: left out with the reason; a person
    standing at the edge (taller than wide) or wide but inside the frame is kept."""
    others = [Entity("2", "oven", (150, 60, 60, 60)), Entity("3", "refrigerator", (230, 10, 60, 180))]
    step = ComposeCaption()
    assert step([_plain([Entity("1", "person", (0, 150, 90, 40)), *others], category="person")]) == []
    assert "cut off by the frame" in step.drain()[1][0].reason
    kept = ComposeCaption()([_plain([Entity("1", "person", (0, 40, 40, 120)), *others], category="person")])
    assert kept and kept[0].object.text == "person"
    kept = ComposeCaption()([_plain([Entity("1", "person", (20, 150, 90, 40)), *others], category="person")])
    assert kept and kept[0].object.text == "person"  # lying, inside the frame


def test_a_category_that_boxes_other_things_names_no_target_and_no_anchor():
    """COCO's 'cup' boxes drinking glasses as well as cups (``broad_categories.tsv``): its
    name is no safe noun for a box, so a cup box without a referring phrase is left out with the
    reason and is never the anchor ("to the right of the cup"); a referring phrase still names it."""
    ents = [Entity("1", "cup", (40, 80, 30, 30)), Entity("2", "bowl", (80, 80, 30, 30)),
            Entity("3", "oven", (150, 60, 60, 60)), Entity("4", "refrigerator", (230, 10, 60, 180))]
    step = ComposeCaption()
    assert step([_plain(ents, category="cup")]) == []
    assert step.drain()[1][0].reason == ("object: coco's 'cup' boxes drinking glasses as well as cups: the name is "
                                         "no safe noun for this box")
    bowl = _plain(ents[1:2] + ents[:1] + ents[2:], category="bowl")
    [s] = ComposeCaption()([bowl])
    assert s.object.text == "bowl" and "cup" not in s.relation.text and s.relation.anchor != "1"
    [s] = ComposeCaption()([_plain(ents, category="cup", phrase="cup of tea")])  # the annotator's own word
    assert s.object.text == "cup"
    assert lexicon.broad_category("refcocog", "cup") is not None and lexicon.broad_category("ade20k", "cup") is None


def test_a_malformed_line_of_a_bundled_table_is_named(monkeypatch):
    """The per-category tables (context nouns, broad categories) refuse a line with the wrong
    number of columns, naming the file, the line and what they want."""
    monkeypatch.setattr(lexicon, "_read_lines", lambda name: ["coco\tcup"])
    lexicon.broad_categories.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"broad_categories\.tsv: data line 1: want vocabulary <TAB> category "
                                             r"<TAB> what else its boxes hold: 'coco\\tcup'"):
            lexicon.broad_categories()
    finally:
        lexicon.broad_categories.cache_clear()
