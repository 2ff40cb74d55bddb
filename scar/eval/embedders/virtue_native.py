"""Glue to VIRTUE's own code (github.com/sony/virtue), for its native visual-prompt path.

Nothing of that code is copied: ``NativeVirtue`` puts the user's checkout (``--virtue-src
PATH``: the repository root or its ``codes/`` folder) on ``sys.path`` and calls it the way
its ``virtue-example.py`` does: Hydra initialised on ``codes/configs``,
``src.arguments.ModelArguments(pooling="last", normalize=True, lora=False,
model_backbone="qwen2_vl")`` with ``sam=True`` and ``sam_config`` taken from the
checkpoint's ``config.virtue_sam``, ``src.model.processor.load_processor``,
``src.model.model.MMEBModel.load(..., is_trainable=False, processor=...)``, inputs from
``process_vlm_inputs_fns["qwen2_vl"]`` and the box prompt in ``inputs["bboxes"]``.

The box goes to SAM2 in the image's own pixels (``box_frame="pixels"``, default), as the
reference's evaluation passes it (sony/virtue @36d8a8b, ``scar_image_i2t.py`` and
``codes/src/model/model.py``: ``SAM2VLM.forward`` takes the image size after SAM's 1024 resize,
so its box transform leaves the box as given). ``box_frame="sam1024"`` scales it into SAM's
1024 frame (``x * 1024 / W``), after ``virtue-example.py``, whose ``bbox`` key the model never
reads. The whole path is NOT verified against official weights (none here).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
from pathlib import Path

import numpy as np

from scar.errors import MissingExtra, MissingInput, ScarUserError

log = logging.getLogger(__name__)
SAM_SIZE = 1024
BOX_FRAMES = ("pixels", "sam1024")


def find_codes(src: str | Path) -> Path:
    """The ``codes/`` folder of a VIRTUE checkout (``src/model/model.py`` inside)."""
    root = Path(src).expanduser()
    for cand in (root / "codes", root):
        if (cand / "src" / "model" / "model.py").is_file():
            return cand.resolve()
    raise MissingInput(f"--virtue-src {src}: not a checkout of github.com/sony/virtue (no codes/src/model/model.py "
                            "or src/model/model.py under it)")


def code_revision(codes: Path) -> str:
    """The checkout's git commit, else ``files-<hash>`` of the modules the glue calls."""
    git = codes.parent / ".git" if (codes.parent / ".git").exists() else codes / ".git"
    head = git / "HEAD"
    if head.is_file():
        ref = head.read_text().strip()
        if not ref.startswith("ref: "):
            return ref
        f = git / ref[5:]
        if f.is_file():
            return f.read_text().strip()
        packed = git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref[5:]):
                    return line.split()[0]
    h = hashlib.sha256()
    for rel in ("src/model/model.py", "src/model/processor.py", "src/arguments.py"):
        p = codes / rel
        h.update(p.read_bytes() if p.is_file() else b"")
    return "files-" + h.hexdigest()[:12]


def sam_box(bbox, width: int, height: int, frame: str = "pixels") -> list[float]:
    """``(x, y, w, h)`` in image pixels -> ``[x1, y1, x2, y2]`` in ``frame``."""
    x, y, w, h = (float(v) for v in bbox)
    if frame == "pixels":
        return [x, y, x + w, y + h]
    sx, sy = SAM_SIZE / width, SAM_SIZE / height
    return [x * sx, y * sy, (x + w) * sx, (y + h) * sy]


@contextlib.contextmanager
def _in_dir(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


class NativeVirtue:
    def __init__(self, src: str | Path, model: str, *, device: str, dtype: str, min_pixels: int, max_pixels: int,
                 sam_checkpoint: str | None = None) -> None:
        import torch
        from transformers import AutoConfig

        self.codes = find_codes(src)
        self.commit = code_revision(self.codes)
        loaded = sys.modules.get("src")
        if loaded is not None and not any(Path(p).resolve() == self.codes / "src" for p in getattr(loaded, "__path__", [])):
            raise MissingExtra(f"another 'src' package is already imported ({loaded}); run the native VIRTUE path in "
                               "a fresh process")
        if str(self.codes) not in sys.path:
            sys.path.insert(0, str(self.codes))
        try:
            with _in_dir(self.codes):
                from hydra import initialize_config_dir
                from hydra.core.global_hydra import GlobalHydra

                if not GlobalHydra.instance().is_initialized():
                    initialize_config_dir(config_dir=str(self.codes / "configs"), version_base=None)
                from src.arguments import DataArguments, ModelArguments
                from src.model.model import MMEBModel
                from src.model.processor import (
                    VLM_IMAGE_TOKENS,
                    load_processor,
                    process_vlm_inputs_fns,
                )

                config = AutoConfig.from_pretrained(model, trust_remote_code=True)
                sam = dict(getattr(config, "virtue_sam", None) or {})
                ckpt = sam_checkpoint or sam.get("checkpoint")
                if not ckpt:
                    raise ScarUserError(f"{model}: its config has no virtue_sam.checkpoint; pass --model-arg "
                                     "sam_checkpoint=PATH (a SAM2.1 checkpoint, e.g. sam2.1_hiera_base_plus.pt)")
                if not Path(ckpt).is_file():
                    raise MissingInput(f"SAM2 checkpoint {ckpt} not found (relative paths are read from "
                                            f"{self.codes}); pass --model-arg sam_checkpoint=PATH")
                args = ModelArguments(model_name=model, checkpoint_path=None, pooling="last", normalize=True,
                                      lora=False, model_backbone="qwen2_vl")
                args.sam = True
                args.sam_config = {"config_path": sam.get("config_path"), "checkpoint": str(Path(ckpt).resolve()),
                                   "points_per_side": sam.get("points_per_side", 3),
                                   "feature_levels": sam.get("feature_levels", 2)}
                data_args = DataArguments()
                data_args.resize_min_pixels, data_args.resize_max_pixels = min_pixels, max_pixels
                self.processor = load_processor(args, data_args)
                net = MMEBModel.load(args, is_trainable=False, processor=self.processor)
        except ImportError as e:
            raise MissingExtra(f"--virtue-src {src}: cannot import VIRTUE's code ({e}); install its "
                               "codes/requirements.txt (hydra-core, SAM2, peft...) in this environment") from e
        weights = torch.bfloat16 if dtype == "bfloat16" and device.startswith("cuda") else torch.float32
        self.model = net.eval().to(device, dtype=weights)
        self.process_fn = process_vlm_inputs_fns["qwen2_vl"]
        self.image_token = VLM_IMAGE_TOKENS["qwen2_vl"]
        self.sam_config = {k: v for k, v in args.sam_config.items() if k != "checkpoint"}
        self.sam_config["checkpoint"] = Path(ckpt).name
        self.device, self.dtype = device, dtype

    def _run(self, texts: list[str], images: list | None, role: str, bboxes=None) -> np.ndarray:
        import torch

        from scar.eval.embedders.hf import autocast

        inputs = self.process_fn({"text": texts, "images": images or [None] * len(texts)},
                                 processor=self.processor, max_length=None)
        if bboxes is not None:
            inputs["bboxes"] = bboxes
        inputs = {k: v.to(self.device) if torch.is_tensor(v) else v for k, v in inputs.items()}
        key = "qry" if role == "query" else "tgt"
        with torch.no_grad(), autocast(self.device, self.dtype):
            reps = self.model(**{key: inputs})[f"{key}_reps"]
        return reps.float().cpu().numpy()

    def encode(self, texts: list[str], images: list, boxes: list, role: str) -> np.ndarray:
        """One vector per input; ``images[i]`` is a PIL image or None, ``boxes[i]`` the
        SAM-frame box or None. Inputs with a box, with an image only, and text-only
        inputs go in separate calls (the official forward takes one kind per batch)."""
        groups: dict[str, list[int]] = {"box": [], "image": [], "text": []}
        for i, (im, box) in enumerate(zip(images, boxes)):
            groups["text" if im is None else ("box" if box is not None else "image")].append(i)
        out: list[np.ndarray | None] = [None] * len(texts)
        for kind, idx in groups.items():
            if not idx:
                continue
            imgs = None if kind == "text" else [[images[i]] for i in idx]
            got = self._run([texts[i] for i in idx], imgs, role, [boxes[i] for i in idx] if kind == "box" else None)
            for i, v in zip(idx, got):
                out[i] = v
        return np.stack(out).astype(np.float32)
