"""The dataset card stays true: Hub metadata, how to use it, no timings (same build, same
bytes), checked by `scar validate` against the files, regenerated after a rewrite, and read by
`datasets.load_dataset` without a warning."""

import logging
import shutil
import warnings

import pyarrow.parquet as pq
import pytest
import yaml

from scar.build.card import DatasetCard, card_problems, regenerate
from scar.build.pipeline import build
from scar.cli import main
from support import cfg


def _meta(folder):
    text = (folder / "README.md").read_text(encoding="utf-8")
    return yaml.safe_load(text.split("---\n")[1]), text


def test_same_build_same_card_bytes(sample_root, sample_build, tmp_path):
    again = build(cfg("coco", sample_root, "val", tmp_path / "again", name="Sample", output={"link_images": True}))
    first = (sample_build.path.parent / "README.md").read_bytes()
    assert (again.path.parent / "README.md").read_bytes() == first
    text = first.decode()
    assert "seconds" not in text and str(sample_root) not in text and str(tmp_path) not in text


def test_card_metadata_and_sections(sample_build, tmp_path):
    from datasets.utils.metadata import known_task_ids

    meta, text = _meta(sample_build.path.parent)
    assert meta["task_categories"] and set(meta["task_categories"]) <= set(known_task_ids)  # real Hub task ids
    assert meta["size_categories"] == ["n<1K"] and meta["pretty_name"] and meta["license"] == "cc-by-nc-4.0"
    [info] = meta["dataset_info"]
    rows = pq.ParquetFile(sample_build.path).metadata.num_rows
    assert info["splits"] == [{"name": "test", "num_bytes": info["dataset_size"], "num_examples": rows}]
    assert info["splits"][0]["num_bytes"] > 0 and info["download_size"] == sample_build.path.stat().st_size
    for heading in ("## How to use", "## Files", "## Images", "## Generation: ", "## Filters: ", "## Citation"):
        assert heading in text, heading
    assert 'load_dataset("path/or/hub-id/of/this/folder", "Sample_val")' in text and "scar eval --data ." in text
    assert "arXiv" in text and "2510.00523" in text and "@inproceedings" in text
    assert "| compose | " in text  # filters as a table, not JSON
    assert "```json" not in text


def test_official_sources_get_image_commands(sample_build, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(sample_build.path, out / "SCaR_eval_COCO_Stuff.parquet")
    card = DatasetCard(out)
    card.set_file("SCaR_eval_COCO_Stuff.parquet", config="COCO_Stuff_val", split="val",
                  generation={"source": "coco-stuff", "generator": "lexical", "seed": 0})
    card.save()
    _, text = _meta(out)
    assert "val2017.zip" in text and "images/coco_stuff_val/" in text and "COCO-Stuff" in text


def test_validate_checks_the_card_and_regenerate_fixes_it(sample_build, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(sample_build.path.parent, out, symlinks=True)
    assert card_problems(out) == []
    f = out / sample_build.path.name
    table = pq.read_table(f)
    pq.write_table(table.slice(1), f)  # a file rewritten behind the card's back (README rendered before)
    problems = card_problems(out)
    assert problems == [f"config 'Sample_val' says {table.num_rows} rows, {f.name} has {table.num_rows - 1}"]
    capsys.readouterr()
    rc = main(["validate", str(out)])  # `scar validate`, in-process
    assert rc == 1 and f"README.md: config 'Sample_val' says {table.num_rows} rows" in capsys.readouterr().out
    regenerate(out)
    assert card_problems(out) == []
    meta, _ = _meta(out)
    assert meta["dataset_info"][0]["splits"][0]["num_examples"] == table.num_rows - 1
    (out / "SCaR_eval_Other.parquet").write_bytes(f.read_bytes())  # a file the card does not know
    assert card_problems(out) == ["no config for SCaR_eval_Other.parquet"]


def test_load_dataset_prints_no_warning(sample_build, tmp_path, capfd, caplog):
    import datasets

    out = tmp_path / "out"
    shutil.copytree(sample_build.path.parent, out, symlinks=True)
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        ds = datasets.load_dataset(str(out), "Sample_val", cache_dir=str(tmp_path / "hf"))
    assert ds["test"].num_rows == pq.ParquetFile(sample_build.path).metadata.num_rows
    err = capfd.readouterr().err
    assert "malformed" not in err and "Ignoring" not in err and "WARNING" not in err.upper().replace("WARNINGS", "")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert [str(w.message) for w in caught if "datasets" in (w.filename or "")] == []


def test_datasets_reads_the_card_features_back_to_the_file_schema(sample_build, tmp_path):
    """The card writes its features header itself (no `datasets` at build time); `datasets`
    reads that header back to exactly the features of the file's Arrow schema."""
    import datasets

    from scar.schema import EVAL_SCHEMA

    builder = datasets.load_dataset_builder(str(sample_build.path.parent), "Sample_val",
                                            cache_dir=str(tmp_path / "hf"))
    assert builder.info.features == datasets.Features.from_arrow_schema(EVAL_SCHEMA)
    assert builder.info.splits["test"].num_examples == sample_build.rows


def test_card_features_of_nested_types_read_back_and_an_unknown_type_refused(tmp_path):
    """Types beyond today's schema (lists of structs and of lists, nested structs, large and
    fixed-size lists) round-trip through a card header the same way."""
    import datasets
    import pyarrow as pa

    from scar.build.card import features_yaml

    schema = pa.schema([("a", pa.list_(pa.struct([("x", pa.int32()), ("y", pa.list_(pa.string()))]))),
                        ("b", pa.list_(pa.list_(pa.float32()))), ("c", pa.struct([("s", pa.struct([("t", pa.bool_())]))])),
                        ("d", pa.large_list(pa.int64())), ("e", pa.list_(pa.int8(), 3)), ("f", pa.float64())])
    (tmp_path / "d").mkdir()
    pq.write_table(pa.table({"a": [[{"x": 1, "y": ["u"]}]], "b": [[[0.5]]], "c": [{"s": {"t": True}}], "d": [[7]],
                             "e": [[1, 2, 3]], "f": [0.25]}, schema=schema), tmp_path / "d" / "t.parquet")
    header = {"configs": [{"config_name": "t", "data_files": [{"split": "train", "path": "t.parquet"}]}],
              "dataset_info": [{"config_name": "t", "features": features_yaml(schema)}]}
    (tmp_path / "d" / "README.md").write_text("---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n")
    builder = datasets.load_dataset_builder(str(tmp_path / "d"), "t", cache_dir=str(tmp_path / "hf"))
    assert builder.info.features == datasets.Features.from_arrow_schema(schema)
    with pytest.raises(ValueError, match="column 'z': Arrow type timestamp"):
        features_yaml(pa.schema([("z", pa.timestamp("s"))]))
