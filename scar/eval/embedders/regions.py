"""Region prompts drawn into the image, for embedders that cannot take a box natively
(pure PIL/numpy; boxes are COCO ``(x, y, w, h)`` in pixels of the image).

- ``crop``: the box's pixels only;
- ``red_circle``: a red ellipse around the box on the full image (Shtedritski et al., 2023);
- ``blur_outside``: the full image blurred except inside the box (ReCLIP's second view);
- ``masked_crop``: the box's pixels with everything outside a segmentation mask greyed.
"""

from __future__ import annotations

import numpy as np

RED = (255, 0, 0)
GREY = (124, 116, 104)  # about the ImageNet mean colour


def corners(bbox, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer corners of the box clipped to the image, at least one pixel wide and high."""
    x, y, w, h = (float(v) for v in bbox)
    x0 = min(max(0, int(np.floor(x))), width - 1)
    y0 = min(max(0, int(np.floor(y))), height - 1)
    x1 = max(x0 + 1, min(width, int(np.ceil(x + w))))
    y1 = max(y0 + 1, min(height, int(np.ceil(y + h))))
    return x0, y0, x1, y1


def crop(image, bbox):
    return image.crop(corners(bbox, *image.size))


def red_circle(image, bbox, *, width: int | None = None):
    from PIL import ImageDraw

    out = image.copy()
    x0, y0, x1, y1 = corners(bbox, *image.size)
    lw = width or max(2, round(0.01 * max(image.size)))
    ImageDraw.Draw(out).ellipse((x0, y0, x1 - 1, y1 - 1), outline=RED, width=lw)
    return out


def blur_outside(image, bbox, *, radius: float | None = None):
    from PIL import ImageFilter

    box = corners(bbox, *image.size)
    out = image.filter(ImageFilter.GaussianBlur(radius or max(2.0, 0.02 * max(image.size))))
    out.paste(image.crop(box), box[:2])
    return out


def masked_crop(image, mask: np.ndarray, bbox, *, fill=GREY):
    """Crop to the box; pixels outside ``mask`` (bool, image-sized) become ``fill``.
    An empty mask inside the box keeps the plain crop (the box is all we know)."""
    from PIL import Image

    x0, y0, x1, y1 = corners(bbox, *image.size)
    arr = np.asarray(image.convert("RGB"))[y0:y1, x0:x1].copy()
    m = np.asarray(mask, bool)[y0:y1, x0:x1]
    if m.any():
        arr[~m] = fill
    return Image.fromarray(arr)
