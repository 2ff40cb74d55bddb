"""Sources, one file per dataset, looked up by ``--source`` name (``scar/names.py``).

Each reads its dataset's official format under ``--root`` (see the module of each
and the README's "Datasets" section) and applies the common rules of
``scar.build.base.Source``.
"""

from __future__ import annotations

from scar.registry import Registry

SOURCES = Registry("source")
SOURCES.register("refcoco+", "scar.build.sources.refcoco:RefCocoPlusSource",
                 help="RefCOCO+ (UNC): refcoco+/refs(unc).p + instances.json + COCO train2014 images")
SOURCES.register("refcocog", "scar.build.sources.refcoco:RefCocogSource",
                 help="RefCOCOg (UMD): refcocog/refs(umd).p + instances.json + COCO train2014 images")
SOURCES.register("coco-stuff", "scar.build.sources.coco_stuff:CocoStuffSource",
                 help="COCO-Stuff 2017: instances_/stuff_<split>2017.json + images/<split>2017")
SOURCES.register("visualgenome", "scar.build.sources.visualgenome:VisualGenomeSource",
                 help="Visual Genome: image_data/objects/relationships/region_descriptions.json + images")
SOURCES.register("ade20k", "scar.build.sources.ade20k:Ade20kSource",
                 help="ADE20K SceneParsing (ADEChallengeData2016): annotation PNGs, objectInfo150.csv, scenes")
SOURCES.register("coco", "scar.build.sources.coco:CocoSource",
                 help="plain COCO-format annotations (instances.json-style)")


def get_source(name: str):
    return SOURCES.get(name)
