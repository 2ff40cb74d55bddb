"""An LLM reply is checked against the image (issue 17, item 10): one-letter "nouns"
(``b``, ``o`` are WordNet nouns) and a relation about an object the image does not have
fail the checks, and the request is asked again with the reason."""

import pytest

from scar.build.llm import prompting
from scar.build.llm.client import LLMConfig
from scar.build.llm.step import LLMStep
from scar.build.sources.coco import CocoSource
from scar.testing.stub_server import StubEndpoint
from support import write_coco


@pytest.fixture()
def sample(tmp_path):
    """A cup left of a chair (two annotated objects, nothing else)."""
    root = write_coco(tmp_path / "src", [{"id": 1, "file_name": "1.jpg", "width": 200, "height": 100}],
                      [{"id": 11, "image_id": 1, "category_id": 1, "bbox": [10, 40, 20, 20], "area": 400, "iscrowd": 0},
                       {"id": 12, "image_id": 1, "category_id": 2, "bbox": [100, 30, 40, 40], "area": 1600,
                        "iscrowd": 0}],
                      [{"id": 1, "name": "cup"}, {"id": 2, "name": "chair"}])
    group = next(CocoSource(str(root), "val").groups())
    return next(s for s in group if s.region.category == "cup")


@pytest.mark.parametrize("word", ["b", "o", "the b", " O "])
def test_one_letter_nouns_fail(word):
    with pytest.raises(prompting.InvalidReply, match="too short"):
        prompting.check_noun("object", word)
    assert prompting.check_noun("object", "ox") == "ox"


def test_a_one_letter_swap_fails_the_reply():
    gt = {"object": "cup", "relation": "left of the chair", "scene": "kitchen"}
    reply = {"object_swaps": ["bowl", "b", "bottle"], "relation_swaps": ["above the table", "inside the box",
                                                                         "far from the lamp"],
             "scene_swaps": ["beach", "garage", "forest"]}
    with pytest.raises(prompting.InvalidReply, match="'b' is too short"):
        prompting.check_swaps(gt, reply)


def test_scene_swaps_of_a_generic_scene_are_of_the_other_kind():
    """A GT scene of only "indoors" (the evidence decided just the kind): an LLM's "kitchen" may be
    true, so only outdoor scenes of the vocabulary are accepted as its swaps."""
    gt = {"object": "cup", "relation": "left of the chair", "scene": "indoor"}
    reply = {"object_swaps": ["bowl", "plate", "bottle"], "relation_swaps": ["above the table", "inside the box",
                                                                             "far from the lamp"],
             "scene_swaps": ["beach", "kitchen", "forest"]}
    with pytest.raises(prompting.InvalidReply, match="'kitchen' may be true: the picture is only known to be indoor"):
        prompting.check_swaps(gt, reply)
    reply["scene_swaps"] = ["beach", "street", "forest"]
    assert prompting.check_swaps(gt, reply)["scene"] == ["beach", "street", "forest"]


def test_a_relation_about_an_absent_object_fails(sample, tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))
    with StubEndpoint({"object": "cup", "scene": "kitchen", "relation": "on the table"}) as stub:
        step = LLMStep(LLMConfig(model="m", base_url=stub.base_url, backoff=0.01, max_attempts=2), swaps=False)
        assert step([sample]) == [] and stub.requests == 2
    _, rejected = step.drain()
    assert len(rejected) == 1 and "'table', which is not among the objects" in rejected[0].reason


def test_the_client_asks_again_and_uses_the_grounded_reply(sample, tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))
    fields = {"object": "cup", "scene": "kitchen"}  # the sample has no element yet: all three are asked
    replies = iter([{**fields, "relation": "on the table"}, {**fields, "relation": "next to the chair"}])
    with StubEndpoint(lambda body: next(replies)) as stub:
        step = LLMStep(LLMConfig(model="m", base_url=stub.base_url, backoff=0.01), swaps=False)
        out = step([sample])
        assert stub.requests == 2  # the first reply was refused with its reason, then asked again
    assert out and out[0].relation.text == "next to the chair" and out[0].relation.anchor == "12"
    assert "not among the objects" in stub.bodies[1]["messages"][-1]["content"]

