"""``scar build``: build SCaR files from a source dataset (or every build of a recipe).

The flags make a ``BuildConfig`` (``scar/build/config.py``) through one function,
:func:`config_layer`: every flag left out keeps the config's default, so a recipe's
settings stay unless a flag overrides them, and the choices come from the registries.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

#: argparse dest -> (BuildConfig path, how the flag's value becomes the field's).
#: Flags whose value is None (or False for on/off flags) were not given.
FLAGS: dict[str, tuple[tuple[str, ...], Any]] = {
    "source": (("source", "name"), None), "root": (("source", "root"), None),
    "split": (("source", "split"), None), "name": (("source", "stem"), None),
    "limit": (("source", "limit"), None), "images": (("source", "images"), None),
    "annotations": (("source", "annotations"), None), "stuff": (("source", "stuff"), None),
    "masks": (("source", "masks"), None),
    "sam_model": (("source", "sam_model"), None), "sam_batch": (("source", "sam_batch"), None),
    "exclude_coco": (("source", "exclude_coco"), None), "val_percent": (("source", "val_percent"), None),
    "max_per_image": (("source", "max_per_image"), None), "min_area": (("source", "min_area"), None),
    "check_images": (("source", "check_images"), None),
    "seed": (("seed",), None),
    "generator": (("generator", "name"), None), "candidates": (("generator", "candidates"), None),
    "judge": (("generator", "judge"), bool), "llm_model": (("generator", "model"), None),
    "llm_base_url": (("generator", "base_url"), None), "complete_only": (("generator", "complete_only"), bool),
    "llm_swaps": (("generator", "llm_swaps"), bool), "max_cost": (("generator", "max_cost"), None),
    "llm_price": (("generator", "price"), tuple), "llm_concurrency": (("generator", "concurrency"), None),
    "llm_timeout": (("generator", "timeout"), None), "llm_max_attempts": (("generator", "max_attempts"), None),
    "llm_max_tokens": (("generator", "max_tokens"), None), "llm_json": (("generator", "json_mode"), None),
    "llm_vision": (("generator", "vision"), bool), "llm_scenes": (("generator", "closed_scenes"), "closed"), "no_llm_cache": (("generator", "use_cache"), "not"),
    "scene_model": (("generator", "scene_model"), None), "scene_margin": (("generator", "scene_margin"), None),
    "engine": (("engine", "name"), None), "workers": (("engine", "workers"), None),
    "ray_address": (("engine", "ray_address"), None), "shard_size": (("engine", "shard_size"), None),
    "out": (("output", "dir"), None), "link_images": (("output", "link_images"), bool),
    "no_validate": (("output", "validate"), "not"), "resume": (("output", "resume"), bool),
}


def _default(*path: str) -> str:
    """``(default: X)`` from the config model, so the help never restates a default by hand."""
    from scar.build.config import BuildConfig

    model, field = BuildConfig, None
    for p in path:
        field = model.model_fields[p]
        model = field.annotation if isinstance(field.annotation, type) else None
    return f" (default: {field.default})"


def add_parser(sub, common) -> None:
    from scar.build.config import CANDIDATES, ENGINES, GENERATORS
    from scar.build.sources import SOURCES

    p = sub.add_parser("build", parents=[common], help="build SCaR files from a source dataset in its official format",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", help="build everything a recipe names (e.g. pipelines/scar.yaml) from --data-root; "
                                    "flags given here override every build of it")
    p.add_argument("--data-root", help="with --recipe: one folder per source (coco_stuff/, refcoco_plus/, refcocog/, "
                                       "visualgenome/, ade20k/)")
    p.add_argument("--yes", action="store_true", help="with --recipe: do not ask before starting")
    p.add_argument("--source", choices=SOURCES.names(), metavar="SOURCE",
                   help="dataset: " + ", ".join(SOURCES.names()) + " (coco: any COCO-format annotations); "
                        "`scar sources list` shows each one's --root layout")
    p.add_argument("--root", help="folder the dataset was downloaded to")
    p.add_argument("--split", choices=["train", "val"],
                   help="val builds the eval file SCaR_eval_<Source>.parquet; train the train file SCAR_<Source>.parquet "
                        "(+ extra/SCAR_<Source>.parquet with our columns)")
    p.add_argument("--out", required=True, help="output folder; several builds may share it")
    p.add_argument("--name", help="file stem for --source coco (default COCO): SCaR_eval_<name>.parquet")
    p.add_argument("--limit", type=int, help="stop after N samples (N >= 1)")
    p.add_argument("--seed", type=int, help="seed: same inputs and seed give the same output" + _default("seed"))
    p.add_argument("--workers", type=int, help="run the steps in a local process pool of N workers"
                   + _default("engine", "workers"))
    p.add_argument("--engine", choices=ENGINES.names(),
                   help="local: in-process or --workers processes; ray: Ray Data stages on a local Ray or a "
                        "cluster (pip install 'scar[scale]'); both write the same bytes" + _default("engine", "name"))
    p.add_argument("--ray-address", help="with --engine ray: the cluster to join (e.g. ray://head:10001 or auto; "
                                         "default RAY_ADDRESS, else a local Ray)")
    p.add_argument("--generator", choices=GENERATORS.names(),
                   help="caption and negative generator (offline: lexical); see the generator options"
                   + _default("generator", "name"))
    p.add_argument("--link-images", action="store_true", help="symlink the images into OUT/images/<prefix>_<split>/")
    p.add_argument("--resume", action="store_true",
                   help="keep the shards an interrupted build finished; refused when a setting that decides the "
                        "rows changed")
    p.add_argument("--shard-size", type=int, help="images per shard (the unit of resume)"
                   + _default("engine", "shard_size"))
    p.add_argument("--no-validate", action="store_true", help="skip `scar validate` of the written file")
    p.add_argument("--candidates", choices=CANDIDATES.names(),
                   help="; ".join(f"{n}: {CANDIDATES.info(n)['help']}" for n in CANDIDATES.names())
                   + _default("generator", "candidates"))
    p.add_argument("--scene-model", metavar="clip:PATH",
                   help="zero-shot scene choice with a CLIP (clip:PATH) or SigLIP (siglip:PATH) checkpoint, a local "
                        "folder or Hub id: where the stuff and objects give only indoors/outdoors or no scene, the "
                        "image is scored against 'a photo of <scene>' for the scenes of that kind (every scene when "
                        "the kind is undecided); the best is taken only when it beats the runner-up by "
                        "--scene-margin, else the evidence answer stays (scene provenance 'model')")
    p.add_argument("--scene-margin", type=float, metavar="P",
                   help="with --scene-model: the best scene's probability must beat the runner-up's by more than "
                        "P, in [0, 1] (default 0.2; 1 never chooses)")
    p.add_argument("--judge", action="store_true",
                   help="LLM judge filter: ask the generator's endpoint whether each distractor is false for the "
                        "region; drop samples with a possibly true one (openai/local generators)")
    from scar.build.sources.options import add_source_options

    add_source_options(p)
    from scar.cli.generator_options import add_generator_options

    add_generator_options(p)


def config_layer(args: argparse.Namespace, progress: bool | None = None) -> dict[str, Any]:
    """The settings given on the command line, nested as in ``BuildConfig`` (flags left out
    are absent, so the config's defaults, or a recipe's settings, stay)."""
    layer: dict[str, Any] = {}
    for dest, (path, how) in FLAGS.items():
        v = getattr(args, dest, None)
        if v is None or (how in (bool, "not") and v is False):
            continue
        v = (not v) if how == "not" else tuple(v) if how is tuple else (v == "closed") if how == "closed" else v
        node = layer
        for k in path[:-1]:
            node = node.setdefault(k, {})
        node[path[-1]] = v
    if progress is not None:
        layer.setdefault("output", {})["progress"] = progress
    return layer


def flag_names() -> dict[tuple[str, ...], str]:
    """BuildConfig path -> the flag that sets it (for error messages)."""
    return {path: "--" + dest.replace("_", "-") for dest, (path, _) in FLAGS.items()}


def build_config(args: argparse.Namespace, progress: bool = True):
    """The one ``args -> BuildConfig`` of ``scar build`` (a ScarUserError names each bad flag)."""
    from pydantic import ValidationError

    from scar.build.config import BuildConfig, describe
    from scar.errors import ScarUserError

    missing = [f"--{k}" for k in ("source", "root", "split") if not getattr(args, k)]
    if missing:
        raise ScarUserError(f"give {', '.join(missing)} (or --recipe FILE --data-root DIR)")
    try:
        return BuildConfig.model_validate(config_layer(args, progress))
    except ValidationError as e:
        raise ScarUserError(describe(e, flags=flag_names())) from None


def run(args, progress: bool) -> int:
    from scar.build.pipeline import build

    if args.recipe:
        return _run_recipe(args, progress)
    rep = build(build_config(args, progress))
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
    from scar.errors import ScarUserError

    if not args.data_root:
        raise ScarUserError("--recipe needs --data-root")
    given = [f"--{k}" for k in ("source", "root", "split", "name") if getattr(args, k)]
    if given:
        raise ScarUserError(f"{', '.join(given)}: the recipe names each build's source; drop them with --recipe")
    name, plans = load_recipe(args.recipe, args.data_root, config_layer(args, progress), flag_names())
    print(f"recipe {name}: {len(plans)} builds into {args.out}")
    for p in plans:
        p.images = count_images(p)
        print(f"  {p.label:<22} {p.config.generator.name:<8} {p.config.source.root}"
              f"  ({'?' if p.images is None else p.images} images)")
    est = estimate(plans)
    print(f"LLM requests: at most {est['llm_requests_at_most']}; cost: at most ${est['cost_usd_at_most']:.2f}"
          + (f" (unknown for {', '.join(est['unknown'])})" if est["unknown"] else ""))
    if not args.yes:
        if not sys.stdin.isatty():
            raise ScarUserError("not starting without confirmation: pass --yes")
        if input("start? [y/N] ").strip().lower() not in ("y", "yes"):
            print("not started")
            return 1
    for rep in run_recipe(plans):
        print(f"{rep.path}: {rep.rows} rows from {rep.images} images; {rep.rejected} rejected")
    return 0
