import pytest

from scar.names import OFFICIAL, SOURCES, by_task, source_name


def test_official_table_matches_spec():
    assert OFFICIAL == ("refcoco+", "refcocog", "visualgenome", "coco-stuff", "ade20k")
    s = SOURCES["coco-stuff"]
    assert s.eval_file() == "SCaR_eval_COCO_Stuff.parquet"
    assert s.train_file() == "SCAR_COCO_Stuff.parquet"
    assert s.image_dir("val") == "coco_stuff_val"
    assert s.task == "SCaR_COCO_Stuff" and s.column == "COCO-Stuff"
    assert SOURCES["refcoco+"].stem == "RefCOCO_plus"
    assert by_task("SCaR_RefCOCO_plus").column == "RefCOCO+"
    assert by_task("SCaR_Sample") is None


def test_coco_stem_from_name_and_errors():
    s = source_name("coco", "Sample")
    assert (s.eval_file(), s.image_dir("val"), s.task) == ("SCaR_eval_Sample.parquet", "sample_val", "SCaR_Sample")
    assert source_name("coco").stem == "COCO"
    with pytest.raises(ValueError, match="letters"):
        source_name("coco", "bad name")
    with pytest.raises(KeyError, match="did you mean 'refcocog'"):
        source_name("refcocg")
    with pytest.raises(ValueError, match="split"):
        s.image_dir("test")
