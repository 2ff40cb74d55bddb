"""The static leaderboard page in a real browser: Debian's headless Chromium via Playwright
(never a browser downloaded by a test tool)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from scar.cli import main
from scar.eval.results import TaskResult
from scar.leaderboard.table import default_reference_dir
from support import CHROMIUM, FLAGS

REF = default_reference_dir()
SCAR_TASKS = ["SCaR_RefCOCO_plus", "SCaR_RefCOCOg", "SCaR_VisualGenome", "SCaR_COCO_Stuff", "SCaR_ADE20K"]


def _mmeb_tasks():
    import csv

    with open(REF / "mmeb_tasks.csv", newline="", encoding="utf-8") as f:
        return [r["task"] for r in csv.DictReader(f)]


def _result(task, model, p, suite="scar", kind="model", n=100):
    return TaskResult(task=task, suite=suite, model=model, model_revision="r1", model_kind=kind,
                      main_score="precision_at_1" if suite == "scar" else "hit_at_1",
                      scores={"precision_at_1" if suite == "scar" else "hit_at_1": p}, n=n, tie_rate=0.0,
                      data={"dataset": "f", "revision": "x", "split": "test"})


@pytest.fixture(scope="module")
def results(tmp_path_factory, sample_build):
    from scar.eval.embedders import load_embedder
    from scar.eval.harness import evaluate
    from scar.eval.tasks import ScarTask

    root = tmp_path_factory.mktemp("lb") / "results"
    task = ScarTask(sample_build.path)
    for name in ("random", "oracle", "constant"):
        evaluate(load_embedder(name), task, progress=False).save(root)
    for t in SCAR_TASKS:  # "my-model": a user's model on the five sources (and on the sample)
        _result(t, "my-model", 0.30).save(root)
    _result("SCaR_Sample", "my-model", 0.44, n=25).save(root)
    for t in _mmeb_tasks():
        _result(t, "my-model", 0.5, suite="mmeb").save(root)
    return root


def _args(results, out):
    return ["leaderboard", str(results), "--suite", "all", "--format", "html", "--reference", str(REF), "--out", str(out)]


def _page(results, out):
    """The page as `scar leaderboard` writes it, in this process."""
    assert main(_args(results, out)) == 0
    return out


def test_regenerating_the_page_changes_no_byte(results, tmp_path):
    a = _page(results, tmp_path / "a.html").read_bytes()
    b = _page(results, tmp_path / "b.html").read_bytes()
    assert a == b
    assert b"oracle" not in a  # never a leaderboard entry
    assert a.count(b"<svg") == 3  # per source, your files, MMEB (nothing matched: no measured-vs-reported)


@pytest.mark.slow
@pytest.mark.browser
def test_page_in_chromium(results, tmp_path):
    assert CHROMIUM, "Chromium is needed for page tests: `make chromium` (Debian package chromium)"
    from playwright.sync_api import sync_playwright

    page_file = _page(results, tmp_path / "index.html")
    # the command in a fresh process writes the same bytes (nothing depends on the process)
    r = subprocess.run([sys.executable, "-m", "scar.cli", *_args(results, tmp_path / "again.html")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "again.html").read_bytes() == page_file.read_bytes()
    html = page_file.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing to fetch
    errors, requests = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        assert page.title() == "SCaR / MMEB leaderboard"
        body = page.locator("#scar-table tbody tr")
        # the paper's 27 rows + my-model, the baselines separator, constant and random (no oracle)
        assert body.count() == 27 + 1 + 1 + 2
        names = page.eval_on_selector_all("#scar-table tbody tr td:first-child", "els => els.map(e => e.textContent)")
        assert names[-2:] == ["constant", "random"] and "◆ my-model" in names[:28]
        assert page.locator("#scar-table tr.measured").count() == 1
        assert page.locator("#scar-readings li").count() >= 3

        # every legend: text at least 10 px on screen, each plotted model once, each in its own colour
        legends = page.evaluate("""() => Array.from(document.querySelectorAll('figure svg')).map(svg => {
            const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
            const leg = svg.querySelector('g[id^=legend]');
            const texts = Array.from(leg.querySelectorAll('text'));
            const patches = Array.from(leg.querySelectorAll('g[id^=patch] path, g[id^=line2d] path'));
            return {caption: svg.parentElement.querySelector('figcaption').textContent,
                    labels: texts.map(t => t.textContent),
                    px: texts.map(t => parseFloat(getComputedStyle(t).fontSize) * scale),
                    colours: patches.map(p => getComputedStyle(p).fill).filter(c => c !== 'none')};
        })""")
        captions = [g["caption"] for g in legends]
        assert captions == ["Per-source precision@1", "Your SCaR files, with chance", "MMEB per meta-task"]
        for g in legends:
            assert min(g["px"]) >= 10, g
            assert len(g["labels"]) == len(set(g["labels"])), g["labels"]
            assert len(g["colours"]) == len(set(g["colours"])), g
        assert "◆ my-model [measured]" in legends[0]["labels"]  # the user's model, beside the paper's best
        assert "◆ my-model [measured]" in legends[1]["labels"] and "chance (10)" in legends[1]["labels"]
        assert "◆ my-model [measured]" in legends[2]["labels"]
        page.locator("figure").first.screenshot(path=str(tmp_path / "sources.png"))

        col = ["Model", "Kind", "RefCOCO+", "RefCOCOg", "VisualGenome", "COCO-Stuff", "ADE20K", "Sample",
               "Overall"].index("Overall")
        header = page.locator("#scar-table th").nth(col)

        def overall():
            vals = page.eval_on_selector_all(f"#scar-table tbody tr[data-group=a] td:nth-child({col + 1})",
                                             "els => els.map(e => e.getAttribute('data-v'))")
            return [float(v) for v in vals if v]

        header.click()
        asc = overall()
        assert asc == sorted(asc) and header.get_attribute("aria-sort") == "ascending"
        header.click()
        desc = overall()
        assert desc == sorted(desc, reverse=True) and desc[0] == pytest.approx(56.9)
        names = page.eval_on_selector_all("#scar-table tbody tr td:first-child", "els => els.map(e => e.textContent)")
        assert names[-2:] == ["constant", "random"]  # sorting never lifts a baseline among the ranked rows
        browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []
