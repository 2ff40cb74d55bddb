"""A segmentation mask from a box prompt with ``transformers.SamModel`` (no torchvision,
no ``segment-anything`` package): the ``sam-mask`` region variant uses it."""

from __future__ import annotations

import logging

import numpy as np

from scar.eval.embedders.hf import resolve

log = logging.getLogger(__name__)
DEFAULT_SAM = "facebook/sam-vit-base"


class SamMasker:
    def __init__(self, model: str = DEFAULT_SAM, *, revision: str | None = None, device: str = "cpu") -> None:
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
        boxes = [[[float(x), float(y), float(x + w), float(y + h)]] for x, y, w, h in bboxes]
        inp = self.processor(images=images, input_boxes=boxes, return_tensors="pt")
        with torch.inference_mode():
            out = self.model(pixel_values=inp["pixel_values"].to(self.device),
                             input_boxes=inp["input_boxes"].to(self.device), multimask_output=False)
        masks = self.processor.image_processor.post_process_masks(
            out.pred_masks.float().cpu(), inp["original_sizes"], inp["reshaped_input_sizes"])
        return [np.asarray(m[0, 0].numpy(), bool) for m in masks]
