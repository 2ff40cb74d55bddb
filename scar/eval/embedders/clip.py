"""CLIP-family embedders (CLIP, SigLIP: any Hub id or local path), a thin wrapper over
``transformers`` with the region variants as a parameter.

An input's text and image are embedded by the two towers and L2-normalised; an input
with both (a SCaR or MMEB query) becomes their sum (``fusion="sum"``, the usual score
fusion of CLIP baselines) or the image alone (``fusion="image"``). The harness puts the
box in the query text; a ``variant`` also draws it into the image:

- none: the box in the text only;
- ``crop``: the crop is the image (the text is unchanged);
- ``red-circle``: a red ellipse around the box;
- ``reclip``: ReCLIP's two views, the crop and the image blurred outside the box
  (their normalised image embeddings are summed);
- ``sam-mask``: the crop with everything outside SAM's mask for the box greyed
  (``transformers.SamModel``, ``sam=`` Hub id or path).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scar.errors import ScarUserError
from scar.eval.embedders import regions
from scar.eval.embedders.base import Embedder
from scar.eval.embedders.hf import autocast, check_dtype, pick_device, resolve
from scar.eval.embedders.sam import DEFAULT_SAM

log = logging.getLogger(__name__)
DEFAULT_MODEL = "openai/clip-vit-large-patch14"
VARIANTS = ("crop", "red-circle", "reclip", "sam-mask")
FUSIONS = ("sum", "image")


class ClipEmbedder(Embedder):
    kind = "model"
    modalities = ("text", "image")

    def __init__(self, model: str = DEFAULT_MODEL, *, variant: str | None = None, revision: str | None = None,
                 device: str | None = None, dtype: str | None = None, batch_size: int = 32, fusion: str = "sum",
                 sam: str = DEFAULT_SAM, name: str | None = None) -> None:
        if variant not in (None, "", *VARIANTS):
            raise ScarUserError(f"clip variant {variant!r}: use one of {', '.join(VARIANTS)} (or none: box in text only)")
        if fusion not in FUSIONS:
            raise ScarUserError(f"clip fusion {fusion!r}: use one of {FUSIONS}")
        path, self.revision = resolve(model, revision)  # before importing transformers: fails fast
        from transformers import AutoImageProcessor

        rev = {} if self.revision.startswith("local-") else {"revision": self.revision}
        self.name = name or (Path(path).name if Path(path).is_dir() else model)
        self.variant = variant or None
        self.fusion = fusion
        self.batch_size = int(batch_size)
        self.device = pick_device(device)
        self.dtype = check_dtype(dtype, self.device)
        self._path, self._rev, self._model_id = path, rev, model
        # use_fast=False: the PIL processor the reference computes with (transformers 4.x, CLIP_benchmark);
        # the torchvision "fast" one, transformers 5's default when torchvision is installed, resizes
        # differently (max |Δ| 2.8e-4 on the parity goldens, tests/test_parity.py).
        self.image_processor = AutoImageProcessor.from_pretrained(path, use_fast=False, **rev)
        size = getattr(self.image_processor, "crop_size", None) or getattr(self.image_processor, "size", None)
        self.resolution = _resolution(size)
        self.sam_name = sam
        self._sam = None

    def load(self) -> None:
        """The weights and the tokenizer (``ensure_loaded``: only when something must be encoded)."""
        from transformers import AutoModel, AutoTokenizer

        self.model = AutoModel.from_pretrained(self._path, **self._rev).to(self.device).eval()
        if not (hasattr(self.model, "get_text_features") and hasattr(self.model, "get_image_features")):
            raise ScarUserError(f"{self._model_id}: {type(self.model).__name__} is not a CLIP-style dual encoder "
                             "(no get_text_features/get_image_features)")
        self.tokenizer = AutoTokenizer.from_pretrained(self._path, **self._rev)
        cfg = self.model.config
        self.max_length = int(getattr(getattr(cfg, "text_config", cfg), "max_position_embeddings", 77))
        self.pad_to_max = "siglip" in cfg.model_type  # SigLIP was trained on max-length padding

    def params(self):
        out = {"fusion": self.fusion, "image_processor": "pil"}  # see use_fast=False above
        if self.variant == "sam-mask":
            out["sam"] = f"{self.sam_name}@{self._masker().revision}"
        return out

    def _masker(self):
        if self._sam is None:
            from scar.eval.embedders.sam import SamMasker

            self._sam = SamMasker(self.sam_name, device=self.device)
        return self._sam

    def _views(self, inputs, masks: dict | None = None) -> list[list]:
        """The image view(s) of each input (empty when it has no image)."""
        views = [[] if x.image is None else [x.image] for x in inputs]
        if self.variant is None:
            return views
        for i, x in enumerate(inputs):
            if x.image is None or x.bbox is None:
                continue
            im, box = x.image, x.bbox
            if self.variant == "crop":
                views[i] = [regions.crop(im, box)]
            elif self.variant == "red-circle":
                views[i] = [regions.red_circle(im, box)]
            elif self.variant == "reclip":
                views[i] = [regions.crop(im, box), regions.blur_outside(im, box)]
            else:
                views[i] = [regions.masked_crop(im, masks[i], box)]
        return views

    def prepare(self, inputs, *, role):
        self.ensure_loaded()
        """CPU work, run by the harness in its loader threads: region views, tokens and
        pixel values. ``sam-mask`` needs SAM first, which runs in ``encode_prepared``."""
        if self.variant == "sam-mask" and any(x.image is not None and x.bbox is not None for x in inputs):
            return _Prepared(len(inputs), raw=list(inputs))
        return self._prepare(inputs)

    def _prepare(self, inputs, masks: dict | None = None):
        views = self._views(inputs, masks)
        t_idx = [i for i, x in enumerate(inputs) if x.text]
        flat = [(i, v) for i, vs in enumerate(views) for v in vs]
        tokens = None
        if t_idx:
            enc = self.tokenizer([inputs[i].text for i in t_idx], padding="max_length" if self.pad_to_max else True,
                                 truncation=True, max_length=self.max_length, return_tensors="pt")
            tokens = {k: v for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        pixels = self.image_processor(images=[v for _, v in flat], return_tensors="pt")["pixel_values"] if flat else None
        return _Prepared(len(inputs), t_idx, tokens, [i for i, _ in flat], pixels, [bool(v) for v in views])

    def encode_prepared(self, p, *, role):
        self.ensure_loaded()
        import torch

        if p.raw is not None:  # sam-mask: SAM's masks for the boxed inputs, then the views
            boxed = [i for i, x in enumerate(p.raw) if x.image is not None and x.bbox is not None]
            got = self._masker().masks([p.raw[i].image for i in boxed], [p.raw[i].bbox for i in boxed])
            p = self._prepare(p.raw, dict(zip(boxed, got)))
        t = f = None
        with torch.inference_mode(), autocast(self.device, self.dtype):
            if p.tokens is not None:
                t = _unit(_features(self.model.get_text_features(**{k: v.to(self.device) for k, v in p.tokens.items()})))
            if p.pixels is not None:
                f = _unit(_features(self.model.get_image_features(pixel_values=p.pixels.to(self.device))))
        dim = (t if t is not None else f).shape[1] if (t is not None or f is not None) else 1
        text = np.zeros((p.n, dim), np.float32)
        image = np.zeros((p.n, dim), np.float32)
        if t is not None:
            text[p.t_idx] = t
        if f is not None:
            np.add.at(image, p.owners, f)
        if self.fusion == "image":
            return np.where(np.array(p.has_image)[:, None], image, text)
        return text + image

    def encode(self, inputs, *, role):
        return self.encode_prepared(self.prepare(inputs, role=role), role=role)


@dataclass
class _Prepared:
    n: int
    t_idx: list[int] = field(default_factory=list)
    tokens: dict | None = None
    owners: list[int] = field(default_factory=list)  # input index of each image view
    pixels: object = None
    has_image: list[bool] = field(default_factory=list)
    raw: list | None = None  # inputs left for encode_prepared (SAM)

    def __len__(self) -> int:
        return self.n


def _features(out):
    """transformers < 5 returns a tensor, 5.x a BaseModelOutputWithPooling."""
    return out if hasattr(out, "float") and not hasattr(out, "pooler_output") else out.pooler_output


def _unit(t) -> np.ndarray:
    v = t.float().cpu().numpy()
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return (v / np.where(n > 0, n, 1)).astype(np.float32)


def _resolution(size) -> str | None:
    if size is None:
        return None
    get = size.get if isinstance(size, dict) else (lambda k: getattr(size, k, None))
    h, w = get("height"), get("width")
    if h and w:
        return f"{h}x{w}"
    edge = get("shortest_edge")
    return f"shortest_edge={edge}" if edge else None
