"""The dataset card (``README.md`` of an output folder), kept true to the files beside it.

The card's state lives in ``OUT/card.json``: one entry per written file with the sections
the stages fill in (``statistics``, ``generation``, ``filters``, ``audit``). ``README.md`` is
always rendered from that state *and the files themselves*: row counts and sizes are read
from each Parquet file's footer when the card is rendered, so a card cannot claim rows a file
does not have. Anything that rewrites files (a build, ``scar review --apply``) calls
:func:`regenerate`; ``scar validate`` checks the card against the files
(:func:`card_problems`).

What the card holds:
- Hub metadata in the YAML header: licence, language, task categories (ids from the Hub's
  task list), ``size_categories``, ``pretty_name``, one ``configs`` entry per file (so
  ``datasets.load_dataset(OUT, "<Stem>_<split>")`` loads it) and ``dataset_info`` with the
  features (from ``scar.schema``) and each split's ``num_examples`` and ``num_bytes``;
- how to use it (``load_dataset`` and ``scar eval``), where each source's images come from
  and the commands that lay them out, what was built how (generation, filters, audit) as
  readable lists and tables, the citation and the licence.

Nothing run-dependent is rendered (timings, LLM request and cache counters, absolute paths),
so the same build gives the same card bytes.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

#: libyaml's emitter when PyYAML has it (the same text as the pure-Python one, in a fifth of the time)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

SECTIONS = ("statistics", "generation", "filters", "audit")
LICENSE = "cc-by-nc-4.0"
#: Hub task ids (huggingface.js ``pipelines.ts``; the same ids are in
#: ``datasets.utils.metadata.known_task_ids``). A SCaR sample ranks 10 caption texts for an
#: image region by embedding similarity: text retrieval with an image query, set up like
#: CLIP's zero-shot image classification (one image against candidate texts).
TASK_CATEGORIES = ("zero-shot-image-classification", "text-retrieval")
PRETTY_NAME = "SCaR (Segmentation-and-Scene Caption Retrieval), rebuilt with scar"
CITATION = """\
@inproceedings{wang2026virtue,
  title     = {{VIRTUE}: Visual-Interactive Text-Image Universal Embedder},
  author    = {Wang, Wei-Yao and Tateishi, Kazuya and Wu, Qiyu and Takahashi, Shusuke and Mitsufuji, Yuki},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2026},
  eprint    = {2510.00523},
  archivePrefix = {arXiv},
  url       = {https://arxiv.org/abs/2510.00523}
}"""

#: Keys never rendered: they change from run to run, not with the data.
_RUN_DEPENDENT = {"seconds", "requests", "cache_hits", "retries", "cost_usd", "tokens_in", "tokens_out",
                  "elapsed", "wall_s", "load_wait_s", "model_s"}

#: Per source: what it is, its terms, and how to get and lay out its images
#: (``<prefix>_<split>/`` under the image root; the file names the rows use).
SOURCE_NOTES: dict[str, dict[str, Any]] = {
    "refcoco+": {
        "what": "RefCOCO+ (UNC) referring expressions over COCO train2014 images",
        "terms": "annotations: Apache-2.0 (refer toolkit); images: COCO terms of use (Flickr)",
        "images": {"val": ["wget http://images.cocodataset.org/zips/train2014.zip && unzip -q train2014.zip",
                           "mkdir -p images/refcoco_plus_val && ln -s \"$PWD\"/train2014/*.jpg images/refcoco_plus_val/"],
                   "train": ["wget http://images.cocodataset.org/zips/train2014.zip && unzip -q train2014.zip",
                             "mkdir -p images/refcoco_plus_train && ln -s \"$PWD\"/train2014/*.jpg "
                             "images/refcoco_plus_train/"]},
    },
    "refcocog": {
        "what": "RefCOCOg (UMD) referring expressions over COCO train2014 images",
        "terms": "annotations: Apache-2.0 (refer toolkit); images: COCO terms of use (Flickr)",
        "images": {"val": ["wget http://images.cocodataset.org/zips/train2014.zip && unzip -q train2014.zip",
                           "mkdir -p images/refcocog_val && ln -s \"$PWD\"/train2014/*.jpg images/refcocog_val/"],
                   "train": ["wget http://images.cocodataset.org/zips/train2014.zip && unzip -q train2014.zip",
                             "mkdir -p images/refcocog_train && ln -s \"$PWD\"/train2014/*.jpg images/refcocog_train/"]},
    },
    "coco-stuff": {
        "what": "COCO-Stuff over COCO 2017",
        "terms": "annotations: COCO-Stuff terms (COCO annotations CC BY 4.0); images: COCO terms of use (Flickr)",
        "images": {"val": ["wget http://images.cocodataset.org/zips/val2017.zip && unzip -q val2017.zip",
                           "mkdir -p images/coco_stuff_val && ln -s \"$PWD\"/val2017/*.jpg images/coco_stuff_val/"],
                   "train": ["wget http://images.cocodataset.org/zips/train2017.zip && unzip -q train2017.zip",
                             "mkdir -p images/coco_stuff_train && ln -s \"$PWD\"/train2017/*.jpg "
                             "images/coco_stuff_train/"]},
    },
    "visualgenome": {
        "what": "Visual Genome 1.2",
        "terms": "CC BY 4.0",
        "images": {sp: ["wget https://cs.stanford.edu/people/rak248/VG_100K_2/images.zip "
                        "https://cs.stanford.edu/people/rak248/VG_100K_2/images2.zip",
                        "unzip -q images.zip && unzip -q images2.zip",
                        f"mkdir -p images/visualgenome_{sp} && ln -s \"$PWD\"/VG_100K/*.jpg \"$PWD\"/VG_100K_2/*.jpg "
                        f"images/visualgenome_{sp}/"] for sp in ("val", "train")},
    },
    "ade20k": {
        "what": "ADE20K SceneParsing (ADEChallengeData2016)",
        "terms": "annotations: BSD-3-Clause; images: ADE20K terms of use",
        "images": {"val": ["wget http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip && "
                           "unzip -q ADEChallengeData2016.zip",
                           "mkdir -p images/ade20k_val && ln -s \"$PWD\"/ADEChallengeData2016/images/validation/*.jpg "
                           "images/ade20k_val/"],
                   "train": ["wget http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip && "
                             "unzip -q ADEChallengeData2016.zip",
                             "mkdir -p images/ade20k_train && ln -s \"$PWD\"/ADEChallengeData2016/images/training/*.jpg "
                             "images/ade20k_train/"]},
    },
}


#: Arrow type names -> the ``dtype`` names of the Hub's dataset features (``datasets.Value``).
_DTYPES = {"string": "string", "large_string": "large_string", "bool": "bool", "int8": "int8", "int16": "int16",
           "int32": "int32", "int64": "int64", "uint8": "uint8", "float": "float32", "double": "float64"}


def features_yaml(schema: Any) -> list[dict[str, Any]]:
    """The ``dataset_info.features`` list of a card for an Arrow schema (or struct type).

    One entry per column: ``{name, dtype}`` for a value, ``{name, struct: [entries]}`` for
    a struct, ``{name, list: X}`` for a list, where X is the element's dtype, its struct
    entries, or (a list of lists) its own ``{list: ...}``. ``datasets`` and the Hub read
    this back to the file's features (tests/test_card.py checks it against
    ``datasets.Features.from_arrow_schema``). ValueError for a type with no such name."""
    return [{"name": f.name, **_feature(f.type, f.name)} for f in schema]


def _feature(t: Any, name: str) -> dict[str, Any]:
    import pyarrow as pa

    if pa.types.is_struct(t):
        return {"struct": features_yaml(t)}
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        inner = _feature(t.value_type, name)
        short = inner.get("dtype") or inner.get("struct") or inner
        if pa.types.is_fixed_size_list(t):
            return {"list": short, "length": t.list_size}
        return {"large_list" if pa.types.is_large_list(t) else "list": short}
    if str(t) not in _DTYPES:
        raise ValueError(f"column {name!r}: Arrow type {t} has no dataset-card dtype")
    return {"dtype": _DTYPES[str(t)]}


def _features_yaml(kind: str) -> list[dict[str, Any]]:
    from scar.schema import EVAL_SCHEMA, TRAIN_RELEASED

    return features_yaml(EVAL_SCHEMA if kind == "eval" else TRAIN_RELEASED)


def file_kind(name: str) -> str:
    return "eval" if name.startswith("SCaR_eval_") else "train"


def hub_split(name: str) -> str:
    """The Hub split of a file: eval files are ``test``, train files ``train``."""
    return "test" if file_kind(name) == "eval" else "train"


def size_category(rows: int) -> str:
    """The Hub's ``size_categories`` bucket for a number of rows."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M")):
        if rows < limit:
            return label
    return "n>100M"


def parquet_facts(path: Path) -> dict[str, int]:
    """Rows, uncompressed data bytes (the split's ``num_bytes``) and file size, from the footer."""
    import pyarrow.parquet as pq

    md = pq.ParquetFile(path).metadata
    data = sum(md.row_group(i).total_byte_size for i in range(md.num_row_groups))
    return {"rows": md.num_rows, "num_bytes": data, "file_bytes": path.stat().st_size}


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

    def present(self) -> list[tuple[str, dict[str, Any]]]:
        """The entries whose file exists, sorted by file name."""
        return [(n, e) for n, e in sorted(self.files.items()) if (self.out / n).is_file()]

    def save(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps({"files": self.files}, indent=2, sort_keys=True) + "\n",
                                   encoding="utf-8")
        path = self.out / "README.md"
        path.write_text(self.render(), encoding="utf-8")
        return path

    # -- rendering ---------------------------------------------------------------------------

    def header(self) -> dict[str, Any]:
        """The YAML metadata: what the Hub and ``datasets`` read."""
        files = self.present()
        facts = {n: parquet_facts(self.out / n) for n, _ in files}
        configs, infos = [], []
        for name, e in files:
            kind, split, f = file_kind(name), hub_split(name), facts[name]
            configs.append({"config_name": e["config"], "data_files": [{"split": split, "path": name}]})
            infos.append({"config_name": e["config"], "features": _features_yaml(kind),
                          "splits": [{"name": split, "num_bytes": f["num_bytes"], "num_examples": f["rows"]}],
                          "download_size": f["file_bytes"], "dataset_size": f["num_bytes"]})
        total = sum(f["rows"] for f in facts.values())
        return {"license": LICENSE, "language": ["en"], "task_categories": list(TASK_CATEGORIES),
                "size_categories": [size_category(total)], "pretty_name": PRETTY_NAME,
                "tags": ["image-text", "region", "referring-expression", "embedding", "retrieval"],
                "configs": configs, "dataset_info": infos}

    def render(self) -> str:
        files = self.present()
        header = yaml.dump(self.header(), Dumper=_YAML_DUMPER, sort_keys=False, allow_unicode=True, width=120)
        first = files[0][1]["config"] if files else "<Stem>_val"
        lines = ["---", header.rstrip(), "---", "", "# SCaR, rebuilt with the scar toolkit", "",
                 "Segmentation-and-Scene Caption Retrieval (SCaR; VIRTUE, ICLR 2026, arXiv 2510.00523): each row is "
                 "an image, a region (box, mask) and 10 candidate captions `<object> <relation> <scene>`; the "
                 "ground truth is `tgt_text[0]` (eval files) or `pos_text` (train files). A model embeds the image "
                 "with its region and each caption, and is scored by how often the ground truth ranks first "
                 "(precision@1; chance 10%). Eval files keep the released columns first (`qry_text`, "
                 "`qry_image_path`, `tgt_text`, `bbox`); train files carry exactly the released train columns and "
                 "their extra columns live in `extra/SCAR_<Source>.parquet`, row for row.", "",
                 "## How to use", "", "```python", "from datasets import load_dataset", "",
                 f'ds = load_dataset("path/or/hub-id/of/this/folder", "{first}")',
                 "```", "",
                 "Score an embedder (images laid out under `images/` as below; `scar models` lists the wrappers):",
                 "", "```bash", "pip install scar  # this toolkit",
                 "scar eval --data . --model random --out results      # chance row, to check the set-up",
                 "scar eval --data . --model clip --out results",
                 "scar leaderboard results", "```", "",
                 "## Files", "", "| file | config | split | rows | images | rejected while building |",
                 "|---|---|---|---|---|---|"]
        for name, e in files:
            st = e.get("statistics", {})
            rows = parquet_facts(self.out / name)["rows"]
            lines.append(f"| `{name}` | `{e['config']}` | {hub_split(name)} | {rows} | {st.get('images', '–')} | "
                         f"{st.get('rejected', '–')} |")
        lines += self._images(files)
        for name, e in files:
            if "generation" in e:
                lines += ["", f"## Generation: `{name}`", "", *_generation_lines(e["generation"])]
            if "filters" in e:
                lines += ["", f"## Filters: `{name}`", "", *_filter_lines(e["filters"])]
            if "audit" in e:
                lines += ["", f"## Audit: `{name}`", "", *_audit_lines(e["audit"])]
        lines += ["", "## Citation", "", "```bibtex", CITATION, "```", "",
                  "## Licence", "",
                  f"{LICENSE}, as the released SCaR, and within the terms of every source dataset listed above.", ""]
        return "\n".join(lines)

    def _images(self, files: list[tuple[str, dict[str, Any]]]) -> list[str]:
        from scar.names import source_name

        lines = ["", "## Images", "",
                 "Images are not part of this dataset. `qry_image_path` is relative to an image root laid out as "
                 "`<prefix>_<split>/<file>`; put each source's images there (the commands below, from the folder "
                 "holding this card), or let `scar build --link-images` link your copies.", ""]
        seen = set()
        for name, e in files:
            gen = e.get("generation", {})
            key, split = gen.get("source"), e.get("split")
            if not key or (key, split) in seen:
                continue
            seen.add((key, split))
            note = SOURCE_NOTES.get(key)
            if note is None:
                stem = e["config"].rsplit("_", 1)[0]
                folder = source_name("coco", stem).image_dir(split) if split in ("train", "val") else stem.lower()
                lines += [f"- **{key}** (`{name}`): COCO-format annotations supplied by the builder; terms: those of "
                          f"the supplied data. Images go in `images/{folder}/` under their file names.", ""]
                continue
            lines += [f"- **{key}** ({split}): {note['what']}. Terms: {note['terms']}.", "", "  ```bash",
                      *(f"  {c}" for c in note["images"].get(split, [])), "  ```", ""]
        return lines[:-1] if lines[-1] == "" else lines


def _value(v: Any) -> str:
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v) or "none"
    return f"`{v}`" if isinstance(v, str) and v and " " not in v else str(v)


def _kv_lines(d: dict[str, Any], indent: str = "") -> list[str]:
    out = []
    for k, v in sorted(d.items()):
        if k in _RUN_DEPENDENT:
            continue
        label = k.replace("_", " ")
        if isinstance(v, dict):
            sub = _kv_lines(v, indent + "  ")
            if sub:
                out += [f"{indent}- {label}:", *sub]
        else:
            out.append(f"{indent}- {label}: {_value(v)}")
    return out


def _generation_lines(gen: dict[str, Any]) -> list[str]:
    gen = dict(gen)
    prov = gen.pop("provenance", None)
    lines = _kv_lines(gen)
    if prov:
        lines += ["", "Elements by provenance (rows):", "", "| element | " + " | ".join(["provenance", "rows"]) + " |",
                  "|---|---|---|"]
        for el, counts in sorted(prov.items()):
            for p, n in sorted(counts.items()):
                lines.append(f"| {el} | {p} | {n} |")
    return lines


def _filter_lines(filters: dict[str, Any]) -> list[str]:
    lines = ["| step | in | out | dropped, by reason |", "|---|---|---|---|"]
    for step, s in sorted(filters.items()):
        if not isinstance(s, dict):
            continue
        n_in = s.get("in", "")
        n_out = s.get("out", s.get("samples", ""))
        rej = s.get("rejected") or {}
        reasons = "; ".join(f"{r}: {n}" for r, n in sorted(rej.items())) if isinstance(rej, dict) else str(rej)
        lines.append(f"| {step} | {n_in} | {n_out} | {reasons or 'none'} |")
    return lines


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _audit_lines(audit: dict[str, Any]) -> list[str]:
    chance = audit.get("chance")
    lines = [f"Blind baselines never see the image (chance {_pct(chance)}%):", "",
             "| baseline | accuracy | 95% CI | ties |", "|---|---|---|---|"]
    for name, b in sorted((audit.get("blind") or {}).items()):
        lo, hi = (b.get("ci95") or [None, None])[:2]
        lines.append(f"| {name} | {_pct(b.get('accuracy'))} | {_pct(lo)}–{_pct(hi)} | {_pct(b.get('tie_rate'))} |")
    for v in audit.get("verdicts") or []:
        lines.append(f"\n- {v}")
    if audit.get("swap_types"):
        lines += ["", "Distractors by swap type: " + ", ".join(f"{t} {n}" for t, n in sorted(audit["swap_types"].items()))
                  + "."]
    if audit.get("provenance"):
        lines += ["", "Elements by provenance (share of rows): " + "; ".join(
            f"{el}: " + ", ".join(f"{p} {100 * s:.0f}%" for p, s in sorted(v.items()))
            for el, v in sorted(audit["provenance"].items())) + "."]
    q = audit.get("quality")
    if isinstance(q, dict) and q.get("shares"):
        lines += ["", "Quality proxies (share of rows):", "", "| check | share |", "|---|---|"]
        lines += [f"| {k.replace('_', ' ')} | {'–' if v is None else f'{100 * v:.1f}%'} |"
                  for k, v in sorted(q["shares"].items())]
        lines += [f"\n- {n}" for n in q.get("notes") or []]
    if audit.get("image_overlap"):
        lines += ["", "Images shared with other files of this folder: " + ", ".join(
            f"`{f}` {n}" for f, n in sorted(audit["image_overlap"].items())) + "."]
    return lines


def _images_of(path: Path) -> int | None:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    col = "image_id" if "image_id" in pf.schema_arrow.names else "qry_image_path"
    seen: set = set()
    for b in pf.iter_batches(columns=[col]):
        seen.update(b.column(0).to_pylist())
    return len(seen)


def regenerate(folder: str | Path) -> Path | None:
    """Bring the card of ``folder`` in line with its files and rewrite ``README.md``: the
    statistics (rows, images) are recounted from each file, entries of files that are gone are
    dropped. Call it after anything that rewrites files (``scar review --apply``). Returns the
    card's path, or None for a folder without ``card.json`` (not built by scar)."""
    card = DatasetCard(folder)
    if not card.state_path.is_file():
        return None
    for name in [n for n in card.files if not (card.out / n).is_file()]:
        log.info("card: %s is gone; its entry is dropped", name)
        del card.files[name]
    for name, e in card.files.items():
        st = e.setdefault("statistics", {})
        st["rows"] = parquet_facts(card.out / name)["rows"]
        st["images"] = _images_of(card.out / name)
    return card.save()


def card_problems(folder: str | Path) -> list[str]:
    """What the card of ``folder`` says that its files contradict (empty: the card is true).
    A folder without ``README.md`` or without YAML metadata gets one problem."""
    folder = Path(folder)
    readme = folder / "README.md"
    if not readme.is_file():
        return ["missing: the folder has no dataset card"]
    text = readme.read_text(encoding="utf-8")
    if not text.startswith("---\n") or "\n---\n" not in text[4:]:
        return ["no YAML metadata header"]
    try:
        meta = yaml.safe_load(text[4:text.index("\n---\n", 4)]) or {}
    except yaml.YAMLError as e:
        return [f"the YAML header does not parse: {e}"]
    out = []
    files = {p.name for p in [*folder.glob("SCaR_eval_*.parquet"), *folder.glob("SCAR_*.parquet")]}
    described: dict[str, str] = {}
    for c in meta.get("configs") or []:
        for df in c.get("data_files") or []:
            described[df.get("path")] = c.get("config_name")
    for name in sorted(files - set(described)):
        out.append(f"no config for {name}")
    for name in sorted(set(described) - files):
        out.append(f"config {described[name]!r} names {name}, which is not in the folder")
    splits = {i.get("config_name"): i.get("splits") or [] for i in meta.get("dataset_info") or []}
    for name, config in sorted(described.items()):
        if name not in files:
            continue
        rows = parquet_facts(folder / name)["rows"]
        sp = splits.get(config)
        if not sp:
            out.append(f"config {config!r} has no dataset_info splits")
            continue
        for s in sp:
            if "num_bytes" not in s or "num_examples" not in s:
                out.append(f"config {config!r} split {s.get('name')!r} lacks num_examples/num_bytes")
            elif s["num_examples"] != rows:
                out.append(f"config {config!r} says {s['num_examples']} rows, {name} has {rows}")
    for key in ("license", "task_categories", "size_categories", "pretty_name"):
        if key not in meta:
            out.append(f"metadata lacks {key}")
    return out


def record_audit(folder: str | Path, report: dict[str, Any]) -> bool:
    """Copy an audit report (``scar.eval.audit.audit_folder``) into the card's ``audit``
    section of each file it covers, readings included. False (and nothing written) for a
    folder without our card, e.g. released files."""
    card = DatasetCard(folder)
    if not card.files:
        return False
    for name, entry in report["files"].items():
        if name in card.files:
            card.section(name, "audit", {k: entry.get(k) for k in (
                "chance", "blind", "swap_types", "provenance", "drops", "image_overlap", "type_chance", "verdicts",
                "quality")
                if entry.get(k) is not None})
    card.save()
    return True
