"""Golden vectors from the reference code, for the parity tests (tests/test_parity.py).

    python tools/parity.py --vlm2vec-src DIR --virtue-src DIR [--venv DIR] [--out tests/fixtures/parity]

``DIR`` are checkouts the user provides (github.com/TIGER-AI-Lab/VLM2Vec, github.com/sony/virtue);
nothing of them enters this repository. The tool

1. makes (once) its own virtual environment with the references' pinned versions
   (``transformers==4.52.3``, ``numpy==1.26.4``, the machines' ``torch==2.14.1`` /
   ``torchvision==0.29.1``, and what their model code imports), beside this repository's;
2. in that environment, writes tiny random checkpoints in the layout the official loaders read
   (a Qwen2-VL, a LoRA adapter over it, a CLIP), saved by transformers 4.52.3, and three images;
3. runs the official code unchanged on them, one reference per process (both repositories are a
   top-level package ``src``): VLM2Vec's ``MMEBModel`` over its vendored Qwen2-VL + the merged
   LoRA, fed by its ``load_processor``, ``process_input_text``, its SCaR/MMEB ``data_prepare``
   and eval collator; GME's ``GmeQwen2VL`` (``gme_inference.py``, byte-identical in both
   repositories) through ``MMEBModel.encode_input``; VIRTUE's ``MMEBModel`` (no SAM: the
   text+box path) fed by its SCaR parser; and ``transformers.CLIPModel`` called directly;
4. writes ``golden.json`` (inputs, golden query strings, vectors, the references' commits and
   the environment's ``pip freeze``) and the checkpoints under ``--out``.

What is not the reference's own code, and why: the references load Qwen2-VL with
``flash_attention_2`` in bfloat16 on CUDA; here the same classes load in float32 with
``sdpa`` on the CPU (the LoRA is loaded and merged with the same peft calls) and GME's
constructor is replayed with those two settings; ``flash_attn`` (imported at module level by
model files the Qwen2-VL path never calls) and ``decord`` (a video reader, likewise) are
stand-in modules whose functions raise if called, and so is ``torchvision.io.write_video`` (imported by VLM2Vec's data package, gone from
torchvision 0.29, never called here). Each forward runs twice: the references' vendored Qwen2-VL computes rope positions
only on a model's first call (``self.rope_deltas``); ``first_vs_second`` records the largest
difference, and the goldens are the second call's (what every batch after the first gets).

CI never runs this tool; the tests read its output.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import venv
from pathlib import Path

log = logging.getLogger("parity")
ROOT = Path(__file__).resolve().parents[1]
PINS = ["torch==2.14.1", "torchvision==0.29.1", "transformers==4.52.3", "numpy==1.26.4", "peft==0.15.2",
        "accelerate==1.7.0", "huggingface-hub>=0.30,<1.0", "datasets>=3,<4", "qwen-vl-utils==0.0.8", "pillow",
        "hydra-core", "iopath", "einops", "timm", "scikit-learn", "scikit-image", "scipy",
        "opencv-python-headless", "sentencepiece"]
SCAR_INSTRUCTION = ("Find the caption that best describes the object in the bounding box, considering both local "
                    "details and global context.")
WORDS = ("find the caption that best describes object in bounding box considering both local details and global "
         "context given image referring bbox represent a dog cat cup on table red chair under tree person with "
         "what is it you are helpful assistant system user question following matches everyday").split()
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>",
            "<|video_pad|>", "[UNK]"]
IMAGES = {"img0.png": (64, 48), "img1.png": (40, 90), "img2.png": (200, 120)}
BOXES = {"img0.png": [4.0, 6.0, 30.0, 20.0], "img1.png": [10.5, 20.0, 25.0, 50.0], "img2.png": [0.0, 0.0, 199.0, 119.0]}
CANDIDATES = [["a dog on a table", "a cat on a table", "a cup under a tree"],
              ["a red chair", "a person with a cup", "a dog under a tree"],
              ["a tree", "a cup on a chair", "a cat with a person"]]


# ---------------------------------------------------------------------------------------------
# orchestrator (this repository's environment)

def make_venv(path: Path) -> Path:
    py = path / "bin" / "python"
    if not py.exists():
        log.info("creating %s (references' pins: transformers 4.52.3)", path)
        venv.create(path, with_pip=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PINS], check=True)
    return py


def commit_of(src: Path, given: str | None) -> str:
    if given:
        return given
    try:
        return subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        raise SystemExit(f"{src}: not a git checkout; pass its commit (--vlm2vec-commit / --virtue-commit)") from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vlm2vec-src", required=True, type=Path, help="checkout of TIGER-AI-Lab/VLM2Vec")
    ap.add_argument("--virtue-src", required=True, type=Path, help="checkout of sony/virtue")
    ap.add_argument("--vlm2vec-commit", help="its commit, when DIR is not a git checkout")
    ap.add_argument("--virtue-commit", help="its commit, when DIR is not a git checkout")
    ap.add_argument("--venv", type=Path, default=ROOT / ".parity-venv", help="the references' environment")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "parity")
    ap.add_argument("--worker", choices=["setup", "vlm2vec", "virtue"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.worker:
        return worker(args)
    py = make_venv(args.venv)
    args.out.mkdir(parents=True, exist_ok=True)
    common = ["--vlm2vec-src", str(args.vlm2vec_src), "--virtue-src", str(args.virtue_src), "--out", str(args.out)]
    parts = {}
    for w in ("setup", "vlm2vec", "virtue"):
        log.info("worker %s", w)
        subprocess.run([str(py), __file__, "--worker", w, *common], check=True)
        parts[w] = json.loads((args.out / f".{w}.json").read_text())
        (args.out / f".{w}.json").unlink()
    freeze = subprocess.run([str(py), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    golden = {"references": {"TIGER-AI-Lab/VLM2Vec": commit_of(args.vlm2vec_src, args.vlm2vec_commit),
                             "sony/virtue": commit_of(args.virtue_src, args.virtue_commit)},
              "pip_freeze": sorted(line for line in freeze.splitlines() if line and not line.startswith("-e")),
              "python": parts["setup"]["python"], "inputs": parts["setup"]["inputs"],
              "strings": {**parts["vlm2vec"]["strings"], **parts["virtue"]["strings"]},
              "vectors": {**parts["setup"]["vectors"], **parts["vlm2vec"]["vectors"], **parts["virtue"]["vectors"]},
              "first_vs_second": {**parts["vlm2vec"]["first_vs_second"], **parts["virtue"]["first_vs_second"]},
              "blocked": {**parts["vlm2vec"].get("blocked", {}), **parts["virtue"].get("blocked", {})}}
    (args.out / "golden.json").write_text(json.dumps(golden, indent=1) + "\n")
    log.info("wrote %s", args.out / "golden.json")
    return 0


# ---------------------------------------------------------------------------------------------
# workers (the references' environment; nothing from scar is imported)

STUBBED = ("flash_attn", "decord")  # imported at module level by video/InternVideo2 files, never called here


def _stub_flash_attn() -> None:
    """Stand-in ``flash_attn`` and ``decord`` packages (see the module docstring)."""
    import importlib.abc
    import importlib.machinery
    import types

    class Stub(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in STUBBED:
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
            return None

        def create_module(self, spec):
            mod = types.ModuleType(spec.name)
            mod.__path__ = []

            def missing(attr):
                if attr.startswith("__"):
                    raise AttributeError(attr)

                def call(*a, **k):
                    raise RuntimeError(f"flash_attn stand-in: {spec.name}.{attr} was called")
                return call
            mod.__getattr__ = missing
            return mod

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, Stub())
    import torchvision.io  # torchvision 0.29 dropped write_video, which VLM2Vec's data package imports

    if not hasattr(torchvision.io, "write_video"):
        def write_video(*a, **k):
            raise RuntimeError("torchvision.io.write_video stand-in was called")
        torchvision.io.write_video = write_video


def _setup(out: Path) -> dict:
    """Tiny checkpoints (saved by transformers 4.52.3), images, CLIP goldens."""
    import numpy as np
    import torch
    from PIL import Image
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import (CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast, Qwen2VLConfig,
                              Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor)

    img_dir = out / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (w, h) in IMAGES.items():
        arr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        Image.fromarray(arr).save(img_dir / name)

    ck = out / "ckpt"
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([" ".join(WORDS + list("[](),.:;!?-'\"/"))] + [str(i) for i in range(300)],
                            trainers.WordLevelTrainer(special_tokens=SPECIALS))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   unk_token="[UNK]", model_max_length=4096)
    ids = {t: fast.convert_tokens_to_ids(t) for t in SPECIALS}
    torch.manual_seed(0)
    cfg = Qwen2VLConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                        rope_theta=10000.0, rope_scaling={"type": "mrope", "mrope_section": [4, 2, 2]},
                        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                        pad_token_id=ids["<|endoftext|>"],
                        vision_config=dict(depth=2, embed_dim=32, hidden_size=32, num_heads=2, mlp_ratio=2,
                                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
                        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    model = Qwen2VLForConditionalGeneration(cfg).eval()
    qdir = ck / "qwen2vl"
    model.save_pretrained(qdir, safe_serialization=True)
    # the layout of the released checkpoints (Qwen2-VL-2B-Instruct, VLM2Vec, VIRTUE): one flat config,
    # which the references' vendored model class reads attribute by attribute
    saved = json.loads((qdir / "config.json").read_text())
    flat = {**saved.pop("text_config", {}), **saved}
    flat["model_type"] = "qwen2_vl"
    (qdir / "config.json").write_text(json.dumps(flat, indent=2, sort_keys=True))
    _released_keys(qdir / "model.safetensors")
    fast.save_pretrained(qdir)
    Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 1280).save_pretrained(qdir)

    from peft import LoraConfig, get_peft_model
    torch.manual_seed(1)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights="gaussian"))
    with torch.no_grad():  # PEFT starts B at zero (a no-op adapter): make it change the outputs
        for pname, param in peft_model.named_parameters():
            if "lora_B" in pname:
                param.normal_(0.0, 0.5)
    ldir = ck / "qwen2vl-lora"
    peft_model.save_pretrained(ldir)
    _released_keys(ldir / "adapter_model.safetensors")
    (ldir / "README.md").unlink(missing_ok=True)  # peft's model-card template
    acfg = json.loads((ldir / "adapter_config.json").read_text())
    acfg["base_model_name_or_path"] = "../qwen2vl"  # relative: the tests resolve it against the adapter folder
    (ldir / "adapter_config.json").write_text(json.dumps(acfg, indent=2))
    fast.save_pretrained(ldir)
    Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 1280).save_pretrained(ldir)

    # CLIP: transformers.CLIPModel called directly is the reference
    ctok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    ctok.pre_tokenizer = pre_tokenizers.Whitespace()
    ctok.train_from_iterator([" ".join(WORDS + list("[](),.:;"))] + [str(i) for i in range(300)],
                             trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[BOS]", "[EOS]"]))
    from tokenizers import processors
    ctok.post_processor = processors.TemplateProcessing(single="[BOS] $A [EOS]",
                                                        special_tokens=[("[BOS]", 2), ("[EOS]", 3)])
    cfast = PreTrainedTokenizerFast(tokenizer_object=ctok, bos_token="[BOS]", eos_token="[EOS]", pad_token="[PAD]",
                                    unk_token="[UNK]", model_max_length=64)
    torch.manual_seed(2)
    text = dict(vocab_size=len(cfast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, max_position_embeddings=64, pad_token_id=0, bos_token_id=2, eos_token_id=3)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
                  patch_size=8)
    clip = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).eval()
    cdir = ck / "clip"
    clip.save_pretrained(cdir, safe_serialization=True)
    cfast.save_pretrained(cdir)
    cproc = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    cproc.save_pretrained(cdir)

    inputs = _inputs()
    vecs = []
    with torch.no_grad():
        for x in inputs["clip"]:
            parts = []
            if x["text"]:
                t = cfast([x["text"]], padding=True, truncation=True, max_length=64, return_tensors="pt")
                parts.append(torch.nn.functional.normalize(clip.get_text_features(
                    input_ids=t["input_ids"], attention_mask=t["attention_mask"]), dim=-1))
            if x["image"]:
                im = Image.open(img_dir / x["image"]).convert("RGB")
                pv = cproc(images=[im], return_tensors="pt")["pixel_values"]
                parts.append(torch.nn.functional.normalize(clip.get_image_features(pixel_values=pv), dim=-1))
            v = sum(parts)[0]
            vecs.append((v / v.norm()).tolist())
    return {"python": sys.version.split()[0], "inputs": inputs, "vectors": {"clip": vecs}}


def _released_keys(path: Path) -> None:
    """Rename tensors to the released checkpoints' layout (``model.layers...``, ``visual...``),
    which the references' vendored class loads; transformers 4.52 saves ``model.language_model...``."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    out = {}
    for k, v in tensors.items():
        k = k.replace("model.language_model.", "model.")
        k = k.replace("model.visual.", "visual.")
        out[k] = v
    save_file(out, str(path), metadata={"format": "pt"})


def _inputs() -> dict:
    """What each wrapper encodes: the rows (as the references' parsers take them) and, for
    CLIP, plain text/image inputs."""
    scar = [{"qry_text": f"<|image_1|> {SCAR_INSTRUCTION}", "qry_image_path": name, "bbox": BOXES[name],
             "tgt_text": cands} for name, cands in zip(IMAGES, CANDIDATES)]
    mmeb_i2t = [{"qry_inst": "<|image_1|>\nRepresent the given image with the following question:",
                 "qry_text": "what is on the table?", "qry_img_path": "img0.png", "tgt_text": ["a cup", "a dog"]}]
    mmeb_t2i = [{"qry_inst": "Find me an everyday image that matches the given caption:", "qry_text": "a red chair.",
                 "tgt_inst": "<|image_1|>\nRepresent the given image.", "tgt_text": [""], "tgt_img_path": ["img1.png"]}]
    clip = [{"text": "a dog on a table", "image": None}, {"text": None, "image": "img0.png"},
            {"text": SCAR_INSTRUCTION + "\nReferring object bbox: [4.0, 6.0, 34.0, 26.0]", "image": "img2.png"}]
    return {"scar": scar, "mmeb_i2t": mmeb_i2t, "mmeb_t2i": mmeb_t2i, "clip": clip}


def _twice(fn):
    """The second call's output, and its largest difference from the first call's."""
    first = fn()
    second = fn()
    return second, float((first - second).abs().max())


def _qwen_rows(out: Path, inputs: dict, backbone: str, prepare_scar, prepare_i2t=None, prepare_t2i=None):
    """(role, text, images, bbox) rows, the texts made by the references' own parsers."""
    img_dir = out / "images"
    kw = dict(image_resolution="high", model_backbone=backbone, image_root=str(img_dir),
              global_dataset_name="parity")
    scar = inputs["scar"]
    batch = {"qry_text": [r["qry_text"] for r in scar], "qry_image_path": [r["qry_image_path"] for r in scar],
             "tgt_text": [r["tgt_text"] for r in scar], "bbox": [r["bbox"] for r in scar]}
    got = prepare_scar(batch, **kw)
    rows = []
    for i, r in enumerate(scar):
        rows.append({"set": "scar", "role": "query", "text": got["query_text"][i][0], "image": r["qry_image_path"],
                     "bbox": got["bboxes"][i], "resize": [1344, 1344]})
        for t in got["cand_text"][i]:
            rows.append({"set": "scar", "role": "candidate", "text": t, "image": None, "bbox": None, "resize": None})
    if prepare_i2t is not None:
        m = inputs["mmeb_i2t"]
        got = prepare_i2t({k: [r[k] for r in m] for k in ("qry_inst", "qry_text", "qry_img_path", "tgt_text")},
                          **dict(kw, dataset_name="parity"))
        for i, r in enumerate(m):
            rows.append({"set": "mmeb_i2t", "role": "query", "text": got["query_text"][i][0],
                         "image": r["qry_img_path"], "bbox": None, "resize": [1344, 1344]})
            for t in got["cand_text"][i]:
                rows.append({"set": "mmeb_i2t", "role": "candidate", "text": t, "image": None, "bbox": None,
                             "resize": None})
        m = inputs["mmeb_t2i"]
        got = prepare_t2i({k: [r[k] for r in m] for k in ("qry_inst", "qry_text", "tgt_inst", "tgt_text",
                                                         "tgt_img_path")}, **dict(kw, dataset_name="parity"))
        for i, r in enumerate(m):
            rows.append({"set": "mmeb_t2i", "role": "query", "text": got["query_text"][i][0], "image": None,
                         "bbox": None, "resize": None})
            for t, p in zip(got["cand_text"][i], r["tgt_img_path"]):
                rows.append({"set": "mmeb_t2i", "role": "candidate", "text": t, "image": p, "bbox": None,
                             "resize": [1344, 1344]})
    return rows


def _images(out: Path, row: dict):
    from PIL import Image

    if not row["image"]:
        return None
    im = Image.open(out / "images" / row["image"])
    # the eval collator: image.resize(RESOLUTION_MAPPING["high"]) when resize_use_processor is false
    return [im.resize(tuple(row["resize"]))] if row["resize"] else [im]


def _load_qwen(codes: Path, ckpt: Path, lora: Path | None):
    """The references' vendored Qwen2-VL class in float32 + sdpa (see the module docstring),
    LoRA loaded and merged with the calls of ``MMEBModel.load``."""
    import torch
    from transformers import AutoConfig

    from src.model.processor import QWEN2_VL, backbone2model

    config = AutoConfig.from_pretrained(str(ckpt), trust_remote_code=True)
    config._attn_implementation = "sdpa"
    config.vision_config._attn_implementation = "sdpa"
    base = backbone2model[QWEN2_VL].from_pretrained(str(ckpt), torch_dtype=torch.float32, config=config)
    if lora is None:
        return base
    from peft import LoraConfig, PeftModel

    lora_config = LoraConfig.from_pretrained(str(lora))
    lora_model = PeftModel.from_pretrained(base, str(lora), config=lora_config, is_trainable=False)
    lora_model.load_adapter(str(lora), lora_model.active_adapter, is_trainable=False)
    return lora_model.merge_and_unload()


def _encode_rows(model, processor, process_fn, rows, out: Path, batch: bool = True):
    """Vectors of rows through the official forward (``model(qry=...)`` / ``model(tgt=...)``),
    one row per batch (the official pooling takes the last position of a left-padded batch)."""
    import torch

    vecs, diffs = [], []
    for r in rows:
        inputs = process_fn({"text": [r["text"]], "images": [_images(out, r)]}, processor=processor, max_length=None)
        side = "qry" if r["role"] == "query" else "tgt"

        def call():
            with torch.no_grad():
                return model(**{side: dict(inputs)})[f"{side}_reps"].float()
        v, d = _twice(call)
        vecs.append(v[0].tolist())
        diffs.append(d)
    return vecs, max(diffs)


def _vlm2vec(args) -> dict:
    codes = args.vlm2vec_src.resolve()
    sys.path.insert(0, str(codes))
    os.chdir(codes)
    _stub_flash_attn()
    from src.arguments import DataArguments, ModelArguments
    from src.data.eval_dataset.image_i2t_eval import data_prepare as i2t
    from src.data.eval_dataset.image_t2i_eval import data_prepare as t2i
    from src.model.model import MMEBModel
    from src.model.processor import GME, QWEN2_VL, load_processor, process_vlm_inputs_fns
    from src.model.baseline_backbone.gme import gme_inference

    out = args.out.resolve()
    inputs = json.loads((out / ".inputs.json").read_text())
    ck = out / "ckpt"
    # VLM2Vec's SCaR rows: VIRTUE's parser (VLM2Vec has none); its MMEB V2 rows: its own parsers
    scar_prepare = _virtue_scar_prepare(args.virtue_src.resolve())
    rows = _qwen_rows(out, inputs, QWEN2_VL, scar_prepare, i2t, t2i)
    margs = ModelArguments(model_name=str(ck / "qwen2vl"), checkpoint_path=str(ck / "qwen2vl-lora"),
                           pooling="last", normalize=True, lora=True, model_backbone=QWEN2_VL)
    dargs = DataArguments()  # resize_min_pixels 28*28*4, resize_max_pixels 28*28*1280, as the eval runs
    processor = load_processor(margs, dargs)
    enc = _load_qwen(codes, ck / "qwen2vl", ck / "qwen2vl-lora")
    model = MMEBModel(encoder=enc, pooling="last", normalize=True)
    model.model_backbone = QWEN2_VL
    vecs, d1 = _encode_rows(model, processor, process_vlm_inputs_fns[QWEN2_VL], rows, out)

    # GME: the references' GmeQwen2VL, its constructor replayed in float32 + sdpa
    gme_rows = _qwen_rows(out, inputs, GME, scar_prepare)
    gargs = ModelArguments(model_name=str(ck / "qwen2vl"), pooling="last", normalize=True, model_backbone=GME)
    gproc = load_processor(gargs, dargs)
    gme = gme_inference.GmeQwen2VL.__new__(gme_inference.GmeQwen2VL)
    import torch
    torch.nn.Module.__init__(gme)
    gme.base = _load_qwen(codes, ck / "qwen2vl", None).eval()
    gme.normalize, gme.device, gme.max_length = True, "cpu", 1800
    gme.processor = gproc
    gme.processor.tokenizer.padding_side = "left"
    gme.defualt_instruction = "You are a helpful assistant."
    gme.sep = " "
    from transformers import AutoConfig
    gme.config = AutoConfig.from_pretrained(str(ck / "qwen2vl"), trust_remote_code=True)  # as MMEBModel.load sets it
    gmodel = MMEBModel(encoder=gme, pooling="last", normalize=True)
    gmodel.model_backbone = GME
    gvecs, gd = [], []
    for r in gme_rows:
        im = _images(out, r)
        side = "qry" if r["role"] == "query" else "tgt"
        inp = process_vlm_inputs_fns[GME]({"text": [r["text"]], "images": [im[0] if im else None]}, processor=gproc)

        def call():
            with torch.no_grad():
                return gmodel(**{side: dict(inp)})[f"{side}_reps"].float()
        v, d = _twice(call)
        gvecs.append(v[0].tolist())
        gd.append(d)
    strings = {"vlm2vec": [r["text"] for r in rows], "gme": [r["text"] for r in gme_rows]}
    return {"strings": strings, "vectors": {"vlm2vec": {"rows": rows, "vectors": vecs},
                                            "gme": {"rows": gme_rows, "vectors": gvecs}},
            "first_vs_second": {"vlm2vec": d1, "gme": max(gd)}}


def _virtue_scar_prepare(virtue_src: Path):
    """VIRTUE's SCaR parser (``scar_image_i2t.data_prepare``), run in a child process so that
    its ``src`` package does not meet VLM2Vec's; returns a function of (batch, **kwargs)."""
    def prepare(batch, **kw):
        code = ("import json,sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]); "
                "from parity import _stub_flash_attn; _stub_flash_attn(); "
                "from src.data.eval_dataset.scar_image_i2t import data_prepare; "
                "a = json.loads(sys.stdin.read()); print(json.dumps(data_prepare(a['batch'], **a['kw'])))")
        r = subprocess.run([sys.executable, "-c", code, str(virtue_src / "codes"), str(Path(__file__).parent)],
                           input=json.dumps(
            {"batch": batch, "kw": kw}), capture_output=True, text=True, check=True, cwd=str(virtue_src / "codes"))
        return json.loads(r.stdout.strip().splitlines()[-1])
    return prepare


def _virtue(args) -> dict:
    codes = (args.virtue_src / "codes").resolve()
    sys.path.insert(0, str(codes))
    os.chdir(codes)
    _stub_flash_attn()
    from src.data.eval_dataset.scar_image_i2t import data_prepare
    from src.model.model import MMEBModel
    from src.arguments import DataArguments, ModelArguments
    from src.model.processor import QWEN2_VL, load_processor, process_vlm_inputs_fns

    out = args.out.resolve()
    inputs = json.loads((out / ".inputs.json").read_text())
    ck = out / "ckpt"
    rows = _qwen_rows(out, inputs, QWEN2_VL, data_prepare)
    margs = ModelArguments(model_name=str(ck / "qwen2vl"), checkpoint_path=None, pooling="eos", normalize=True,
                           lora=False, model_backbone=QWEN2_VL)
    dargs = DataArguments()
    processor = load_processor(margs, dargs)
    model = MMEBModel(encoder=_load_qwen(codes, ck / "qwen2vl", None), pooling="eos", normalize=True)
    model.model_backbone = QWEN2_VL
    vecs, d = _encode_rows(model, processor, process_vlm_inputs_fns[QWEN2_VL], rows, out)
    blocked = {"virtue@native": (
        "scar's native path is glue that runs VIRTUE's own code from the user's checkout (--virtue-src); "
        "a CI test may not run the official code, so it has no golden here")}
    return {"strings": {"virtue": [r["text"] for r in rows]},
            "vectors": {"virtue": {"rows": rows, "vectors": vecs}}, "first_vs_second": {"virtue": d},
            "blocked": blocked}


def worker(args) -> int:
    out = args.out.resolve()
    if args.worker == "setup":
        res = _setup(out)
        (out / ".inputs.json").write_text(json.dumps(res["inputs"]))
    elif args.worker == "vlm2vec":
        res = _vlm2vec(args)
    else:
        res = _virtue(args)
        (out / ".inputs.json").unlink()
    (out / f".{args.worker}.json").write_text(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
