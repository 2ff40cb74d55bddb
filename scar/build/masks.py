"""Region masks: COCO RLE encoding, the build's ``masks`` step (:class:`FillMasks`), and SAM
masks from box prompts (``--masks sam``) with ``transformers.SamModel``. Sources keep the masks
their annotations give; the step fills the others (the box polygon, or SAM prompted by the box)
as the build's last step, so it runs where the engine runs steps: in the local workers, or on
Ray workers (a GPU each where the build sees CUDA). It imports no source.

The inputs are composed here, not by ``SamProcessor`` (whose image processor wants
torchvision in recent transformers): the image is resized so its longest side is the
model's input size (1024 for the public checkpoints), normalised with the ImageNet
mean/std SAM was trained with, and padded to a square at the bottom/right; the box
is scaled by the same factor. The low-resolution mask logits are upsampled to the
padded input, cropped to the resized image, resized to the original image and
thresholded at 0, then encoded as COCO RLE with pycocotools.

A checkpoint *file* in the format Meta distributes (``sam_vit_b_01ec64.pth``...) runs with the
``segment-anything`` package instead (``SegmentAnythingMasker``: its ``SamPredictor``, one box
prompt at a time, ``multimask_output=False``); the encoder's width, depth, heads and global
attention blocks are read from the file's tensors, so a tiny test checkpoint loads as the public
ones do.

Batched: the boxes of one image go in one prompt batch, and ``sam_batch`` images go
through the image encoder together (the step's ``window``, so a window never spans two shards
and every engine makes the same passes). Runs on CUDA when available. torch and
transformers are imported only when a masker is made.
"""

from __future__ import annotations

import itertools
import logging
import math
from typing import Any

import numpy as np
from PIL import Image

from scar.build.base import Resources, Step, runs_on_cuda
from scar.errors import MissingExtra, ScarUserError
from scar.types import BBox, Sample

log = logging.getLogger(__name__)

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def encode_mask(mask) -> dict[str, Any]:
    """A binary HxW numpy mask -> compressed RLE with str counts."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def box_rle(bbox: BBox, height: int, width: int) -> dict[str, Any]:
    """The box polygon as compressed RLE with str counts (one polygon: its RLE is the mask's,
    nothing to merge): what pycocotools' ``frPyObjects`` gives for the polygon, worked out
    directly for a box inside its domain (:func:`_box_counts`), else by pycocotools."""
    x, y, w, h = bbox
    counts = _box_counts(x, y, w, h, height, width)
    if counts is not None:
        return {"size": [int(height), int(width)], "counts": counts}
    from pycocotools import mask as mask_utils

    rle = mask_utils.frPyObjects([[x, y, x + w, y, x + w, y + h, x, y + h]], height, width)[0]
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _rle_number(x: int) -> str:
    """One count in COCO's compressed RLE string (``rleToString``: 5 bits a character, low
    bits first, bit 0x20 when more follow, the last one's bit 0x10 the sign; plus 48)."""
    if 0 <= x < 16:
        return chr(x + 48)
    out = ""
    while True:
        c = x & 0x1F
        x >>= 5
        if not (x != -1 if c & 0x10 else x != 0):
            return out + chr(c + 48)
        out += chr(c + 80)


def _box_row(v: int, height: int) -> int:
    """``rleFrPoly``'s row for a horizontal edge at upsampled ``v``: ceil of the edge's
    position, clamped to [0, height]."""
    yd = (v + .5) / 5.0 - .5
    return 0 if yd < 0 else (height if yd > height else math.ceil(yd))


def _box_counts(x: float, y: float, w: float, h: float, height: int, width: int) -> str | None:
    """The compressed RLE string pycocotools' ``rleFrPoly`` makes of the polygon (x, y),
    (x+w, y), (x+w, y+h), (x, y+h), without walking its boundary; None outside the domain
    where this is worked out (a negative corner or size, an empty or huge image or box, not a
    number).

    ``rleFrPoly`` scales the corners by 5 (rounding half up) and walks the edges; a column
    ``n`` of the image is in the mask when 5n + 2 lies in [x0, x1 - 1] (the scaled x range,
    n inside the image), from row ``_box_row(y0)`` to ``_box_row(y1)``. The counts then
    alternate: ``n0 * H + top`` zeros, then ``run`` ones and ``H - run`` zeros per column,
    then the zeros to the end; a zero count merges its neighbours (``run`` 0: one run of
    zeros; ``run`` H: the columns in one run). ``rleToString`` writes counts from the third on
    as the difference with the count two before, so the repeated columns write ``0``s.
    ``tests/test_fast_paths.py`` checks it against pycocotools on random boxes."""
    if not (isinstance(height, int) and isinstance(width, int) and 0 < height and 0 < width
            and height * width < 2 ** 31 and 0 <= x and 0 <= y and 0 <= w and 0 <= h
            and x + w <= 1e8 and y + h <= 1e8):
        return None
    x0, x1 = int(5.0 * x + .5), int(5.0 * (x + w) + .5)
    n0 = max(-((2 - x0) // 5), 0)  # ceil((x0 - 2) / 5)
    n1 = min((x1 - 3) // 5, width - 1)  # floor((x1 - 3) / 5)
    n = n1 - n0 + 1
    top, bottom = _box_row(int(5.0 * y + .5), height), _box_row(int(5.0 * (y + h) + .5), height)
    run = bottom - top
    if n <= 0 or run == 0:
        return _rle_number(height * width)
    first, last = n0 * height + top, height * width - (n1 * height + bottom)
    tail = last > 0
    if run == height:
        return _rle_number(first) + _rle_number(n * height) + (_rle_number(last) if tail else "")
    if n == 1:
        return _rle_number(first) + _rle_number(run) + (_rle_number(last) if tail else "")
    return (_rle_number(first) + _rle_number(run) + _rle_number(height - run) + "0" * (2 * n - 3)
            + (_rle_number(last - (height - run)) if tail else ""))


class FillMasks(Step):
    """The build's ``masks`` step: sets ``region.mask`` of the samples whose source gave
    none; the masks that come from annotations stay as they are.

    ``kind``: ``box`` (the box polygon, cheap, on any worker) or ``sam`` (SAM prompted by the
    box; ``model`` a Hub id, a local folder, a Meta checkpoint file or a loaded ``SamModel``;
    ``batch`` images per forward pass, the step's ``window``; ``device`` None: CUDA when
    present). A SAM step keeps its model on long-lived workers (``Resources.pool``) and asks
    one GPU each when it runs on CUDA; the model is loaded where the step runs, on first use,
    and never travels with the step."""

    name = "masks"

    def __init__(self, kind: str = "box", model: Any = None, batch: int = 8, device: str | None = None) -> None:
        if kind not in ("box", "sam"):
            raise ScarUserError(f"--masks must be 'box' or 'sam', got {kind!r}")
        if kind == "sam" and not model:
            raise ScarUserError("--masks sam needs --sam-model (a Hub id such as facebook/sam-vit-base, or a local "
                                "path)")
        if not (isinstance(batch, int) and batch >= 1):
            raise ScarUserError(f"--sam-batch must be an integer >= 1, got {batch!r}")
        self.kind, self.model, self.batch, self.device = kind, model, batch, device
        self.window = batch if kind == "sam" else 1
        self._masker: SamMasker | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_masker"] = None  # loaded again where the step runs
        return state

    @property
    def model_name(self) -> str | None:
        if self.model is None or isinstance(self.model, str):
            return self.model
        return getattr(getattr(self.model, "config", None), "_name_or_path", "") or type(self.model).__name__

    def on_cuda(self) -> bool:
        """Whether SAM runs on CUDA: the ``device`` given, else whether this machine has CUDA."""
        return self.kind == "sam" and runs_on_cuda(self.device)

    def resources(self) -> Resources:
        if self.kind == "box":
            return Resources()
        return Resources(pool=True, gpus=1.0 if self.on_cuda() else 0.0)

    def describe(self) -> dict[str, Any]:
        """The mask settings (recorded in the dataset card with the source's)."""
        what = f"SAM prompted by the box ({self.model_name})" if self.kind == "sam" else "box polygon"
        return {"masks": f"{what} where the source has no mask", "sam_model": self.model_name}

    def info(self) -> dict[str, Any] | None:
        if self.kind == "box":
            return None
        return {"model": self.model_name, "images_per_pass": self.batch,
                "device": "cuda" if self.on_cuda() else "cpu"}

    @property
    def loaded(self) -> bool:
        """Whether this process has loaded the SAM model (it never travels with the step)."""
        return self._masker is not None

    def masker(self) -> SamMasker:
        """The SAM masker of this process (loaded on first use)."""
        if self._masker is None:
            self._masker = SamMasker(self.model, self.device)
        return self._masker

    def run(self, samples: list[Sample]) -> list[Sample]:
        todo = [s for s in samples if s.region.mask is None]
        if not todo:
            return samples
        if self.kind == "box":
            for s in todo:
                s.region.mask = box_rle(s.region.bbox, s.height, s.width)
        else:
            images = [list(g) for _, g in itertools.groupby(todo, key=lambda s: s.image_id)]
            for i in range(0, len(images), self.batch):
                self.masker().fill(images[i : i + self.batch])
            self.stats.counters["sam_passes"] = self.stats.counters.get("sam_passes", 0) + \
                -(-len(images) // self.batch)
        key = f"{self.kind}_masks"
        self.stats.counters[key] = self.stats.counters.get(key, 0) + len(todo)
        return samples


def build_segment_anything(path: str):
    """A ``segment_anything`` Sam from a Meta-format checkpoint file, its architecture read
    from the tensors (patch-embedding width, block count, relative-position sizes)."""
    import importlib

    import torch

    build = importlib.import_module("segment_anything.build_sam")
    state = torch.load(path, map_location="cpu", weights_only=True)
    width = int(state["image_encoder.patch_embed.proj.weight"].shape[0])
    depth = len({k.split(".")[2] for k in state if k.startswith("image_encoder.blocks.")})
    head_dim = int(state["image_encoder.blocks.0.attn.rel_pos_h"].shape[1])
    full = 2 * (1024 // 16) - 1  # rel-pos rows of a global block (image 1024, patch 16)
    global_blocks = [i for i in range(depth) if state[f"image_encoder.blocks.{i}.attn.rel_pos_h"].shape[0] == full]
    sam = build._build_sam(encoder_embed_dim=width, encoder_depth=depth, encoder_num_heads=width // head_dim,
                           encoder_global_attn_indexes=global_blocks)
    sam.load_state_dict(state)
    return sam.eval()


def is_meta_checkpoint(model: Any) -> bool:
    from pathlib import Path

    return isinstance(model, str) and Path(model).is_file()


class SegmentAnythingMasker:
    """The ``masks`` of ``SamMasker`` with the ``segment-anything`` package (a Meta-format file)."""

    def __init__(self, path: str, device: str | None = None) -> None:
        import torch
        from segment_anything import SamPredictor

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = build_segment_anything(path).to(self.device)
        self.predictor = SamPredictor(self.model)
        self.name = path

    def masks(self, images: list[Image.Image], boxes: list[list[tuple[float, float, float, float]]]) -> list[list[np.ndarray]]:
        out = []
        for im, bs in zip(images, boxes):
            self.predictor.set_image(np.asarray(im.convert("RGB")))
            got = []
            for x, y, w, h in bs:
                m, _, _ = self.predictor.predict(box=np.array([x, y, x + w, y + h], dtype=np.float32),
                                                 multimask_output=False)
                got.append(np.asarray(m[0], bool))
            out.append(got)
        return out


class SamMasker:
    """Fills ``region.mask`` of samples that have none, with SAM prompted by the box
    (``transformers.SamModel`` for a Hub id or folder, ``segment-anything`` for a checkpoint file)."""

    def __init__(self, model: Any, device: str | None = None) -> None:
        import torch

        self._sa = None
        if is_meta_checkpoint(model):
            self._sa = SegmentAnythingMasker(model, device)
            self.device, self.model, self.name = self._sa.device, self._sa.model, model
            return

        if isinstance(model, str):
            from transformers import SamModel

            try:
                model = SamModel.from_pretrained(model)
            except OSError as e:
                raise MissingExtra(f"--sam-model {model!r}: cannot load SAM weights ({e}); give a local folder "
                                   "or a Hub id reachable from this machine, e.g. facebook/sam-vit-base") from e
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device).eval()
        size = model.config.vision_config.image_size
        self.size = int(size[0] if isinstance(size, (list, tuple)) else size)
        self.name = getattr(model.config, "_name_or_path", "") or "sam"

    def prepare(self, image: Image.Image) -> tuple[np.ndarray, float, tuple[int, int]]:
        """(CHW float32 padded input, scale, (resized h, resized w))."""
        w, h = image.size
        scale = self.size / max(w, h)
        rw, rh = max(1, int(w * scale + 0.5)), max(1, int(h * scale + 0.5))
        arr = np.asarray(image.convert("RGB").resize((rw, rh), Image.BILINEAR), dtype=np.float32) / 255.0
        arr = (arr - MEAN) / STD
        out = np.zeros((self.size, self.size, 3), dtype=np.float32)
        out[:rh, :rw] = arr
        return out.transpose(2, 0, 1), scale, (rh, rw)

    def masks(self, images: list[Image.Image], boxes: list[list[tuple[float, float, float, float]]]) -> list[list[np.ndarray]]:
        """Binary HxW masks, one per COCO ``[x, y, w, h]`` box of each image."""
        if self._sa is not None:
            return self._sa.masks(images, boxes)
        import torch
        import torch.nn.functional as F

        if not images:
            return []
        prep = [self.prepare(im) for im in images]
        n = max(len(b) for b in boxes)
        prompts = np.zeros((len(images), n, 4), dtype=np.float32)
        for i, (bs, (_, scale, _)) in enumerate(zip(boxes, prep)):
            for j in range(n):
                x, y, w, h = bs[min(j, len(bs) - 1)]  # pad with the last box; extra outputs are dropped
                prompts[i, j] = np.array([x, y, x + w, y + h]) * scale
        dtype = next(self.model.parameters()).dtype  # a half-precision model gets half inputs
        px = torch.from_numpy(np.stack([p[0] for p in prep])).to(self.device, dtype=dtype)
        with torch.inference_mode():
            out = self.model(pixel_values=px, input_boxes=torch.from_numpy(prompts).to(self.device, dtype=dtype),
                             multimask_output=False)
        logits = out.pred_masks[:, :, 0].float()  # (B, n, h', w')
        result = []
        for i, (im, (_, _, (rh, rw))) in enumerate(zip(images, prep)):
            up = F.interpolate(logits[i : i + 1], size=(self.size, self.size), mode="bilinear", align_corners=False)
            up = up[..., :rh, :rw]
            full = F.interpolate(up, size=(im.size[1], im.size[0]), mode="bilinear", align_corners=False)[0]
            result.append([(full[j] > 0).cpu().numpy() for j in range(len(boxes[i]))])
        return result

    def fill(self, groups: list[list[Sample]]) -> None:
        """Set the missing masks of these groups (one image per group) in one pass."""
        todo = [(g, [s for s in g if s.region.mask is None]) for g in groups]
        todo = [(g, ss) for g, ss in todo if ss]
        if not todo:
            return
        images = []
        for g, _ in todo:
            path = g[0].context.path if g[0].context else None
            with Image.open(path) as im:
                images.append(im.convert("RGB"))
        masks = self.masks(images, [[s.region.bbox for s in ss] for _, ss in todo])
        for (_, ss), ms in zip(todo, masks):
            for s, m in zip(ss, ms):
                s.region.mask = encode_mask(m)
                if s.context:
                    try:
                        s.context.entity(s.region.entity_id).segmentation = s.region.mask
                    except KeyError:
                        pass
