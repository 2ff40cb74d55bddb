"""The Qwen2-VL embedders (vlm2vec, gme, virtue text+box) on a tiny random Qwen2-VL with a
tiny trained tokenizer, loaded by path through the same from_pretrained code a Hub id
takes: input composition, padding side, pooling position, batch-vs-single equality, the
LoRA adapter path, and `scar eval` end to end on the bundled sample."""

import json

import numpy as np
import pytest
from PIL import Image

from scar.cli import main
from scar.eval.embedders import EmbedInput, load_embedder
from scar.eval.harness import embed_unique
from scar.eval.tasks.base import InputSpec

SMALL = {"min_pixels": "3136", "max_pixels": "12544"}  # 4..16 image tokens
QUERY_TEXT = "Find the caption that best describes the object\nReferring object bbox: [5.0, 4.0, 35.0, 30.0]"


@pytest.fixture(scope="module")
def _one_thread():
    """Tiny models on a shared 2-core machine: OpenMP's second thread only adds waits
    (measured: about 4 ms a forward with one thread, 700 ms with two under load)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, _one_thread):
    import transformers  # noqa: F401 (a missing extra fails, never skips; imported here, not at collection)

    from scar.testing.tiny_qwen2vl import tiny_qwen2vl

    root = tmp_path_factory.mktemp("qwen2vl")
    adapter = tiny_qwen2vl(root / "tiny-qwen2vl", lora=True)
    return {"base": root / "tiny-qwen2vl", "lora": adapter}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def wrappers(ckpt):
    return {n: load_embedder(f"{n}:{ckpt['base']}", args=dict(SMALL)) for n in ("vlm2vec", "gme", "virtue")}


def _image(h=40, w=60, seed=3):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))


def _inputs():
    return [EmbedInput(QUERY_TEXT, _image(), (5.0, 4.0, 30.0, 26.0)),
            EmbedInput("Represent the given image.", _image(64, 48, 4)),
            EmbedInput("a dog on a table next to a cup"), EmbedInput("cat")]


def _tokens(emb, ids):
    return emb.tokenizer.convert_ids_to_tokens(ids)


@pytest.mark.slow  # a tiny Qwen2-VL with torch (the module's fast test lists the wrappers)
def test_prompt_formats_and_instruction_placement(wrappers):
    q = _inputs()[0]
    for name, emb in wrappers.items():
        assert emb.tokenizer.padding_side == "left"  # the tiny tokenizer was saved with right padding
        item = emb.compose(q, "query")
        toks = _tokens(emb, item["ids"])
        n_img = toks.count("<|image_pad|>")
        assert n_img == int(item["grid"].prod()) // 4 and 4 <= n_img <= 16, name
        text_at = toks.index("Find")
        assert max(i for i, t in enumerate(toks) if t == "<|image_pad|>") < text_at, name  # image before the text
        assert toks[-4:] == ["30", ".", "0", "]"] or name == "gme", name
        cand = _tokens(emb, emb.compose(EmbedInput("a dog"), "candidate")["ids"])
        assert "<|image_pad|>" not in cand
        if name == "gme":
            assert toks[:3] == ["<|im_start|>", "system", "You"]
            user = toks.index("user")
            assert toks[user + 1] == "<|vision_start|>" and toks[user + 2 + n_img] == "<|vision_end|>"
            assert toks[user + 3 + n_img] == "Find" and toks[-1] == "<|endoftext|>"
            assert toks[-3:-1] == ["<|im_start|>", "assistant"] and cand[-1] == "<|endoftext|>"
        else:
            assert toks[:n_img] == ["<|image_pad|>"] * n_img and toks[n_img] == "Find"
            assert cand == ["a", "dog"]  # no template, no BOS/EOS (Qwen2 adds none)
    assert "pre_resize=1344x1344" in wrappers["virtue"].resolution
    virtue_grid = wrappers["virtue"].compose(q, "query")["grid"][0].tolist()
    assert virtue_grid[1] == virtue_grid[2]  # squashed to a square first, as VIRTUE's eval does
    assert wrappers["virtue"].params()["path"] == "text+box" and wrappers["virtue"].variant is None
    gq = load_embedder(f"gme:{wrappers['gme'].model.name_or_path}", args={**SMALL, "query_instruction": "Find it."})
    assert _tokens(gq, gq.compose(q, "query")["ids"])[2:4] == ["Find", "it"]
    assert _tokens(gq, gq.compose(EmbedInput("cat"), "candidate")["ids"])[2] == "You"  # candidates: default


@pytest.mark.slow  # a tiny Qwen2-VL with torch (the module's fast test lists the wrappers)
def test_left_padding_and_last_token_pooling(wrappers):
    import torch

    from scar.eval.embedders.qwen2vl import last_token

    emb = wrappers["vlm2vec"]
    items = emb.prepare(_inputs(), role="candidate")
    batch = emb.collate(items)
    mask, ids = batch["attention_mask"], batch["input_ids"]
    assert bool(mask[:, -1].all())  # left padding: every row ends on a real token
    short = min(range(len(items)), key=lambda i: len(items[i]["ids"]))
    pad = ids.shape[1] - len(items[short]["ids"])
    assert pad > 0 and not mask[short, :pad].any() and (ids[short, :pad] == emb.tokenizer.pad_token_id).all()
    assert ids[short, pad:].tolist() == items[short]["ids"]
    with torch.inference_mode():
        hidden = emb.model.model(**batch, use_cache=False).last_hidden_state
    pooled = emb.encode_prepared(items, role="candidate")
    for r in range(len(items)):
        assert np.allclose(pooled[r], hidden[r, -1].numpy(), atol=1e-5)
    assert not np.allclose(pooled[short], hidden[short, 0].numpy(), atol=1e-3)
    h = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    assert last_token(h, right).tolist() == [h[0, 1].tolist(), h[1, 3].tolist()]
    assert last_token(h, right.flip(1)).tolist() == [h[0, 3].tolist(), h[1, 3].tolist()]


@pytest.mark.slow  # several forward passes of a tiny Qwen2-VL
def test_batch_equals_single_and_token_budget(wrappers):
    xs = _inputs()
    for name, emb in wrappers.items():
        for role in ("query", "candidate"):
            together = emb.encode(xs, role=role)
            alone = np.stack([emb.encode([x], role=role)[0] for x in xs])
            assert together.shape == (4, 32) and together.dtype == np.float32
            assert np.abs(together - alone).max() < 1e-5, (name, role)
        emb.max_batch_tokens, keep = 40, emb.max_batch_tokens  # forces one forward per input
        try:
            assert np.abs(emb.encode(xs, role="query") - together).max() < 1e-5
        finally:
            emb.max_batch_tokens = keep


@pytest.mark.slow  # a tiny Qwen2-VL with torch (the module's fast test lists the wrappers)
def test_wrapper_returns_raw_vectors_and_harness_normalises(wrappers, tmp_path):
    emb = wrappers["gme"]
    raw = emb.encode([EmbedInput("a dog"), EmbedInput("a cat")], role="candidate")
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-3)
    enc = embed_unique(emb, [InputSpec("a dog"), InputSpec("a cat")], "candidate", progress=False)
    assert np.allclose(np.linalg.norm(enc.vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(enc.vectors, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-5)


@pytest.mark.slow  # a tiny Qwen2-VL with torch (the module's fast test lists the wrappers)
def test_lora_adapter_is_merged_over_its_base(ckpt, wrappers):
    lora = load_embedder(f"vlm2vec:{ckpt['lora']}", args=dict(SMALL))
    assert lora.params()["base"].startswith(f"{ckpt['base']}@local-") and lora.name == "vlm2vec-tiny-qwen2vl-lora"
    xs = _inputs()
    assert np.abs(lora.encode(xs, role="query") - wrappers["vlm2vec"].encode(xs, role="query")).max() > 1e-3


@pytest.mark.slow  # a tiny Qwen2-VL with torch (the module's fast test lists the wrappers)
def test_errors_name_the_problem(ckpt, wrappers):
    with pytest.raises(ValueError, match="virtue@native needs --virtue-src"):
        load_embedder(f"virtue:{ckpt['base']}@native")
    with pytest.raises(ValueError, match="min_pixels 3136 > max_pixels 2000"):
        load_embedder(f"gme:{ckpt['base']}", args={"max_pixels": "2000"})
    with pytest.raises(ValueError, match="rope 'xyz'"):
        load_embedder(f"vlm2vec:{ckpt['base']}", args={"rope": "xyz"})
    with pytest.raises(TypeError, match="takes no fusion"):
        load_embedder(f"vlm2vec:{ckpt['base']}", args={"fusion": "sum"})
    with pytest.raises(ValueError, match="in the text of an input without an image"):
        wrappers["vlm2vec"].compose(EmbedInput("look <|image_pad|> here"), "candidate")


@pytest.mark.slow  # a tiny Qwen2-VL with torch (the module's fast test lists the wrappers)
def test_bf16_autocast_on_cpu(ckpt):
    emb = load_embedder(f"virtue:{ckpt['base']}", args=dict(SMALL), dtype="bf16", device="cpu")
    v = emb.encode(_inputs()[:2], role="query")
    assert emb.dtype == "bfloat16" and np.isfinite(v).all() and v.shape == (2, 32)


@pytest.mark.slow
def test_scar_eval_runs_every_wrapper_end_to_end(ckpt, sample_build, tmp_path, capsys):
    out = tmp_path / "res"
    argv = ["eval", "--data", str(sample_build.path.parent), "--out", str(out), "--max-pixels", "12544",
            "--model-arg", "min_pixels=3136", "-q"]
    for name in ("vlm2vec", "gme", "virtue"):
        argv += ["--model", f"{name}:{ckpt['base']}"]
    assert main(argv) == 0
    runs = {p.parent.parent.name: json.loads(p.read_text()) for p in out.rglob("SCaR_Sample.json")}
    assert set(runs) == {"vlm2vec-tiny-qwen2vl", "gme-tiny-qwen2vl", "virtue-tiny-qwen2vl"}
    for run, r in runs.items():
        assert r["n"] == sample_build.rows and r["model_revision"].startswith("local-")
        assert "max_pixels=12544" in r["resolution"] and r["settings"]["params"]["pooling"] == "last-token"
        assert r["timings"]["query_encoded"] == sample_build.rows and 0.0 <= r["main_score"] <= 1.0
    assert runs["virtue-tiny-qwen2vl"]["settings"]["params"]["path"] == "text+box"
    assert main(["eval", "--data", str(sample_build.path.parent), "--out", str(out), "--model", "random",
                 "--virtue-src", str(tmp_path)]) == 1
    assert "--virtue-src (virtue_src) is for the virtue embedder" in capsys.readouterr().err


def test_models_lists_the_vlm_embedders(capsys):
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    for line in ("vlm2vec", "gme", "virtue"):
        assert any(row.startswith(line + " ") for row in text.splitlines())
    assert "not verified against official weights" in text and "text+box" in text
