"""--engine ray: the same steps as Ray Data stages on a local Ray with 2 CPUs give the
same bytes as the local engine (lexical CPU stages; an LLM stage on async actors with a
shared budget); a failing source stops the run with its own error; Ray leaves no
process behind and writes nothing under the real home; a missing Ray is a clear error."""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import psutil
import pytest

from scar.cli import main
from scar.build.pipeline import build, make_steps
from scar.build.engines import ray as ray_engine
from scar.build.base import windows
from scar.build.engines.ray import run_ray, stages
from scar.testing.stub_server import StubEndpoint, canned_reply
from scar.testing.synthetic import write_synthetic_coco
from support import cfg, write_coco


def _ray_processes(marker: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in a for a in (p.info["cmdline"] or [])):
                out.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A local Ray with 2 CPUs whose files (and HOME: Ray keeps a token in ~/.ray) are
    under pytest's tmp dir; shut down at the end with no process left."""
    import ray  # a missing extra fails, never skips; imported here, not at collection (docs/testing.md)

    base = tmp_path_factory.mktemp("r")
    home = base / "home"
    home.mkdir()
    mp = pytest.MonkeyPatch()
    mp.setenv("HOME", str(home))
    temp = base / "t"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=str(temp))
    try:
        assert _ray_processes(str(temp)), "no Ray process found by its temp dir: the leftover check would be blind"
        yield temp
    finally:
        ray.shutdown()
        mp.undo()
    deadline = time.time() + 20
    while _ray_processes(str(temp)) and time.time() < deadline:
        time.sleep(0.5)
    left = [" ".join(p.info["cmdline"][:2]) for p in _ray_processes(str(temp))]
    assert not left, f"Ray processes left after shutdown: {left}"


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = write_synthetic_coco(tmp_path_factory.mktemp("syn") / "src", n_images=48, anns_per_image=3, seed=3)
    write_synthetic_coco(root, n_images=24, anns_per_image=4, split="train", seed=4)
    return root


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.parametrize("split", ["val", "train"])
def test_ray_engine_writes_the_local_bytes(local_ray, synthetic, tmp_path, monkeypatch, split):
    monkeypatch.setattr(ray_engine, "BLOCK_BYTES", 8 * 1024)  # several blocks: tasks run at once, out of order
    reps = {eng: build(cfg("coco", synthetic, split, tmp_path / eng, name="Syn",
                           engine={"name": eng, "shard_size": 7})) for eng in ("local", "ray")}
    loc, ray_rep = reps["local"], reps["ray"]
    assert loc.rows > 40 and loc.rows == ray_rep.rows and loc.rejected == ray_rep.rejected
    assert _sha(loc.path) == _sha(ray_rep.path)
    assert _sha(loc.rejections_path) == _sha(ray_rep.rejections_path)
    if split == "train":
        assert _sha(loc.path.parent / "extra" / loc.path.name) == _sha(ray_rep.path.parent / "extra" / ray_rep.path.name)
    counts = lambda rep: {k: {c: n for c, n in v.items() if c != "seconds"} for k, v in rep.stats.items()}  # noqa: E731
    assert counts(loc) == counts(ray_rep)



@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.llm
def test_llm_stage_runs_on_async_actors_with_the_local_bytes(local_ray, tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))
    # a mug left of a chair, no scene label: every sample asks the LLM for its scene and swaps
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 200, "height": 100} for i in range(1, 21)]
    anns = [a for i in range(1, 21) for a in (
        {"id": 10 * i + 1, "image_id": i, "category_id": 1, "bbox": [10, 40, 30, 30], "area": 900, "iscrowd": 0},
        {"id": 10 * i + 2, "image_id": i, "category_id": 2, "bbox": [100, 30, 40, 40], "area": 1600, "iscrowd": 0})]
    root = write_coco(tmp_path / "src", images, anns, [{"id": 1, "name": "mug"}, {"id": 2, "name": "chair"}])
    with StubEndpoint(canned_reply, latency=0.02) as stub:
        opts = {"model": "stub", "base_url": stub.base_url, "concurrency": 2, "use_cache": False,
                "max_cost": 5.0, "price": (1.0, 2.0)}
        gen = {"name": "openai", **opts}
        assert [k for k, _ in stages(make_steps(cfg("coco", root, "val", tmp_path, generator=gen)))] == \
            ["cpu", "pool", "cpu"]
        reps, served = {}, {}
        for eng in ("local", "ray"):
            n0 = stub.requests
            reps[eng] = build(cfg("coco", root, "val", tmp_path / eng, name="Syn", generator=gen,
                                  engine={"name": eng, "shard_size": 2}))
            served[eng] = stub.requests - n0
    loc, ray_rep = reps["local"], reps["ray"]
    assert loc.rows == 40 and ray_rep.rows == 40
    assert served["local"] == served["ray"] == 40  # one request per sample, none lost or repeated
    assert _sha(loc.path) == _sha(ray_rep.path)
    llm_l, llm_r = loc.generation["llm"], ray_rep.generation["llm"]
    for k in ("requests", "tokens_in", "tokens_out", "cost_usd"):
        assert llm_l[k] == llm_r[k] > 0
    assert loc.generation["provenance"] == ray_rep.generation["provenance"]


@pytest.mark.slow
@pytest.mark.ray
def test_a_failing_source_stops_the_ray_run_with_its_error(local_ray, synthetic):
    import ray

    from scar.build.sources.coco import CocoSource

    src = CocoSource(str(synthetic), "val")

    def groups():
        for g in windows(src.groups()):
            if g.index == 9:
                raise ValueError("annotations.json: record 9 is broken")
            yield g

    got = []
    with pytest.raises(ValueError, match="record 9 is broken"):
        for res in run_ray(groups(), make_steps(cfg("coco", synthetic, "val", "unused")), batch_size=2, chunk=4):
            got.append(res)
    assert len(got) == 9  # every group before the failure came back, in order
    assert [r.samples[0].image_id for r in got] == [str(i) for i in range(1, 10)]
    assert ray.is_initialized()  # the test's Ray is left as it was found


def test_engine_options_are_checked(synthetic, tmp_path):
    with pytest.raises(ValueError, match="--workers 2 applies to --engine local"):
        cfg("coco", synthetic, "val", tmp_path / "a", engine={"name": "ray", "workers": 2})
    with pytest.raises(ValueError, match="--ray-address applies to --engine ray"):
        cfg("coco", synthetic, "val", tmp_path / "b", engine={"ray_address": "auto"})
    with pytest.raises(ValueError, match="unknown engine 'spark'"):
        cfg("coco", synthetic, "val", tmp_path / "c", engine={"name": "spark"})


def test_missing_ray_is_a_clear_error(synthetic, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as on a machine without it
    rc = main(["-q", "build", "--source", "coco", "--root", str(synthetic), "--split", "val",
               "--out", str(tmp_path / "out"), "--engine", "ray"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "--engine ray needs Ray Data: pip install 'scar[scale]'" in err
    assert not list((tmp_path / "out").glob("*.parquet"))


@pytest.mark.slow
@pytest.mark.ray
def test_a_recipe_runs_every_build_on_ray(local_ray, tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    write_synthetic_coco(data / "syn", n_images=6, seed=6)
    write_synthetic_coco(data / "syn", n_images=5, split="train", seed=8)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: t\nbuilds:\n  - {source: {name: coco, stem: Syn, split: val, root: syn}}\n"
                      "  - {source: {name: coco, stem: Syn, split: train, root: syn}}\n")
    calls = []

    def counted(groups, steps, **kw):
        calls.append(kw)
        return run_ray(groups, steps, **kw)

    monkeypatch.setattr(ray_engine, "run_ray", counted)
    rc = main(["-q", "build", "--recipe", str(recipe), "--data-root", str(data), "--out", str(tmp_path / "out"),
               "--yes", "--engine", "ray"])
    assert rc == 0, capsys.readouterr().err
    assert len(calls) == 2  # both builds went through the Ray engine
    assert (tmp_path / "out" / "SCaR_eval_Syn.parquet").is_file() and (tmp_path / "out" / "SCAR_Syn.parquet").is_file()


@pytest.mark.slow
@pytest.mark.ray
def test_sam_masks_are_made_on_ray_workers_with_the_local_bytes(local_ray, tmp_path, monkeypatch):
    """--masks sam: the masks step runs in a Ray actor (not the driver) and writes the bytes
    the local engine writes; annotated masks stay as they are, the others are SAM's."""
    import json

    import pyarrow.parquet as pq

    from scar.build import pipeline
    from scar.testing.spy import WhereMasks, where
    from scar.testing.tiny import tiny_sam

    root = write_synthetic_coco(tmp_path / "src", n_images=6, seed=5)
    f = root / "annotations" / "instances_val.json"
    data = json.loads(f.read_text())
    for a in data["annotations"][::2]:
        del a["segmentation"]  # no mask annotated: SAM makes it; the others keep their polygons
    f.write_text(json.dumps(data))
    sam = str(tiny_sam(tmp_path / "sam"))
    sam_opts = {"masks": "sam", "sam_model": sam, "sam_batch": 2}
    reps, records = {}, {}
    for eng in ("local", "ray"):
        records[eng] = tmp_path / f"{eng}.jsonl"
        monkeypatch.setattr(pipeline, "mask_step",
                            lambda config, _r=records[eng]: WhereMasks(_r, "sam", sam, batch=2))
        reps[eng] = build(cfg("coco", root, "val", tmp_path / eng, name="Syn", source=sam_opts,
                              engine={"name": eng, "shard_size": 4}))
    monkeypatch.undo()
    box = build(cfg("coco", root, "val", tmp_path / "box", name="Syn"))
    loc, ray_rep = reps["local"], reps["ray"]
    assert loc.rows == ray_rep.rows == box.rows > 0
    assert _sha(loc.path) == _sha(ray_rep.path) and _sha(loc.rejections_path) == _sha(box.rejections_path)

    driver = where()
    ran = {eng: [json.loads(x) for x in records[eng].read_text().splitlines()] for eng in records}
    assert ran["local"] and all(r["pid"] == driver["pid"] for r in ran["local"])
    assert ran["ray"] and all(r["pid"] != driver["pid"] and r["ray_actor"] and r["ray_worker"] != driver["ray_worker"]
                              for r in ran["ray"])
    made = sum(r["masks"] for r in ran["ray"])
    assert made == sum(r["masks"] for r in ran["local"]) == ray_rep.generation["masks"]["sam_masks"]

    cols = ["id", "segmentation"]
    got, ref = (pq.read_table(p, columns=cols).to_pylist() for p in (ray_rep.path, box.path))
    assert [r["id"] for r in got] == [r["id"] for r in ref]
    changed = sum(a["segmentation"] != b["segmentation"] for a, b in zip(got, ref))
    assert 0 < changed == made < len(got)  # exactly the rows without an annotated mask


def test_gpu_steps_get_one_actor_per_gpu_and_a_cluster_without_gpus_is_refused():
    from scar.build.base import Resources
    from scar.build.engines.ray import check_gpus, pool_size
    from scar.build.masks import FillMasks

    sam_gpu = FillMasks("sam", "facebook/sam-vit-base", device="cuda")  # nothing loaded: the model loads where it runs
    assert sam_gpu.resources() == Resources(pool=True, gpus=1.0)
    assert pool_size(sam_gpu.resources(), {"CPU": 64, "GPU": 8}) == 8
    assert pool_size(Resources(pool=True, gpus=0.5), {"GPU": 2}) == 4
    assert pool_size(FillMasks("sam", "x", device="cpu").resources(), {"CPU": 64, "GPU": 8}, 3) == 3
    check_gpus([sam_gpu], {"CPU": 2, "GPU": 1})
    with pytest.raises(ValueError, match="step 'masks' asks for 1 GPU per worker and the Ray cluster has 0"):
        check_gpus([sam_gpu], {"CPU": 2})


@pytest.mark.slow  # with no device given the masks step asks torch whether there is CUDA: imports torch (3 s of CPU)
def test_a_sam_masks_step_is_a_pool_stage():
    assert [k for k, _ in stages(make_steps(cfg("coco", "r", "val", "o", source={"masks": "sam", "sam_model": "x"})))] \
        == ["cpu", "pool"]
