"""The ``scar`` command line: thin wrappers over the Python API. The CLI owns output."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from scar import __version__

log = logging.getLogger("scar")

_EPILOG = """examples:
  scar demo --out demo_out                  build the bundled sample, score sanity embedders, print the table
  scar build --source coco --root DIR --split val --out OUT --name MyData
  scar eval --data OUT --model random --model oracle --out OUT/results
  scar leaderboard OUT/results --out OUT/leaderboard.md
"""


def _add_common(p: argparse.ArgumentParser, default) -> None:
    """-v/-q work before or after the command; a subcommand's default never overrides."""
    p.add_argument("-v", "--verbose", action="count", default=0 if default is None else default,
                   help="more log output (-vv for debug)")
    p.add_argument("-q", "--quiet", action="store_true", default=False if default is None else default,
                   help="warnings only, no progress bars")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scar", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG,
        description="Build the SCaR benchmark (Segmentation-and-Scene Caption Retrieval), score embedders "
                    "on it, and publish leaderboard tables.")
    p.add_argument("--version", action="version", version=f"scar {__version__}")
    _add_common(p, None)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common, argparse.SUPPRESS)

    d = sub.add_parser("demo", parents=[common], help="build a small SCaR from the bundled sample, evaluate sanity embedders, "
                                    "print the leaderboard")
    d.add_argument("--out", required=True, help="output folder (created)")
    d.add_argument("--seed", type=int, default=0, help="seed of the generator and the random embedder")
    d.add_argument("--workers", type=int, default=1, help="local worker processes for the build")

    b = sub.add_parser("build", parents=[common], help="build SCaR files from a source dataset in its official format")
    b.add_argument("--source", required=True, help="dataset: coco (plain COCO-format annotations)")
    b.add_argument("--root", required=True, help="folder the dataset was downloaded to")
    b.add_argument("--split", required=True, choices=["train", "val"], help="val builds the eval file")
    b.add_argument("--out", required=True, help="output folder; several builds may share it")
    b.add_argument("--name", help="file stem for --source coco (default COCO): SCaR_eval_<name>.parquet")
    b.add_argument("--limit", type=int, help="stop after N samples")
    b.add_argument("--seed", type=int, default=0, help="seed: same inputs and seed give the same output")
    b.add_argument("--workers", type=int, default=1, help="run the steps in a local process pool of N workers")
    b.add_argument("--generator", default="lexical", help="negative generator (default: lexical, offline)")
    b.add_argument("--link-images", action="store_true", help="symlink the images into OUT/images/<prefix>_<split>/")

    e = sub.add_parser("eval", parents=[common], help="score embedders on SCaR eval files")
    e.add_argument("--data", required=True, help="a SCaR_eval_<Source>.parquet file or a folder of them")
    e.add_argument("--image-root", help="image root the qry_image_path values are relative to (default DATA/images)")
    e.add_argument("--model", action="append", required=True,
                   help="registered name (see `scar models`) or path/to/file.py:Class; repeat for several")
    e.add_argument("--out", required=True, help="results folder: OUT/{model}/{revision}/{task}.json")
    e.add_argument("--seed", type=int, default=0, help="seed of the random embedder")
    e.add_argument("--batch-size", type=int, help="inputs per encode call (default: the embedder's)")

    lb = sub.add_parser("leaderboard", parents=[common], help="tables, a page and exports from result JSONs",
                        description="Build leaderboard tables from result JSONs (scar eval), beside the numbers "
                                    "the paper reported (leaderboard/reference) and matched via models.yaml.")
    lb.add_argument("results", help="results folder (or one result JSON)")
    lb.add_argument("--suite", default="scar", choices=["scar", "mmeb", "all"], help="which table(s)")
    lb.add_argument("--format", default="md", choices=["md", "csv", "html", "json", "mmeb-json", "mteb"],
                    help="md/csv/json: tables; html: one static page with sortable tables and plots; "
                         "mmeb-json: MMEB-Leaderboard submission file(s); mteb: the mteb results layout (a folder)")
    lb.add_argument("--out", help="write here (a file; a folder for mteb and several mmeb-json runs); "
                                  "default: print md/csv/json")
    lb.add_argument("--reference", help="folder with paper_*_results.csv, mmeb_tasks.csv, mmeb_published_scores/ "
                                        "(default: leaderboard/reference of this checkout)")
    lb.add_argument("--models", help="models.yaml mapping runs to paper rows (default: next to --reference)")
    lb.add_argument("--no-reported", action="store_true", help="measured rows only (no paper/published rows)")

    sub.add_parser("models", parents=[common], help="list the registered embedders")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command is None:
        _parser().print_help()
        return 2
    progress = not args.quiet
    try:
        return _COMMANDS[args.command](args, progress)
    except (FileNotFoundError, ValueError, KeyError, NotImplementedError, RuntimeError) as e:
        print(f"scar {args.command}: error: {e}", file=sys.stderr)
        return 1


def _cmd_demo(args, progress: bool) -> int:
    from scar.demo import run_demo

    report = run_demo(args.out, seed=args.seed, workers=args.workers, progress=progress)
    print(report.leaderboard_text)
    print(f"eval file:   {report.build.path} ({report.build.rows} rows, {report.build.rejected} rejected: "
          f"{report.build.rejections_path})")
    print(f"results:     {report.results_dir}")
    print(f"leaderboard: {report.leaderboard_path}")
    return 0


def _cmd_build(args, progress: bool) -> int:
    from scar.pipeline.build import build

    rep = build(args.source, args.root, args.split, args.out, name=args.name, limit=args.limit, seed=args.seed,
                workers=args.workers, generator=args.generator, link_images=args.link_images, progress=progress)
    print(f"{rep.path}: {rep.rows} rows from {rep.images} images; {rep.rejected} rejected -> {rep.rejections_path}")
    return 0


def _cmd_eval(args, progress: bool) -> int:
    from scar.embedders import load_embedder
    from scar.evaluate import evaluate
    from scar.tasks import scar_tasks

    tasks = scar_tasks(args.data, args.image_root)
    for spec in args.model:
        emb = load_embedder(spec, seed=args.seed)
        for task in tasks:
            res = evaluate(emb, task, progress=progress, batch_size=args.batch_size)
            path = res.save(args.out)
            print(f"{res.model:<12} {res.task:<24} P@1 {100 * res.main:5.1f}  (n={res.n}, ties "
                  f"{100 * res.tie_rate:.1f}%)  -> {path}")
    return 0


def _cmd_leaderboard(args, progress: bool) -> int:
    import json as _json

    from scar import leaderboard as lbm
    from scar.results import load_results

    results = load_results(args.results)
    if args.format in ("mmeb-json", "mteb"):
        from scar.leaderboard_export import write_mmeb_json, write_mteb

        if not args.out:
            raise ValueError(f"--format {args.format} needs --out")
        written = (write_mmeb_json if args.format == "mmeb-json" else write_mteb)(results, Path(args.out))
        print(f"wrote {len(written)} file(s) under {args.out}")
        return 0
    reference = Path(args.reference) if args.reference else lbm.default_reference_dir()
    if reference is None and not args.no_reported:
        log.warning("no reference folder found: only measured rows (pass --reference DIR)")
    models = Path(args.models) if args.models else (reference.parent / "models.yaml" if reference else None)
    model_map = lbm.load_model_map(models)
    suites = ["scar", "mmeb"] if args.suite == "all" else [args.suite]
    tables = [lbm.build_table(results, s, reference=reference, model_map=model_map, reported=not args.no_reported)
              for s in suites if s == "scar" or reference is not None]
    if args.format == "html":
        from scar.leaderboard_page import render_html

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


def _cmd_models(args, progress: bool) -> int:
    from scar.embedders import EMBEDDERS

    print(f"{'name':<12} {'kind':<8} {'accepts':<10} description")
    for name in EMBEDDERS.names():
        info = EMBEDDERS.info(name)
        print(f"{name:<12} {info.get('kind', ''):<8} {info.get('accepts', ''):<10} {info.get('help', '')}")
    return 0


_COMMANDS = {"demo": _cmd_demo, "build": _cmd_build, "eval": _cmd_eval, "leaderboard": _cmd_leaderboard,
             "models": _cmd_models}

if __name__ == "__main__":
    sys.exit(main())
