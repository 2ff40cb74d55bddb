"""``scar demo``: the bundled sample -> a small SCaR -> sanity embedders -> leaderboard."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from scar.build import samples
from scar.eval.embedders import load_embedder
from scar.eval.harness import evaluate
from scar.leaderboard.table import build_table, render_markdown
from scar.build.config import BuildConfig
from scar.build.pipeline import BuildReport, build
from scar.eval.tasks import ScarTask

log = logging.getLogger(__name__)

#: Sanity rows (chance floor, ceiling, tie canary) and the blind text-only row (the
#: bundled all-MiniLM-L6-v2; left out with a warning when sentence-transformers is missing).
DEMO_MODELS = ("random", "oracle", "constant", "text-only")


def _blind_rows(out: Path, results_dir: Path) -> list:
    """The audit's blind baselines (never see the image) as leaderboard rows."""
    from scar.build.card import record_audit
    from scar.eval.audit import audit_folder
    from scar.eval.results import load_results

    try:
        record_audit(out, audit_folder(out, results=results_dir))
    except (ImportError, RuntimeError) as e:
        log.warning("demo: skipping the blind audit rows: %s", e)
        return []
    return [r for r in load_results(results_dir) if r.model.startswith("blind-")]


@dataclass
class DemoReport:
    build: BuildReport
    results_dir: Path
    leaderboard_path: Path
    leaderboard_text: str
    oracle: float | None = None  # the harness check: told the answers, it must score 1.0 (never a table row)


def run_demo(out: str | Path, *, seed: int = 0, workers: int = 1, progress: bool = True) -> DemoReport:
    out = Path(out)
    src = samples.materialize(out / "sample_source")
    rep = build(BuildConfig(source={"name": "coco", "root": src, "split": samples.SPLIT, "stem": samples.SAMPLE_NAME},
                            seed=seed, engine={"workers": workers},
                            output={"dir": out, "link_images": True, "progress": progress}))
    task = ScarTask(rep.path, out / "images")
    results_dir = out / "results"
    results = []
    for name in DEMO_MODELS:
        try:
            emb = load_embedder(name, seed=seed)
        except RuntimeError as e:  # text-only without sentence-transformers (`pip install 'scar[models]'`)
            log.warning("demo: skipping %s: %s", name, e)
            continue
        res = evaluate(emb, task, progress=progress, cache=False)
        res.save(results_dir)
        results.append(res)
    results += _blind_rows(out, results_dir)
    text = render_markdown(build_table(results, "scar", reported=False), title="SCaR leaderboard (bundled sample)")
    lb = out / "leaderboard.md"
    lb.write_text(text, encoding="utf-8")
    oracle = next((r.main for r in results if r.model == "oracle"), None)
    return DemoReport(rep, results_dir, lb, text, oracle)


def add_parser(sub, common) -> None:
    p = sub.add_parser("demo", parents=[common], help="build a small SCaR from the bundled sample, evaluate sanity embedders, "
                                    "print the leaderboard")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--seed", type=int, default=0, help="seed of the generator and the random embedder")
    p.add_argument("--workers", type=int, default=1, help="local worker processes for the build")


def run(args, progress: bool) -> int:
    report = run_demo(args.out, seed=args.seed, workers=args.workers, progress=progress)
    print(report.leaderboard_text)
    if report.oracle is not None:
        print(f"harness check: oracle (told the answers) scores {100 * report.oracle:.1f}, as it must "
              "(never a leaderboard row)")
    print(f"eval file:   {report.build.path} ({report.build.rows} rows, {report.build.rejected} rejected: "
          f"{report.build.rejections_path})")
    print(f"results:     {report.results_dir}")
    print(f"leaderboard: {report.leaderboard_path}")
    return 0
