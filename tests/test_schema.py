import pyarrow as pa
import pytest

from scar.schema import EVAL_EXTRA, EVAL_RELEASED, EVAL_SCHEMA, QRY_TEXT, check_eval_table, eval_row
from scar.types import Candidate, Element, Region, Sample


def make_sample(n_neg: int = 9) -> Sample:
    s = Sample(id="X_val_1", source="coco", split="val", image_id="7", file_name="a.jpg", width=64, height=48,
               region=Region((1.0, 2.0, 10.0, 20.0), "cup", "1", {"size": [48, 64], "counts": "abc"}), phrase="a cup",
               object=Element("cup", "annotation", "cup"),
               relation=Element("next to the chair", "geometry", "next to", anchor="2"),
               scene=Element("in a kitchen", "annotation", "kitchen"))
    s.candidates = [Candidate("cup next to the chair in a kitchen")] + [
        Candidate(f"mug{i} next to the chair in a kitchen", "object", f"mug{i}") for i in range(n_neg)]
    return s


def test_released_columns_first_then_extras():
    assert EVAL_SCHEMA.names[:4] == ["qry_text", "qry_image_path", "tgt_text", "bbox"]
    assert EVAL_SCHEMA.names[4:] == EVAL_EXTRA.names
    for col in ("id", "source", "image_id", "category", "gt_object", "gt_relation", "gt_scene",
                "neg_types", "neg_values"):
        assert col in EVAL_SCHEMA.names


def test_eval_row():
    row = eval_row(make_sample(), "sample")
    assert row["qry_text"] == QRY_TEXT and "<|image_1|>" in row["qry_text"]
    assert row["qry_image_path"] == "sample_val/a.jpg"
    assert row["tgt_text"][0] == "cup next to the chair in a kitchen" and len(row["tgt_text"]) == 10
    assert row["bbox"] == [1.0, 2.0, 10.0, 20.0]
    assert row["neg_types"] == ["object"] * 9 and row["neg_values"][0] == "mug0"
    assert row["segmentation"] == {"size": [48, 64], "counts": "abc"}
    pa.Table.from_pylist([row], schema=EVAL_SCHEMA)  # types fit


def test_eval_row_names_the_bad_sample():
    with pytest.raises(ValueError, match="X_val_1: 9 candidates"):
        eval_row(make_sample(8), "sample")
    s = make_sample()
    s.scene = None
    with pytest.raises(ValueError, match=r"X_val_1: missing element\(s\) \['scene'\]"):
        eval_row(s, "sample")


def test_check_eval_table_accepts_released_only_and_rejects_bad():
    released = pa.table({"qry_text": ["q"], "qry_image_path": ["p"], "tgt_text": [["a", "b"]], "bbox": [[1, 2, 3, 4]]})
    check_eval_table(released, "f.parquet")  # integer boxes and no extras are fine
    with pytest.raises(ValueError, match="f.parquet: missing released column 'bbox'"):
        check_eval_table(released.drop(["bbox"]), "f.parquet")
    bad = released.set_column(2, "tgt_text", pa.array(["a"]))
    with pytest.raises(ValueError, match="column 'tgt_text' has type string"):
        check_eval_table(bad, "f.parquet")


def test_element_checks():
    with pytest.raises(ValueError, match="provenance"):
        Element("cup", "guess")
    assert Element("cup", "llm:smollm2").provenance == "llm:smollm2"
    with pytest.raises(ValueError, match="stripped"):
        Element(" cup", "annotation")
