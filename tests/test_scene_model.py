"""Zero-shot scene choice with a checkpoint the user names (``--scene-model clip:PATH``, issue 15
item 4), through the real build on a COCO-format folder with the tiny random CLIP of
``scar.testing.tiny``. A random CLIP chooses arbitrarily, so these tests check the mechanics:

- the option reaches the ``scene_model`` step, placed before ``compose``, loaded once per worker;
- a margin no probability difference can beat (1) keeps the rows byte-identical to a build
  without the model; a zero margin gives every image whose evidence said only
  ``indoors``/``outdoors`` a specific scene of that kind (provenance ``model``), every image the
  evidence left undecided without a cue a scene of any kind, and leaves the images the evidence
  decides (a kitchen) or the cues contradict (abstention) as they were; model scenes get the swaps
  of an evidence scene (same kind, no vote from the image);
- the card records the checkpoint, its revision and the provenance counts;
- a resume with another ``--scene-model`` is refused; a bad path is one ScarUserError line.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from support import cfg, count_loads, write_coco

from scar import lexicon
from scar.build.pipeline import build, make_steps
from scar.build.steps import scenes
from scar.build.steps.compose import ComposeCaption
from scar.build.steps.scene_model import ZeroShotScenes, weights_digest
from scar.errors import ScarUserError

CATS = ["person", "car", "truck", "oven", "refrigerator", "cup", "laptop", "keyboard", "zebra", "couch", "bus"]
IMAGES = {
    1: ["oven", "refrigerator", "cup"],  # the evidence decides: a kitchen [lexical]
    2: ["car", "truck", "person"],       # outdoors [lexical]: the model may choose an outdoor scene
    3: ["laptop", "keyboard", "cup"],    # indoors [lexical]: an indoor scene
    4: ["person", "cup"],                # no cue: any scene, or the rejection
    5: ["bus", "couch", "person"],       # cues of both kinds: no candidate, the rejection stays
}
KIND = {2: "outdoor", 3: "indoor"}


def _coco(root):
    cid = {n: i + 1 for i, n in enumerate(CATS)}
    boxes = [(10, 20, 110, 100), (150, 30, 100, 120), (280, 60, 100, 90)]
    images, anns = [], []
    for iid, names in IMAGES.items():
        images.append({"id": iid, "file_name": f"{iid:012d}.jpg", "width": 400, "height": 300})
        for k, n in enumerate(names):
            x, y, w, h = boxes[k]
            anns.append({"id": 100 * iid + k, "image_id": iid, "category_id": cid[n], "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0, "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
    return write_coco(root, images, anns, [{"id": i, "name": n} for n, i in cid.items()])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from scar.testing.tiny import tiny_clip

    tmp = tmp_path_factory.mktemp("scene_model")
    return _coco(tmp / "src"), tiny_clip(tmp / "tiny-clip"), tmp


def _build(setup, out, **gen):
    root, _, tmp = setup
    build(cfg("coco", root, "val", tmp / out, name="S", generator=gen))
    d = tmp / out
    rows = pq.read_table(d / "SCaR_eval_S.parquet").to_pylist()
    rejects = [json.loads(x) for x in (d / "rejected" / "S_val.jsonl").read_text().splitlines()]
    return d, rows, rejects


def _image(r):
    return int(str(r["image_id"]))


def _noun(phrase):
    return next(n for n, p in lexicon.scenes().items() if p == phrase)


@pytest.mark.slow  # a (tiny) torch model: the build's or the checkpoint's
def test_the_option_places_the_step_before_compose(setup):
    _, ckpt, tmp = setup
    steps = make_steps(cfg("coco", tmp, "val", tmp / "o", generator={"scene_model": f"clip:{ckpt}",
                                                                      "scene_margin": 0.3}))
    at = next(i for i, st in enumerate(steps) if isinstance(st, ZeroShotScenes))
    assert isinstance(steps[at + 1], ComposeCaption)
    assert (steps[at].spec, steps[at].margin, steps[at].infer) == (f"clip:{ckpt}", 0.3, True)
    assert steps[at].resources().pool  # kept on long-lived workers: the model loads once per worker
    assert not any(isinstance(st, ZeroShotScenes) for st in make_steps(cfg("coco", tmp, "val", tmp / "o")))


@pytest.mark.slow  # a (tiny) torch model: the build's or the checkpoint's
def test_an_unbeatable_margin_keeps_the_rows_of_a_build_without_the_model(setup):
    plain, _, _ = _build(setup, "plain")
    _, ckpt, _ = setup
    held, _, _ = _build(setup, "held", scene_model=f"clip:{ckpt}", scene_margin=1.0)
    assert (held / "SCaR_eval_S.parquet").read_bytes() == (plain / "SCaR_eval_S.parquet").read_bytes()
    assert (held / "rejected" / "S_val.jsonl").read_bytes() == (plain / "rejected" / "S_val.jsonl").read_bytes()
    card = (held / "README.md").read_text()
    assert "images scored: 3" in card and "images abstained: 3" in card and "images chosen" not in card, card


@pytest.mark.slow  # a (tiny) torch model: the build's or the checkpoint's
def test_a_zero_margin_chooses_scenes_of_the_allowed_kind(setup, monkeypatch):
    import transformers

    _, ckpt, _ = setup
    loads = count_loads(monkeypatch, transformers.CLIPModel)
    _, base_rows, _ = _build(setup, "plain0")
    assert loads == []
    out, rows, rejects = _build(setup, "zero", scene_model=f"clip:{ckpt}", scene_margin=0.0)
    assert loads == [str(ckpt)]  # loaded once, on first use, in the one worker
    by = {}
    for r in rows:
        by.setdefault(_image(r), []).append(r)
    # the evidence decides image 1: untouched
    assert {(r["gt_scene"], r["scene_provenance"]) for r in by[1]} == {("in a kitchen", "lexical")}
    assert [r for r in base_rows if _image(r) == 1] == by[1]
    # images 2 and 3: one specific scene each, of the kind the evidence decided
    for iid, kind in KIND.items():
        got = {(r["gt_scene"], r["scene_provenance"]) for r in by[iid]}
        assert len(got) == 1 and next(iter(got))[1] == "model", got
        noun = _noun(next(iter(got))[0])
        assert lexicon.scene_kind(noun) == kind and noun not in scenes.GENERIC
        for r in by[iid]:  # the swaps of a specific scene: same kind, no vote from the image
            swaps = [_noun(v) for t, v in zip(r["neg_types"], r["neg_values"]) if t == "scene"]
            assert len(swaps) == 3 and noun not in swaps, swaps
            assert all(lexicon.scene_kind(s) == kind for s in swaps), swaps
            assert not set(swaps) & scenes.evidence(IMAGES[iid], []), swaps
            assert r["tgt_text"][0].endswith(" " + r["gt_scene"])
    # image 4 had no cue (rejected without the model): now a scene of the vocabulary
    assert not [r for r in base_rows if _image(r) == 4]
    assert by[4] and {r["scene_provenance"] for r in by[4]} == {"model"}
    assert len({r["gt_scene"] for r in by[4]}) == 1 and _noun(by[4][0]["gt_scene"]) in lexicon.scenes()
    # image 5: cues of both kinds leave no candidate; the abstention and its reason stay
    assert 5 not in by
    why5 = [j["reason"] for j in rejects if (j.get("record") or {}).get("image_id") == "5"]
    assert why5 and all("disagree" in w for w in why5), why5
    # the card: the checkpoint, its revision, the counts, and the provenance table
    card = (out / "README.md").read_text()
    assert f"checkpoint: `clip:{ckpt}`" in card and weights_digest(ckpt) in card, card
    assert "images chosen: 3" in card and "images scored: 3" in card, card
    n_model = sum(r["scene_provenance"] == "model" for r in rows)
    assert f"| scene | model | {n_model} |" in card


@pytest.mark.slow  # a (tiny) torch model: the build's or the checkpoint's
def test_resume_refuses_another_scene_model(setup):
    from scar.build.writer import ShardedRun

    root, ckpt, tmp = setup
    first = cfg("coco", root, "val", tmp / "resume", name="S", generator={"scene_model": f"clip:{ckpt}"})
    run = ShardedRun(tmp / "resume" / ".scar-work" / "S_val", first.resume_settings(), resume=False, shard_size=256)
    import pyarrow as pa

    run.finish_shard(0, {"main": pa.table({"x": [1]})}, [], {"rows": 1, "stats": {}, "provenance": {}})
    for gen in ({"scene_model": f"siglip:{ckpt}"}, {}, {"scene_model": f"clip:{ckpt}", "scene_margin": 0.5}):
        again = cfg("coco", root, "val", tmp / "resume", name="S", generator=gen, output={"resume": True})
        with pytest.raises(ScarUserError, match=r"generator\.scene_m"):
            build(again)


@pytest.mark.slow  # a (tiny) torch model: the build's or the checkpoint's
def test_a_bad_checkpoint_is_one_clear_line(setup, tmp_path, capsys):
    from scar.cli.main import main

    root, ckpt, _ = setup
    base = ["build", "--source", "coco", "--root", str(root), "--split", "val", "--name", "S", "-q"]
    for spec, says in ((f"clip:{tmp_path / 'nowhere'}", "no CLIP checkpoint there"),
                       (f"siglip:{ckpt}", "is a 'clip' model, not 'siglip'"),
                       (f"clip:{ckpt / 'config.json'}", "is not a checkpoint folder")):
        assert main([*base, "--out", str(tmp_path / "o"), "--scene-model", spec]) != 0
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and says in err and "Traceback" not in err, err
    assert not (tmp_path / "o" / "SCaR_eval_S.parquet").exists()


def test_a_bad_spec_or_a_margin_without_a_model_is_one_clear_line(tmp_path, capsys):
    """Refused before a checkpoint (or torch) is touched: fast."""
    from scar.cli.main import main

    root = _coco(tmp_path / "src")
    base = ["build", "--source", "coco", "--root", str(root), "--split", "val", "--name", "S", "-q",
            "--out", str(tmp_path / "o")]
    assert main([*base, "--scene-model", "clipx"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "wants clip:PATH or siglip:PATH" in err and "Traceback" not in err, err
    assert main([*base, "--scene-margin", "0.1"]) != 0
    assert "--scene-margin applies with --scene-model" in capsys.readouterr().err
    assert not (tmp_path / "o" / "SCaR_eval_S.parquet").exists()


@pytest.mark.slow  # a (tiny) torch model: the build's or the checkpoint's
def test_workers_load_their_own_model_and_write_the_same_bytes(setup):
    """The step travels to each worker without its model (loaded there on first use): two worker
    processes write the bytes one process writes, and the building process never loads it."""
    root, ckpt, tmp = setup
    one, _, _ = _build(setup, "w1", scene_model=f"clip:{ckpt}", scene_margin=0.0)
    steps_seen = []
    from scar.build import pipeline

    real = pipeline.make_steps

    def keep(config):
        steps_seen.extend(real(config))
        return steps_seen

    c = cfg("coco", root, "val", tmp / "w2", name="S", generator={"scene_model": f"clip:{ckpt}", "scene_margin": 0.0},
            engine={"workers": 2})
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "make_steps", keep)
        build(c)
    step = next(st for st in steps_seen if isinstance(st, ZeroShotScenes))
    assert not step.loaded  # the building process read only the config
    assert (tmp / "w2" / "SCaR_eval_S.parquet").read_bytes() == (one / "SCaR_eval_S.parquet").read_bytes()


@pytest.mark.slow  # a (tiny) torch model: the build's or the checkpoint's
def test_a_siglip_checkpoint_chooses_the_same_way(setup):
    from scar.testing.tiny import tiny_siglip

    _, _, tmp = setup
    sig = tiny_siglip(tmp / "tiny-siglip")
    out, rows, _ = _build(setup, "siglip", scene_model=f"siglip:{sig}", scene_margin=0.0)
    # the tiny tokenizer knows few scene words: prompts of unknown words tie, and a tie abstains
    chosen = {_image(r): _noun(r["gt_scene"]) for r in rows if r["scene_provenance"] == "model"}
    assert chosen and set(chosen) <= {2, 3, 4}, chosen
    assert all(lexicon.scene_kind(n) == KIND[i] for i, n in chosen.items() if i in KIND), chosen
    for r in rows:  # where it abstained, the evidence answer stayed
        if _image(r) in KIND and _image(r) not in chosen:
            assert (r["gt_scene"], r["scene_provenance"]) == (scenes.GENERIC[KIND[_image(r)]], "lexical")
    assert f"checkpoint: `siglip:{sig}`" in (out / "README.md").read_text()
