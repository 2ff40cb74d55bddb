"""Shards count images for every generator (issue 13): ``--shard-size N`` puts N images in
each shard whether the steps take one image at a time (lexical) or windows of images (an LLM
step takes max(16, 8 x concurrency) images per call). On commit cb36edd a shard held
``shard_size`` LLM windows (256 x 64 = 16,384 images), contrary to the help."""

from __future__ import annotations

import pytest

from scar.build.base import windows
from scar.build.pipeline import build
from scar.build.writer import ShardedRun
from scar.testing.stub_server import StubEndpoint, canned_reply
from support import cfg, write_coco

N_IMAGES = 10


@pytest.fixture
def root(tmp_path):
    cats = [{"id": 1, "name": "cup"}, {"id": 2, "name": "chair"}]
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 200, "height": 100} for i in range(1, N_IMAGES + 1)]
    anns = [a for i in range(1, N_IMAGES + 1) for a in (
        {"id": 10 * i + 1, "image_id": i, "category_id": 1, "bbox": [10, 40, 20, 20], "area": 400, "iscrowd": 0},
        {"id": 10 * i + 2, "image_id": i, "category_id": 2, "bbox": [100, 30, 40, 40], "area": 1600, "iscrowd": 0})]
    return write_coco(tmp_path / "src", images, anns, cats)


@pytest.mark.parametrize("generator", ["lexical", "openai"])
def test_shards_count_images_for_every_generator(root, tmp_path, monkeypatch, generator):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))
    shards = []
    finish = ShardedRun.finish_shard

    def recorded(self, shard, tables, rejects, stats):
        shards.append((shard, stats["images"]))
        return finish(self, shard, tables, rejects, stats)

    monkeypatch.setattr(ShardedRun, "finish_shard", recorded)
    with StubEndpoint(canned_reply) as stub:
        gen = {"name": generator} if generator == "lexical" else \
            {"name": generator, "model": "stub", "base_url": stub.base_url, "concurrency": 1}
        rep = build(cfg("coco", root, "val", tmp_path / "out", name="T", generator=gen, engine={"shard_size": 4}))
    assert shards == [(0, 4), (1, 4), (2, 2)]
    if generator == "openai":
        assert rep.stats["llm"]["in"] == 2 * N_IMAGES  # every sample reached the LLM step, in windows cut at shards


def test_windows_never_span_two_shards():
    groups = [[f"s{i}"] for i in range(10)]
    got = [(g.index, g.n_images, g.samples) for g in windows(groups, window=4, shard_size=6)]
    assert got == [(0, 4, ["s0", "s1", "s2", "s3"]), (4, 2, ["s4", "s5"]), (6, 4, ["s6", "s7", "s8", "s9"])]
    assert [(g.index, g.n_images) for g in windows(groups)] == [(i, 1) for i in range(10)]
