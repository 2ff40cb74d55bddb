"""scar validate and scar publish on real built folders (publish against a recording fake of the Hub API)."""

import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scar.build.publish import plan_upload, publish
from scar.build.validate import validate_folder


@pytest.fixture()
def built(sample_build, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sample_build.path.parent, out, symlinks=True)
    return out


def test_a_fresh_build_validates(built):
    assert validate_folder(built) == []


def test_validate_names_every_offending_row(built):
    f = built / "SCaR_eval_Sample.parquet"
    t = pq.read_table(f)
    rows = t.to_pylist()
    rows[0]["tgt_text"] = rows[0]["tgt_text"][:9]
    rows[1]["tgt_text"][3] = rows[1]["tgt_text"][0].upper()  # same after normalisation
    rows[2]["bbox"] = [0.0, 0.0, 10_000.0, 5.0]
    rows[3]["qry_image_path"] = "sample_val/nope.png"
    rows[4]["tgt_text"][1] = rows[4]["tgt_text"][1] + " extra"
    pq.write_table(pa.Table.from_pylist(rows, schema=t.schema), f)
    problems = [str(p) for p in validate_folder(built)]
    ids = [r["id"] for r in rows]
    assert any(f"row 0 ({ids[0]}): count: 9 candidates" in p for p in problems)
    assert any(f"row 1 ({ids[1]}): duplicate: " in p for p in problems)
    assert any(f"row 2 ({ids[2]}): bbox" in p and "leaves the" in p for p in problems)
    assert any(f"row 3 ({ids[3]}): image sample_val/nope.png not found" in p for p in problems)
    assert any(f"row 4 ({ids[4]}): candidate 1: swap: " in p and "is not the GT with only" in p for p in problems)
    assert {p.row for p in validate_folder(built)} == {0, 1, 2, 3, 4}


def test_validate_refuses_bad_columns(built):
    f = built / "SCaR_eval_Sample.parquet"
    pq.write_table(pq.read_table(f).drop(["bbox"]), f)
    [p] = validate_folder(built)
    assert "missing released column 'bbox'" in str(p)


class RecordingHub:
    def __init__(self):
        self.calls = []

    def create_repo(self, **kw):
        self.calls.append(("create_repo", kw))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))


def test_publish_uploads_exactly_the_plan(built):
    plan = plan_upload(built)
    assert "README.md" in plan.files and "SCaR_eval_Sample.parquet" in plan.files
    assert not any(f.startswith(("images/", "sample_source/")) or f == "card.json" for f in plan.files)
    dry = publish(built, "me/scar-sample", dry_run=True, api=RecordingHub())
    assert dry.files == plan.files
    hub = RecordingHub()
    publish(built, "me/scar-sample", private=True, api=hub)
    (c1, kw1), (c2, kw2) = hub.calls
    assert c1 == "create_repo" and kw1 == {"repo_id": "me/scar-sample", "repo_type": "dataset", "private": True,
                                           "exist_ok": True}
    assert c2 == "upload_folder" and kw2["allow_patterns"] == plan.files and kw2["repo_type"] == "dataset"
    with pytest.raises(ValueError, match="ORG/NAME"):
        publish(built, "no-slash", api=hub)


def test_publish_refuses_a_planted_secret(built, monkeypatch):
    secret = "sk-PLANTEDplantedPLANTED1234567890"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    publish(built, "me/x", dry_run=True)  # nothing holds it yet
    card = built / "README.md"
    card.write_text(card.read_text() + f"\nkey: {secret}\n")
    with pytest.raises(RuntimeError, match="README.md") as e:
        publish(built, "me/x", api=RecordingHub())
    assert secret not in str(e.value)
