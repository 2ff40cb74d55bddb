"""The common rules of every source (scar.build.base.Source), through a tiny source."""

import pytest

from scar.build.base import Rejection, Source, SpillList
from scar.build.masks import FillMasks
from scar.build.sources import SOURCES, get_source
from scar.build.sources.common import rle_area
from scar.names import OFFICIAL
from scar.types import Entity, ImageContext


class Boxes(Source):
    """One 100x50 image whose entities are given as (id, category, bbox[, iscrowd])."""

    name = "boxes"

    def __init__(self, entities, **settings):
        super().__init__("unused", "val", **settings)
        self.entities = entities

    def read(self):
        ctx = ImageContext("7", "a.jpg", "/nowhere/a.jpg", 100, 50)
        ctx.entities = [Entity(i, c, b, iscrowd=bool(rest and rest[0])) for i, c, b, *rest in self.entities]
        group = self.select(ctx, list(ctx.entities))
        if group:
            yield group


def _read(src):
    samples = [s for g in src.groups() for s in g]
    _, rej = src.drain()
    return samples, {r.sample_id: r.reason for r in rej}


def test_clip_degenerate_small_crowd():
    src = Boxes([("1", "cup", (-10, -5, 30, 20)),          # past the top-left corner: clipped
                 ("2", "cup", (90, 40, 30, 30)),           # past the bottom-right corner: clipped
                 ("3", "cup", (120, 10, 5, 5)),            # outside the image: degenerate
                 ("4", "cup", (10, 10, 0.5, 20)),          # thinner than min_side: degenerate
                 ("5", "cup", (10, 10, 3, 3)),             # 9 px < 0.5% of 5000 px: too small
                 ("8", "cup", (10, 10, 4, 6)),             # 24 px < 25 px: too small as well
                 ("6", "cup", (10, 10, 20, 20), True),     # crowd
                 ("7", "cup", (10, 10, float("nan"), 4))])
    samples, rej = _read(src)
    assert [(s.id, s.region.bbox) for s in samples] == [("boxes/7/1", (0.0, 0.0, 20.0, 15.0)),
                                                         ("boxes/7/2", (90.0, 40.0, 10.0, 10.0))]
    assert rej["boxes/7/3"].startswith("degenerate box")
    assert rej["boxes/7/4"].startswith("degenerate box")
    assert rej["boxes/7/5"].startswith("box too small: 3x3 px")
    assert rej["boxes/7/8"] == "box too small: 4x6 px is under 0.50% of the 100x50 image"
    assert rej["boxes/7/6"].startswith("crowd region")
    assert rej["boxes/7/7"].startswith("degenerate box")
    # no mask annotated: the build's masks step gives the clipped box's polygon
    assert all(s.region.mask is None for s in samples)
    FillMasks()(samples)
    assert rle_area(samples[0].region.mask) == pytest.approx(20 * 15, abs=25)


def test_at_most_five_preferring_larger_and_distinct_categories():
    ents = [(str(i), "cup", (0, 0, 10 + i, 10 + i)) for i in range(1, 7)] + \
           [("20", "chair", (50, 0, 11, 11)), ("21", "person", (60, 20, 12, 12))]
    samples, rej = _read(Boxes(ents))
    # the largest of each category first (cup 6, person 21, chair 20), then the next largest cups
    assert [s.region.entity_id for s in samples] == ["6", "5", "4", "21", "20"]
    assert {k for k, v in rej.items() if v.startswith("over per-image limit")} == \
        {"boxes/7/1", "boxes/7/2", "boxes/7/3"}
    by_size, _ = _read(Boxes(ents, distinct_categories=False, max_per_image=3))
    assert [s.region.entity_id for s in by_size] == ["6", "5", "4"]


def test_settings_are_overridable_and_checked():
    src = Boxes([("1", "cup", (10, 10, 3, 3))], min_area=0.0, id_format="{source}:{image_id}:{ann_id}")
    samples, _ = _read(src)
    assert [s.id for s in samples] == ["boxes:7:1"]
    assert Boxes([("1", "cup", (-5, 0, 20, 20))], clip_boxes=False).read().__next__()[0].region.bbox == \
        (-5.0, 0.0, 20.0, 20.0)
    with pytest.raises(ValueError, match="--exclude-coco does not apply to --source boxes"):
        Boxes([], exclude_coco=True)
    with pytest.raises(ValueError, match="--max-per-image"):
        Boxes([], max_per_image=0)
    with pytest.raises(ValueError, match="--masks sam needs --sam-model"):
        FillMasks("sam")
    with pytest.raises(ValueError, match="--masks does not apply to --source boxes"):
        Boxes([], masks="box")  # masks are the build's masks step's, not the reader's
    with pytest.raises(ValueError, match="--min-area"):
        Boxes([], min_area=2)


def test_limit_counts_samples():
    ents = [(str(i), f"c{i}", (i * 10, 0, 9, 9)) for i in range(1, 5)]
    src = Boxes(ents)
    assert sum(len(g) for g in src.groups(limit=2)) == 2
    assert src.drain()[0].n_out == 2


def test_rejections_spill_to_disk_in_order():
    spill = SpillList(limit=3)
    for i in range(10):
        spill.append(Rejection("s", f"reason {i}", str(i), {"i": i}))
        assert spill.spilled == (i >= 3)
    assert len(spill) == 10
    assert [r.record["i"] for r in spill] == list(range(10))
    assert [r.sample_id for r in spill] == [str(i) for i in range(10)]  # iterable twice


def test_every_official_source_is_registered():
    assert set(OFFICIAL) | {"coco"} == set(SOURCES.names())
    for key in OFFICIAL:
        assert get_source(key).name == key


def test_selection_is_a_pure_function():
    """select_entities leaves its inputs as they were and gives the same answer every time:
    new boxes (clipped), new entities and the drops with their reasons."""
    import copy

    from scar.build.selection import SelectionRules, select_entities
    from scar.types import Relationship

    ctx = ImageContext("7", "a.jpg", "/nowhere/a.jpg", 100, 50)
    ctx.entities = [Entity("1", "cup", (-10, -5, 30, 20)), Entity("2", "cup", (90, 40, 30, 30)),
                    Entity("3", "cup", (120, 10, 5, 5)), Entity("4", "dog", (10, 10, 3, 3)),
                    Entity("5", "cat", (0, 0, 60, 40), iscrowd=True), Entity("6", "cup", (40, 5, 30, 30)),
                    Entity("9", "sky", (-5, -5, 200, 10), kind="stuff")]
    ctx.relationships = [Relationship("1", "left of", "2")]
    eligible = ctx.entities[:6] + [ctx.entities[0]]  # entity 1 twice (two expressions of one annotation)
    before_ctx, before_eligible = copy.deepcopy(ctx), copy.deepcopy(eligible)
    rules = SelectionRules(max_per_image=2)
    first = select_entities(ctx, eligible, rules)
    second = select_entities(ctx, eligible, rules)
    assert first == second
    assert ctx == before_ctx and eligible == before_eligible  # nothing changed in place
    assert [e.bbox for e in ctx.entities] == [e.bbox for e in before_ctx.entities]
    # new boxes in a new context; the chosen are its entities
    assert first.context is not ctx and all(a is not b for a, b in zip(first.context.entities, ctx.entities))
    assert first.context.entity("9").bbox == (0.0, 0.0, 100.0, 5.0)  # context entities are clipped too
    assert [(e.id, e.bbox) for e in first.chosen] == [("6", (40.0, 5.0, 30.0, 30.0)), ("1", (0.0, 0.0, 20.0, 15.0))]
    assert all(any(e is c for c in first.context.entities) for e in first.chosen)
    assert [(d.entity_id, d.reason.split(":")[0]) for d in first.drops] == [
        ("3", "degenerate box"), ("4", "box too small"), ("5", "crowd region"), ("2", "over per-image limit")]
    assert first.drops[-1].bbox == (90.0, 40.0, 10.0, 10.0)
    # a source's select makes its samples from the selection, leaving the context it read alone
    src = Boxes([], max_per_image=2)
    samples = src.select(ctx, eligible)
    assert ctx == before_ctx
    assert [(s.region.entity_id, s.region.bbox) for s in samples] == [(e.id, e.bbox) for e in first.chosen]
    assert samples[0].context == first.context
