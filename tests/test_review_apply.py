"""``scar review --apply`` loses no row whenever it stops (issue 17, item 3) and leaves a
card that matches the files (issue 18): a rejected row is in its eval file or in
``rejected/review.jsonl``, never in neither, after a ``kill -9`` at any file replacement
or an error after the rewrite; a re-run finishes the job without duplicates; after it,
``datasets.load_dataset(folder, "Sample_val")`` loads the remaining rows."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scar.build.review import apply_decisions
from scar.build.review.store import Decision, ReviewStore


@pytest.fixture()
def folder(sample_build, tmp_path):
    """The sample build plus a second eval file (other ids), every third row rejected."""
    out = tmp_path / "out"
    shutil.copytree(sample_build.path.parent, out, symlinks=True)
    t = pq.read_table(out / "SCaR_eval_Sample.parquet")
    ids = [f"{i}-copy" for i in t.column("id").to_pylist()]
    pq.write_table(t.set_column(t.schema.get_field_index("id"), "id", pa.array(ids)), out / "SCaR_eval_Zcopy.parquet",
                   compression="zstd")
    store = ReviewStore(out)
    for i, r in enumerate(store.rows):
        if i % 3 == 0:
            store.record(Decision(r["id"], "reject", reason=f"bad {i}"))
    return out


def _ids(folder):
    in_files = {i for f in sorted(folder.glob("SCaR_eval_*.parquet")) for i in pq.read_table(f).column("id").to_pylist()}
    rej = folder / "rejected" / "review.jsonl"
    rejected = [json.loads(x)["sample_id"] for x in rej.read_text().splitlines()] if rej.is_file() else []
    return in_files, rejected


def _kill_at(folder, nth: int) -> int:
    """Run apply in a child process that SIGKILLs itself at its ``nth`` os.replace."""
    code = f"""
import os, signal
import scar.build.review.store as st
real, n = os.replace, [0]
def replace(a, b):
    n[0] += 1
    if n[0] == {nth}:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(a, b)
st.os.replace = replace
st.apply_decisions({str(folder)!r})
"""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).returncode


@pytest.mark.slow
@pytest.mark.parametrize("nth", [1, 2, 3, 4])  # rejects, journal, file 1, file 2
def test_kill_9_at_any_replacement_loses_no_row(folder, nth):
    before, _ = _ids(folder)
    wanted = {d.id for d in ReviewStore(folder).decisions.values()}
    rc = _kill_at(folder, nth)
    in_files, rejected = _ids(folder)
    assert rc == -signal.SIGKILL
    assert before == in_files | set(rejected), "a row is in no file"
    apply_decisions(folder)  # the re-run finishes (or redoes) the job
    in_files, rejected = _ids(folder)
    assert set(rejected) == wanted and len(rejected) == len(wanted)  # every reject once
    assert in_files == before - wanted
    assert not list(folder.glob("*.review-new")) and not (folder / "review" / "apply.json").exists()


def test_an_error_after_the_rewrite_loses_no_row(folder):
    before, _ = _ids(folder)
    (folder / "rejected" / "review.jsonl").mkdir(parents=True)  # the rejects cannot be written
    with pytest.raises(OSError):
        apply_decisions(folder)
    assert _ids(folder)[0] == before  # no eval file was replaced
    (folder / "rejected" / "review.jsonl").rmdir()
    apply_decisions(folder)
    in_files, rejected = _ids(folder)
    assert in_files | set(rejected) == before and not in_files & set(rejected)


def test_the_card_follows_apply_and_load_dataset_works(folder, tmp_path, monkeypatch):
    import datasets
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    n = pq.read_metadata(folder / "SCaR_eval_Sample.parquet").num_rows
    counts = apply_decisions(folder)
    left = pq.read_metadata(folder / "SCaR_eval_Sample.parquet").num_rows
    assert counts["rejected"] > 0 and left < n
    card = (folder / "README.md").read_text()
    assert f"num_examples: {left}" in card
    ds = datasets.load_dataset(str(folder), "Sample_val", split="test")
    assert len(ds) == left
    from scar.build.card import card_problems

    assert not [p for p in card_problems(folder) if "Sample" in p]  # scar validate agrees with the files
