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

    b = sub.add_parser("build", parents=[common], help="build SCaR files from a source dataset in its official format",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("--recipe", help="build everything a recipe names (e.g. pipelines/scar.yaml) from --data-root")
    b.add_argument("--data-root", help="with --recipe: one folder per source (coco_stuff/, refcoco_plus/, refcocog/, "
                                       "visualgenome/, ade20k/)")
    b.add_argument("--yes", action="store_true", help="with --recipe: do not ask before starting")
    b.add_argument("--source",
                   help="dataset: refcoco+, refcocog, coco-stuff, visualgenome, ade20k, or coco (any COCO-format "
                        "annotations); `scar sources list` shows each one's --root layout")
    b.add_argument("--root", help="folder the dataset was downloaded to")
    b.add_argument("--split", choices=["train", "val"],
                   help="val builds the eval file SCaR_eval_<Source>.parquet; train the train file SCAR_<Source>.parquet "
                        "(+ extra/SCAR_<Source>.parquet with our columns)")
    b.add_argument("--out", required=True, help="output folder; several builds may share it")
    b.add_argument("--name", help="file stem for --source coco (default COCO): SCaR_eval_<name>.parquet")
    b.add_argument("--limit", type=int, help="stop after N samples")
    b.add_argument("--seed", type=int, default=0, help="seed: same inputs and seed give the same output")
    b.add_argument("--workers", type=int, default=1, help="run the steps in a local process pool of N workers")
    b.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: in-process or --workers processes; ray: Ray Data stages on a local Ray or a "
                        "cluster (pip install 'scar[scale]'); both write the same bytes")
    b.add_argument("--ray-address", help="with --engine ray: the cluster to join (e.g. ray://head:10001 or auto; "
                                         "default RAY_ADDRESS, else a local Ray)")
    b.add_argument("--generator", default="lexical", choices=["lexical", "openai", "local"],
                   help="caption and negative generator (default: lexical, offline); see the generator options")
    b.add_argument("--link-images", action="store_true", help="symlink the images into OUT/images/<prefix>_<split>/")
    b.add_argument("--resume", action="store_true",
                   help="keep the shards an interrupted build (same settings) finished; redo the rest")
    b.add_argument("--shard-size", type=int, default=256, help="images per shard (the unit of resume)")
    b.add_argument("--no-validate", action="store_true", help="skip `scar validate` of the written file")
    b.add_argument("--candidates", default="paper", choices=["paper", "balanced"],
                   help="paper: GT + 3 object, 3 relation, 3 scene swaps (as released; a blind medoid solves it); "
                        "balanced: a 5x2 grid over two elements, rotating, that gives the GT away to no blind model")
    b.add_argument("--judge", action="store_true",
                   help="LLM judge filter: ask the generator's endpoint whether each distractor is false for the "
                        "region; drop samples with a possibly true one (openai/local generators)")
    from scar.pipeline.sources.options import add_source_options

    add_source_options(b)
    from scar.pipeline.generate.cli_options import add_generator_options

    add_generator_options(b)

    so = sub.add_parser("sources", parents=[common], help="inspect source datasets: list, stats, overlap (leakage)",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Inspect the source datasets in their official formats, without building.",
                        epilog="examples:\n"
                               "  scar sources list\n"
                               "  scar sources stats --source refcoco+ --root data/refcoco_plus --split val\n"
                               "  scar sources stats --data-root data            every source folder under data/\n"
                               "  scar sources overlap --data-root data --json overlap.json\n")
    sos = so.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    sos.add_parser("list", parents=[common], help="the registered sources and what --root holds for each")
    st = sos.add_parser("stats", parents=[common], help="images, samples and drop reasons per split, in the layout "
                                                         "of the paper's statistics table")
    st.add_argument("--source", help="one source (with --root)")
    st.add_argument("--root", help="the folder the source was downloaded to")
    st.add_argument("--data-root", help="instead of --source/--root: one folder per source named by its file stem "
                                        "in lower case (coco_stuff/, refcoco_plus/, refcocog/, visualgenome/, ade20k/)")
    st.add_argument("--split", choices=["train", "val"], help="one split (default: both)")
    st.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    add_source_options(st)
    ov = sos.add_parser("overlap", parents=[common], help="images shared between sources and splits (train/val "
                                                           "leakage), from the annotations alone")
    ov.add_argument("--data-root", required=True, help="one folder per source, as for `stats --data-root`")
    ov.add_argument("--json", metavar="FILE", help="write every shared image id, per pair, as JSON")

    e = sub.add_parser("eval", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="score embedders on SCaR and MMEB tasks",
                       description="Score embedders on SCaR (5 tasks) and MMEB (36 tasks). Each distinct input is "
                                   "embedded once and cached under $SCAR_CACHE/embeddings; a tie between the GT and "
                                   "a distractor is a miss. One JSON per task goes to "
                                   "OUT/<run>/<revision>/<task>.json; a task already there with the same data and "
                                   "settings is skipped (resume), --overwrite recomputes.",
                       epilog="examples:\n"
                              "  scar eval --data demo_out --model random --model constant --out res\n"
                              "  scar eval --data SCaR-Eval/ --tasks scar --model clip:openai/clip-vit-large-patch14@red-circle --out res\n"
                              "  scar eval --data MMEB-eval/ --tasks mmeb --model clip --dtype bf16 --out res\n"
                              "  scar eval --data hf://TIGER-Lab/MMEB-eval --tasks ImageNet-1K,VOC2007 --model text-only --out res\n"
                              "  scar eval --data demo_out --model my_model.py:MyEmbedder --out res\n"
                              "  scar eval --data SCaR-Eval/ --model virtue --model gme --model vlm2vec --out res\n"
                              "  torchrun --nproc_per_node 8 -m scar.cli eval --data SCaR-Eval/ --model virtue --out res")
    e.add_argument("--data", required=True,
                   help="a SCaR_eval_<Source>.parquet file, a folder of them (the released names), a local copy of "
                        "TIGER-Lab/MMEB-eval (<Task>/test-*.parquet + images/), or hf://OWNER/NAME[@REVISION]")
    e.add_argument("--tasks", action="append",
                   help="'scar' (the 5 SCaR files), 'mmeb' (the 36 MMEB tasks), task names (SCaR_RefCOCO_plus, "
                        "ImageNet-1K...) or a suite YAML; comma-separated or repeated (default: every "
                        "SCaR_eval_*.parquet in --data)")
    e.add_argument("--image-root", help="folder the image paths are relative to (default DATA/images)")
    e.add_argument("--model", action="append", required=True,
                   help="NAME, NAME:MODEL[@VARIANT] (e.g. clip:openai/clip-vit-base-patch32@crop) or "
                        "path/to/file.py:Class; repeat for several (see `scar models`)")
    e.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="keyword argument for the model class (e.g. fusion=image, sam=facebook/sam-vit-huge)")
    e.add_argument("--revision", help="model revision (Hub branch, tag or commit; default: unpinned, the loaded "
                                      "commit is recorded)")
    e.add_argument("--out", required=True, help="results folder: OUT/<run>/<revision>/<task>.json")
    e.add_argument("--device", help="cpu, cuda, cuda:1... (default: cuda when available)")
    e.add_argument("--dtype", help="float32 (default), bf16 or fp16 (autocast; fp16 on CUDA only)")
    e.add_argument("--seed", type=int, default=0, help="seed of the random embedder")
    e.add_argument("--batch-size", type=int, help="inputs per encode call (default: the embedder's)")
    e.add_argument("--workers", type=int, default=2, help="background threads decoding images (0: none)")
    e.add_argument("--overwrite", action="store_true", help="recompute tasks that already have a result")
    e.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    e.add_argument("--max-pixels", type=int, help="Qwen2-VL embedders (vlm2vec, gme, virtue): most pixels of an image "
                                                  "after resizing (default: each model's own; recorded in results)")
    e.add_argument("--virtue-src", metavar="PATH",
                   help="a checkout of github.com/sony/virtue: run `virtue` on its native path (SAM2 box prompt, "
                        "official code; not verified against official weights) instead of text+box")

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

    va = sub.add_parser("validate", parents=[common], help="check a SCaR folder against the schema and invariants",
                        description="Check every SCaR_eval_*/SCAR_* file of a folder: released columns, 10 distinct "
                                    "candidates with the GT first, swap types aligned, boxes inside the image, image "
                                    "files present. Names every offending row; exit status 1 when any.")
    va.add_argument("out", help="the folder a build wrote")
    va.add_argument("--image-root", help="image root (default OUT/images when it exists)")
    va.add_argument("--max-print", type=int, default=50, help="print at most N problems (all are counted)")

    pu = sub.add_parser("publish", parents=[common], help="upload a built folder to the Hugging Face Hub",
                        description="Create the dataset repository and upload the card, the Parquet files and the "
                                    "rejects (never images, local state or results). Every file is scanned for API "
                                    "keys and tokens first. The token comes from HF_TOKEN or `huggingface-cli login`.")
    pu.add_argument("out", help="the folder a build wrote")
    pu.add_argument("--repo-id", required=True, help="ORG/NAME of the dataset repository")
    pu.add_argument("--private", action="store_true", help="create the repository as private")
    pu.add_argument("--dry-run", action="store_true", help="list exactly what would be uploaded, upload nothing")

    au = sub.add_parser("audit", parents=[common], help="blind-solvability audit of SCaR eval files",
                        description="Score blind baselines that never see the image (blind-medoid with "
                                    "all-MiniLM-L6-v2, blind-lexical-overlap; optional blind-fluency) on every eval "
                                    "file, with 95%% intervals next to chance; report swap-type balance, provenance "
                                    "shares, drops per filter and image overlap. Writes DIR/audit.json and the "
                                    "card's audit section. Works on released files too.")
    au.add_argument("dir", help="a folder with SCaR_eval_*.parquet files")
    au.add_argument("--results", help="also write each blind baseline as a result JSON here (for leaderboards)")
    au.add_argument("--text-model", help="sentence-transformers model for blind-medoid (default: the bundled "
                                         "all-MiniLM-L6-v2)")
    au.add_argument("--fluency-model", help="a causal LM (Hub id or path) for the optional blind-fluency baseline")

    rv = sub.add_parser("review", parents=[common], help="review samples in a local web page, then apply",
                        description="Serve a page on 127.0.0.1 showing each sample's image with its box, the GT and "
                                    "the 9 distractors; accept (a), reject with a reason (r), edit (e, s to save). "
                                    "Decisions are saved as they are made (OUT/review/decisions.jsonl). "
                                    "--apply rewrites the eval files: rejected rows go to rejected/review.jsonl.")
    rv.add_argument("out", help="the folder a build wrote")
    rv.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    rv.add_argument("--image-root", help="image root (default OUT/images)")
    rv.add_argument("--apply", action="store_true", help="apply the saved decisions to the folder and exit")
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


def _cmd_recipe(args, progress: bool) -> int:
    from scar.pipeline.recipe import count_images, estimate, load_recipe, run_recipe

    if not args.data_root:
        raise ValueError("--recipe needs --data-root")
    name, plans = load_recipe(args.recipe, args.data_root)
    print(f"recipe {name}: {len(plans)} builds into {args.out}")
    for p in plans:
        p.images = count_images(p)
        print(f"  {p.label:<22} {p.settings.get('generator', 'lexical'):<8} {p.root}"
              f"  ({'?' if p.images is None else p.images} images)")
    est = estimate(plans)
    print(f"LLM requests: at most {est['llm_requests_at_most']}; cost: at most ${est['cost_usd_at_most']:.2f}"
          + (f" (unknown for {', '.join(est['unknown'])})" if est["unknown"] else ""))
    if not args.yes:
        if not sys.stdin.isatty():
            raise ValueError("not starting without confirmation: pass --yes")
        if input("start? [y/N] ").strip().lower() not in ("y", "yes"):
            print("not started")
            return 1
    for rep in run_recipe(plans, args.out, progress=progress, resume=args.resume, engine=args.engine,
                          ray_address=args.ray_address):
        print(f"{rep.path}: {rep.rows} rows from {rep.images} images; {rep.rejected} rejected")
    return 0


def _cmd_build(args, progress: bool) -> int:
    from scar.pipeline.build import build

    if args.recipe:
        return _cmd_recipe(args, progress)
    missing = [f"--{k}" for k in ("source", "root", "split") if not getattr(args, k)]
    if missing:
        raise ValueError(f"give {', '.join(missing)} (or --recipe FILE --data-root DIR)")

    from scar.pipeline.sources.options import source_options
    from scar.pipeline.generate.cli_options import generator_options

    rep = build(args.source, args.root, args.split, args.out, name=args.name, limit=args.limit, seed=args.seed,
                workers=args.workers, generator=args.generator, link_images=args.link_images, progress=progress,
                resume=args.resume, shard_size=args.shard_size, validate=not args.no_validate, judge=args.judge,
                candidates=args.candidates, engine=args.engine, ray_address=args.ray_address,
                source_options=source_options(args), generator_options=generator_options(args))
    print(f"{rep.path}: {rep.rows} rows from {rep.images} images; {rep.rejected} rejected -> {rep.rejections_path}")
    prov = rep.generation.get("provenance", {})
    if prov:
        print("elements by provenance: " + "; ".join(
            f"{el} " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())) for el, c in prov.items()))
    llm = rep.generation.get("llm")
    if llm:
        print(f"LLM {llm['model']} ({llm['prompt']}, {llm['mode']}): {int(llm.get('requests', 0))} requests, "
              f"{int(llm.get('cache_hits', 0))} cache hits, {int(llm.get('retries', 0))} retries, "
              f"{int(llm.get('tokens_in', 0))}+{int(llm.get('tokens_out', 0))} tokens, "
              f"${llm.get('cost_usd', 0):.4f}, {int(llm.get('failed', 0))} failed")
    return 0


def _cmd_eval(args, progress: bool) -> int:
    from scar.embedders import load_embedder
    from scar.evaluate import run_eval
    from scar.tasks import resolve_tasks

    model_args = {}
    for kv in args.model_arg:
        key, sep, value = kv.partition("=")
        if not sep or not key:
            raise ValueError(f"--model-arg {kv!r}: use KEY=VALUE")
        model_args[key.strip().replace("-", "_")] = value
    tasks = resolve_tasks(args.tasks, args.data, args.image_root)
    from scar import dist

    device = dist.init_from_env()  # under torchrun: join the group, this rank's GPU
    if device and not args.device:
        args.device = device
    progress = progress and dist.is_main()
    if args.virtue_src and not any(s.split(":", 1)[0].split("@", 1)[0] == "virtue" for s in args.model):
        raise ValueError("--virtue-src is for the virtue embedder (--model virtue[:MODEL])")
    defaults = {"seed": args.seed, "device": args.device, "dtype": args.dtype, "batch_size": args.batch_size,
                "revision": args.revision, "max_pixels": args.max_pixels, "virtue_src": args.virtue_src}
    failed = 0
    for spec in args.model:
        try:
            emb = load_embedder(spec, args=model_args, **{k: v for k, v in defaults.items() if v is not None})
        except TypeError as e:
            raise ValueError(str(e)) from e

        def show(oc, emb=emb):
            if not dist.is_main():
                return
            if oc.status == "failed":
                print(f"{emb.run_name:<28} {oc.task:<24} FAILED: {oc.error}", file=sys.stderr)
                return
            r = oc.result
            errs = f", {r.n_errors} row(s) left out" if r.n_errors else ""
            print(f"{emb.run_name:<28} {r.task:<24} P@1 {100 * r.main:5.1f}  (n={r.n}, ties "
                  f"{100 * r.tie_rate:.1f}%{errs}){'  [stored]' if oc.status == 'skipped' else ''}  -> {oc.path}")

        outcomes = run_eval(emb, tasks, args.out, overwrite=args.overwrite, progress=progress,
                            batch_size=args.batch_size, cache=not args.no_cache, workers=args.workers,
                            on_outcome=show)
        failed += sum(o.status == "failed" for o in outcomes)
    return 1 if failed else 0


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

    print(f"{'name':<10} {'kind':<7} {'accepts':<11} {'default revision':<46} description")
    for name in EMBEDDERS.names():
        info = EMBEDDERS.info(name)
        desc = info.get("help", "")
        if info.get("variants"):
            desc += f"; variants: {', '.join(info['variants'])}"
        print(f"{name:<10} {info.get('kind', ''):<7} {info.get('accepts', ''):<11} {info.get('revision', ''):<46} {desc}")
    print("\nAlso: path/to/file.py:Class for your own scar.embedders.Embedder subclass (revision: a hash of the file).")
    return 0


def _cmd_sources(args, progress: bool) -> int:
    import json

    from scar.pipeline.sources import SOURCES
    from scar.pipeline.sources import stats as sst
    from scar.pipeline.sources.options import source_options

    if args.sources_command == "list":
        for name in SOURCES.names():
            print(f"{name:<13} {SOURCES.info(name).get('help', '')}")
        return 0
    if args.sources_command == "overlap":
        counts, found = sst.overlap(args.data_root, progress=progress)
        print(sst.render_overlap(counts, found))
        if args.json:
            Path(args.json).write_text(json.dumps({"images": {f"{k}/{sp}": {"images": n, "coco_images": c}
                                                              for (k, sp), (n, c) in counts.items()},
                                                   "overlaps": [o.to_json() for o in found]}, indent=1))
            print(f"wrote {args.json}")
        return 0
    if args.data_root and (args.source or args.root):
        raise ValueError("give either --data-root or --source with --root, not both")
    if args.data_root:
        todo = list(sst.data_root_sources(args.data_root).items())
    elif args.source and args.root:
        todo = [(args.source, args.root)]
    else:
        raise ValueError("give --source and --root (one source) or --data-root (every source folder)")
    splits = [args.split] if args.split else ["train", "val"]
    figures = []
    for key, root in todo:
        for sp in splits:
            try:
                figures.append(sst.source_stats(key, root, sp, progress=progress, **source_options(args)))
            except FileNotFoundError as e:
                if args.split:
                    raise
                log.warning("%s %s skipped: %s", key, sp, e)
    print(sst.render_stats(figures))
    if args.json:
        Path(args.json).write_text(json.dumps([f.to_json() for f in figures], indent=1))
        print(f"wrote {args.json}")
    return 0


def _cmd_validate(args, progress: bool) -> int:
    from scar.pipeline.validate import validate_folder

    problems = validate_folder(args.out, args.image_root)
    for p in problems[: args.max_print]:
        print(p)
    if len(problems) > args.max_print:
        print(f"... and {len(problems) - args.max_print} more")
    print(f"{args.out}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


def _cmd_publish(args, progress: bool) -> int:
    from scar.pipeline.publish import publish

    plan = publish(args.out, args.repo_id, private=args.private, dry_run=args.dry_run)
    verb = "would upload" if args.dry_run else "uploaded"
    for f in plan.files:
        print(f"  {f}")
    print(f"{verb} {len(plan.files)} files ({plan.bytes} bytes) to datasets/{args.repo_id}")
    return 0


def _cmd_audit(args, progress: bool) -> int:
    from scar.audit import audit_folder, format_table

    report = audit_folder(args.dir, text_model=args.text_model, fluency_model=args.fluency_model,
                          results=args.results)
    print(format_table(report))
    print(f"wrote {Path(args.dir) / 'audit.json'}" + (f" and results under {args.results}" if args.results else ""))
    return 0


def _cmd_review(args, progress: bool) -> int:
    if args.apply:
        from scar.review import apply_decisions

        counts = apply_decisions(args.out)
        for line in counts.pop("refused"):
            print(f"edit refused: {line}")
        print(f"applied: {counts['rejected']} rejected, {counts['edited']} edited, "
              f"{counts['refused_edits']} edits refused")
        return 0
    from scar.review.server import make_server

    srv = make_server(args.out, port=args.port, image_root=args.image_root)
    print(f"reviewing {args.out} at http://127.0.0.1:{srv.server_address[1]}/  (Ctrl-C to stop; "
          f"then `scar review {args.out} --apply`)")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


_COMMANDS = {"demo": _cmd_demo, "build": _cmd_build, "eval": _cmd_eval, "leaderboard": _cmd_leaderboard,
             "models": _cmd_models, "sources": _cmd_sources, "validate": _cmd_validate, "publish": _cmd_publish,
             "review": _cmd_review, "audit": _cmd_audit}

if __name__ == "__main__":
    sys.exit(main())
