"""The static leaderboard page in a real browser: Debian's headless Chromium via Playwright."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests_support_paths import REF

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def page_file(tmp_path_factory, sample_build):
    from scar.eval.embedders import load_embedder
    from scar.eval.harness import evaluate
    from scar.eval.tasks import ScarTask

    root = tmp_path_factory.mktemp("lb")
    task = ScarTask(sample_build.path)
    for name in ("random", "oracle"):
        evaluate(load_embedder(name), task, progress=False).save(root / "results")
    out = root / "index.html"
    scar = Path(sys.executable).parent / "scar"
    r = subprocess.run([str(scar), "leaderboard", str(root / "results"), "--suite", "all", "--format", "html",
                        "--reference", str(REF), "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def test_page_renders_sorts_and_logs_no_errors(page_file):
    assert CHROMIUM, "Chromium is needed for page tests: `make chromium` (Debian package chromium)"
    from playwright.sync_api import sync_playwright

    html = page_file.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing to fetch
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        assert page.title() == "SCaR / MMEB leaderboard"
        rows = page.locator("#scar-table tbody tr")
        assert rows.count() == 27 + 2  # the paper's rows + random + oracle
        assert page.locator("svg").count() >= 1  # the per-source plot
        assert page.locator("#scar-table td.best").count() >= 6

        col = ["Model", "Kind", "RefCOCO+", "RefCOCOg", "VisualGenome", "COCO-Stuff", "ADE20K", "Sample",
               "Overall"].index("Overall")
        header = page.locator("#scar-table th").nth(col)

        def overall():
            vals = page.eval_on_selector_all(f"#scar-table tbody tr td:nth-child({col + 1})",
                                             "els => els.map(e => e.getAttribute('data-v'))")
            return [float(v) for v in vals if v]

        header.click()
        asc = overall()
        assert asc == sorted(asc) and header.get_attribute("aria-sort") == "ascending"
        header.click()
        desc = overall()
        assert desc == sorted(desc, reverse=True) and desc[0] == pytest.approx(56.9)
        page.locator("#scar-table th").first.click()  # sort by model name works too
        names = page.eval_on_selector_all("#scar-table tbody tr td:first-child", "els => els.map(e => e.textContent)")
        assert names == sorted(names, key=str.casefold)
        browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []
