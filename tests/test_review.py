"""The review page in headless Chromium (Debian's, via Playwright): load, accept, reject,
reload (decisions still there), edit, then --apply."""

import json
import shutil
import threading

import pyarrow.parquet as pq
import pytest

from scar.build.review import apply_decisions
from scar.build.review.server import make_server
from scar.build.review.store import Decision, ReviewStore
from support import CHROMIUM, FLAGS


@pytest.fixture()
def folder(sample_build, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(sample_build.path.parent, out, symlinks=True)
    return out


@pytest.fixture()
def server(folder):
    srv = make_server(folder)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)  # quick shutdown
    t.start()
    yield srv.url
    srv.shutdown()
    srv.server_close()


def _at(page, row):
    page.wait_for_function(f"document.getElementById('meta').textContent.includes({json.dumps(row['id'])})")


@pytest.mark.slow
@pytest.mark.browser
def test_review_in_a_browser(folder, server):
    assert CHROMIUM, "Chromium is needed for page tests: `make chromium`"
    from playwright.sync_api import sync_playwright

    rows = pq.read_table(folder / "SCaR_eval_Sample.parquet").to_pylist()
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        plain = browser.new_page()  # under the page's own Content-Security-Policy it works as served
        plain.on("pageerror", lambda e: errors.append(str(e)))
        plain.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        plain.goto(server)
        plain.wait_for_selector("#cands li")
        assert plain.locator("#cands li").count() == 10
        plain.close()
        page = browser.new_page(bypass_csp=True)  # the page's CSP forbids eval, which wait_for_function uses
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(server)
        page.wait_for_selector("#cands li")
        _at(page, rows[0])
        assert page.locator("#cands li").count() == 10
        assert page.locator("#cands li.gt .text").inner_text() == rows[0]["tgt_text"][0]
        assert page.locator("#cands li .type").nth(1).inner_text() == rows[0]["neg_types"][0]
        # the swapped words are highlighted: a single object swap marks exactly the new object
        j = rows[0]["neg_types"].index("object") + 1
        assert page.locator("#cands li").nth(j).locator("mark").inner_text() == rows[0]["neg_values"][j - 1]
        assert page.locator("#cands li.gt mark").count() == 0
        facts = page.locator("#facts").inner_text()  # the source phrase and the provenance of each element
        assert rows[0]["object_provenance"] in facts and "provenance" in facts
        if rows[0]["phrase"]:
            assert rows[0]["phrase"] in facts
        page.wait_for_function("document.getElementById('img').width > 10")  # the image loaded, box drawn
        assert "0 / " in page.locator("#progress").inner_text()

        page.keyboard.press("a")  # accept sample 0: the page moves on by itself
        _at(page, rows[1])
        page.keyboard.press("r")  # reject without a reason: refused, and no "r" typed into the reason box
        page.wait_for_function("document.getElementById('error').textContent.includes('reason')")
        assert page.input_value("#reason") == ""
        page.keyboard.type("relation swap is true")  # the box has the focus now
        page.keyboard.press("Enter")
        _at(page, rows[2])
        assert "2 / " in page.locator("#progress").inner_text()

        page.reload()  # decisions survive a reload; the page reopens at the first undecided sample
        page.wait_for_selector("#cands li")
        _at(page, rows[2])
        assert "2 / " in page.locator("#progress").inner_text()
        page.keyboard.press("k")
        page.wait_for_function("document.getElementById('status').textContent.includes('relation swap is true')")
        page.keyboard.press("j")
        _at(page, rows[2])

        page.keyboard.press("e")  # edit the first object swap; the GT is read-only
        page.wait_for_selector("#cands input.cand")
        assert page.locator("#cands input.cand").nth(0).get_attribute("readonly") is not None
        assert page.evaluate("document.activeElement.className") == "cand"  # the field has the focus ...
        assert page.locator("#cands input.cand").nth(1).input_value() == rows[2]["tgt_text"][1]  # ... no "e" typed
        k = rows[2]["neg_types"].index("object") + 1
        new = rows[2]["tgt_text"][k].replace(rows[2]["neg_values"][k - 1], "zebra", 1)
        page.locator("#cands input.cand").nth(k).fill(new)
        page.locator("#cands input.cand").nth(k).press("Enter")  # Enter saves the edit and moves on
        _at(page, rows[3])
        assert "3 / " in page.locator("#progress").inner_text()
        browser.close()
    assert errors == []

    lines = [json.loads(x) for x in (folder / "review" / "decisions.jsonl").read_text().splitlines()]
    assert [d["action"] for d in lines] == ["accept", "reject", "edit"]

    counts = apply_decisions(folder)
    assert (counts["rejected"], counts["edited"], counts["refused_edits"]) == (1, 1, 0)
    after = pq.read_table(folder / "SCaR_eval_Sample.parquet").to_pylist()
    assert len(after) == len(rows) - 1 and rows[1]["id"] not in {r["id"] for r in after}
    edited = next(r for r in after if r["id"] == rows[2]["id"])
    assert edited["tgt_text"][k] == new and edited["neg_values"][k - 1] == "zebra"
    rej = [json.loads(x) for x in (folder / "rejected" / "review.jsonl").read_text().splitlines()]
    assert rej[0]["reason"] == "review: relation swap is true" and rej[0]["sample_id"] == rows[1]["id"]
    from scar.build.validate import validate_folder

    assert validate_folder(folder) == []


def test_bad_decisions_are_refused_and_a_cut_line_is_survived(folder):
    store = ReviewStore(folder)
    row = store.rows[0]
    with pytest.raises(ValueError, match="needs a reason"):
        store.record(Decision(row["id"], "reject"))
    bad = list(row["tgt_text"])
    bad[4] = "something else entirely"
    with pytest.raises(ValueError, match="keep every element but the relation"):
        store.record(Decision(row["id"], "edit", candidates=bad))
    with pytest.raises(ValueError, match="ground truth cannot be edited"):
        store.record(Decision(row["id"], "edit", candidates=["new gt"] + row["tgt_text"][1:]))
    store.record(Decision(row["id"], "accept"))
    with open(store.log, "a") as f:
        f.write('{"id": "' + row["id"] + '", "action": "rej')  # a kill mid-write
    assert ReviewStore(folder).decisions[row["id"]].action == "accept"
