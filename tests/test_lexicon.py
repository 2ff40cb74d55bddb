"""WordNet relations on real synsets (real WordNet 3.0 data via nltk)."""

from scar import lexicon


def test_relations_over_any_sense():
    assert lexicon.lexical_relation("car", "automobile") == "synonym"
    assert lexicon.lexical_relation("dog", "animal") == "hypernym"
    assert lexicon.lexical_relation("dog", "puppy") == "hyponym"
    assert lexicon.lexical_relation("cup", "cup") == "same"
    assert lexicon.lexical_relation("cup", "bowl") is None
    assert lexicon.lexical_relation("cup", "container") == "hypernym"
    # "saucer" is a flying saucer in its first sense, a dish in another: any sense counts
    assert lexicon.lexical_relation("saucer", "dish") == "synonym"
    assert lexicon.lexical_relation("saucer", "flatware") == "hypernym"


def test_cousins_and_vocabularies():
    assert lexicon.cousin_depth("cup", "bowl") is not None
    assert lexicon.cousin_depth("cup", "giraffe", 3) is None
    assert "cup" in lexicon.common_objects()
    assert lexicon.scene_phrase("kitchen") == "in a kitchen"
    assert lexicon.scene_phrase("beach") == "on a beach"
    assert lexicon.scene_phrase("orchard") == "in an orchard"  # not in the vocabulary: default form
    wn = lexicon.wordnet()
    for noun in lexicon.scenes():
        assert wn.synsets(lexicon.key(noun), pos="n"), f"scene {noun!r} is not a WordNet noun"


def test_a_category_noun_can_depend_on_the_picture():
    """COCO's tv is a monitor beside a keyboard, mouse or laptop, else a television; categories
    without a row keep their surface noun."""
    from scar import lexicon

    assert lexicon.noun_in_context("coco", "tv", "screen", ["keyboard", "person"]) == "monitor"
    assert lexicon.noun_in_context("refcocog", "tv", "screen", ["couch"]) == "television"
    assert lexicon.noun_in_context("coco", "cup", "cup", ["keyboard"]) == "cup"
    assert lexicon.noun_in_context("ade20k", "tv", "tv", ["keyboard"]) == "tv"
