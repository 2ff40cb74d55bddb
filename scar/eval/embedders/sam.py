"""A segmentation mask from a box prompt: the ``sam-mask`` region variant uses it.

``sam=`` a Hub id or a folder: ``transformers.SamModel``; ``sam=`` a checkpoint *file* in the
format Meta distributes (``sam_vit_b_01ec64.pth``): the ``segment-anything`` package's
``SamPredictor`` (``multimask_output=False``), the encoder's shape read from the file's tensors.
Its revision is ``file-<sha256 prefix>`` of the file."""

from __future__ import annotations

import logging

import numpy as np

from scar.eval.embedders.hf import resolve

log = logging.getLogger(__name__)
DEFAULT_SAM = "facebook/sam-vit-base"


def _segment_anything(path: str):
    import importlib

    import torch

    build = importlib.import_module("segment_anything.build_sam")
    state = torch.load(path, map_location="cpu", weights_only=True)
    width = int(state["image_encoder.patch_embed.proj.weight"].shape[0])
    depth = len({k.split(".")[2] for k in state if k.startswith("image_encoder.blocks.")})
    head_dim = int(state["image_encoder.blocks.0.attn.rel_pos_h"].shape[1])
    full = 2 * (1024 // 16) - 1  # rel-pos rows of a global-attention block (image 1024, patch 16)
    global_blocks = [i for i in range(depth) if state[f"image_encoder.blocks.{i}.attn.rel_pos_h"].shape[0] == full]
    sam = build._build_sam(encoder_embed_dim=width, encoder_depth=depth, encoder_num_heads=width // head_dim,
                           encoder_global_attn_indexes=global_blocks)
    sam.load_state_dict(state)
    return sam.eval()


class SamMasker:
    def __init__(self, model: str = DEFAULT_SAM, *, revision: str | None = None, device: str = "cpu") -> None:
        from pathlib import Path

        self.name, self.device, self._predictor = model, device, None
        if Path(model).is_file():
            import hashlib

            from segment_anything import SamPredictor

            self.revision = "file-" + hashlib.sha256(Path(model).read_bytes()).hexdigest()[:12]
            self._predictor = SamPredictor(_segment_anything(model).to(device))
            return
        from transformers import SamModel, SamProcessor

        path, self.revision = resolve(model, revision)
        rev = {} if path != model or self.revision.startswith("local-") else {"revision": self.revision}
        self.name = model
        self.device = device
        self.processor = SamProcessor.from_pretrained(path, **rev)
        self.model = SamModel.from_pretrained(path, **rev).to(device).eval()

    def masks(self, images: list, bboxes: list) -> list[np.ndarray]:
        """One boolean mask (image-sized) per (image, ``(x, y, w, h)`` box), the best of
        SAM's single-mask output for that box."""
        import torch

        if not images:
            return []
        if self._predictor is not None:
            out = []
            for im, (x, y, w, h) in zip(images, bboxes):
                self._predictor.set_image(np.asarray(im.convert("RGB")))
                m, _, _ = self._predictor.predict(box=np.array([x, y, x + w, y + h], dtype=np.float32),
                                                  multimask_output=False)
                out.append(np.asarray(m[0], bool))
            return out
        boxes = [[[float(x), float(y), float(x + w), float(y + h)]] for x, y, w, h in bboxes]
        inp = self.processor(images=images, input_boxes=boxes, return_tensors="pt")
        with torch.inference_mode():
            out = self.model(pixel_values=inp["pixel_values"].to(self.device),
                             input_boxes=inp["input_boxes"].to(self.device), multimask_output=False)
        masks = self.processor.image_processor.post_process_masks(
            out.pred_masks.float().cpu(), inp["original_sizes"], inp["reshaped_input_sizes"])
        return [np.asarray(m[0, 0].numpy(), bool) for m in masks]
