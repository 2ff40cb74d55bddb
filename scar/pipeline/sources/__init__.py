"""Sources, one file per dataset, looked up by ``--source`` name."""

from __future__ import annotations

from scar.registry import Registry

SOURCES = Registry("source")
SOURCES.register("coco", "scar.pipeline.sources.coco:CocoSource",
                 help="plain COCO-format annotations (instances.json-style)")


def get_source(name: str):
    return SOURCES.get(name)
