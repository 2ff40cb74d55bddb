"""The sense table and the swap tables (scar/data/senses.tsv, nouns.tsv, swaps.tsv) and the rules
the lexical generator applies with them: common, visible, never related or near the GT, distinct,
``inside`` only for containers, anchors of another category, captions unique within an image."""

from __future__ import annotations

from importlib import resources

import pytest
from wordfreq import zipf_frequency

from scar import lexicon
from scar.build.steps import relations, scenes
from scar.build.steps.compose import ComposeCaption
from scar.build.steps.lexical import LexicalNegatives, object_swaps, scene_swaps
from scar.types import Element, Entity, ImageContext, Region, Sample


def _table(name: str) -> list[list[str]]:
    """The data rows of a table under scar/data/ (the bundled file, as users get it)."""
    text = resources.files("scar.data").joinpath(name).read_text(encoding="utf-8")
    return [ln.split("\t") for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def test_one_sense_per_category():
    wn = lexicon.wordnet()
    for (vocab, cat), sense in lexicon.senses().items():
        if sense is not None:
            wn.synset(sense.synset)  # exists
    assert lexicon.category_sense("coco", "mouse") == lexicon.Sense("mouse.n.04", "mouse")  # the computer mouse
    assert lexicon.category_sense("coco", "sink").synset == "sink.n.01"
    assert lexicon.category_sense("coco", "tv").synset == "television_receiver.n.01"
    # multiword names fall back to their head
    assert lexicon.category_sense("coco", "cell phone").surface == "phone"
    assert lexicon.category_sense("coco", "wine glass").surface == "glass"
    assert lexicon.category_sense("coco", "stop sign").surface == "sign"
    assert lexicon.category_sense("coco", "potted plant").surface == "plant"
    assert lexicon.category_sense("coco", "sports ball").surface == "ball"
    # every COCO thing and ADE20K class has a row; COCO-Stuff "other" names nothing
    for vocab in ("coco", "ade20k"):
        for cat in lexicon.source_vocabulary(vocab):
            assert (vocab, cat) in lexicon.senses(), (vocab, cat)
    assert lexicon.category_sense("coco-stuff", "other") is None
    assert lexicon.category_sense("coco", "space shuttle").surface == "space shuttle"  # WordNet fallback


def test_swap_table_rows_follow_the_rules():
    info = lexicon.nouns()
    n = 0
    for vocab, gt, swaps in _table("swaps.tsv"):
        for w in (x for x in swaps.split(";") if x and x != "-"):
            n += 1
            assert all(zipf_frequency(t, "en") >= 2.5 for t in w.split()), (gt, w)  # common words
            assert info[w].lexname in lexicon.SWAP_LEXNAMES or info[w].lexname == info[gt].lexname, (gt, w)
            assert not lexicon.near(gt, w), (gt, w)
            if lexicon.is_noun(gt) and lexicon.is_noun(w):
                assert lexicon.lexical_relation(gt, w) is None, (gt, w)  # in any noun sense
    assert n > 5000


def test_a_part_and_its_whole_are_never_swapped():
    """A swap naming a part of the GT thing (its screen or keyboard for a laptop, a wheel for a car)
    or the whole it is part of would be true of the region itself: never in the tables, never in
    the fallback for a noun outside them."""
    for gt, parts in (("laptop", {"screen", "keyboard"}), ("car", {"wheel", "window", "roof"}),
                      ("keyboard", {"laptop"}), ("house", {"door", "window", "wall", "roof"}), ("sky", {"cloud"})):
        for vocab in ("coco", "common"):
            assert not parts & set(lexicon.swap_candidates(vocab, gt)), (vocab, gt)
    assert lexicon.is_meronym("screen", "laptop", 3) and not lexicon.is_meronym("ball", "boy", 3)
    for vocab, gt, swaps in _table("swaps.tsv"):
        if vocab == "coco":
            for w in (x for x in swaps.split(";") if x and x != "-"):
                assert not lexicon.is_meronym(w, gt, 3) and not lexicon.is_meronym(gt, w, 3), (gt, w)
    # a noun outside the tables gets the same rule from WordNet: VisualGenome's pool holds a wheel, a
    # window and a roof, none of them a swap for a minivan
    pool = {w for (v, _), ws in lexicon._swap_lists().items() if v == "visualgenome" for w in ws}
    assert {"wheel", "window", "roof"} <= pool
    assert not {"wheel", "window", "roof"} & set(lexicon.swap_candidates("visualgenome", "minivan"))


@pytest.mark.parametrize("gt,never", [
    ("laptop", {"notebook", "computer", "notebook computer"}),
    ("couch", {"sofa", "armchair"}),
    ("tv", {"television", "monitor", "screen"}),
    ("person", {"man", "woman", "people", "child"}),
    ("sky", {"oxygen", "chlorine"}),
])
def test_object_swaps_are_no_synonyms(gt, never):
    swaps = object_swaps(gt, source="coco-stuff", in_image=sorted(never), exclude=set())
    assert len(swaps) >= 3 and not never & set(swaps), swaps
    for i, a in enumerate(swaps):  # distinct from each other
        assert not any(lexicon.near(a, b) for b in swaps[i + 1:]), swaps


def _sample(ents, target="1", scene="kitchen", sid="s1"):
    ctx = ImageContext("1", "k.jpg", "/x/k.jpg", 400, 300, scene=scene, entities=ents)
    t = next(e for e in ents if e.id == target)
    return Sample(sid, "coco", "val", "1", "k.jpg", 400, 300, Region(t.bbox, t.category, t.id), context=ctx)


def test_inside_only_for_containers_and_never_absurd_support():
    laptop = Entity("1", "laptop", (20, 100, 120, 80))
    keyboard = Entity("2", "keyboard", (250, 100, 100, 40))
    s = _sample([laptop, keyboard])
    alts = relations.alternatives(Element("to the left of the keyboard", "geometry", anchor="2"), s)
    assert alts and not any(a.startswith(("inside", "in ")) for a in alts)
    assert not any(a.startswith("on top of") for a in alts)  # the laptop is bigger than the keyboard
    bowl = Entity("3", "bowl", (250, 100, 150, 100))
    cup = Entity("4", "cup", (100, 120, 30, 30))
    s = _sample([cup, bowl], target="4")
    alts = relations.alternatives(Element("to the left of the bowl", "geometry", anchor="3"), s)
    assert any(a.startswith("inside") for a in alts)  # a bowl holds a cup
    assert relations.possible("inside", cup.bbox, bowl.bbox, "bowl", "cup")
    assert not relations.possible("inside", bowl.bbox, cup.bbox, "cup", "bowl")  # too small
    # a cup is a container, but nothing worth saying fits inside one: never "mouse inside the cup"
    mouse = Entity("5", "mouse", (100, 120, 20, 10))
    assert not relations.possible("inside", mouse.bbox, (90, 100, 60, 60), "cup", "mouse")
    # size classes: a horse never inside a backpack, nor a person under a bowl; a cup under a table may be
    assert not relations.possible("inside", (0, 0, 10, 10), (0, 0, 50, 50), "backpack", "horse")
    assert not relations.possible("under", (0, 0, 10, 10), (0, 0, 50, 50), "bowl", "person")
    assert relations.possible("under", (0, 0, 10, 10), (0, 0, 50, 50), "table", "cup")
    # ... and only under a thing with room beneath it: never "mouse under the cup", "oven under the refrigerator"
    assert not relations.possible("under", (0, 0, 10, 10), (0, 0, 50, 50), "cup", "mouse")
    assert not relations.possible("under", (0, 0, 10, 10), (0, 0, 50, 50), "refrigerator", "oven")
    # "on top of" only on a thing that holds things up: never on a keyboard or a screen
    assert not relations.possible("on top of", (0, 0, 10, 10), (0, 0, 50, 50), "screen", "keyboard")
    assert relations.possible("on top of", (0, 0, 10, 10), (0, 0, 50, 50), "table", "keyboard")


def test_anchors_are_other_categories_and_captions_unique():
    ents = [Entity("1", "sheep", (10, 100, 60, 60)), Entity("2", "sheep", (100, 100, 60, 60)),
            Entity("3", "sheep", (190, 100, 60, 60)), Entity("4", "other", (300, 100, 60, 60))]
    samples = [_sample(ents, target=e.id, scene="field", sid=f"s{e.id}") for e in ents[:3]]
    step = ComposeCaption()
    out = step(samples)
    for s in out:
        assert "sheep" not in s.relation.text.split()[-1] and "other" not in s.relation.text, s.relation.text
    caps = [s.caption for s in out]
    assert len(caps) == len(set(caps)) and len(out) >= 1
    # the second sheep would read like the first ("sheep on the left side in a field"): dropped
    assert any("another row of the image" in r.reason for r in step.drain()[1])


def test_scene_swaps_keep_indoor_outdoor_and_skip_near_scenes():
    assert set(scene_swaps("kitchen")) and all(lexicon.scene_kind(x) == "indoor" for x in scene_swaps("kitchen"))
    park = scene_swaps("park")
    assert all(lexicon.scene_kind(x) == "outdoor" for x in park)
    assert not {"field", "garden", "yard", "playground"} & set(park)
    assert scenes.kind_conflict("kitchen", ["oven", "bus"]) == "bus"
    assert scenes.kind_conflict("kitchen", ["oven", "cup"]) is None
    assert lexicon.scene_phrase("street") == "on a street" and lexicon.scene_phrase("beach") == "on a beach"


def test_negatives_end_to_end_on_a_kitchen():
    ents = [Entity("1", "bowl", (10, 150, 30, 30)), Entity("2", "oven", (150, 60, 60, 60)),
            Entity("3", "refrigerator", (300, 10, 60, 180)), Entity("4", "cell phone", (60, 20, 20, 30))]
    s = LexicalNegatives(seed=0)(ComposeCaption()([_sample(ents, scene=None)]))
    assert len(s) == 1 and len(s[0].candidates) == 10
    objs = [c.neg_value for c in s[0].candidates if c.neg_type == "object"]
    assert objs[0] in {"oven", "refrigerator", "phone"}  # the image's other objects first


def test_gt_relations_only_where_the_picture_decides():
    from scar.build.steps import spatial

    # a big pizza in front, a small chair at the back: "below the chair" only in the picture plane
    assert spatial.pairwise_relation((100, 200, 300, 100), (150, 0, 20, 30)) is None
    # two boxes of comparable size, one just under the other: below
    assert spatial.pairwise_relation((100, 100, 60, 40), (110, 40, 50, 50)).phrase == "below"
    # ...but not when far apart vertically
    assert spatial.pairwise_relation((100, 250, 60, 40), (110, 10, 50, 50)) is None
    # box adjacency is never read as support, and "inside"/"under" are never a GT
    assert spatial.pairwise_relation((100, 50, 40, 30), (80, 80, 100, 60)).phrase != "on top of"


def test_a_phrase_about_another_subject_gives_the_region_nothing():
    # VisualGenome attaches "books on a shelf" to the shelf: the relation is the books', not the shelf's
    shelf = Entity("1", "shelf", (10, 100, 150, 40))
    books = Entity("2", "books", (20, 60, 80, 40))
    lamp = Entity("3", "lamp", (300, 80, 40, 60))
    ctx = ImageContext("1", "k.jpg", "/x/k.jpg", 400, 300, scene="library", entities=[shelf, books, lamp])
    s = Sample("s1", "visualgenome", "val", "1", "k.jpg", 400, 300, Region(shelf.bbox, "shelf", "1"),
               phrase="books on a shelf", context=ctx)
    out = ComposeCaption()([s])
    assert out and out[0].object.text == "shelf"
    assert out[0].relation.value not in relations.SUPPORT and "shelf" not in out[0].relation.text
    # nor its scene: "... in a kitchen" is where the books are said to be, not a label of the shelf's
    ctx2 = ImageContext("2", "k.jpg", "/x/k.jpg", 400, 300, entities=[shelf, books, lamp])
    s2 = Sample("s2", "visualgenome", "val", "2", "k.jpg", 400, 300, Region(shelf.bbox, "shelf", "1"),
                phrase="books on a shelf in a kitchen", context=ctx2)
    step = ComposeCaption()
    assert step([s2]) == [] and step.drain()[1][0].reason.startswith("scene:")


def test_an_anchor_names_one_thing_of_the_image():
    # two trucks: "to the right of the truck" would point at neither, so the person's relation
    # goes to the car (the only one), never to "the truck"
    person = Entity("1", "person", (200, 100, 40, 80))
    truck_a = Entity("2", "truck", (100, 100, 80, 80))
    truck_b = Entity("3", "truck", (260, 100, 80, 80))
    car = Entity("4", "car", (250, 120, 60, 40))
    s = _sample([person, truck_a, truck_b, car], target="1", scene="street")
    assert relations.good_anchor(person, "person", truck_a, "coco", s.context) is None
    assert relations.good_anchor(person, "person", car, "coco", s.context) == "car"
    assert relations.good_anchor(person, "person", truck_a, "coco") == "truck"  # no image: not checked
    out = ComposeCaption()([s])
    assert out and out[0].relation.text == "to the left of the car", out[0].relation.text


def test_object_swaps_are_plausible_in_the_kind_of_place():
    # a person outdoors: never first a thing seen only indoors (a screen, a wine glass, a table)
    from scar.build.steps.lexical import noun_places, object_swaps

    assert noun_places("coco", "screen")[1] == frozenset({"indoor"})  # via COCO's "tv"
    out = object_swaps("person", source="coco", in_image=[], exclude={"person"}, scene="outdoors")
    indoor_only = [w for w in out if noun_places("coco", w)[1] == frozenset({"indoor"})]
    assert indoor_only and not set(out[:6]) & set(indoor_only), out
    assert out.index(indoor_only[0]) > max(out.index(w) for w in out if "outdoor" in noun_places("coco", w)[1])
    # indoors, the same nouns come back up
    inside = object_swaps("person", source="coco", in_image=[], exclude={"person"}, scene="indoors")
    assert "screen" in inside[:6], inside
