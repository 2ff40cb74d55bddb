"""SAM for --masks sam and the sam-mask CLIP variant, both backends on tiny random weights:
transformers' SamModel for a folder (tests elsewhere) and the segment-anything package for a
checkpoint file in Meta's format, checked against segment_anything's SamPredictor called directly."""

import importlib

import numpy as np
import pytest
from PIL import Image

from scar.build.masks import SamMasker as BuildSam
from scar.build.masks import is_meta_checkpoint
from scar.eval.embedders import EmbedInput, load_embedder
from scar.eval.embedders.sam import SamMasker as EvalSam
from scar.testing.tiny import tiny_clip, tiny_sam_meta


@pytest.fixture(scope="module")
def meta_ckpt(tmp_path_factory):
    import segment_anything  # noqa: F401 (a missing extra fails, never skips; torch with it, at use not collection)

    return tiny_sam_meta(tmp_path_factory.mktemp("sam") / "sam_tiny.pth")


def test_a_file_goes_to_segment_anything_a_folder_or_hub_id_to_transformers(tmp_path):
    (tmp_path / "sam.pth").write_bytes(b"")
    assert is_meta_checkpoint(str(tmp_path / "sam.pth"))
    assert not is_meta_checkpoint(str(tmp_path)) and not is_meta_checkpoint("facebook/sam-vit-base")


def _image():
    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 90, 3), dtype=np.uint8))


def _reference(path, image, box):
    import segment_anything
    import torch

    build = importlib.import_module("segment_anything.build_sam")
    sam = build._build_sam(encoder_embed_dim=32, encoder_depth=2, encoder_num_heads=2, encoder_global_attn_indexes=[1])
    sam.load_state_dict(torch.load(path, map_location="cpu"))
    pred = segment_anything.SamPredictor(sam.eval())
    pred.set_image(np.asarray(image))
    x, y, w, h = box
    return pred.predict(box=np.array([x, y, x + w, y + h]), multimask_output=False)[0][0]


@pytest.mark.slow  # torch, segment-anything and a model per test
def test_meta_checkpoint_runs_on_segment_anything_in_the_build(meta_ckpt):
    im, boxes = _image(), [(5.0, 4.0, 40.0, 30.0), (50.0, 10.0, 30.0, 45.0)]
    masker = BuildSam(str(meta_ckpt), device="cpu")
    (got,) = masker.masks([im], [boxes])
    assert len(got) == 2 and all(m.shape == (60, 90) and m.dtype == bool for m in got)
    for m, b in zip(got, boxes):
        assert np.array_equal(m, _reference(meta_ckpt, im, b))


@pytest.mark.slow
def test_meta_checkpoint_for_the_sam_mask_variant(meta_ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))
    im, box = _image(), (5.0, 4.0, 40.0, 30.0)
    sam = EvalSam(str(meta_ckpt))
    assert sam.revision.startswith("file-")
    assert np.array_equal(sam.masks([im], [box])[0], _reference(meta_ckpt, im, box))
    clip = tiny_clip(tmp_path / "clip")
    emb = load_embedder(f"clip:{clip}@sam-mask", args={"sam": str(meta_ckpt)}, device="cpu")
    v = emb.encode([EmbedInput("find it", im, box)], role="query")
    assert v.shape[0] == 1 and np.isfinite(v).all()
    assert emb.params()["sam"] == f"{meta_ckpt}@{sam.revision}"
