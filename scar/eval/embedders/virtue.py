"""VIRTUE (Sony/VIRTUE-2B-SCaR, -7B-SCaR): a Qwen2-VL embedder with a SAM2 visual prompt.

Two paths, recorded in the results (``variant`` and ``settings.params.path``):

- ``text+box`` (default): the checkpoint's Qwen2-VL weights through ``transformers``
  (as mteb's VIRTUE wrapper runs it); the region reaches the model only as the query's
  ``Referring object bbox: [x1, y1, x2, y2]`` line, which the harness writes.
- ``native`` (``--virtue-src PATH``, run name ``...__native``): VIRTUE's own code from the
  user's checkout of github.com/sony/virtue, with the SAM2 box prompt (see
  ``virtue_native``). Not verified against official weights: none can be had here; its
  glue (loading from the checkout, box scaling, input assembly) is tested against a
  minimal module with the official import surface.

Format (sony/virtue @36d8a8b: ``codes/src/data/eval_dataset/scar_image_i2t.py``,
``codes/src/model/model.py``, ``codes/configs/virtue_eval.yaml``; the text+box path is checked
string for string and vector for vector against that code on tiny random weights by
``tools/parity.py``, see ``tests/test_parity.py``): VLM2Vec's V2 Qwen2-VL format
(``vlm2vec.v2_prompt``), no chat template; a SCaR query is ``<|image_pad|>`` +
``process_input_text``'s spacing (three spaces, ``sep``) + the instruction +
``\\nReferring object bbox: [x1, y1, x2, y2]``; pooling ``last``/``eos``, normalised; images
resized to 1344x1344 first (``image_resolution: high`` with ``resize_use_processor: false``),
then Qwen2-VL's smart resize within ``min_pixels`` (28*28*4) and ``max_pixels`` (28*28*1280);
plain 1-D positions (``rope="1d"``, see ``qwen2vl``).

Native path, as the reference runs it: the box goes to SAM2 in the image's own pixels
(``box_frame="pixels"``, default): the evaluation collator passes it so and ``SAM2VLM.forward``
reads the image size after SAM's 1024 resize, so its box transform is the identity. Without SAM
settings in the checkpoint's config, ``points_per_side`` 3 and ``feature_levels`` 2
(``virtue_eval.yaml``'s ``sam_config``).
"""

from __future__ import annotations

import logging

from scar.errors import ScarUserError
from scar.eval.embedders.hf import check_dtype, pick_device, resolve
from scar.eval.embedders.qwen2vl import IMAGE_PAD, Qwen2VLEmbedder, local_name, unescape
from scar.eval.embedders.virtue_native import BOX_FRAMES, NativeVirtue, sam_box
from scar.eval.embedders.vlm2vec import v2_prompt

log = logging.getLogger(__name__)
DEFAULT_MODEL = "Sony/VIRTUE-2B-SCaR"
PATHS = {None: "text+box", "native": "native (not verified against official weights)"}


class VirtueEmbedder(Qwen2VLEmbedder):
    default_model = DEFAULT_MODEL
    family = "virtue"

    def __init__(self, model: str | None = None, *, variant: str | None = None, virtue_src: str | None = None,
                 sep: str = "   ", pre_resize: str | None = "1344x1344", box_frame: str = "pixels",
                 sam_checkpoint: str | None = None, revision: str | None = None, device: str | None = None,
                 dtype: str | None = None, batch_size: int = 8, min_pixels: int | None = None,
                 max_pixels: int | None = None, max_batch_tokens: int = 16384, name: str | None = None,
                 rope: str = "1d") -> None:
        if variant not in (None, "", "native"):
            raise ScarUserError(f"virtue variant {variant!r}: the only variant is 'native' (with --virtue-src)")
        if variant == "native" and not virtue_src:
            raise ScarUserError("virtue@native needs --virtue-src PATH (a checkout of github.com/sony/virtue)")
        if box_frame not in BOX_FRAMES:
            raise ScarUserError(f"virtue box_frame {box_frame!r}: use one of {BOX_FRAMES}")
        self.sep, self.box_frame = unescape(sep), box_frame
        self.variant = "native" if virtue_src else None
        self.region_native = bool(virtue_src)
        self.native = None
        if not virtue_src:
            super().__init__(model, revision=revision, device=device, dtype=dtype, batch_size=batch_size,
                             min_pixels=min_pixels, max_pixels=max_pixels, max_batch_tokens=max_batch_tokens,
                             name=name, rope=rope, pre_resize=pre_resize)
        else:
            model = model or DEFAULT_MODEL
            if revision:
                log.warning("--revision %s is not passed to VIRTUE's own loader, which loads the default branch; "
                            "the commit recorded is the default branch's", revision)
            path, self.revision = resolve(model, None)
            self.name = name or local_name(self.family, path, model)
            self.device = pick_device(device)
            self.dtype = check_dtype(dtype or ("bf16" if self.device.startswith("cuda") else None), self.device)
            self.batch_size = int(batch_size)
            self.min_pixels = int(min_pixels or self.min_pixels_default)
            self.max_pixels = int(max_pixels or self.max_pixels_default)
            self.configure(rope=rope, pre_resize=pre_resize)
            self.native = NativeVirtue(virtue_src, path, device=self.device, dtype=self.dtype,
                                       min_pixels=self.min_pixels, max_pixels=self.max_pixels,
                                       sam_checkpoint=sam_checkpoint)
            self.base = None

    def prompt(self, x, role):
        return v2_prompt(x, role, self.sep)

    def params(self):
        out = {"path": PATHS[self.variant], "format": "vlm2vec-v2", "sep": self.sep}
        if self.native is None:
            return {**super().params(), **out}
        return {**out, "pooling": "last-token", "box_frame": self.box_frame, "virtue_src_commit": self.native.commit,
                "sam": self.native.sam_config}

    def load(self) -> None:
        if self.native is None:  # the native path loads VIRTUE's own model when built
            super().load()

    def prepare(self, inputs, *, role):
        return super().prepare(inputs, role=role) if self.native is None else inputs

    def encode_prepared(self, prepared, *, role):
        return super().encode_prepared(prepared, role=role) if self.native is None else self.encode(prepared, role=role)

    def encode(self, inputs, *, role):
        if self.native is None:
            return super().encode(inputs, role=role)
        texts = [self.prompt(x, role).replace(IMAGE_PAD, self.native.image_token) for x in inputs]
        images = [None if x.image is None else self.prepare_image(x.image) for x in inputs]
        boxes = [sam_box(x.bbox, x.image.width, x.image.height, self.box_frame)
                 if x.image is not None and x.bbox is not None else None for x in inputs]
        return self.native.encode(texts, images, boxes, role)
