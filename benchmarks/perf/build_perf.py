"""Build benchmark: throughput of ``scar build`` (lexical generator) per engine, against
the floor of only reading the annotations with pycocotools, and peak memory by size.

It writes a synthetic COCO-format set (``scar.testing.synthetic.write_synthetic_coco``: 3
annotations per 64x48 flat-colour JPEG, every one eligible, so samples = annotations)
of ``--annotations`` annotations and a small one of ``--small`` annotations, then runs
each measurement in a fresh Python process (so one run's memory and warm WordNet do not
help the next):

- ``floor``: ``pycocotools.coco.COCO(file)`` plus the annotations of every image;
- ``local x1``, ``local x2``: ``build(..., workers=1|2)``; ``ray``: ``build(..., engine="ray")``
  on a local ``ray.init(num_cpus=--ray-cpus)`` (its start-up is timed apart);
- peak RSS (``resource.getrusage``, the build process; pool workers apart) of the
  1-worker build at ``--small`` and at ``--annotations``, and of a build over the big
  annotation index that stops after ``--small`` samples (``limit``): the index is the
  same, only the samples written differ.

Each build reads and verifies every image (``check_images``), composes captions, draws
WordNet swaps, checks and filters them, writes shards, the final Parquet, the rejects and
the card, and validates the file: the wall time is the whole command's. Prints a table;
``--json`` writes the figures.

    python benchmarks/perf/build_perf.py --json build_perf.json
    python benchmarks/perf/build_perf.py --annotations 30000 --small 3000 --runs local1 ray
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = ("floor", "local1", "local2", "ray")
PER_IMAGE = 3


def _rss_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux: kilobytes


def child(spec: dict) -> dict:
    """One measurement, in this (fresh) process."""
    ann = Path(spec["root"]) / "annotations" / "instances_val.json"
    if spec["kind"] == "floor":
        from pycocotools.coco import COCO

        t = time.perf_counter()
        coco = COCO(str(ann))
        n = sum(len(coco.loadAnns(coco.getAnnIds(imgIds=[i]))) for i in coco.getImgIds())
        return {"wall_s": time.perf_counter() - t, "annotations_read": n, "rss_mb": _rss_mb(resource.RUSAGE_SELF)}
    from scar.build.config import BuildConfig
    from scar.build.pipeline import build

    init_s = 0.0
    if spec["engine"] == "ray":
        import ray

        t = time.perf_counter()
        ray.init(num_cpus=spec["ray_cpus"], include_dashboard=False, log_to_driver=False,
                 _temp_dir=spec["ray_tmp"])
        init_s = time.perf_counter() - t
    t = time.perf_counter()
    rep = build(BuildConfig(source={"name": "coco", "root": spec["root"], "split": "val", "stem": "Perf",
                                    "limit": spec.get("limit")},
                            engine={"name": spec["engine"], "workers": spec["workers"]},
                            output={"dir": spec["out"], "progress": False}))
    wall = time.perf_counter() - t
    if spec["engine"] == "ray":
        import ray

        ray.shutdown()
    return {"wall_s": wall, "init_s": init_s, "rows": rep.rows, "images": rep.images, "rejected": rep.rejected,
            "rss_mb": _rss_mb(resource.RUSAGE_SELF), "children_rss_mb": _rss_mb(resource.RUSAGE_CHILDREN)}


def measure(spec: dict) -> dict:
    env = dict(os.environ)
    p = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                       env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{spec['kind']} run failed (exit {p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--annotations", type=int, default=100_000,
                   help="annotations of the big synthetic set (rounded up to whole images of 3)")
    p.add_argument("--small", type=int, default=10_000, help="annotations of the small set (peak RSS ratio)")
    p.add_argument("--runs", nargs="+", default=list(RUNS), choices=RUNS, help="throughput rows to measure")
    p.add_argument("--no-rss", action="store_true", help="skip the peak-RSS rows at --small")
    p.add_argument("--ray-cpus", type=int, default=os.cpu_count(), help="CPUs of the local Ray")
    p.add_argument("--work", help="folder for the data and outputs (default: a temporary one, removed)")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    from scar.testing.synthetic import write_synthetic_coco

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="scar-build-perf-"))
    work.mkdir(parents=True, exist_ok=True)
    big, small = work / "big", work / "small"
    t = time.perf_counter()
    write_synthetic_coco(big, n_images=-(-args.annotations // PER_IMAGE), anns_per_image=PER_IMAGE)
    if not args.no_rss:
        write_synthetic_coco(small, n_images=-(-args.small // PER_IMAGE), anns_per_image=PER_IMAGE, seed=1)
    data_s = time.perf_counter() - t
    print(f"synthetic data written in {data_s:.1f} s under {work}", flush=True)

    def build_spec(root, tag, workers=1, engine="local", limit=None):
        return {"kind": "build", "root": str(root), "out": str(work / f"out-{tag}"), "workers": workers,
                "engine": engine, "limit": limit, "ray_cpus": args.ray_cpus, "ray_tmp": str(work / "ray")}

    plan = []
    for r in args.runs:
        if r == "floor":
            plan.append(("floor", args.annotations, {"kind": "floor", "root": str(big)}))
        else:
            eng, w = ("ray", 1) if r == "ray" else ("local", int(r[-1]))
            plan.append((r, args.annotations, build_spec(big, r, w, eng)))
    if not args.no_rss:
        plan.append(("local1 small", args.small, build_spec(small, "small")))
        plan.append(("local1 big index, limit", args.annotations, build_spec(big, "limit", limit=args.small)))

    rows = []
    for name, n_ann, spec in plan:
        load = load_average()
        r = measure(spec)
        r.update(run=name, annotations=n_ann, load_before=load)
        rows.append(r)
        print(f"{name:<26} {r['wall_s']:8.2f} s  peak RSS {r['rss_mb']:7.1f} MB  (load {load})", flush=True)
        if "out" in spec:
            shutil.rmtree(spec["out"], ignore_errors=True)
    floor = next((r["wall_s"] for r in rows if r["run"] == "floor"), None)
    for r in rows:
        n = r.get("rows", r.get("annotations"))
        r["per_s"] = round(n / r["wall_s"], 1)
        r["x_floor"] = round(r["wall_s"] / floor, 1) if floor else None
        r["wall_s"] = round(r["wall_s"], 3)
    by = {r["run"]: r for r in rows}
    ratios = {}
    if "local1" in by and "local1 small" in by:
        ratios["rss_big_over_small"] = round(by["local1"]["rss_mb"] / by["local1 small"]["rss_mb"], 2)
    if "local1" in by and "local1 big index, limit" in by:
        ratios["rss_all_samples_over_limit"] = round(by["local1"]["rss_mb"] / by["local1 big index, limit"]["rss_mb"], 2)

    print(f"\n{'run':<26} {'annotations':>11} {'samples':>8} {'wall s':>8} {'per s':>8} {'x floor':>8} "
          f"{'peak RSS MB':>11}")
    for r in rows:
        extra = f"  (+ ray.init {r['init_s']:.1f} s)" if r.get("init_s") else ""
        print(f"{r['run']:<26} {r['annotations']:>11} {r.get('rows', '-'):>8} {r['wall_s']:>8.2f} {r['per_s']:>8.1f} "
              f"{r['x_floor'] if r['x_floor'] is not None else '-':>8} {r['rss_mb']:>11.1f}{extra}")
    for k, v in ratios.items():
        print(f"{k}: {v}")
    result = {"benchmark": "build", "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
              "python": platform.python_version(), "annotations": args.annotations, "small": args.small,
              "data_write_s": round(data_s, 1), "rows": rows, **ratios}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
