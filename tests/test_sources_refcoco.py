"""RefCOCO+ / RefCOCOg: refs pickles (Python 2 and 3), one sample per referred object,
split membership, drop reasons, and a malicious pickle refused without side effects."""

import json
import os
import pickle

import pytest

from scar.build.pipeline import build
from support import cfg
from scar.build.sources.refcoco import RefCocogSource, RefCocoPlusSource, load_refs, seed_phrase

from fixtures.make_fixtures import py2_pickle, write_refcoco


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    return {"refcoco+": write_refcoco(tmp_path_factory.mktemp("rp"), "refcoco+"),
            "refcocog": write_refcoco(tmp_path_factory.mktemp("rg"), "refcocog")}


@pytest.mark.parametrize("cls", [RefCocoPlusSource, RefCocogSource])
def test_one_sample_per_referred_object(roots, cls):
    src = cls(str(roots[cls.name]), "val")
    groups = list(src.groups())
    assert len(groups) == 1
    g = groups[0]
    ctx = g[0].context
    assert ctx.file_name == "COCO_train2014_000000000011.jpg"  # from instances.json, not the ref's file_name
    assert [e.id for e in ctx.entities] == ["101", "102", "105", "106", "108"]  # every annotation of the image
    assert ctx.scene is None  # RefCOCO gives no scene
    assert [(s.id, s.region.category, s.phrase) for s in g] == [
        (f"{cls.name}/11/101", "person", "left guy"),            # lowest sent_id wins
        (f"{cls.name}/11/102", "chair", "empty chair on the right"),
        (f"{cls.name}/11/108", "cup", "cup on the floor")]       # empty sentence skipped
    assert all(s.split == "val" and s.source == cls.name and s.region.mask for s in g)
    _, rej = src.drain()
    reasons = {r.sample_id: r.reason for r in rej}
    assert reasons[f"{cls.name}/11/101"] == "duplicate ref: annotation 101 is already referred by ref 1"
    assert reasons[f"{cls.name}/11/999"].startswith("ref annotation: annotation 999 of ref 6")
    assert reasons[f"{cls.name}/ref#6"] == "ref record: missing field 'sentences'"
    assert reasons[f"{cls.name}/11/105"].startswith("crowd region")
    assert reasons[f"{cls.name}/11/106"].startswith("box too small")
    assert "COCO_train2014_000000000013.jpg missing" in reasons[f"{cls.name}/13"]


def test_split_membership(roots):
    train = [s for g in RefCocoPlusSource(str(roots["refcoco+"]), "train").groups() for s in g]
    assert [(s.id, s.phrase, s.split) for s in train] == [("refcoco+/12/103", "small cup", "train")]
    # testA refs belong to neither split; the image index lists each split's images by COCO id
    assert list(RefCocoPlusSource(str(roots["refcoco+"]), "val").image_index()) == [("11", 11), ("13", 13)]
    assert list(RefCocoPlusSource(str(roots["refcoco+"]), "train").image_index()) == [("12", 12)]


def test_python2_and_python3_pickles_read_the_same(tmp_path):
    refs = [{"ref_id": 1, "sentences": [{"sent_id": 2, "sent": "caf\u00e9 table", "tokens": ["x"]}], "ok": True,
             "score": 0.5, "none": None}]
    (tmp_path / "py3.p").write_bytes(pickle.dumps(refs, protocol=4))
    (tmp_path / "py2.p").write_bytes(py2_pickle([{k.encode(): v for k, v in refs[0].items()
                                                  if k != "sentences"} | {b"sentences": [
        {b"sent_id": 2, b"sent": "caf\u00e9 table".encode(), b"tokens": [b"x"]}]}]))
    assert load_refs(tmp_path / "py3.p") == load_refs(tmp_path / "py2.p") == refs
    assert seed_phrase({"sentences": [{"sent_id": 9, "sent": "b"}, {"sent_id": 1, "raw": " a  b "}]}) == "a b"


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_malicious_pickle_is_refused_without_side_effect(roots, tmp_path):
    marker = tmp_path / "pwned"
    root = write_refcoco(tmp_path / "evil", "refcoco+")
    refs_file = root / "refcoco+" / "refs(unc).p"
    refs_file.write_bytes(pickle.dumps([{"ref_id": 1}, _Evil(marker)], protocol=2))
    with pytest.raises(ValueError, match=r"refs\(unc\)\.p: refused to load (posix|os)\.system"):
        list(RefCocoPlusSource(str(root), "val").groups())
    assert not marker.exists()
    pickle.loads(refs_file.read_bytes())  # the payload is real: a plain unpickler runs it
    assert marker.exists()
    refs_file.write_bytes(pickle.dumps({1, 2}, protocol=2))  # protocol 2 builds a set by a global: refused too
    with pytest.raises(ValueError, match="refused to load __builtin__.set"):
        load_refs(refs_file)
    refs_file.write_bytes(b"\x80\x02]q\x00(K\x01")  # truncated
    with pytest.raises(ValueError, match="not a readable refs pickle"):
        load_refs(refs_file)
    refs_file.write_bytes(pickle.dumps({"refs": []}))
    with pytest.raises(ValueError, match="expected a list of refs"):
        load_refs(refs_file)


@pytest.mark.parametrize("key,stem", [("refcoco+", "RefCOCO_plus"), ("refcocog", "RefCOCOg")])
def test_build_runs_and_records_why(roots, tmp_path, key, stem):
    rep = build(cfg(key, roots[key], "val", tmp_path))
    assert rep.path.name == f"SCaR_eval_{stem}.parquet" and rep.path.is_file()
    lines = [json.loads(x) for x in rep.rejections_path.read_text().splitlines()]
    assert len(lines) == rep.rejected
    by_step = {}
    for r in lines:
        by_step.setdefault(r["step"], set()).add(r["sample_id"])
    # the three samples left the source; any that did not become rows say why in a later step
    later = set().union(*(v for k, v in by_step.items() if k != key))
    assert rep.rows + len(later & {f"{key}/11/101", f"{key}/11/102", f"{key}/11/108"}) == 3
    assert {f"{key}/11/105", f"{key}/11/106", f"{key}/13"} <= by_step[key]
