"""The dataset card (``README.md`` of an output folder), filled in by the stages.

The card's state lives in ``OUT/card.json``: one entry per written file with its
sections (``statistics``, ``generation``, ``filters``, ``audit``). Every build
updates its own entry and re-renders ``README.md`` from all entries, so several
builds (other sources, the other split) into one folder give one card.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

SECTIONS = ("statistics", "generation", "filters", "audit")
LICENSE = "cc-by-nc-4.0"


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
        self.files[file_name][name] = value

    def save(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps({"files": self.files}, indent=2, sort_keys=True) + "\n")
        path = self.out / "README.md"
        path.write_text(self.render(), encoding="utf-8")
        return path

    def render(self) -> str:
        configs = [
            {"config_name": e["config"], "data_files": [{"split": "test" if e["split"] == "val" else "train",
                                                          "path": name}]}
            for name, e in sorted(self.files.items())
        ]
        header = yaml.safe_dump({"license": LICENSE, "configs": configs, "task_categories": ["image-text-retrieval"]},
                                sort_keys=False)
        lines = ["---", header.rstrip(), "---", "", "# SCaR (built with the scar toolkit)", "",
                 "Segmentation-and-Scene Caption Retrieval: each row is an image, a region (box, mask) and 10 "
                 "candidate captions `<object> <relation> <scene>`; the ground truth is `tgt_text[0]`.", ""]
        lines += ["## Statistics", "", "| file | split | rows | images |", "|---|---|---|---|"]
        for name, e in sorted(self.files.items()):
            st = e.get("statistics", {})
            lines.append(f"| {name} | {e['split']} | {st.get('rows', '')} | {st.get('images', '')} |")
        for name, e in sorted(self.files.items()):
            for sec in ("generation", "filters", "audit"):
                if sec in e:
                    lines += ["", f"## {sec.capitalize()}: {name}", "", "```json",
                              json.dumps(e[sec], indent=2, sort_keys=True), "```"]
        lines += ["", "## Licence", "",
                  f"{LICENSE}, inherited from the source datasets' terms. Images are not part of this folder.", ""]
        return "\n".join(lines)
