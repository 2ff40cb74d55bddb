"""The bundled sample: real photographs shipped inside scikit-image and scikit-learn,
hand-annotated in COCO format (``scar/data/sample/annotations/instances_val.json``).

The photographs are not copied into this package; ``materialize`` writes them from
the installed packages into a COCO-style folder that the ``coco`` source reads
(``--source coco --name Sample``).
"""

from __future__ import annotations

import json
import logging
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from scar.errors import MissingExtra

log = logging.getLogger(__name__)

SAMPLE_NAME = "Sample"
SPLIT = "val"


def annotations_path() -> Path:
    return Path(str(resources.files("scar.data").joinpath("sample/annotations/instances_val.json")))


def _load(loader: str) -> np.ndarray:
    pkg, _, name = loader.partition(":")
    try:
        if pkg == "skimage":
            import skimage.data

            arr = getattr(skimage.data, name)()
            if isinstance(arr, tuple):  # stereo pairs: the left view
                arr = arr[0]
        elif pkg == "sklearn":
            from sklearn.datasets import load_sample_image

            arr = load_sample_image(name)
        else:
            raise ValueError(f"unknown image loader {loader!r}")
    except ImportError as e:
        raise MissingExtra("the bundled sample needs scikit-image and scikit-learn: "
                           "pip install 'scar[samples]'") from e
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    return np.ascontiguousarray(arr[..., :3]).astype(np.uint8)


def materialize(dest: str | Path) -> Path:
    """Write the sample as a COCO folder (``annotations/instances_val.json`` and
    ``images/val/*.png``) under ``dest``; return ``dest``. Idempotent."""
    dest = Path(dest)
    ann = json.loads(annotations_path().read_text(encoding="utf-8"))
    (dest / "annotations").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(annotations_path(), dest / "annotations" / "instances_val.json")
    img_dir = dest / "images" / SPLIT
    img_dir.mkdir(parents=True, exist_ok=True)
    for im in ann["images"]:
        path = img_dir / im["file_name"]
        if path.exists():
            continue
        arr = _load(im["loader"])
        if (arr.shape[1], arr.shape[0]) != (im["width"], im["height"]):
            raise RuntimeError(f"{im['loader']} is {arr.shape[1]}x{arr.shape[0]}, the sample annotation says "
                               f"{im['width']}x{im['height']}: the installed package ships another image")
        Image.fromarray(arr).save(path, format="PNG")
    log.info("bundled sample written to %s (%d images)", dest, len(ann["images"]))
    return dest
