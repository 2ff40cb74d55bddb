"""Throughput of the Qwen2-VL embedders through the real harness: inputs/s at several batch
sizes on a synthetic SCaR task (no embedding cache), for CPU or a GPU.

    python benchmarks/perf/vlm_perf.py                                   # tiny random Qwen2-VL, CPU
    python benchmarks/perf/vlm_perf.py --device cuda --dtype bf16 --hidden 1536 --layers 4 --batch-sizes 8,32
    python benchmarks/perf/vlm_perf.py --wrapper gme --model Alibaba-NLP/gme-Qwen2-VL-2B-Instruct --device cuda

Without ``--model`` it builds a randomly initialised Qwen2-VL of ``--hidden`` width and
``--layers`` layers (vision and text) with the tiny tokenizer; its scores mean nothing,
only the speed does. Each batch size scores the same task once after a warm-up batch;
``--json`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_perf import synthetic_task  # noqa: E402  (the same synthetic SCaR file as the harness benchmark)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wrapper", default="vlm2vec", choices=["vlm2vec", "gme", "virtue"])
    p.add_argument("--model", help="Hub id or local path (default: a random Qwen2-VL built here)")
    p.add_argument("--hidden", type=int, default=32, help="width of the random model")
    p.add_argument("--layers", type=int, default=2, help="layers of the random model (vision and text)")
    p.add_argument("--rows", type=int, default=200)
    p.add_argument("--images", type=int, default=40)
    p.add_argument("--size", type=int, default=640, help="image width in pixels (height = 3/4 of it)")
    p.add_argument("--max-pixels", type=int, default=28 * 28 * 256, help="image pixels after resizing")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default=None, help="float32 or bf16 (default: bf16 on CUDA, float32 on CPU)")
    p.add_argument("--batch-sizes", default="8,32")
    p.add_argument("--workers", type=int, default=2, help="image loader threads")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="scar-vlmperf-"))
    os.environ["SCAR_CACHE"] = str(work / "cache")
    import torch

    from scar.eval.embedders import load_embedder
    from scar.eval.harness import evaluate
    from scar.eval.tasks import ScarTask

    model = args.model
    if model is None:
        from scar.testing.tiny_qwen2vl import tiny_qwen2vl

        model = str(tiny_qwen2vl(work / "random-qwen2vl", hidden=args.hidden, layers=args.layers,
                                 max_pixels=args.max_pixels))
    task = ScarTask(synthetic_task(work / "data", args.rows, args.images, args.size))
    unique = len({q.query for q in task.queries()}) + len({c for q in task.queries() for c in q.candidates})
    extra = {"min_pixels": "3136"} if args.wrapper == "gme" else {}
    runs = []
    for bs in (int(b) for b in args.batch_sizes.split(",")):
        emb = load_embedder(f"{args.wrapper}:{model}", args=extra, device=args.device, dtype=args.dtype,
                            batch_size=bs, max_pixels=args.max_pixels)
        warm = [q.query for q in task.queries()[:2]]
        from scar.eval.harness import embed_unique

        embed_unique(emb, warm, "query", progress=False)  # first CUDA kernels and allocations
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t = time.perf_counter()
        res = evaluate(emb, task, progress=False, cache=False, workers=args.workers)
        wall = time.perf_counter() - t
        tm = res.timings
        model_s = tm.get("query_model_s", 0.0) + tm.get("candidate_model_s", 0.0)
        run = {"batch_size": bs, "wall_s": round(wall, 3), "model_s": round(model_s, 3),
               "inputs_per_s": round(unique / wall, 1), "dtype": emb.dtype, "resolution": emb.resolution}
        if args.device.startswith("cuda"):
            run["peak_gpu_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        runs.append(run)
        print(f"batch {bs:>4}: {unique} unique inputs in {wall:.2f} s -> {run['inputs_per_s']:.1f} inputs/s "
              f"(model {model_s:.2f} s, {emb.dtype})" + (f", peak {run['peak_gpu_mem_gib']} GiB"
                                                         if "peak_gpu_mem_gib" in run else ""))
    device = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else f"{os.cpu_count()} CPU cores"
    figures = {"machine": f"{platform.machine()}, {device}", "torch": torch.__version__,
               "wrapper": args.wrapper, "model": args.model or f"random Qwen2-VL hidden {args.hidden}, "
                                                               f"{args.layers} layers",
               "rows": args.rows, "unique_inputs": unique, "runs": runs}
    print(f"machine: {figures['machine']}, torch {figures['torch']}; model: {figures['model']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
