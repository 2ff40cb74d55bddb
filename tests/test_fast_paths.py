"""The cheap per-sample paths (issue 15, item 8) give what the plain code gave."""

from __future__ import annotations

import dataclasses

from scar.types import Candidate, Element, Entity, ImageContext, Region, Relationship, Sample


def _sample() -> Sample:
    ctx = ImageContext("7", "7.jpg", "/data/7.jpg", 200, 100,
                       entities=[Entity("1", "cup", (1.0, 2.0, 3.0, 4.0), synsets=("cup.n.01",)),
                                 Entity("2", "chair", (50.0, 20.0, 30.0, 40.0))],
                       relationships=[Relationship("1", "on", "2")], stuff=["wall"])
    return Sample(id="coco/7/1", source="coco", split="val", image_id="7", file_name="7.jpg", width=200, height=100,
                  region=Region((1.0, 2.0, 3.0, 4.0), "cup", "1", mask={"size": [100, 200], "counts": "ab"}),
                  phrase="a cup", object=Element("cup", "annotation", "cup"),
                  relation=Element("on the chair", "annotation", "on", anchor="2"),
                  scene=Element("in a kitchen", "lexical", "kitchen"),
                  candidates=[Candidate("cup on the chair in a kitchen"),
                              Candidate("bowl on the chair in a kitchen", "object", "bowl")],
                  context=ctx, relationship=Relationship("1", "on", "2"))


def test_to_record_is_asdict_without_the_context():
    s = _sample()
    want = dataclasses.asdict(s)
    del want["context"]
    got = s.to_record()
    assert got == want and list(got) == list(want)
    assert isinstance(got["region"]["bbox"], tuple) and got["region"]["mask"] is not s.region.mask
    got["candidates"][0]["text"] = "changed"  # a copy: the sample stays as it was
    assert s.candidates[0].text == "cup on the chair in a kitchen"
