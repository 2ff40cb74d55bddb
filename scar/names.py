"""One table of source names, used by every stage (docs/benchmark.md, "One name per source").

A source has one ``--source`` key, one file stem (``SCaR_eval_<stem>.parquet`` and
``SCAR_<stem>.parquet``), one image-folder prefix (``<prefix>_<split>/``), one task
name (``SCaR_<stem>``) and one leaderboard column. Nothing else in the package
spells these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scar.errors import ScarUserError, UnknownName

SPLITS = ("train", "val")


@dataclass(frozen=True)
class SourceName:
    key: str  # the --source value, also the `source` column
    stem: str  # file stem
    prefix: str  # image folder prefix
    column: str  # leaderboard column

    @property
    def task(self) -> str:
        return f"SCaR_{self.stem}"

    def eval_file(self) -> str:
        return f"SCaR_eval_{self.stem}.parquet"

    def train_file(self) -> str:
        return f"SCAR_{self.stem}.parquet"

    def image_dir(self, split: str) -> str:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return f"{self.prefix}_{split}"


SOURCES: dict[str, SourceName] = {
    s.key: s
    for s in (
        SourceName("refcoco+", "RefCOCO_plus", "refcoco_plus", "RefCOCO+"),
        SourceName("refcocog", "RefCOCOg", "refcocog", "RefCOCOg"),
        SourceName("visualgenome", "VisualGenome", "visualgenome", "VisualGenome"),
        SourceName("coco-stuff", "COCO_Stuff", "coco_stuff", "COCO-Stuff"),
        SourceName("ade20k", "ADE20K", "ade20k", "ADE20K"),
    )
}

#: The five official sources in the order of the paper's tables.
OFFICIAL = tuple(SOURCES)

_STEM_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def source_name(key: str, name: str | None = None) -> SourceName:
    """Return the naming record of a source key.

    ``coco`` (plain COCO-format annotations) takes its stem from ``name``
    (default ``COCO``); the bundled sample is ``coco`` with stem ``Sample``.
    """
    if key in SOURCES:
        if name and name != SOURCES[key].stem:
            raise ScarUserError(f"--name cannot rename the official source {key!r} (stem {SOURCES[key].stem})")
        return SOURCES[key]
    if key == "coco":
        stem = name or "COCO"
        if not _STEM_RE.match(stem):
            raise ScarUserError(f"--name {stem!r}: use letters, digits and underscores, starting with a letter")
        return SourceName("coco", stem, stem.lower(), stem)
    from scar.registry import suggest

    raise UnknownName(f"unknown source {key!r}{suggest(key, [*SOURCES, 'coco'])}")


def by_stem(stem: str) -> SourceName | None:
    for s in SOURCES.values():
        if s.stem == stem:
            return s
    return None


def by_task(task: str) -> SourceName | None:
    """The source of a SCaR task name, or None for a non-official stem."""
    if not task.startswith("SCaR_"):
        return None
    return by_stem(task[len("SCaR_"):])
