"""The dataset card (``README.md`` of an output folder), filled in by the stages.

The card's state lives in ``OUT/card.json``: one entry per written file with its
sections (``statistics``, ``generation``, ``filters``, ``audit``). Every build updates
its own entry and re-renders ``README.md`` from all entries, so several builds (other
sources, the other split) into one folder give one card. The YAML header has one
``configs`` entry per file (``datasets.load_dataset(OUT, name)`` loads it) and the
``dataset_info`` features of each config, derived from ``scar.schema``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

SECTIONS = ("statistics", "generation", "filters", "audit")
LICENSE = "cc-by-nc-4.0"

#: Where each source's images come from, their terms, and the folder they go in.
SOURCE_NOTES = {
    "refcoco+": ("RefCOCO+ (UNC) referring expressions over COCO train2014 images",
                 "annotations: Apache-2.0 (refer toolkit); images: COCO terms (Flickr, CC BY 4.0 annotations)",
                 "COCO train2014 images from cocodataset.org; refs(unc).p from the refer toolkit"),
    "refcocog": ("RefCOCOg (UMD) referring expressions over COCO train2014 images",
                 "annotations: Apache-2.0 (refer toolkit); images: COCO terms",
                 "COCO train2014 images from cocodataset.org; refs(umd).p from the refer toolkit"),
    "coco-stuff": ("COCO-Stuff over COCO 2017", "annotations: COCO-Stuff terms (CC BY 4.0 for COCO "
                   "annotations); images: Flickr terms", "COCO 2017 images and stuff/instances JSON from "
                   "cocodataset.org and the COCO-Stuff project"),
    "visualgenome": ("Visual Genome 1.2", "CC BY 4.0", "images and JSON from the Visual Genome website"),
    "ade20k": ("ADE20K SceneParsing (ADEChallengeData2016)", "BSD-3-Clause (annotations); images: "
               "ADE20K terms of use", "ADEChallengeData2016.zip from the MIT Scene Parsing benchmark"),
}


def _features_yaml(kind: str) -> list[dict[str, Any]]:
    import datasets

    from scar.schema import EVAL_SCHEMA, TRAIN_RELEASED

    schema = EVAL_SCHEMA if kind == "eval" else TRAIN_RELEASED
    return datasets.Features.from_arrow_schema(schema)._to_yaml_list()


class DatasetCard:
    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.state_path = self.out / "card.json"
        self.files: dict[str, dict[str, Any]] = {}
        if self.state_path.exists():
            self.files = json.loads(self.state_path.read_text(encoding="utf-8"))["files"]

    def set_file(self, file_name: str, *, config: str, split: str, **sections: Any) -> None:
        unknown = set(sections) - set(SECTIONS)
        if unknown:
            raise ValueError(f"unknown card section(s) {sorted(unknown)}; known: {SECTIONS}")
        entry = self.files.setdefault(file_name, {"config": config, "split": split})
        entry.update(config=config, split=split)
        for k, v in sections.items():
            entry[k] = v

    def section(self, file_name: str, name: str, value: Any) -> None:
        if name not in SECTIONS:
            raise ValueError(f"unknown card section {name!r}; known: {SECTIONS}")
        if file_name not in self.files:
            raise KeyError(f"the card has no file {file_name!r}; it has {sorted(self.files)}")
        self.files[file_name][name] = value

    def save(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps({"files": self.files}, indent=2, sort_keys=True) + "\n")
        path = self.out / "README.md"
        path.write_text(self.render(), encoding="utf-8")
        return path

    def render(self) -> str:
        files = sorted(self.files.items())
        configs, infos = [], []
        for name, e in files:
            kind = "eval" if name.startswith("SCaR_eval_") else "train"
            hf_split = "test" if kind == "eval" else "train"
            configs.append({"config_name": e["config"], "data_files": [{"split": hf_split, "path": name}]})
            rows = e.get("statistics", {}).get("rows")
            infos.append({"config_name": e["config"], "features": _features_yaml(kind),
                          "splits": [{"name": hf_split, **({"num_examples": rows} if rows is not None else {})}]})
        header = yaml.safe_dump({"license": LICENSE, "language": ["en"], "task_categories": ["image-text-retrieval"],
                                 "pretty_name": "SCaR (rebuilt with scar)", "configs": configs,
                                 "dataset_info": infos}, sort_keys=False)
        lines = ["---", header.rstrip(), "---", "", "# SCaR (built with the scar toolkit)", "",
                 "Segmentation-and-Scene Caption Retrieval (VIRTUE, ICLR 2026): each row is an image, a region (box, "
                 "mask) and 10 candidate captions `<object> <relation> <scene>`; the ground truth is `tgt_text[0]` "
                 "(eval) or `pos_text` (train). Eval files keep the released columns first (`qry_text`, "
                 "`qry_image_path`, `tgt_text`, `bbox`); train files carry exactly the released train columns "
                 "(the official training loader casts to a fixed feature set) and their extra columns live in "
                 "`extra/SCAR_<Source>.parquet`, row for row.", "",
                 "## Statistics", "", "| file | config | split | rows | images | rejected |", "|---|---|---|---|---|---|"]
        for name, e in files:
            st = e.get("statistics", {})
            lines.append(f"| {name} | {e['config']} | {e['split']} | {st.get('rows', '')} | {st.get('images', '')} | "
                         f"{st.get('rejected', '')} |")
        sources = sorted({e.get("generation", {}).get("source") for _, e in files} - {None})
        lines += ["", "## Sources, licences and images", "",
                  "Images are not part of this dataset. Download each source's images from its own site and lay "
                  "them out under an image root as `<source>_<split>/<file>` (e.g. `coco_stuff_val/000000000139.jpg`"
                  "); `scar build --link-images` creates that layout with links to your copies.", ""]
        for s in sources:
            what, terms, where = SOURCE_NOTES.get(s, (f"`{s}` (COCO-format annotations supplied by the builder)",
                                                      "the terms of the supplied data", "the builder's own files"))
            lines.append(f"- **{s}**: {what}. Terms: {terms}. Get: {where}.")
        for name, e in files:
            for sec in ("generation", "filters", "audit"):
                if sec in e:
                    lines += ["", f"## {sec.capitalize()}: {name}", "", "```json",
                              json.dumps(e[sec], indent=2, sort_keys=True), "```"]
        lines += ["", "## Licence", "",
                  f"{LICENSE}, as the released SCaR, and within the terms of every source dataset listed above.", ""]
        return "\n".join(lines)


def record_audit(folder: str | Path, report: dict[str, Any]) -> bool:
    """Copy an audit report (``scar.eval.audit.audit_folder``) into the card's ``audit``
    section of each file it covers. False (and nothing written) for a folder without our
    card, e.g. released files."""
    card = DatasetCard(folder)
    if not card.files:
        return False
    for name, entry in report["files"].items():
        if name in card.files:
            card.section(name, "audit", {"chance": entry["chance"], "blind": entry["blind"],
                                         "swap_types": entry.get("swap_types"), "provenance": entry.get("provenance"),
                                         "drops": entry["drops"], "image_overlap": entry["image_overlap"],
                                         "quality": entry.get("quality")})
    card.save()
    return True
