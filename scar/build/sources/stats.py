"""``scar sources stats`` and ``scar sources overlap``: what a source yields, and leakage.

- :func:`source_stats` reads one source and split through the real reader (all the
  common rules, no caption steps) and counts images, samples, annotated entities and
  every drop reason; :func:`render_stats` prints them in the layout of the paper's
  statistics table (docs/benchmark.md, "Sources and sizes") followed by the drop reasons.
- :func:`overlap` lists the images each source and split uses, with their COCO id
  where there is one (COCO-Stuff and RefCOCO image ids are COCO ids; VisualGenome has
  ``coco_id``; ADE20K has none), and reports the images shared between them: e.g.
  RefCOCO+ val images inside COCO-Stuff train, VisualGenome images that are COCO
  images. A user who wants an eval set with no image seen in training excludes them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from scar.names import OFFICIAL, SOURCES, SPLITS
from scar.build.sources import get_source

log = logging.getLogger(__name__)


@dataclass
class SplitStats:
    source: str
    split: str
    images: int = 0  # images with at least one sample
    samples: int = 0
    entities: int = 0  # annotated entities of those images (context included)
    rejected: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def source_stats(source: str, root: str | Path, split: str, *, progress: bool = True,
                 **options: Any) -> SplitStats:
    """Read ``source``/``split`` under ``root`` and count what it yields and drops."""
    opts = {k: v for k, v in options.items() if v is not None}
    src = get_source(source)(str(root), split, **opts)
    st = SplitStats(source, split)
    t0 = time.perf_counter()
    for group in tqdm(src.groups(), desc=f"{source}/{split}", unit="img", disable=not progress):
        st.images += 1
        st.samples += len(group)
        st.entities += len(group[0].context.entities) if group[0].context else 0
    books, _ = src.drain()
    st.rejected = dict(sorted(books.rejected.items()))
    st.seconds = round(time.perf_counter() - t0, 3)
    return st


def data_root_sources(data_root: str | Path) -> dict[str, Path]:
    """The official sources present under a ``--data-root``: folder = file stem in lower case."""
    root = Path(data_root)
    if not root.is_dir():
        raise FileNotFoundError(f"--data-root {root} is not a folder")
    found = {k: root / SOURCES[k].stem.lower() for k in OFFICIAL if (root / SOURCES[k].stem.lower()).is_dir()}
    if not found:
        want = ", ".join(f"{SOURCES[k].stem.lower()}/" for k in OFFICIAL)
        raise FileNotFoundError(f"--data-root {root} has none of the source folders {want}")
    return found


def _fmt(n: int | None) -> str:
    return "—" if n is None else f"{n:,}"


def render_stats(stats: list[SplitStats]) -> str:
    """Markdown: the paper's table (images and samples per split, a total row), then
    the entities read and the drop reasons of each source and split."""
    by = {(s.source, s.split): s for s in stats}
    keys = list(dict.fromkeys(s.source for s in stats))
    lines = ["| Source | Train images | Train samples | Eval images | Eval samples |", "|---|---:|---:|---:|---:|"]
    tot = {sp: [0, 0, False] for sp in SPLITS}
    for k in keys:
        cells = []
        for sp in ("train", "val"):
            s = by.get((k, sp))
            cells += [_fmt(s.images if s else None), _fmt(s.samples if s else None)]
            if s:
                tot[sp][0] += s.images
                tot[sp][1] += s.samples
                tot[sp][2] = True
        col = SOURCES[k].column if k in SOURCES else k
        lines.append(f"| {col} | " + " | ".join(cells) + " |")
    if len(keys) > 1:
        cells = [_fmt(tot[sp][i] if tot[sp][2] else None) for sp in ("train", "val") for i in (0, 1)]
        lines.append("| Total | " + " | ".join(cells) + " |")
    lines += ["", "| Source | Split | Entities read | Dropped | Reason | Count |", "|---|---|---:|---:|---|---:|"]
    for s in stats:
        reasons = sorted(s.rejected.items(), key=lambda t: (-t[1], t[0])) or [("—", 0)]
        for i, (reason, n) in enumerate(reasons):
            head = [s.source, s.split, _fmt(s.entities), _fmt(sum(s.rejected.values()))] if i == 0 else ["", "", "", ""]
            lines.append("| " + " | ".join(head + [reason, _fmt(n)]) + " |")
    return "\n".join(lines)


# -- overlap -------------------------------------------------------------------------
def image_keys(source: str, root: str | Path, split: str, **options: Any) -> tuple[set[str], set[int]]:
    """(the source's own image ids, the COCO ids among them) of one split, from the
    annotations alone (image files are not opened)."""
    src = get_source(source)(str(root), split, **{k: v for k, v in options.items() if v is not None})
    own, coco = set(), set()
    for image_id, coco_id in src.image_index():
        own.add(str(image_id))
        if coco_id is not None:
            coco.add(int(coco_id))
    return own, coco


@dataclass
class Overlap:
    a: tuple[str, str]
    b: tuple[str, str]
    shared: list[int]  # COCO ids (or, within one source, its own ids as text)
    leak: bool  # a train/val pair: an image seen in training is in an eval split

    def to_json(self) -> dict[str, Any]:
        return {"a": list(self.a), "b": list(self.b), "shared": self.shared, "n": len(self.shared), "leak": self.leak}


def overlap(data_root: str | Path, *, splits: tuple[str, ...] = SPLITS,
            progress: bool = True) -> tuple[dict[tuple[str, str], tuple[int, int]], list[Overlap]]:
    """Images shared between every pair of (source, split) under ``data_root``.
    Returns the (images, COCO images) count of each and the non-empty overlaps."""
    keys: dict[tuple[str, str], tuple[set[str], set[int]]] = {}
    todo = [(k, r, sp) for k, r in data_root_sources(data_root).items() for sp in splits]
    for k, r, sp in tqdm(todo, desc="index", unit="split", disable=not progress):
        try:
            keys[(k, sp)] = image_keys(k, r, sp)
        except FileNotFoundError as e:
            log.warning("%s/%s skipped: %s", k, sp, e)
    found = []
    for a, b in combinations(sorted(keys), 2):
        if a[0] == b[0]:
            shared = sorted(keys[a][0] & keys[b][0])
        else:
            shared = sorted(keys[a][1] & keys[b][1])
        if shared:
            found.append(Overlap(a, b, shared, leak=a[1] != b[1]))
    counts = {k: (len(v[0]), len(v[1])) for k, v in keys.items()}
    return counts, found


def render_overlap(counts: dict[tuple[str, str], tuple[int, int]], found: list[Overlap], *, show: int = 5) -> str:
    lines = ["| Source | Split | Images | COCO images |", "|---|---|---:|---:|"]
    for (k, sp), (n, c) in sorted(counts.items()):
        lines.append(f"| {k} | {sp} | {n:,} | {c:,} |")
    lines += ["", "| A | B | Shared images | Train/val leak | Examples |", "|---|---|---:|---|---|"]
    for o in sorted(found, key=lambda o: (not o.leak, o.a, o.b)):
        ex = ", ".join(str(x) for x in o.shared[:show]) + (" …" if len(o.shared) > show else "")
        lines.append(f"| {o.a[0]} {o.a[1]} | {o.b[0]} {o.b[1]} | {len(o.shared):,} | {'yes' if o.leak else 'no'} "
                     f"| {ex} |")
    if not found:
        lines.append("| — | — | 0 | no | |")
    return "\n".join(lines)
