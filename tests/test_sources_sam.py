"""--masks sam: the real transformers.SamModel code path with a tiny random SAM."""

import copy
import json
import pickle

import numpy as np
import pytest
from PIL import Image

from scar.build.pipeline import build  # noqa: E402
from support import cfg, golden_bytes  # noqa: E402
from scar.build import samples  # noqa: E402
from scar.build.masks import FillMasks, SamMasker  # noqa: E402
from scar.testing.tiny import tiny_sam as tiny_sam_folder  # noqa: E402
from scar.build.sources.visualgenome import VisualGenomeSource  # noqa: E402

from fixtures.make_fixtures import write_visualgenome  # noqa: E402

SIZE = 128


def tiny_sam():
    """A tiny random transformers SamModel (torch and transformers, the models extra installed by
    `make test`, are imported here, not at collection; a missing one fails the test)."""
    import torch
    from transformers import SamConfig, SamModel

    torch.manual_seed(0)
    cfg = SamConfig(
        vision_config=dict(hidden_size=32, output_channels=32, num_hidden_layers=2, num_attention_heads=2,
                           image_size=SIZE, patch_size=16, window_size=4, global_attn_indexes=[1], mlp_dim=64,
                           num_pos_feats=16),
        prompt_encoder_config=dict(hidden_size=32, image_size=SIZE, patch_size=16, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=32, mlp_dim=64, num_hidden_layers=1, num_attention_heads=2,
                                 iou_head_hidden_dim=32))
    return SamModel(cfg).eval()


def test_a_sam_step_travels_without_a_model_and_windows_by_its_batch():
    """The fast check: a SAM step names its model, cuts windows of --sam-batch images and
    travels to a worker (pickled) without loading anything; the model loads where it runs."""
    step = FillMasks("sam", model="some/sam", batch=3, device="cpu")
    assert step.window == 3 and not step.on_cuda() and step.model_name == "some/sam"
    again = pickle.loads(pickle.dumps(step))
    assert (again.kind, again.model, again.batch, again.window) == ("sam", "some/sam", 3, 3)
    with pytest.raises(ValueError, match="--sam-batch must be an integer >= 1"):
        FillMasks("sam", model="some/sam", batch=0)


@pytest.fixture(scope="module")
def model():
    return tiny_sam()


def _img(w, h, seed):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))


@pytest.mark.slow  # a tiny SamModel with torch
def test_inputs_are_resized_normalised_padded(model):
    m = SamMasker(model, device="cpu")
    img = Image.new("RGB", (64, 48), (124, 116, 104))  # about the ImageNet mean
    px, scale, (rh, rw) = m.prepare(img)
    assert px.shape == (3, SIZE, SIZE) and scale == SIZE / 64 and (rh, rw) == (96, 128)
    assert np.abs(px[:, :rh, :rw]).max() < 0.05  # normalised: the mean colour is ~0
    assert (px[:, rh:, :] == 0).all()  # padded at the bottom


@pytest.mark.slow  # a tiny SamModel with torch
def test_boxes_are_scaled_batched_and_masks_come_back_full_size(model):
    m = SamMasker(model, device="cpu")
    seen = []
    orig = model.forward

    def spy(*a, **kw):
        seen.append(kw["input_boxes"].clone())
        return orig(*a, **kw)

    model.forward = spy
    try:
        imgs = [_img(64, 48, 1), _img(32, 64, 2)]
        boxes = [[(4, 6, 20, 30), (30, 10, 20, 20)], [(2, 2, 10, 10)]]
        out = m.masks(imgs, boxes)
    finally:
        del model.forward
    assert len(seen) == 1  # both images in one forward pass
    b = seen[0].numpy()
    assert b.shape == (2, 2, 4)
    np.testing.assert_allclose(b[0, 0], np.array([4, 6, 24, 36]) * 2)  # corners, scaled to the 128 input
    np.testing.assert_allclose(b[1, 0], np.array([2, 2, 12, 12]) * 2)
    np.testing.assert_allclose(b[1, 1], b[1, 0])  # padded with the last box
    assert [len(x) for x in out] == [2, 1]
    assert out[0][0].shape == (48, 64) and out[1][0].shape == (64, 32) and out[0][0].dtype == bool
    # batching does not change the answer
    alone = m.masks([imgs[1]], [boxes[1]])[0][0]
    assert (alone == out[1][0]).mean() > 0.99


def _masked(step, groups):
    out = []
    for g in groups:
        out.append([(s.id, s.region.mask) for s in step(g)])
    return out


@pytest.mark.slow
def test_visualgenome_with_sam_masks(model, tmp_path):
    root = write_visualgenome(tmp_path / "vg")
    groups = list(VisualGenomeSource(str(root), "val").groups())
    assert all(s.region.mask is None for g in groups for s in g)  # the reader makes no masks
    box = _masked(FillMasks(), copy.deepcopy(groups))
    step = FillMasks("sam", model, batch=2)
    sam = _masked(step, groups)
    assert [[i for i, _ in g] for g in sam] == [[i for i, _ in g] for g in box]
    assert all(m["size"] == [48, 64] for g in sam for _, m in g)
    assert [m for g in sam for _, m in g] != [m for g in box for _, m in g]  # not the box polygons
    assert groups[0][0].context.entity(groups[0][0].region.entity_id).segmentation == sam[0][0][1]
    assert "SAM prompted by the box" in step.describe()["masks"]
    assert step.drain()[0].counters["sam_masks"] == sum(len(g) for g in sam)
    on_cpu = FillMasks("sam", model, batch=2, device="cpu").resources()
    assert (on_cpu.pool, on_cpu.gpus, step.window) == (True, 0.0, 2)
    assert FillMasks("sam", model, device="cuda").resources().gpus == 1.0
    assert not FillMasks().resources().pool


@pytest.mark.slow
def test_build_loads_sam_from_a_local_folder(model, tmp_path):
    root = write_visualgenome(tmp_path / "vg")
    model.save_pretrained(tmp_path / "sam")
    rep = build(cfg("visualgenome", root, "val", tmp_path / "out",
                    source={"masks": "sam", "sam_model": str(tmp_path / "sam")}))
    card = (tmp_path / "out" / "README.md").read_text()
    assert f"SAM prompted by the box ({tmp_path / 'sam'})" in card
    assert rep.path.is_file()  # the fixture's val rows all lack a scene: test_engine_ray builds SAM rows
    group = next(VisualGenomeSource(str(root), "val").groups())
    with pytest.raises(RuntimeError, match="--sam-model .*cannot load SAM weights"):
        FillMasks("sam", str(tmp_path / "nope"))(group)
    assert json.loads(json.dumps(FillMasks("sam", model).describe()))
    # the model is loaded where the step runs and never travels with it
    step = FillMasks("sam", str(tmp_path / "sam"))
    step(group)
    assert step.loaded and not pickle.loads(pickle.dumps(step)).loaded


@pytest.mark.slow
def test_masks_from_annotations_stay_as_they_are(tmp_path):
    """The bundled sample has a mask for every sample: with --masks sam (SAM windows of 3
    images) the build writes the golden bytes of the box build."""
    sam = tiny_sam_folder(tmp_path / "sam")
    root = samples.materialize(tmp_path / "src")
    out = tmp_path / "out"
    rep = build(cfg("coco", root, samples.SPLIT, out, name=samples.SAMPLE_NAME,
                    source={"masks": "sam", "sam_model": str(sam), "sam_batch": 3}))
    assert rep.rows > 0 and rep.stats["masks"]["out"] == rep.rows
    for rel in ("SCaR_eval_Sample.parquet", "rejected/Sample_val.jsonl"):
        assert (out / rel).read_bytes() == golden_bytes("demo", rel), rel
