"""Evaluation harness performance: encodes per unique input, harness overhead as a share
of model time, and the speed-up of a second identical run from the embedding cache.

    python benchmarks/perf/eval_perf.py                    # tiny random CLIP on CPU
    python benchmarks/perf/eval_perf.py --model openai/clip-vit-base-patch32 --device cuda --rows 5000

It writes a synthetic SCaR eval file (``--rows`` queries over ``--images`` JPEG photos of
``--size`` pixels, about five queries per image like SCaR, 10 candidates each drawn from a
vocabulary so some repeat across queries), scores it twice with a fresh ``$SCAR_CACHE``
and prints the figures; ``--json`` writes them. The tiny model's scores mean nothing.
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


def synthetic_task(folder: Path, rows: int, images: int, size: int, seed: int = 0) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    from scar.schema import EVAL_RELEASED, QRY_TEXT

    rng = np.random.default_rng(seed)
    (folder / "images" / "perf_val").mkdir(parents=True, exist_ok=True)
    h, w = size * 3 // 4, size
    base = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
    for k in range(images):  # smooth photo-like images (JPEG decode cost is realistic, files small)
        small = np.roll(base, k, axis=1) ^ np.uint8(k % 256)
        Image.fromarray(small).resize((w, h), Image.BILINEAR).save(folder / "images" / "perf_val" / f"{k}.jpg",
                                                                   quality=90)
    objs = ["cup", "dog", "car", "tree", "man", "lamp", "box", "bench", "cat", "chair", "table", "person", "bowl",
            "bike", "sign", "door", "window", "plant", "bag", "horse", "bird", "clock", "vase", "boat", "kite"]
    rels = ["on the table", "next to the chair", "under the tree", "left of the car", "behind the bench",
            "above the door", "near the window", "right of the lamp"]
    scenes = ["kitchen", "street", "park", "room", "field", "beach", "office", "garden", "station", "yard"]
    out = []
    for i in range(rows):
        cands = set()
        while len(cands) < 10:
            cands.add(f"{rng.choice(objs)} {rng.choice(rels)} in a {rng.choice(scenes)}")
        x, y = float(rng.integers(0, w // 2)), float(rng.integers(0, h // 2))
        out.append({"qry_text": QRY_TEXT, "qry_image_path": f"perf_val/{i % images}.jpg", "tgt_text": sorted(cands),
                    "bbox": [x, y, float(rng.integers(8, w // 2)), float(rng.integers(8, h // 2))]})
    path = folder / "SCaR_eval_Perf.parquet"
    pq.write_table(pa.Table.from_pylist(out, schema=EVAL_RELEASED), path)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="CLIP/SigLIP Hub id or local path (default: a tiny random CLIP built here)")
    p.add_argument("--variant", help="region variant (crop, red-circle, reclip, sam-mask)")
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--images", type=int, default=400)
    p.add_argument("--size", type=int, default=640, help="image width in pixels (height = 3/4 of it)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", type=int, default=2, help="image loader threads")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="scar-evalperf-"))
    os.environ["SCAR_CACHE"] = str(work / "cache")  # fresh cache: run 1 encodes, run 2 must not
    from scar.eval.embedders import load_embedder
    from scar.eval.harness import evaluate
    from scar.eval.tasks import ScarTask

    model = args.model
    if model is None:
        from scar.testing.tiny import tiny_clip

        model = str(tiny_clip(work / "tiny-clip", image_size=64))
    spec = f"clip:{model}" + (f"@{args.variant}" if args.variant else "")
    task = ScarTask(synthetic_task(work / "data", args.rows, args.images, args.size))
    uq = {q.query for q in task.queries()}
    uc = {c for q in task.queries() for c in q.candidates}
    runs = []
    for run in (1, 2):
        emb = load_embedder(spec, device=args.device, dtype=args.dtype, batch_size=args.batch_size)
        calls = {"inputs": 0}
        inner = emb.encode_prepared  # what the harness calls with each prepared batch

        def counted(prepared, *, role, inner=inner, calls=calls):
            calls["inputs"] += len(prepared)
            return inner(prepared, role=role)

        emb.encode_prepared = counted
        t = time.perf_counter()
        res = evaluate(emb, task, progress=False, workers=args.workers)
        wall = time.perf_counter() - t
        tm = res.timings
        model_s = tm.get("query_model_s", 0.0) + tm.get("candidate_model_s", 0.0)
        wait_s = tm.get("query_load_wait_s", 0.0) + tm.get("candidate_load_wait_s", 0.0)
        runs.append({"wall_s": round(wall, 3), "model_s": round(model_s, 3), "load_wait_s": round(wait_s, 3),
                     "encoded_inputs": calls["inputs"], "main_score": res.main})
    first, second = runs
    unique = len(uq) + len(uc)
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {args.device}",
        "python": platform.python_version(), "model": spec, "rows": args.rows, "images": args.images,
        "image_size": f"{args.size}x{args.size * 3 // 4}", "unique_inputs": unique,
        "unique_queries": len(uq), "unique_candidates": len(uc),
        "candidate_slots": sum(len(q.candidates) for q in task.queries()),
        "encodes_per_unique_input": round(first["encoded_inputs"] / unique, 4),
        "overhead_share_of_model_time": round((first["wall_s"] - first["model_s"]) / first["model_s"], 4),
        "model_wait_for_images_s": first["load_wait_s"],
        "second_run_encodes": second["encoded_inputs"],
        "second_run_speedup": round(first["wall_s"] / second["wall_s"], 2),
        "runs": runs,
    }
    print(f"machine:                      {figures['machine']}")
    print(f"model:                        {spec}  (batch {args.batch_size}, {args.dtype})")
    print(f"task:                         {args.rows} rows, {unique} unique inputs "
          f"({len(uq)} queries, {len(uc)} candidates for {figures['candidate_slots']} slots)")
    print(f"encodes per unique input:     {figures['encodes_per_unique_input']:.3f}")
    print(f"run 1:                        {first['wall_s']:.2f} s, model {first['model_s']:.2f} s, "
          f"waiting for images {first['load_wait_s']:.2f} s")
    print(f"harness overhead:             {100 * figures['overhead_share_of_model_time']:.1f}% of model time")
    print(f"run 2 (cache):                {second['wall_s']:.2f} s, {second['encoded_inputs']} inputs encoded, "
          f"speed-up x{figures['second_run_speedup']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    ok = figures["encodes_per_unique_input"] == 1.0 and second["encoded_inputs"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
