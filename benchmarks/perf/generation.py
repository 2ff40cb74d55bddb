"""Generation benchmark: the LLM path's own cost and its throughput against a slow endpoint.

Builds a synthetic COCO-format set (N images, a bowl and a chair each, no scene label, so
every sample needs the LLM) with ``--generator openai`` against a local stub endpoint
(``scar.testing.stub_server``, in a child process) that answers every request
with a valid reply after a fixed artificial latency. Prints and writes as JSON:

- overhead per sample: the build process's CPU time per sample (everything but waiting
  for the LLM: reading, composing, prompting, parsing, validating, writing), and the
  lexical build's for comparison;
- the lexical build's CPU per sample (best of ``--repeats`` builds, 3 by default) as a ratio
  to pycocotools' per-annotation read time (``COCO(file)`` + ``loadAnns`` of every image, best
  of 5) on the same annotation file, measured in the same run (``--lexical-only`` stops there);
  with ``--paired N``, also the median of N ratios of one build to the floor measured right
  after it (a shared machine's speed changes within seconds; a pair shares it);
- throughput in samples/s at each concurrency, as a ratio to the ideal concurrency / latency
  (times ``--workers``: each worker process keeps ``concurrency`` requests in flight);
- warm-cache rebuild: the same build twice with the reply cache on, in a fresh
  ``$SCAR_CACHE``, at the highest concurrency: the cold build's requests and time, the
  rebuild's (it must make 0 requests) and whether both wrote the same bytes.

``--engine ray`` runs the LLM builds on a local Ray (started once, outside the timings).

    python benchmarks/perf/generation.py --images 200 --latency 0.2 --concurrency 1 4 16 --json out.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def write_fixture(root: Path, n: int, scene: str | None = None) -> Path:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "images" / "val").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (100, 200, 3), dtype=np.uint8))
    for i in range(1, n + 1):
        images.append({"id": i, "file_name": f"{i}.jpg", "width": 200, "height": 100,
                       **({"scene": scene} if scene else {})})
        img.save(root / "images" / "val" / f"{i}.jpg")
        anns += [{"id": 10 * i + 1, "image_id": i, "category_id": 1, "bbox": [10, 40, 20, 20], "area": 400,
                  "iscrowd": 0},
                 {"id": 10 * i + 2, "image_id": i, "category_id": 2, "bbox": [100, 30, 40, 40], "area": 1600,
                  "iscrowd": 0}]
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "bowl"}, {"id": 2, "name": "chair"}]}
    (root / "annotations" / "instances_val.json").write_text(json.dumps(data))
    return root



def _serve(latency: float, conn) -> None:
    from scar.testing.stub_server import StubEndpoint, canned_reply

    with StubEndpoint(canned_reply, latency=latency) as stub:
        conn.send(stub.base_url)
        conn.recv()  # until told to stop
        conn.send(stub.requests)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the --workers pool)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run(root: Path, out: Path, generator: str, options: dict | None, workers: int = 1, engine: str = "local") -> dict:
    from scar.build.config import BuildConfig
    from scar.build.pipeline import build

    c0, t0 = _cpu(), time.perf_counter()
    rep = build(BuildConfig(source={"name": "coco", "root": root, "split": "val", "stem": "Bench"},
                            generator={"name": generator, **(options or {})},
                            engine={"name": engine, "workers": workers}, output={"dir": out, "progress": False}))
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    n = rep.rows + rep.rejected
    return {"samples": n, "rows": rep.rows, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "cpu_ms_per_sample": round(1000 * cpu / max(n, 1), 3), "llm": rep.generation.get("llm", {}),
            "path": str(rep.path)}


def coco_read_us_per_annotation(root: Path, repeats: int = 5) -> float:
    """pycocotools reading the annotation file and every image's annotations, microseconds per
    annotation (best of ``repeats``): the floor a lexical sample is compared with."""
    import contextlib
    import io

    from pycocotools.coco import COCO

    path = str(root / "annotations" / "instances_val.json")
    best = None
    for _ in range(repeats):
        t0 = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(path)
        n = sum(len(coco.loadAnns(coco.getAnnIds(imgIds=[i]))) for i in coco.getImgIds())
        dt = time.process_time() - t0
        best = dt if best is None else min(best, dt)
    return 1e6 * best / max(n, 1)


def with_stub(latency: float, fn):
    """``fn(base_url)`` against a stub endpoint in a child process; (its result, requests served)."""
    ctx = mp.get_context("spawn")
    here, there = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(latency, there), daemon=True)
    proc.start()
    try:
        result = fn(here.recv())
    finally:
        here.send("stop")
        served = here.recv()
        proc.join(10)
    return result, served


def warm_cache_rebuild(root: Path, tmp: Path, latency: float, conc: int, workers: int, engine: str) -> dict:
    """The same LLM build twice with the cache on, in a fresh cache: cold, then warm."""
    os.environ["SCAR_CACHE"] = str(tmp / "warm-cache")
    rows = {}
    for phase in ("cold", "warm"):
        opts = {"model": "bench", "concurrency": conc, "use_cache": True, "timeout": 30.0}
        r, served = with_stub(latency, lambda url: run(root, tmp / f"cache-{phase}", "openai",
                                                        {**opts, "base_url": url}, workers, engine))
        rows[phase] = {**r, "requests": served}
    same = Path(rows["cold"]["path"]).read_bytes() == Path(rows["warm"]["path"]).read_bytes()
    return {"concurrency": conc, "samples": rows["warm"]["samples"], "cold_wall_s": rows["cold"]["wall_s"],
            "cold_requests": rows["cold"]["requests"], "warm_wall_s": rows["warm"]["wall_s"],
            "warm_requests": rows["warm"]["requests"], "warm_cache_hits": rows["warm"]["llm"].get("cache_hits", 0),
            "speedup": round(rows["cold"]["wall_s"] / rows["warm"]["wall_s"], 2), "same_bytes": same}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=200, help="synthetic images (2 samples each)")
    p.add_argument("--latency", type=float, default=0.2, help="the stub endpoint's fixed latency, seconds")
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16], help="requests in flight")
    p.add_argument("--workers", type=int, default=1, help="build worker processes (each has its own concurrency)")
    p.add_argument("--engine", choices=["local", "ray"], default="local", help="engine of the LLM builds")
    p.add_argument("--no-warm-cache", action="store_true", help="skip the warm-cache rebuild")
    p.add_argument("--lexical-only", action="store_true", help="only the lexical figures (no LLM builds)")
    p.add_argument("--repeats", type=int, default=3, help="lexical builds timed (the best one counts)")
    p.add_argument("--paired", type=int, default=0,
                   help="after the figures above, N more lexical builds each followed at once by the "
                        "pycocotools floor: the median of the N ratios (both in the same few tenths of a "
                        "second, so a shared machine's slow and fast spells cancel)")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    os.environ.setdefault("SCAR_CACHE", tempfile.mkdtemp(prefix="scar-bench-cache-"))
    tmp = Path(tempfile.mkdtemp(prefix="scar-bench-"))
    root = write_fixture(tmp / "src", args.images)
    result = {"benchmark": "generation", "images": args.images, "latency_s": args.latency, "workers": args.workers,
              "engine": args.engine, "python": platform.python_version(), "cpus": os.cpu_count(), "runs": []}
    if args.engine == "ray":
        import ray

        ray.init(include_dashboard=False, log_to_driver=False)

    # warm-up (WordNet load) outside the timings, then the lexical baseline on the same images
    # with a scene label (nothing left for an LLM)
    labelled = write_fixture(tmp / "labelled", args.images, scene="kitchen")
    run(labelled, tmp / "warm", "lexical", None)
    import openai  # noqa: F401  (a one-time import, not a per-sample cost)
    # best of --repeats, as the floor below is best of 5: on shared cores one run says more about the neighbours
    lex = min((run(labelled, tmp / f"lexical{i}", "lexical", None) for i in range(args.repeats)),
              key=lambda r: r["cpu_ms_per_sample"])
    result["lexical"] = {k: lex[k] for k in ("samples", "rows", "cpu_ms_per_sample", "wall_s")}
    result["lexical"]["repeats"] = args.repeats
    floor_us = coco_read_us_per_annotation(labelled)
    ratio = 1000 * lex["cpu_ms_per_sample"] / floor_us
    result["lexical"].update(pycocotools_us_per_annotation=round(floor_us, 3), ratio_to_pycocotools=round(ratio, 1))
    print(f"lexical: {lex['cpu_ms_per_sample']:.2f} ms CPU per sample ({lex['samples']} samples) = "
          f"{ratio:.0f}x pycocotools' per-annotation read ({floor_us:.2f} us)")
    if args.paired:
        pairs = []
        for i in range(args.paired):
            r = run(labelled, tmp / f"paired{i}", "lexical", None)
            f = coco_read_us_per_annotation(labelled)
            pairs.append({"cpu_ms_per_sample": r["cpu_ms_per_sample"], "pycocotools_us_per_annotation": round(f, 3),
                          "ratio": round(1000 * r["cpu_ms_per_sample"] / f, 1)})
        ratios = sorted(x["ratio"] for x in pairs)
        med = statistics.median(ratios)
        result["lexical"]["paired"] = {"median_ratio": med, "pairs": pairs}
        print(f"paired: median {med:.0f}x over {len(pairs)} builds, each against the floor measured right after it "
              f"(range {ratios[0]:.0f}x-{ratios[-1]:.0f}x)")
    if args.lexical_only:
        args.concurrency, args.no_warm_cache = [], True

    ctx = mp.get_context("spawn")
    for conc in args.concurrency:
        here, there = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(args.latency, there), daemon=True)
        proc.start()
        base_url = here.recv()
        opts = {"model": "bench", "base_url": base_url, "concurrency": conc, "use_cache": False, "timeout": 30.0}
        r = run(root, tmp / f"llm{conc}", "openai", opts, args.workers, args.engine)
        here.send("stop")
        served = here.recv()
        proc.join(10)
        ideal = conc * args.workers / args.latency
        thr = r["samples"] / r["wall_s"]
        row = {"concurrency": conc, "samples": r["samples"], "rows": r["rows"], "requests": served,
               "wall_s": r["wall_s"], "throughput_per_s": round(thr, 3), "ideal_per_s": round(ideal, 3),
               "ratio_to_ideal": round(thr / ideal, 3), "overhead_cpu_ms_per_sample": r["cpu_ms_per_sample"]}
        result["runs"].append(row)
        print(f"openai, concurrency {conc:>3}: {thr:7.2f} samples/s of ideal {ideal:7.2f} "
              f"(ratio {thr / ideal:.3f}); overhead {r['cpu_ms_per_sample']:.2f} ms CPU per sample; "
              f"{served} requests, {r['rows']} rows")
    if not args.no_warm_cache:
        w = warm_cache_rebuild(root, tmp, args.latency, max(args.concurrency), args.workers, args.engine)
        result["warm_cache"] = w
        print(f"warm-cache rebuild, concurrency {w['concurrency']}: cold {w['cold_wall_s']:.2f} s with "
              f"{w['cold_requests']} requests, warm {w['warm_wall_s']:.2f} s with {w['warm_requests']} requests "
              f"(x{w['speedup']:.1f}); same bytes: {w['same_bytes']}")
    if args.engine == "ray":
        import ray

        ray.shutdown()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
