"""``scar leaderboard``: tables, the page and exports from result JSONs."""

from __future__ import annotations

import logging
from pathlib import Path

from scar.errors import MissingInput, ScarUserError

log = logging.getLogger("scar")


def add_parser(sub, common) -> None:
    p = sub.add_parser("leaderboard", parents=[common], help="tables, a page and exports from result JSONs",
                        description="Build leaderboard tables from result JSONs (scar eval), beside the numbers "
                                    "the paper reported (scar/data/reference) and matched via models.yaml.")
    p.add_argument("results", help="results folder (scar eval --out), one result JSON, or a build folder with a "
                                   "results/ folder inside (scar demo --out)")
    p.add_argument("--suite", default="scar", choices=["scar", "mmeb", "all"], help="which table(s)")
    p.add_argument("--format", default="md", choices=["md", "csv", "html", "json", "mmeb-json", "mteb"],
                    help="md/csv/json: tables; html: one static page with sortable tables and plots; "
                         "mmeb-json: MMEB-Leaderboard submission file(s); mteb: the mteb results layout (a folder)")
    p.add_argument("--out", help="write here (a file; a folder for mteb and several mmeb-json runs); "
                                  "default: print md/csv/json")
    p.add_argument("--reference", help="folder with paper_*_results.csv, mmeb_tasks.csv, mmeb_published_scores/ "
                                        "(default: scar/data/reference of this checkout)")
    p.add_argument("--model-map", metavar="YAML",
                   help="models.yaml mapping runs to paper rows (default: the one beside --reference)")
    p.add_argument("--no-reported", action="store_true", help="measured rows only (no paper/published rows)")
    p.add_argument("--ties", choices=["strict", "official"],
                   help="the tie rule measured rows are ranked by (default official, the paper's, so that they sit "
                        "beside the paper's rows; a result carries its main score under both rules)")


def results_path(given: str) -> Path:
    """The results to read: ``given`` itself, or ``given/results`` for a build folder (what
    ``scar demo --out`` writes). A path that does not exist is an error, never an empty table."""
    p = Path(given)
    if not p.exists():
        raise MissingInput(f"{given}: no such file or folder")
    if p.is_dir() and (p / "results").is_dir():
        log.info("reading the results under %s", p / "results")
        return p / "results"
    return p


def run(args, progress: bool) -> int:
    import json as _json

    from scar.leaderboard import table as lbm
    from scar.eval.results import load_results

    results = load_results(results_path(args.results))
    if not results:
        raise ScarUserError(f"{args.results}: no result JSON found (scar eval --out writes <run>/<revision>/<task>.json)")
    if args.format in ("mmeb-json", "mteb"):
        from scar.leaderboard.export import write_mmeb_json, write_mteb

        if not args.out:
            raise ScarUserError(f"--format {args.format} needs --out")
        written = (write_mmeb_json if args.format == "mmeb-json" else write_mteb)(results, Path(args.out))
        print(f"wrote {len(written)} file(s) under {args.out}")
        return 0
    reference = Path(args.reference) if args.reference else lbm.default_reference_dir()
    if reference is None and not args.no_reported:
        log.warning("no reference folder found: only measured rows (pass --reference DIR)")
    models = Path(args.model_map) if args.model_map else (reference.parent / "models.yaml" if reference else None)
    model_map = lbm.load_model_map(models)
    suites = ["scar", "mmeb"] if args.suite == "all" else [args.suite]
    ties = getattr(args, "ties", None) or "official"
    tables = [lbm.build_table(results, s, reference=reference, model_map=model_map, reported=not args.no_reported,
                              ties=ties)
              for s in suites if s == "scar" or reference is not None]
    if args.format == "html":
        from scar.leaderboard.page import render_html

        text = render_html(tables)
    elif args.format == "csv":
        text = "".join(lbm.render_csv(t) for t in tables)
    elif args.format == "json":
        text = _json.dumps([lbm.table_json(t) for t in tables], indent=2) + "\n"
    else:
        text = "\n".join(lbm.render_markdown(t) for t in tables)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0
