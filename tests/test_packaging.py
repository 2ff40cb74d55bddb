"""Both splits in the released schema, read the way the official VIRTUE loaders read them;
datasets.load_dataset on the folder; determinism; resume after kill -9 of a real build."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasets import Features, load_dataset, load_dataset_builder

from scar.build.pipeline import build
from scar.cli import main
from support import cfg, stalled_build
from scar.schema import EVAL_SCHEMA, TRAIN_RELEASED
from scar.testing.synthetic import write_synthetic_coco

SCAR = str(Path(sys.executable).parent / "scar")


@pytest.fixture(scope="module")
def both_splits(tmp_path_factory):
    data = tmp_path_factory.mktemp("syn")
    write_synthetic_coco(data, n_images=12, split="val", seed=1)
    write_synthetic_coco(data, n_images=16, split="train", seed=2)
    out = tmp_path_factory.mktemp("out")
    reps = {s: build(cfg("coco", data, s, out, name="Syn", output={"link_images": True})) for s in ("val", "train")}
    return data, out, reps


def test_both_splits_and_the_card(both_splits):
    _, out, reps = both_splits
    assert reps["val"].path.name == "SCaR_eval_Syn.parquet" and reps["train"].path.name == "SCAR_Syn.parquet"
    assert reps["val"].rows > 0 and reps["train"].rows > 0
    train = pq.read_table(reps["train"].path)
    assert train.schema.names == TRAIN_RELEASED.names  # nothing else: the training loader casts
    side = pq.read_table(out / "extra" / "SCAR_Syn.parquet")
    assert side.num_rows == train.num_rows and len(side.column("neg_texts")[0]) == 9
    row = train.to_pylist()[0]
    assert row["neg_text"] in side.column("neg_texts")[0].as_py() and row["pos_text"] != row["neg_text"]
    card = (out / "README.md").read_text()
    assert "config_name: Syn_val" in card and "config_name: Syn_train" in card and "dataset_info:" in card
    for config, split, n in (("Syn_val", "test", reps["val"].rows), ("Syn_train", "train", reps["train"].rows)):
        ds = load_dataset(str(out), config, split=split)
        assert len(ds) == n
        # the card's features header (written without `datasets`) reads back to the file's schema
        info = load_dataset_builder(str(out), config).info
        assert info.features == Features.from_arrow_schema(EVAL_SCHEMA if split == "test" else TRAIN_RELEASED)


def test_read_as_the_official_eval_loader_does(both_splits):
    """SCaR eval: load_dataset('parquet'), the four columns, box to corners, image token swapped."""
    _, out, _ = both_splits
    ds = load_dataset("parquet", data_files=str(out / "SCaR_eval_Syn.parquet"))["train"]
    for r in ds.select(range(3)):
        x, y, w, h = r["bbox"]
        corners = [x, y, x + w, y + h]
        q = r["qry_text"].replace("<|image_1|>", "") + f"\nReferring object bbox: {corners}"
        assert "Referring object bbox: [" in q and len(r["tgt_text"]) == 10
        assert (out / "images" / r["qry_image_path"]).is_file()


def test_read_as_the_official_training_loader_does(both_splits):
    """SCAR train: the loader maps rows, removes the columns it does not use by name and
    casts to a fixed set of features, so the mapped dataset must have exactly those."""
    _, out, _ = both_splits
    ds = load_dataset("parquet", data_files=str(out / "SCAR_Syn.parquet"))["train"]

    def prepare(batch):
        out_ = {"query_text": [], "query_image": [], "pos_text": [], "pos_image": [], "neg_text": [],
                "neg_image": [], "bbox": []}
        for q, qi, pt, pi, nt, b in zip(batch["qry"], batch["qry_image_path"], batch["pos_text"],
                                         batch["pos_image_path"], batch["neg_text"], batch["bbox"]):
            assert (q or qi) and (pt or pi)
            out_["query_text"].append(q.replace("<|image_1|>", "") + f"\nReferring object bbox: "
                                      f"{[b[0], b[1], b[0] + b[2], b[1] + b[3]]}")
            out_["query_image"].append(qi)
            out_["pos_text"].append(pt)
            out_["pos_image"].append(pi)
            out_["neg_text"].append(nt or "")
            out_["neg_image"].append(None)
            out_["bbox"].append([b[0], b[1], b[0] + b[2], b[1] + b[3]])
        return out_

    removed = ["qry", "qry_image_path", "pos_image_path", "segmentation", "category", "image_id"]
    mapped = ds.map(prepare, batched=True, remove_columns=removed)
    assert sorted(mapped.column_names) == sorted(["query_text", "query_image", "pos_text", "pos_image", "neg_text",
                                                  "neg_image", "bbox"])


def test_several_builds_share_a_folder_and_one_card(both_splits, sample_root):
    _, out, _ = both_splits
    build(cfg("coco", sample_root, "val", out, name="Sample"))
    state = json.loads((out / "card.json").read_text())["files"]
    assert set(state) == {"SCaR_eval_Syn.parquet", "SCAR_Syn.parquet", "SCaR_eval_Sample.parquet"}


def _kill_cfg(data, out, **output):
    return cfg("coco", data, "val", out, name="Kill", engine={"shard_size": 4}, output=output)


def _kill_9(proc) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert proc.exitcode == -signal.SIGKILL


@pytest.mark.slow
def test_kill_9_then_resume_equals_an_uninterrupted_build(tmp_path):
    data = write_synthetic_coco(tmp_path / "data", n_images=32, split="val", seed=3)
    ref = build(_kill_cfg(data, tmp_path / "ref"))
    expected, expected_rej = ref.path.read_bytes(), ref.rejections_path.read_bytes()
    out = tmp_path / "out"
    for n, at in enumerate((1, 3, 5)):  # kill -9 after the 1st, 3rd and 5th recorded shard (of 8)
        proc, work = stalled_build(_kill_cfg(data, out, resume=n > 0), at)
        _kill_9(proc)
        assert len(json.loads((work / "manifest.json").read_text())["shards"]) == at
        assert not (out / "SCaR_eval_Kill.parquet").exists()
    # what a kill in the middle of the next shard leaves: a half-written file and a finished
    # table file the manifest does not record (here shard 0's, so its rows would be wrong)
    for f in sorted(work.glob("shard-000000.*.parquet")):
        (work / f.name.replace("shard-000000", "shard-000005")).write_bytes(f.read_bytes())
        (work / (f.name.replace("shard-000000", "shard-000006") + ".partial")).write_bytes(f.read_bytes()[:100])
    rep = build(_kill_cfg(data, out, resume=True))
    assert rep.path.read_bytes() == expected
    assert rep.rejections_path.read_bytes() == expected_rej
    ids = pq.read_table(rep.path, columns=["id"]).column(0).to_pylist()
    assert len(ids) == len(set(ids))  # no duplicates (and, with equal bytes, no gaps)
    assert not work.exists()  # the work folder is removed after success


def test_resume_with_other_settings_is_refused(tmp_path, capsys):
    data = write_synthetic_coco(tmp_path / "data", n_images=8, split="val", seed=4)
    out = tmp_path / "out"
    proc, work = stalled_build(_kill_cfg(data, out), 1)
    _kill_9(proc)
    args = ["-q", "build", "--source", "coco", "--name", "Kill", "--root", str(data), "--split", "val",
            "--out", str(out), "--shard-size", "4", "--resume"]
    assert main([*args, "--seed", "7"]) == 1
    err = capsys.readouterr().err
    assert "different settings" in err and "seed: 0 -> 7" in err and "Traceback" not in err, err
    assert work.is_dir()  # the refused resume left the interrupted build's shards alone
    assert main(args) == 0 and (out / "SCaR_eval_Kill.parquet").is_file() and not work.exists()


def test_a_stalled_build_goes_on_when_its_marker_is_removed(tmp_path):
    """The stall point itself: removing the file lets the build finish normally."""
    data = write_synthetic_coco(tmp_path / "data", n_images=8, split="val", seed=4)
    out = tmp_path / "out"
    proc, work = stalled_build(_kill_cfg(data, out), 1)
    (work / "stalled-after-1").unlink()
    proc.join(timeout=300)
    assert proc.exitcode == 0
    assert (out / "SCaR_eval_Kill.parquet").is_file() and not work.exists()


@pytest.mark.slow
def test_recipe_builds_everything_it_names(tmp_path, sample_root):
    from scar.build.samples import materialize

    data = tmp_path / "data"
    materialize(data / "sample")
    write_synthetic_coco(data / "syn", n_images=6, split="train", seed=5)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: t\ndefaults: {seed: 0}\nbuilds:\n"
                      "  - {source: {name: coco, stem: Sample, split: val, root: sample}, output: {link_images: true}}\n"
                      "  - {source: {name: coco, stem: Syn, split: train, root: syn}}\n")
    out = tmp_path / "out"
    r = subprocess.run([SCAR, "-q", "build", "--recipe", str(recipe), "--data-root", str(data), "--out", str(out)],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "pass --yes" in r.stderr  # never starts unconfirmed
    r = subprocess.run([SCAR, "-q", "build", "--recipe", str(recipe), "--data-root", str(data), "--out", str(out),
                        "--yes"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "coco/val" in r.stdout and "(8 images)" in r.stdout and "LLM requests: at most 0" in r.stdout
    assert (out / "SCaR_eval_Sample.parquet").is_file() and (out / "SCAR_Syn.parquet").is_file()
    assert (Path(__file__).resolve().parents[1] / "pipelines" / "scar.yaml").is_file()


def test_recipe_errors_name_the_key(tmp_path):
    from scar.build.recipe import estimate, load_recipe

    bad = tmp_path / "bad.yaml"
    bad.write_text("builds:\n  - {source: {name: ade20k, split: val}, colour: red}\n")
    out = {"output": {"dir": str(tmp_path / "out")}}
    with pytest.raises(ValueError, match=r"builds\[0\]: colour: Extra inputs are not permitted"):
        load_recipe(bad, tmp_path, out)
    ok = tmp_path / "ok.yaml"
    ok.write_text("builds:\n  - {source: {name: ade20k, split: val}, generator: {name: openai, model: m, "
                  "price: [1.0, 2.0]}}\n")
    _, plans = load_recipe(ok, tmp_path, out)
    assert plans[0].config.source.root == tmp_path / "ade20k"
    plans[0].images = 100
    est = estimate(plans)
    assert est["llm_requests_at_most"] == 500 and est["cost_usd_at_most"] == round(500 * (600 + 400) / 1e6, 2)
