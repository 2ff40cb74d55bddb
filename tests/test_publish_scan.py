"""``scar publish`` reads what a downloader would read (issue 17, item 1): a key inside a
caption of a zstd Parquet (not visible in the compressed bytes), an ``hf_`` token in a
nested list cell, a secret written JSON-escaped in ``rejected/*.jsonl`` are all found;
a symbolic link under the folder stops the publish."""

import json
import os
import random
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scar.build.publish import plan_upload, publish, scan_for_secrets

KEY = "sk-proj-" + "Xq7Lm2Pz9Rt4Wv6Yb1Nc8Kd3"


class RecordingHub:
    def __init__(self):
        self.calls = []

    def create_repo(self, **kw):
        self.calls.append(("create_repo", kw))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))


@pytest.fixture()
def built(sample_build, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sample_build.path.parent, out, symlinks=True)
    return out


def _plant_caption(built, text):
    """Replace one distractor of row 250 of a 500-row file of varied captions (as a build
    writes them: zstd) with ``text``."""
    rng = random.Random(0)
    words = "cup table kitchen chair dog cat on under near beside in a the room street park beach bowl plate".split()
    rows = [[" ".join(rng.choice(words) for _ in range(8)) for _ in range(10)] for _ in range(500)]
    rows[250][3] = text
    path = built / "SCaR_eval_Sample.parquet"
    pq.write_table(pa.table({"tgt_text": rows, "id": [str(i) for i in range(500)]}), path, compression="zstd")
    return path


def test_a_key_in_a_zstd_caption_is_found(built, monkeypatch):
    path = _plant_caption(built, f"a cup on a table {KEY} in a kitchen")
    assert KEY.encode() not in path.read_bytes()  # invisible to a scan of the bytes on disk
    assert scan_for_secrets(plan_upload(built)) == ["SCaR_eval_Sample.parquet"]
    hub = RecordingHub()
    with pytest.raises(RuntimeError, match="SCaR_eval_Sample.parquet") as e:
        publish(built, "me/x", api=hub)
    assert KEY not in str(e.value) and hub.calls == []


def test_the_value_of_an_env_secret_in_a_zstd_caption_is_found(built, monkeypatch):
    secret = "Zz9yX8wV7uT6sR5qP4oN3m"  # no token shape: only the environment knows it is secret
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    path = _plant_caption(built, f"a cup on a table {secret} in a kitchen")
    assert secret.encode() not in path.read_bytes()
    assert scan_for_secrets(plan_upload(built)) == ["SCaR_eval_Sample.parquet"]


def test_a_token_in_a_struct_or_list_cell_is_found(built):
    token = "hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ012345"
    t = pa.table({"extra": pa.array([{"notes": ["fine", f"see {token}"]}] * 3)})
    (built / "extra").mkdir(exist_ok=True)
    pq.write_table(t, built / "extra" / "SCAR_Sample.parquet", compression="zstd")
    assert scan_for_secrets(plan_upload(built)) == ["extra/SCAR_Sample.parquet"]


def test_a_json_escaped_secret_in_the_rejects_is_found(built, monkeypatch):
    secret = 'pa55/word+"quoted"\\x'
    monkeypatch.setenv("SCAR_LLM_API_KEY", secret)
    (built / "rejected").mkdir(exist_ok=True)
    line = json.dumps({"reason": f"llm said {secret}", "record": {"x": [secret]}})
    assert secret not in line  # escaped on disk
    (built / "rejected" / "llm.jsonl").write_text(line + "\n")
    assert scan_for_secrets(plan_upload(built)) == ["rejected/llm.jsonl"]


def test_a_symlink_is_never_planned(built, tmp_path):
    (built / "rejected").mkdir(exist_ok=True)
    os.symlink("/etc/passwd", built / "rejected" / "evil.jsonl")
    with pytest.raises(RuntimeError, match="rejected/evil.jsonl.*symbolic link"):
        plan_upload(built)
    os.unlink(built / "rejected" / "evil.jsonl")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.jsonl").write_text("{}\n")
    shutil.rmtree(built / "rejected")
    os.symlink(elsewhere, built / "rejected")  # a linked folder
    with pytest.raises(RuntimeError, match="symbolic link"):
        publish(built, "me/x", api=RecordingHub())
