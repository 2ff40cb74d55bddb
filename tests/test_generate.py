"""Caption composition and the lexical negatives, on real WordNet."""

from scar.build.steps import spatial
from scar.build.steps.compose import ComposeCaption, head_noun
from scar.build.steps.lexical import LexicalNegatives, normalise, object_swaps, scene_swaps
from scar.types import Entity, ImageContext, Region, Sample
from support import related_in_wordnet


def test_head_noun():
    assert head_noun("woman in an orange space suit", "person") == "woman"
    assert head_noun("model space shuttle", "space shuttle") == "space shuttle"
    assert head_noun("white rocket", "rocket") == "rocket"  # "white rocket" is a plant in WordNet
    assert head_noun("the two cups on the left", "cup") == "cup"
    assert head_noun("zzzz qqqq") is None


def test_object_swaps_never_synonym_hypernym_or_hyponym():
    for gt in ("cup", "dog", "woman", "car", "tree", "eye"):
        swaps = object_swaps(gt, source="coco", in_image=["person", "mug", "animal", "table"], exclude=set())
        assert len(swaps) >= 3, gt
        for w in swaps:
            assert not related_in_wordnet(gt, w), (gt, w)
    # concrete cases: hypernyms/hyponyms/synonyms present in the image are refused
    swaps = object_swaps("dog", source="coco", in_image=["animal", "puppy", "domestic dog", "horse"], exclude=set())
    assert "horse" in swaps and not {"animal", "puppy", "domestic dog"} & set(swaps)


def test_scene_swaps_exclude_related_scenes():
    swaps = scene_swaps("kitchen")
    assert "bathroom" in swaps and "kitchen" not in swaps
    assert all(not related_in_wordnet("kitchen", s) for s in swaps)
    assert "room" not in scene_swaps("living room")


def test_spatial_relations():
    a, b = (0, 0, 10, 10), (30, 0, 10, 10)  # a left of b, same row
    assert spatial.pairwise_relation(a, b).phrase == "to the left of"
    false = {r.phrase for r in spatial.false_pairwise(a, b)}
    assert "to the right of" in false and "to the left of" not in false
    assert "next to" not in false  # proximity is vague: never a swap
    higher = {r.phrase for r in spatial.false_pairwise(a, (30, 3, 10, 10))}  # a a little higher than b
    assert "above" not in higher and "below" in higher
    assert spatial.pairwise_relation((0, 12, 10, 10), (0, 0, 10, 10)).phrase == "below"
    assert spatial.pairwise_relation((0, 14, 10, 10), (0, 0, 10, 10)) is None  # a gap: maybe depth, not "below"
    assert spatial.pairwise_relation((0, 40, 10, 10), (0, 0, 10, 10)) is None  # too far apart to tell
    # side by side, but overlapping by a third of the width: not decided (one may be behind the other)
    assert spatial.pairwise_relation((0, 0, 10, 10), (7, 0, 10, 10)) is None
    # the frame: "in the center" only for a box in the middle third; a side needs the outer part
    assert spatial.frame_relation((130, 130, 40, 40), 300, 300).phrase == "in the center"
    assert spatial.frame_relation((60, 60, 180, 180), 300, 300) is None  # big box: vague
    assert spatial.frame_relation((10, 100, 60, 60), 300, 300).phrase == "on the left side"
    assert spatial.frame_relation((95, 100, 54, 45), 300, 300) is None  # left of the middle, not at the side
    # a side is the outer third: a small box centred at 0.34 of the width is centre-left (read
    # on the tuning photographs: half of such "on the left side" rows could not be told)
    assert spatial.frame_relation((90, 100, 24, 24), 300, 300) is None
    assert spatial.frame_relation((85, 100, 24, 24), 300, 300).phrase == "on the left side"
    assert spatial.frame_relation((191, 100, 24, 24), 300, 300).phrase == "on the right side"
    assert spatial.frame_relation((100, 200, 60, 60), 300, 300) is None  # lower half, far from the bottom
    assert spatial.frame_relation((120, 240, 60, 55), 300, 300).phrase == "at the bottom"


def test_corners_are_ground_truths_only_where_both_the_side_and_the_edge_decide():
    """A corner comes after the side and the edge it combines (a second thing of one name on one
    side can be told apart by it) and only where both of them decide."""
    top_left = [r.phrase for r in spatial.frame_relations((5, 5, 60, 60), 300, 300)]
    assert top_left == ["on the left side", "at the top", "at the top left"]
    # on the left side, in the upper half but far from the top edge: no "at the top", so no corner
    assert [r.phrase for r in spatial.frame_relations((5, 60, 60, 60), 300, 300)] == ["on the left side"]
    assert [r.phrase for r in spatial.frame_relations((240, 245, 55, 55), 300, 300)] == [
        "on the right side", "at the bottom", "at the bottom right"]
    # a corner is never a swap where its side and its edge might be said
    assert "at the top left" not in {r.phrase for r in spatial.false_frame((5, 5, 60, 60), 300, 300)}
    assert "at the bottom right" in {r.phrase for r in spatial.false_frame((5, 5, 60, 60), 300, 300)}


def test_things_side_by_side_at_one_height_are_neither_above_nor_below():
    """Beside each other at one height (most of the shorter's height shared, centres close), "above"
    and "below" are both clearly false swaps of "to the left of"; at different heights only the
    one the picture rules out; stacked boxes are neither left nor right of each other."""
    level = {r.phrase for r in spatial.false_pairwise((0, 100, 50, 50), (100, 95, 50, 60))}
    assert {"above", "below", "to the right of"} <= level
    lower = {r.phrase for r in spatial.false_pairwise((0, 100, 50, 50), (100, 0, 50, 120))}
    assert "above" in lower and "below" not in lower  # shares only 40% of its height: maybe lower
    stacked = {r.phrase for r in spatial.false_pairwise((100, 0, 50, 50), (95, 60, 60, 50))}
    assert {"to the left of", "to the right of", "below"} <= stacked
    shifted = {r.phrase for r in spatial.false_pairwise((100, 0, 50, 50), (130, 60, 60, 50))}
    assert "to the left of" not in shifted  # shifted left, sharing 40% of its width: it might be said


def _sample(sid: str = "T_val_1") -> Sample:
    ctx = ImageContext("1", "k.jpg", "/x/k.jpg", 200, 100, scene="kitchen", entities=[
        Entity("1", "cup", (10, 40, 20, 20)), Entity("2", "chair", (100, 10, 40, 40)), Entity("3", "table", (150, 80, 50, 20))])
    return Sample(sid, "coco", "val", "1", "k.jpg", 200, 100, Region((10, 40, 20, 20), "cup", "1"),
                  phrase="white cup", context=ctx)


def test_compose_and_negatives_end_to_end():
    s = ComposeCaption()([_sample()])[0]
    assert (s.object.text, s.object.provenance) == ("cup", "annotation")
    assert s.relation.text == "to the left of the chair" and s.relation.provenance == "geometry"
    assert s.scene.text == "in a kitchen"
    assert s.caption == "cup to the left of the chair in a kitchen"
    s = LexicalNegatives(seed=0)([s])[0]
    assert len(s.candidates) == 10
    assert [c.neg_type for c in s.candidates[1:]] == ["object"] * 3 + ["relation"] * 3 + ["scene"] * 3
    assert len({normalise(c.text) for c in s.candidates}) == 10
    for c in s.candidates[1:]:
        parts = {"object": "cup", "relation": "to the left of the chair", "scene": "in a kitchen"}
        parts[c.neg_type] = c.neg_value
        assert c.text == " ".join(parts.values())  # exactly one element replaced, the rest verbatim
    rel = [c.neg_value for c in s.candidates[4:7]]
    assert "to the right of the chair" in rel or "above the chair" in rel


def test_negatives_deterministic_for_a_seed():
    def cands(seed, sid="T_val_1"):
        s = ComposeCaption()([_sample(sid)])[0]
        return [c.text for c in LexicalNegatives(seed=seed)([s])[0].candidates]

    assert cands(0) == cands(0)
    assert any(cands(0) != cands(k) for k in range(1, 6))


def test_missing_scene_is_rejected_with_reason():
    s = _sample()
    s.context.scene = None
    step = ComposeCaption()
    assert step([s]) == []
    stats, rej = step.drain()
    # cup, chair and table decide no scene (scar/data/object_scenes.tsv): nothing grounds one
    assert rej[0].reason.startswith("scene: the image has no scene label") and rej[0].sample_id == "T_val_1"
    assert stats.rejected == {"scene": 1}
