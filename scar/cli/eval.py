"""``scar eval``: score embedders on SCaR and MMEB tasks."""

from __future__ import annotations

import argparse
import sys

from scar.errors import ScarUserError


def add_parser(sub, common) -> None:
    p = sub.add_parser("eval", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="score embedders on SCaR and MMEB tasks",
                       description="Score embedders on SCaR (5 tasks) and MMEB (36 tasks). Each distinct input is "
                                   "embedded once and cached under $SCAR_CACHE/embeddings; by default (--ties strict) a tie between the GT and "
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
    p.add_argument("--data", required=True,
                   help="a SCaR_eval_<Source>.parquet file, a folder of them (the released names), a local copy of "
                        "TIGER-Lab/MMEB-eval (<Task>/test-*.parquet + images/), or hf://OWNER/NAME[@REVISION]")
    p.add_argument("--tasks", action="append",
                   help="'scar' (the 5 SCaR files), 'mmeb' (the 36 MMEB tasks), task names (SCaR_RefCOCO_plus, "
                        "ImageNet-1K...) or a suite YAML; comma-separated or repeated (default: every "
                        "SCaR_eval_*.parquet in --data)")
    p.add_argument("--image-root", help="folder the image paths are relative to (default DATA/images)")
    p.add_argument("--model", action="append", required=True,
                   help="NAME, NAME:MODEL[@VARIANT] (e.g. clip:openai/clip-vit-base-patch32@crop) or "
                        "path/to/file.py:Class; repeat for several (see `scar models`)")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="keyword argument for the model class (e.g. fusion=image, sam=facebook/sam-vit-huge)")
    p.add_argument("--revision", help="model revision (Hub branch, tag or commit; default: unpinned, the loaded "
                                      "commit is recorded)")
    p.add_argument("--out", required=True, help="results folder: OUT/<run>/<revision>/<task>.json")
    p.add_argument("--device", help="cpu, cuda, cuda:1... (default: cuda when available)")
    p.add_argument("--dtype", help="float32 (default), bf16 or fp16 (autocast; fp16 on CUDA only)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random embedder")
    p.add_argument("--batch-size", type=int, help="inputs per encode call (default: the embedder's)")
    p.add_argument("--loader-threads", dest="workers", type=int, default=2, metavar="N",
                   help="background threads decoding images (0: none); not --workers, which elsewhere means "
                        "build processes")
    p.add_argument("--overwrite", action="store_true", help="recompute tasks that already have a result")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    p.add_argument("--max-pixels", type=int, help="Qwen2-VL embedders (vlm2vec, gme, virtue): most pixels of an image "
                                                  "after resizing (default: each model's own; recorded in results)")
    p.add_argument("--ties", choices=["strict", "official"], default="strict",
                   help="tie rule: strict (default; a tie with a distractor is a miss, a row whose GT repeats among "
                        "its distractors is left out) or official (as the VLM2Vec/VIRTUE harnesses: an exact tie "
                        "goes to the GT; use it to compare with a paper's number); recorded in each result")
    p.add_argument("--virtue-src", metavar="PATH",
                   help="a checkout of github.com/sony/virtue: run `virtue` on its native path (SAM2 box prompt, "
                        "official code; not verified against official weights) instead of text+box")


def eval_config(args: argparse.Namespace):
    """The one ``args -> EvalConfig`` of ``scar eval`` (a ScarUserError names each bad flag)."""
    from pydantic import ValidationError

    from scar.eval.config import EvalConfig, parse_model_args

    fields = {"data": args.data, "tasks": args.tasks, "image_root": args.image_root, "models": args.model,
              "model_args": parse_model_args(args.model_arg), "out": args.out, "revision": args.revision,
              "device": args.device, "dtype": args.dtype, "seed": args.seed, "batch_size": args.batch_size,
              "loader_threads": args.workers, "max_pixels": args.max_pixels, "virtue_src": args.virtue_src,
              "overwrite": args.overwrite, "cache": not args.no_cache, "ties": args.ties}
    try:
        return EvalConfig(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as e:
        flag = {"models": "--model", "loader_threads": "--loader-threads", "cache": "--no-cache"}
        parts = []
        for err in e.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["loc"]:
                name = str(err["loc"][0])
                msg = f"{flag.get(name, '--' + name.replace('_', '-'))}: {msg}"
            parts.append(msg)
        raise ScarUserError("; ".join(parts)) from None


def run(args, progress: bool) -> int:
    from scar.eval import config as evalconfig
    from scar.eval import dist

    cfg = eval_config(args)
    failed = 0

    def show(emb, oc) -> None:
        nonlocal failed
        failed += oc.status == "failed"
        if not dist.is_main():
            return
        if oc.status == "failed":
            print(f"{emb.run_name:<28} {oc.task:<24} FAILED: {oc.error}", file=sys.stderr)
            return
        r = oc.result
        errs = f", {r.n_errors} row(s) left out" if r.n_errors else ""
        rule = "" if r.ties == "strict" else f", {r.ties} tie rule"
        print(f"{emb.run_name:<28} {r.task:<24} P@1 {100 * r.main:5.1f}  (n={r.n}, ties "
              f"{100 * r.tie_rate:.1f}%{errs}{rule}){'  [stored]' if oc.status == 'skipped' else ''}  -> {oc.path}")

    evalconfig.run(cfg, progress=progress, on_outcome=show)
    if dist.is_main():
        print(f"next: scar leaderboard {args.out}" if not failed else
              f"next: see the FAILED lines above (rows left out: <task>.errors.jsonl under {args.out})")
    return 1 if failed else 0
