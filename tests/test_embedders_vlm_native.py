"""VIRTUE's native visual-prompt path (--virtue-src PATH) against a minimal module with the
official import surface, WRITTEN FOR THIS TEST: the official code (github.com/sony/virtue,
which needs torchvision, SAM2 and flash-attn) and its weights cannot be had here. The fake
checkout has what the glue calls - hydra's initialize_config_dir/GlobalHydra,
src.arguments.{ModelArguments,DataArguments}, src.model.processor.{load_processor,
process_vlm_inputs_fns,VLM_IMAGE_TOKENS}, src.model.model.MMEBModel.load/forward - and
records every call, so the glue's loading, box scaling and input assembly are checked;
the vectors it returns are a hash of what it was given, not a model."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scar.cli import main
from scar.eval.embedders import EmbedInput, load_embedder
from scar.eval.embedders.virtue_native import sam_box

FAKE = {
    "hydra/__init__.py": '''
from hydra.core.global_hydra import GlobalHydra
INIT = []
def initialize_config_dir(config_dir, version_base=None):
    INIT.append(config_dir)
    GlobalHydra.instance().initialized = True
''',
    "hydra/core/__init__.py": "",
    "hydra/core/global_hydra.py": '''
class GlobalHydra:
    _one = None
    initialized = False
    @classmethod
    def instance(cls):
        cls._one = cls._one or cls()
        return cls._one
    def is_initialized(self):
        return self.initialized
''',
    "src/__init__.py": "",
    "src/arguments.py": '''
from dataclasses import dataclass
@dataclass
class ModelArguments:
    model_name: str = None
    checkpoint_path: str = None
    pooling: str = "last"
    normalize: bool = False
    lora: bool = False
    model_backbone: str = None
@dataclass
class DataArguments:
    resize_min_pixels: int = 28 * 28 * 4
    resize_max_pixels: int = 28 * 28 * 1280
''',
    "src/model/__init__.py": "",
    "src/model/processor.py": '''
VLM_IMAGE_TOKENS = {"qwen2_vl": "<|image_pad|>"}
class FakeProcessor:
    def __init__(self, model_args, data_args):
        self.model_args, self.data_args = model_args, data_args
def load_processor(model_args, data_args=None):
    return FakeProcessor(model_args, data_args)
def Qwen2_VL_process_fn(model_inputs, processor, max_length=None):
    return {"texts": model_inputs["text"], "images": model_inputs["images"]}
process_vlm_inputs_fns = {"qwen2_vl": Qwen2_VL_process_fn}
''',
    "src/model/model.py": '''
import hashlib, json, os
import numpy as np
import torch
CALLS = []
class MMEBModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))
    @classmethod
    def load(cls, model_args, is_trainable=True, **kwargs):
        CALLS.append({"load": model_args, "is_trainable": is_trainable, "processor": kwargs.get("processor"),
                      "cwd": os.getcwd()})
        return cls()
    def forward(self, qry=None, tgt=None):
        key, inp = ("qry", qry) if qry is not None else ("tgt", tgt)
        sizes = [None if im is None else [i.size for i in im] for im in inp["images"]]
        CALLS.append({key: inp["texts"], "sizes": sizes, "bboxes": inp.get("bboxes"), "dtype": self.dummy.dtype})
        reps = []
        for i, t in enumerate(inp["texts"]):
            box = inp["bboxes"][i] if inp.get("bboxes") is not None else None
            seed = int(hashlib.sha256(json.dumps([t, box, sizes[i]]).encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).normal(size=8)
            reps.append(v / np.linalg.norm(v))
        return {f"{key}_reps": torch.tensor(np.array(reps), dtype=torch.float32)}
''',
}
SAM = {"config_path": "./sam2.1/sam2.1_hiera_b+.yaml", "checkpoint": "./sam2_checkpoints/sam2.1_hiera_base_plus.pt",
       "points_per_side": 3, "feature_levels": 2}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    import torch  # noqa: F401 (a missing extra fails, never skips; imported here, not at collection)

    root = tmp_path_factory.mktemp("virtue-checkout")
    codes = root / "codes"
    for rel, text in FAKE.items():
        (codes / rel).parent.mkdir(parents=True, exist_ok=True)
        (codes / rel).write_text(text.lstrip())
    (codes / "configs" / "sam2.1").mkdir(parents=True)
    (codes / "sam2_checkpoints").mkdir()
    (codes / "sam2_checkpoints" / "sam2.1_hiera_base_plus.pt").write_bytes(b"not a real checkpoint")
    (root / ".git" / "refs" / "heads").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".git" / "refs" / "heads" / "main").write_text("36d8a8b" + "0" * 33 + "\n")
    model = root.parent / "VIRTUE-2B-SCaR"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "qwen2_vl", "virtue_sam": SAM}))
    yield {"root": root, "codes": codes.resolve(), "model": model}
    sys.path[:] = [p for p in sys.path if p != str(codes.resolve())]
    for name in [m for m in sys.modules if m.split(".")[0] in ("src", "hydra")]:
        del sys.modules[name]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCAR_CACHE", str(tmp_path / "cache"))


def _calls():
    return sys.modules["src.model.model"].CALLS


@pytest.mark.slow  # the stand-in's model is a torch Module: imports torch and transformers (4 s of CPU)
def test_loads_the_official_code_the_way_its_example_does(checkout):
    cwd = os.getcwd()
    emb = load_embedder(f"virtue:{checkout['model']}", virtue_src=str(checkout["root"]))
    assert os.getcwd() == cwd
    assert sys.modules["hydra"].INIT[-1] == str(checkout["codes"] / "configs")
    load = next(c for c in reversed(_calls()) if "load" in c)
    args = load["load"]
    assert (args.pooling, args.normalize, args.lora, args.model_backbone, args.sam) == ("last", True, False,
                                                                                       "qwen2_vl", True)
    assert args.model_name == str(checkout["model"]) and load["is_trainable"] is False
    assert args.sam_config == {**SAM, "checkpoint": str(checkout["codes"] / "sam2_checkpoints" /
                                                        "sam2.1_hiera_base_plus.pt")}
    assert load["cwd"] == str(checkout["codes"])  # relative paths in the config resolve as in the official scripts
    assert (load["processor"].data_args.resize_min_pixels, load["processor"].data_args.resize_max_pixels) == \
        (28 * 28 * 4, 28 * 28 * 1280)
    assert emb.variant == "native" and emb.run_name == "VIRTUE-2B-SCaR__native" and emb.meta().region_native
    p = emb.params()
    assert p["path"] == "native (not verified against official weights)" and p["box_frame"] == "pixels"
    assert p["virtue_src_commit"] == "36d8a8b" + "0" * 33 and p["sam"]["checkpoint"] == "sam2.1_hiera_base_plus.pt"


@pytest.mark.slow  # the stand-in's model is a torch Module: imports torch and transformers (4 s of CPU)
def test_box_in_image_pixels_by_default_and_inputs_assembled(checkout):
    emb = load_embedder(f"virtue:{checkout['model']}", virtue_src=str(checkout["root"]), args={"box_frame": "sam1024"})
    im = Image.fromarray(np.zeros((100, 200, 3), np.uint8))  # W=200, H=100
    q = EmbedInput("Find it\nReferring object bbox: [20.0, 10.0, 70.0, 50.0]", im, (20.0, 10.0, 50.0, 40.0))
    n = len(_calls())
    v = emb.encode([q, EmbedInput("Represent the given image.", im), EmbedInput("a dog")], role="query")
    assert v.shape == (3, 8) and np.allclose(np.linalg.norm(v, axis=1), 1)
    boxed, plain, text = _calls()[n:]
    assert np.allclose(boxed["bboxes"], [[102.4, 102.4, 358.4, 512.0]])  # x*1024/W, y*1024/H
    assert boxed["qry"] == ["<|image_pad|>   Find it\nReferring object bbox: [20.0, 10.0, 70.0, 50.0]"]
    assert boxed["sizes"] == [[(1344, 1344)]]  # pre-resized as VIRTUE's eval config does
    assert plain["bboxes"] is None and plain["qry"] == ["<|image_pad|>\nRepresent the given image.\n"]  # V2
    assert text["qry"] == ["a dog\n"] and text["sizes"] == [None]  # a text query: V2's trailing newline
    cand = emb.encode([EmbedInput("a dog")], role="candidate")
    assert "tgt" in _calls()[-1] and _calls()[-1]["tgt"] == ["a dog"]
    px = load_embedder(f"virtue:{checkout['model']}", virtue_src=str(checkout["root"]), args={"pre_resize": "none"})
    px.encode([q], role="query")
    assert _calls()[-1]["bboxes"] == [[20.0, 10.0, 70.0, 50.0]] and _calls()[-1]["sizes"] == [[(200, 100)]]
    assert px.params()["box_frame"] == "pixels" and "pre_resize" not in px.resolution


@pytest.mark.slow
def test_scar_eval_with_virtue_src_records_the_native_path(checkout, sample_build, tmp_path):
    out = tmp_path / "res"
    assert main(["eval", "--data", str(sample_build.path.parent), "--model", f"virtue:{checkout['model']}",
                 "--virtue-src", str(checkout["root"]), "--out", str(out), "-q"]) == 0
    (path,) = out.rglob("SCaR_Sample.json")
    r = json.loads(path.read_text())
    assert path.parent.parent.name == "VIRTUE-2B-SCaR__native" and r["variant"] == "native"
    assert r["settings"]["params"]["path"].startswith("native") and r["n"] == sample_build.rows
    boxes = [c["bboxes"] for c in _calls() if c.get("bboxes")]
    assert boxes and all(0 <= v <= 1024 for b in boxes for box in b for v in box)


@pytest.mark.slow
def test_errors_name_the_checkout_and_the_checkpoint(checkout, tmp_path, sample_build, capsys):
    assert main(["eval", "--data", str(sample_build.path.parent), "--model", f"virtue:{checkout['model']}",
                 "--virtue-src", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")]) == 1
    assert "not a checkout of github.com/sony/virtue" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="sam_checkpoint=PATH"):
        load_embedder(f"virtue:{checkout['model']}", virtue_src=str(checkout["codes"]),
                      args={"sam_checkpoint": str(tmp_path / "missing.pt")})


def test_box_frames_and_an_unknown_frame_is_refused_before_anything_loads(tmp_path):
    """The box SAM2 is given: the image's own pixels by default, or scaled into SAM's
    1024 frame; an unknown frame is refused before the checkout or torch is touched."""
    assert sam_box((20.0, 10.0, 50.0, 40.0), 200, 100) == [20.0, 10.0, 70.0, 50.0]  # (x, y, w, h) -> corners
    assert np.allclose(sam_box((20.0, 10.0, 50.0, 40.0), 200, 100, "sam1024"), [102.4, 102.4, 358.4, 512.0])
    with pytest.raises(ValueError, match="box_frame"):
        load_embedder(f"virtue:{tmp_path / 'no-model'}", virtue_src=str(tmp_path / "no-checkout"),
                      args={"box_frame": "norm"})
