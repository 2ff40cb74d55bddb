"""Every performance benchmark, one command, one table (``make perf``).

Runs, each in its own process with its own ``--json``:

- ``build_perf.py``: build throughput (local 1 and 2 workers, Ray) against the pycocotools
  floor, and peak RSS at ``--small`` vs ``--annotations`` annotations;
- ``generation.py``: the LLM path against a fixed-latency stub endpoint (throughput per
  concurrency, overhead per sample) and the warm-cache rebuild;
- ``eval_perf.py``: the evaluation harness (encodes per unique input, overhead, cache re-run);
- ``vlm_perf.py``: Qwen2-VL embedder inputs/s through the harness (tiny random model on CPU).

then prints one table and writes everything to ``--json``. ``--quick`` runs small sizes
(a smoke run, minutes); the defaults are the sizes ``RESULTS.md`` reports.

    python benchmarks/perf/run_all.py --json perf.json
    python benchmarks/perf/run_all.py --quick --only build generation
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("build", "generation", "eval", "vlm")


def commands(args, out: Path) -> dict[str, list[str]]:
    q = args.quick
    build = ["build_perf.py", "--annotations", str(args.annotations or (3000 if q else 100_000)),
             "--small", str(args.small or (300 if q else 10_000))]
    gen = ["generation.py"] + (["--images", "40", "--latency", "0.05", "--concurrency", "1", "8"] if q else [])
    ev = ["eval_perf.py"] + (["--rows", "200", "--images", "40"] if q else [])
    vlm = ["vlm_perf.py"] + (["--rows", "40", "--images", "8"] if q else [])
    cmds = {"build": build, "generation": gen, "eval": ev, "vlm": vlm}
    return {k: [sys.executable, str(HERE / v[0]), *v[1:], "--json", str(out / f"{k}.json")] for k, v in cmds.items()}


def rows_of(name: str, fig: dict) -> list[tuple[str, str, str, str]]:
    """(benchmark, row, figure, notes) lines of one benchmark's JSON."""
    out = []
    if name == "build":
        for r in fig["rows"]:
            unit = "annotations/s" if r["run"] == "floor" else "samples/s"
            notes = f"{r['annotations']} annotations; peak RSS {r['rss_mb']:.0f} MB"
            if r.get("x_floor") and r["run"] != "floor":
                notes += f"; x{r['x_floor']} the floor"
            if r.get("init_s"):
                notes += f"; + ray.init {r['init_s']:.1f} s"
            out.append(("build", r["run"], f"{r['wall_s']:.2f} s, {r['per_s']:.0f} {unit}", notes))
        for k in ("rss_big_over_small", "rss_all_samples_over_limit"):
            if k in fig:
                out.append(("build", k.replace("_", " "), f"{fig[k]:.2f}", "peak RSS ratio"))
    elif name == "generation":
        lex = fig.get("lexical", {})
        if lex:
            out.append(("generation", "lexical", f"{lex['cpu_ms_per_sample']:.2f} ms CPU/sample",
                        f"{lex['samples']} samples"))
        for r in fig["runs"]:
            out.append(("generation", f"LLM, concurrency {r['concurrency']}", f"{r['throughput_per_s']:.1f} samples/s",
                        f"{r['ratio_to_ideal']:.2f} of ideal; {r['overhead_cpu_ms_per_sample']:.2f} ms CPU/sample; "
                        f"{r['requests']} requests; latency {fig['latency_s']} s; engine {fig.get('engine', 'local')}"))
        w = fig.get("warm_cache")
        if w:
            out.append(("generation", "warm-cache rebuild", f"{w['warm_wall_s']:.2f} s, {w['warm_requests']} requests",
                        f"cold {w['cold_wall_s']:.2f} s, {w['cold_requests']} requests; x{w['speedup']:.1f}; "
                        f"same bytes: {w['same_bytes']}"))
    elif name == "eval":
        first = fig["runs"][0]
        out.append(("eval", "run 1", f"{first['wall_s']:.2f} s",
                    f"{fig['rows']} rows; encodes per unique input {fig['encodes_per_unique_input']:.3f}; "
                    f"overhead {100 * fig['overhead_share_of_model_time']:.1f}% of model time"))
        out.append(("eval", "run 2 (cache)", f"{fig['runs'][1]['wall_s']:.2f} s",
                    f"{fig['second_run_encodes']} encodes; x{fig['second_run_speedup']:.0f}"))
    elif name == "vlm":
        for r in fig.get("runs", []):
            bs = r.get("batch_size", "?")
            out.append(("vlm", f"batch {bs}", f"{r.get('inputs_per_s', 0):.1f} inputs/s", fig.get("model", "")))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=BENCHES, default=list(BENCHES), help="benchmarks to run")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    p.add_argument("--annotations", type=int, help="build: annotations of the big set (default 100000)")
    p.add_argument("--small", type=int, help="build: annotations of the small set (default 10000)")
    p.add_argument("--json", help="write every benchmark's figures here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scar-perf-") as tmp:
        return run(args, Path(tmp))


def run(args, out: Path) -> int:
    cmds = commands(args, out)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "python": platform.python_version(),
              "load_average_start": os.getloadavg(), "benchmarks": {}}
    failed = []
    for name in args.only:
        print(f"== {name}: {' '.join(cmds[name][1:])}", flush=True)
        t = time.perf_counter()
        rc = subprocess.run(cmds[name]).returncode
        if rc != 0 or not (out / f"{name}.json").is_file():
            failed.append(name)
            print(f"== {name} failed (exit {rc})", flush=True)
            continue
        fig = json.loads((out / f"{name}.json").read_text())
        fig["seconds"] = round(time.perf_counter() - t, 1)
        result["benchmarks"][name] = fig
    result["load_average_end"] = os.getloadavg()
    table = [r for name, fig in result["benchmarks"].items() for r in rows_of(name, fig)]
    widths = [max(len(r[i]) for r in table + [("benchmark", "row", "figure", "notes")]) for i in range(3)]
    print(f"\n{result['machine']}, Python {result['python']}, load average at start "
          f"{' '.join(f'{x:.1f}' for x in result['load_average_start'])}, at end "
          f"{' '.join(f'{x:.1f}' for x in result['load_average_end'])}")
    for r in [("benchmark", "row", "figure", "notes")] + table:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
