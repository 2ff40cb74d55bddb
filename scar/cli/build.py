"""``scar build``: build SCaR files from a source dataset (or every build of a recipe)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub, common) -> None:
    p = sub.add_parser("build", parents=[common], help="build SCaR files from a source dataset in its official format",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", help="build everything a recipe names (e.g. pipelines/scar.yaml) from --data-root")
    p.add_argument("--data-root", help="with --recipe: one folder per source (coco_stuff/, refcoco_plus/, refcocog/, "
                                       "visualgenome/, ade20k/)")
    p.add_argument("--yes", action="store_true", help="with --recipe: do not ask before starting")
    p.add_argument("--source",
                   help="dataset: refcoco+, refcocog, coco-stuff, visualgenome, ade20k, or coco (any COCO-format "
                        "annotations); `scar sources list` shows each one's --root layout")
    p.add_argument("--root", help="folder the dataset was downloaded to")
    p.add_argument("--split", choices=["train", "val"],
                   help="val builds the eval file SCaR_eval_<Source>.parquet; train the train file SCAR_<Source>.parquet "
                        "(+ extra/SCAR_<Source>.parquet with our columns)")
    p.add_argument("--out", required=True, help="output folder; several builds may share it")
    p.add_argument("--name", help="file stem for --source coco (default COCO): SCaR_eval_<name>.parquet")
    p.add_argument("--limit", type=int, help="stop after N samples")
    p.add_argument("--seed", type=int, default=0, help="seed: same inputs and seed give the same output")
    p.add_argument("--workers", type=int, default=1, help="run the steps in a local process pool of N workers")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: in-process or --workers processes; ray: Ray Data stages on a local Ray or a "
                        "cluster (pip install 'scar[scale]'); both write the same bytes")
    p.add_argument("--ray-address", help="with --engine ray: the cluster to join (e.g. ray://head:10001 or auto; "
                                         "default RAY_ADDRESS, else a local Ray)")
    p.add_argument("--generator", default="lexical", choices=["lexical", "openai", "local"],
                   help="caption and negative generator (default: lexical, offline); see the generator options")
    p.add_argument("--link-images", action="store_true", help="symlink the images into OUT/images/<prefix>_<split>/")
    p.add_argument("--resume", action="store_true",
                   help="keep the shards an interrupted build (same settings) finished; redo the rest")
    p.add_argument("--shard-size", type=int, default=256, help="images per shard (the unit of resume)")
    p.add_argument("--no-validate", action="store_true", help="skip `scar validate` of the written file")
    p.add_argument("--candidates", default="paper", choices=["paper", "balanced"],
                   help="paper: GT + 3 object, 3 relation, 3 scene swaps (as released; a blind medoid solves it); "
                        "balanced: a 5x2 grid over two elements, rotating, that gives the GT away to no blind model")
    p.add_argument("--judge", action="store_true",
                   help="LLM judge filter: ask the generator's endpoint whether each distractor is false for the "
                        "region; drop samples with a possibly true one (openai/local generators)")
    from scar.build.sources.options import add_source_options

    add_source_options(p)
    from scar.cli.generator_options import add_generator_options

    add_generator_options(p)


def run(args, progress: bool) -> int:
    from scar.build.pipeline import build

    if args.recipe:
        return _run_recipe(args, progress)
    missing = [f"--{k}" for k in ("source", "root", "split") if not getattr(args, k)]
    if missing:
        raise ValueError(f"give {', '.join(missing)} (or --recipe FILE --data-root DIR)")

    from scar.build.sources.options import source_options
    from scar.cli.generator_options import generator_options

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


def _run_recipe(args, progress: bool) -> int:
    from scar.build.recipe import count_images, estimate, load_recipe, run_recipe

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
