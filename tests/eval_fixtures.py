"""Tiny evaluation data in the real formats, for the harness tests: SCaR eval Parquet
(released columns, optional neg_types) and a local MMEB-eval copy (one folder per task
with its test Parquet, images under images/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from scar.schema import EVAL_RELEASED, QRY_TEXT

WORDS = ["cup", "dog", "car", "tree", "man", "lamp", "box", "bench", "cat", "sky"]
TYPES = ["object"] * 3 + ["relation"] * 3 + ["scene"] * 3


def write_images(folder: Path, names: list[str], seed: int = 0, size=(24, 32)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / name)


def scar_eval(folder: Path, stem: str = "Synth", n: int = 300, *, images: int = 7, neg_types: bool = False,
              seed: int = 0, rows: list[dict] | None = None) -> Path:
    """``folder/SCaR_eval_<stem>.parquet`` with n queries of 10 distinct candidates and
    ``folder/images/x_val/<k>.png``."""
    rng = np.random.default_rng(seed)
    write_images(folder / "images", [f"x_val/{k}.png" for k in range(images)], seed)
    out = []
    for i in range(n):
        row = {"qry_text": QRY_TEXT, "qry_image_path": f"x_val/{i % images}.png",
               "tgt_text": [f"{i} {rng.choice(WORDS)} {j}" for j in range(10)],
               "bbox": [float(i % 20), 2.0 + i // 20, 10.0, 12.5]}
        if neg_types:
            row["neg_types"] = TYPES
        out.append(row)
    out += rows or []
    schema = EVAL_RELEASED.append(pa.field("neg_types", pa.list_(pa.string()))) if neg_types else EVAL_RELEASED
    path = folder / f"SCaR_eval_{stem}.parquet"
    pq.write_table(pa.Table.from_pylist(out, schema=schema), path)
    return path


MMEB_SCHEMA = pa.schema([("qry_text", pa.string()), ("qry_img_path", pa.string()),
                         ("tgt_text", pa.list_(pa.string())), ("tgt_img_path", pa.list_(pa.string()))])


def mmeb_copy(root: Path, n: int = 200, seed: int = 0, extra_rows: dict[str, list[dict]] | None = None) -> Path:
    """A local MMEB-eval copy with three tasks of the three shapes MMEB has:
    ``ImageNet-1K`` (image query, one shared pool of 10 text labels), ``MSCOCO_t2i``
    (text query, 10 image candidates each) and ``VisDial`` (text query and image
    candidates, no image token in the query)."""
    rng = np.random.default_rng(seed)
    labels = [f"a photo of a {w}" for w in WORDS]
    rows = {"ImageNet-1K": [], "MSCOCO_t2i": [], "VisDial": []}
    write_images(root / "images", [f"ImageNet-1K/{i}.png" for i in range(n)], seed)
    pool = [f"MSCOCO_t2i/{k}.jpg" for k in range(60)]
    write_images(root / "images", pool, seed + 1)
    for i in range(n):
        order = [i % 10] + [j for j in rng.permutation(10).tolist() if j != i % 10]
        rows["ImageNet-1K"].append({"qry_text": "<|image_1|> Represent the given image for classification\n",
                                    "qry_img_path": f"ImageNet-1K/{i}.png",
                                    "tgt_text": [labels[j] for j in order], "tgt_img_path": [""] * 10})
        imgs = [pool[k] for k in rng.choice(len(pool), 10, replace=False)]
        rows["MSCOCO_t2i"].append({"qry_text": f"Find me an everyday image that matches the given caption: {i} "
                                                f"{rng.choice(WORDS)}", "qry_img_path": "",
                                   "tgt_text": ["<|image_1|> Represent the given image."] * 10,
                                   "tgt_img_path": imgs})
        rows["VisDial"].append({"qry_text": f"Represent the given dialogue about an image: Q: is it {i}? A: yes",
                                "qry_img_path": "", "tgt_text": ["<|image_1|> Represent the given image."] * 10,
                                "tgt_img_path": [pool[(i + k) % len(pool)] for k in range(10)]})
    for task, extra in (extra_rows or {}).items():
        rows[task] += extra
    for task, rs in rows.items():
        (root / task).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rs, schema=MMEB_SCHEMA), root / task / "test-00000-of-00001.parquet")
    return root
