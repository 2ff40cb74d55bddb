"""Parity with the reference code: every Qwen2-VL wrapper and plain CLIP against the golden
strings and vectors that tools/parity.py wrote by running the official code unchanged
(TIGER-AI-Lab/VLM2Vec @6e1e1d4, sony/virtue @36d8a8b, transformers 4.52.3) on the tiny random
checkpoints committed beside them (tests/fixtures/parity/). The official code never runs here.

The inputs go through this package's own task code (the SCaR query text, MMEB's text), then
the wrapper's prompt, as in ``scar eval``.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scar.eval.embedders import EmbedInput, load_embedder
from scar.eval.tasks.mmeb import input_text as mmeb_text
from scar.eval.tasks.scar_task import query_text

FIX = Path(__file__).parent / "fixtures" / "parity"
GOLDEN = json.loads((FIX / "golden.json").read_text())
ATOL = 1e-5


def _load(spec, **kw):
    import transformers  # noqa: F401 (a missing extra fails, never skips; imported here, not at collection)

    return load_embedder(spec, device="cpu", **kw)


def _image(name):
    return None if not name else Image.open(FIX / "images" / name).convert("RGB")


def _inputs(rows):
    """EmbedInputs for the golden rows, texts made by the task code (as the harness does)."""
    inp = GOLDEN["inputs"]
    scar = iter(inp["scar"])
    out = []
    for r in rows:
        if r["set"] == "scar" and r["role"] == "query":
            src = next(scar)
            out.append(EmbedInput(query_text(src["qry_text"], src["bbox"]), _image(r["image"]), tuple(src["bbox"])))
        elif r["set"] == "scar":
            out.append(EmbedInput(r["text"]))
        elif r["set"] == "mmeb_i2t" and r["role"] == "query":
            m = inp["mmeb_i2t"][0]
            out.append(EmbedInput(mmeb_text(m["qry_inst"] + " " + m["qry_text"]), _image(r["image"])))
        elif r["set"] == "mmeb_i2t":
            out.append(EmbedInput(mmeb_text(r["text"])))
        elif r["role"] == "query":  # mmeb_t2i
            m = inp["mmeb_t2i"][0]
            out.append(EmbedInput(mmeb_text(m["qry_inst"] + " " + m["qry_text"])))
        else:
            out.append(EmbedInput(mmeb_text(inp["mmeb_t2i"][0]["tgt_inst"]), _image(r["image"])))
    return out


def _unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _check(emb, wrapper, prompt_of):
    rows, golden = GOLDEN["vectors"][wrapper]["rows"], np.asarray(GOLDEN["vectors"][wrapper]["vectors"])
    xs = _inputs(rows)
    for x, r, s in zip(xs, rows, GOLDEN["strings"][wrapper]):
        assert emb.prompt(x, r["role"]) == prompt_of(s, x), (wrapper, r)
    got = np.concatenate([emb.encode([x], role=r["role"]) for x, r in zip(xs, rows)])
    diff = np.abs(_unit(got) - _unit(golden)).max()
    assert diff < ATOL, f"{wrapper}: max |delta| {diff:.2e} against the reference"
    return diff


def test_references_and_environment_are_recorded():
    assert GOLDEN["references"] == {"TIGER-AI-Lab/VLM2Vec": "6e1e1d42d4cba85ae4db4d3f7a25cba2465d1e16",
                                    "sony/virtue": "36d8a8b9efcc8027f2011c01d3cc17ab851c981c"}
    assert "transformers==4.52.3" in GOLDEN["pip_freeze"] and "torch==2.14.1" in GOLDEN["pip_freeze"]


@pytest.mark.slow  # a Qwen2-VL model (tiny weights) per test
def test_vlm2vec_matches_the_reference():
    emb = _load(f"vlm2vec:{FIX / 'ckpt' / 'qwen2vl-lora'}")
    assert emb.params()["rope"] == "1d" and emb.resolution.startswith("pre_resize=1344x1344")
    _check(emb, "vlm2vec", lambda s, x: s)


@pytest.mark.slow  # a Qwen2-VL model (tiny weights) per test
def test_virtue_text_box_matches_the_reference():
    emb = _load(f"virtue:{FIX / 'ckpt' / 'qwen2vl'}")
    _check(emb, "virtue", lambda s, x: s)


@pytest.mark.slow  # a Qwen2-VL model (tiny weights) per test
def test_gme_matches_the_reference():
    emb = _load(f"gme:{FIX / 'ckpt' / 'qwen2vl'}")
    assert emb.min_pixels == 28 * 28 * 4 and emb.max_length == 1800

    def chat(s, x):
        image = "<|vision_start|><|image_pad|><|vision_end|>" if x.image is not None else ""
        return (f"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{image}{s}<|im_end|>\n"
                "<|im_start|>assistant\n<|endoftext|>")
    _check(emb, "gme", chat)


@pytest.mark.slow  # a Qwen2-VL model (tiny weights) per test
def test_transformers_mrope_is_not_the_reference():
    """The check can fail: transformers' own 3-D image positions give other vectors."""
    emb = _load(f"vlm2vec:{FIX / 'ckpt' / 'qwen2vl-lora'}", args={"rope": "mrope"})
    with pytest.raises(AssertionError, match="against the reference"):
        _check(emb, "vlm2vec", lambda s, x: s)


@pytest.mark.slow  # a CLIP model (tiny weights)
def test_clip_matches_transformers_clipmodel():
    emb = _load(f"clip:{FIX / 'ckpt' / 'clip'}")
    xs = [EmbedInput(x["text"], _image(x["image"])) for x in GOLDEN["inputs"]["clip"]]
    got = emb.encode(xs, role="query")
    diff = np.abs(_unit(got) - _unit(GOLDEN["vectors"]["clip"])).max()
    assert diff < ATOL, diff


def test_scar_models_shows_the_measured_parity():
    import re

    from scar.eval.embedders import PARITY, parity_line

    for name in ("vlm2vec", "gme", "virtue", "clip"):
        line = parity_line(name)
        assert line.startswith("parity: ") and "@" in line and "on tiny random weights; real weights not run" in line
        assert float(re.search(r"max \|\u0394\| (\S+)", line).group(1)) < ATOL
    assert "6e1e1d4" in PARITY["vlm2vec"][0] and "36d8a8b" in PARITY["virtue"][0]
