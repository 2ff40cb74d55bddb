"""The CLIP-family wrapper on tiny random CLIP / SigLIP / SAM checkpoints loaded by path
(the same from_pretrained path a Hub id takes), its region variants, and text-only."""

import numpy as np
import pytest
from PIL import Image

from eval_fixtures import mmeb_copy, scar_eval
from scar.eval.embedders import EmbedInput, load_embedder, regions
from scar.eval.harness import evaluate, run_eval
from scar.eval.tasks import ScarTask, resolve_tasks

VARIANTS = [None, "crop", "red-circle", "reclip", "sam-mask"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    import transformers  # noqa: F401 (a missing extra fails, never skips; imported here, not at collection)

    from scar.testing.tiny import tiny_clip, tiny_sam, tiny_siglip

    root = tmp_path_factory.mktemp("ckpt")
    return {"clip": tiny_clip(root / "tiny-clip"), "siglip": tiny_siglip(root / "tiny-siglip"),
            "sam": tiny_sam(root / "tiny-sam")}


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    return ScarTask(scar_eval(tmp_path_factory.mktemp("scar"), n=40, neg_types=True))


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))


def _clip(ckpt, variant=None, **kw):
    spec = f"clip:{ckpt['clip']}" + (f"@{variant}" if variant else "")
    return load_embedder(spec, args={"sam": str(ckpt["sam"])} if variant == "sam-mask" else {}, **kw)


def _query():
    im = Image.fromarray(np.random.default_rng(3).integers(0, 255, (40, 60, 3), dtype=np.uint8))
    return EmbedInput("find it\nReferring object bbox: [5.0, 4.0, 35.0, 30.0]", im, (5.0, 4.0, 30.0, 26.0))


@pytest.mark.slow
def test_variants_change_the_query_image_only(ckpt):
    q, cand = _query(), EmbedInput("a dog on a table")
    plain = _clip(ckpt)
    assert plain.revision.startswith("local-") and plain.resolution == "32x32" and plain.name == "tiny-clip"
    base_q, base_c = plain.encode([q], role="query")[0], plain.encode([cand], role="candidate")[0]
    seen = []
    for v in VARIANTS[1:]:
        emb = _clip(ckpt, v)
        assert emb.run_name == f"tiny-clip__{v}" and emb.variant == v
        vq, vc = emb.encode([q], role="query")[0], emb.encode([cand], role="candidate")[0]
        assert np.allclose(vc, base_c, atol=1e-6)  # candidates carry no box: untouched
        assert not np.allclose(vq, base_q, atol=1e-4), v
        seen.append(vq)
    assert len({tuple(np.round(v, 4)) for v in seen}) == 4
    img_only = load_embedder(f"clip:{ckpt['clip']}", args={"fusion": "image"})
    fused, alone = img_only.encode([q], role="query")[0], img_only.encode([EmbedInput(None, q.image)], role="query")[0]
    assert np.allclose(fused, alone, atol=1e-6) and not np.allclose(base_q, alone, atol=1e-4)
    with pytest.raises(ValueError, match="clip variant 'blur'"):
        _clip(ckpt, "blur")


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_scores_a_scar_task(ckpt, task, variant, tmp_path):
    emb = _clip(ckpt, variant)
    out = run_eval(emb, [task], tmp_path / "res", progress=False)[0]
    r = out.result
    assert out.status == "done" and r.n == 40 and r.n_errors == 0 and 0.0 <= r.main <= 1.0
    assert r.variant == variant and r.resolution == "32x32" and r.model_revision == emb.revision
    assert out.path.parent.parent.name == emb.run_name and r.timings["query_encoded"] == 40
    assert {"accuracy_object", "accuracy_relation", "accuracy_scene"} <= set(r.scores)
    if variant == "sam-mask":
        assert r.settings["params"]["sam"].startswith(f"{ckpt['sam']}@local-")
    again = run_eval(_clip(ckpt, variant), [task], tmp_path / "res", overwrite=True, progress=False)[0]
    assert again.result.timings.get("query_encoded", 0) == 0 and again.result.timings.get("candidate_encoded", 0) == 0
    assert again.result.main == r.main


@pytest.mark.slow
def test_siglip_and_bf16(ckpt, task):
    sig = load_embedder(f"clip:{ckpt['siglip']}")
    assert sig.pad_to_max and sig.name == "tiny-siglip"
    r = evaluate(sig, task, progress=False)
    assert r.n == 40 and r.model == "tiny-siglip"
    bf = _clip(ckpt, dtype="bf16", device="cpu")
    rb = evaluate(bf, task, progress=False)
    assert rb.dtype == "bfloat16" and rb.device == "cpu" and rb.n == 40
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        _clip(ckpt, dtype="fp16", device="cpu")


@pytest.mark.slow
def test_clip_on_mmeb_text_and_image_candidates(ckpt, tmp_path):
    tasks = resolve_tasks(["ImageNet-1K", "MSCOCO_t2i"], mmeb_copy(tmp_path / "m", n=30))
    emb = _clip(ckpt, "crop")  # no box in MMEB: the plain image is used
    for t in tasks:
        r = evaluate(emb, t, progress=False)
        assert r.n == 30 and r.n_errors == 0 and r.tie_rate < 1.0


def test_region_drawing():
    im = Image.fromarray(np.full((50, 80, 3), 200, np.uint8))
    box = (10.4, 5.0, 30.0, 20.2)
    assert regions.crop(im, box).size == (31, 21)
    assert regions.corners((-5, -5, 1000, 1000), 80, 50) == (0, 0, 80, 50)
    red = np.asarray(regions.red_circle(im, box))
    assert (red == [255, 0, 0]).all(axis=2).any() and (red[0, 0] == 200).all() and (red[15, 25] == 200).all()
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 80, 3), dtype=np.uint8))
    blurred = np.asarray(regions.blur_outside(noisy, box))
    x0, y0, x1, y1 = regions.corners(box, 80, 50)
    assert (blurred[y0:y1, x0:x1] == np.asarray(noisy)[y0:y1, x0:x1]).all()
    assert np.abs(blurred[:y0].astype(int) - np.asarray(noisy)[:y0]).mean() > 10
    mask = np.zeros((50, 80), bool)
    mask[10:15, 20:25] = True
    m = np.asarray(regions.masked_crop(im, mask, box))
    assert m.shape == (21, 31, 3) and (m[0, 0] == regions.GREY).all() and (m[10 - y0, 20 - x0] == 200).all()


@pytest.mark.slow
def test_text_only_is_blind(task, tmp_path):
    import sentence_transformers  # noqa: F401
    emb = load_embedder("text-only")
    assert emb.kind == "blind" and emb.name == "all-MiniLM-L6-v2" and emb.modalities == ("text",)
    r = evaluate(emb, task, progress=False)
    assert r.model_kind == "blind" and r.n == 40 and r.model_revision.startswith("local-")


@pytest.mark.slow
def test_cli_eval_with_a_tiny_clip(ckpt, task, tmp_path, capsys):
    from scar.cli import main

    args = ["eval", "--data", str(task.path), "--model", f"clip:{ckpt['clip']}@red-circle", "--model-arg",
            "fusion=image", "--dtype", "float32", "--device", "cpu", "--batch-size", "7", "--out",
            str(tmp_path / "res"), "-q"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "tiny-clip__red-circle" in out and "SCaR_Synth" in out and "[stored]" not in out
    assert main(args) == 0 and "[stored]" in capsys.readouterr().out
    assert main(args[:-3] + ["--model-arg", "nonsense=1", "--out", str(tmp_path / "x")]) == 1
    assert "takes no nonsense" in capsys.readouterr().err
    assert main(["models"]) == 0
    models = capsys.readouterr().out
    for word in ("clip", "text-only", "random", "constant", "oracle", "red-circle", "sam-mask", "unpinned"):
        assert word in models
