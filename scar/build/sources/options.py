"""Command-line options of the sources, shared by ``scar build`` and ``scar sources``.

Each option maps to a keyword argument of the source's constructor; an option a
source does not take is refused by the source with an error naming it. Options left
unset keep the source's default (see ``scar.build.base.Source``).
"""

from __future__ import annotations

import argparse
from typing import Any

#: argparse dest -> source keyword argument
#: (``--masks``, ``--sam-model`` and ``--sam-batch`` are the build's ``masks`` step's: reading ignores them)
OPTIONS = {"images": "images", "annotations": "annotations", "exclude_coco": "exclude_coco", "val_percent": "val_percent",
           "max_per_image": "max_per_image", "min_area": "min_area", "check_images": "check_images",
           "stuff": "stuff"}


def add_source_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("source options (each dataset takes the ones that apply to it)")
    g.add_argument("--images", metavar="DIR", help="image folder kept outside --root (all sources)")
    g.add_argument("--annotations", metavar="FILE", help="--source coco: the COCO-format annotation file")
    g.add_argument("--stuff", metavar="FILE", action="append",
                   help="--source coco, refcoco+, refcocog, visualgenome (images with a coco_id): a COCO-Stuff "
                        "stuff JSON (stuff_train2017.json, stuff_val2017.json; repeat for both) for the same COCO "
                        "images: its classes ground the scenes")
    g.add_argument("--masks", choices=["box", "sam"],
                   help="segmentation where the source has none (VisualGenome): box polygon (default) or SAM "
                        "prompted by the box")
    g.add_argument("--sam-model", metavar="ID|DIR|FILE",
                   help="with --masks sam: a Hub id (e.g. facebook/sam-vit-base) or a local folder (transformers), "
                        "or a checkpoint file in Meta's format such as sam_vit_b_01ec64.pth (segment-anything); "
                        "runs on GPU when present")
    g.add_argument("--sam-batch", type=int, metavar="N", help="with --masks sam: images per forward pass (default 8)")
    g.add_argument("--exclude-coco", action="store_const", const=True,
                   help="--source visualgenome: leave out images that are also COCO images (coco_id set)")
    g.add_argument("--val-percent", type=float, metavar="P",
                   help="--source visualgenome: share of images in the val split by the hash rule (default 5)")
    g.add_argument("--max-per-image", type=int, metavar="N",
                   help="samples per image at most (default 5); with the lexical generator as many stand-ins, "
                        "next in the same ranking, take the place of entities the caption steps leave out")
    g.add_argument("--min-area", type=float, metavar="F",
                   help="drop boxes covering less than this fraction of the image (default 0.005)")
    g.add_argument("--no-check-images", dest="check_images", action="store_const", const=False,
                   help="only check that image files exist (default: open and verify each, check its size)")


def source_options(args: argparse.Namespace) -> dict[str, Any]:
    """The source keyword arguments set on the command line."""
    return {kw: getattr(args, dest) for dest, kw in OPTIONS.items() if getattr(args, dest, None) is not None}
