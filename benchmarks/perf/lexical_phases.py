"""Where the lexical build's CPU goes, phase by phase (issue 15, item 8).

Builds ``--generator lexical`` in this process, either the synthetic set of ``generation.py``
(``--images`` images with a bowl and a chair each and a scene label: the set its ratio to
pycocotools is measured on) or a COCO-format folder (``--root``, e.g.
``tests/fixtures/realdata/coco_tiny``), after one warm-up build (WordNet, tables). Each phase is
timed with ``time.process_time`` around the function that does it (no profiler: its overhead
would bend the shares); the figures are the median over ``--repeats`` builds, in microseconds of
CPU per sample (rows + rejects of the steps and of the source). Nested phases are in brackets and
not added to the total; "other" is what no phase covers (build set-up, the read loop, counts).

    python benchmarks/perf/lexical_phases.py --images 200
    python benchmarks/perf/lexical_phases.py --root tests/fixtures/realdata/coco_tiny --candidates paper
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import generation  # noqa: E402  (the benchmark's synthetic set)

from scar.build import pipeline, runner, validate, writer  # noqa: E402
from scar.build.base import Source, _Bookkeeping  # noqa: E402
from scar.build.engines import local  # noqa: E402
from scar.build.filters.candidates import CandidateChecks  # noqa: E402
from scar.build.filters.dedup import NearDuplicates  # noqa: E402
from scar.build.filters.wordnet import WordNetConstraints  # noqa: E402
from scar.build.masks import FillMasks  # noqa: E402
from scar.build.sources import coco  # noqa: E402
from scar.build.steps.compose import ComposeCaption  # noqa: E402
from scar.build.steps.lexical import LexicalNegatives  # noqa: E402

SPENT: collections.Counter = collections.Counter()


def timed(owner, name: str, label: str) -> None:
    """Replace ``owner.name`` by a wrapper adding its CPU time to ``SPENT[label]``."""
    fn = getattr(owner, name)

    def wrapper(*args, **kwargs):
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[label] += time.process_time() - t0

    setattr(owner, name, wrapper)


PIL = "source: check each image file (its header; PIL only where needed)"
STEPS = {ComposeCaption: "step compose", LexicalNegatives: "step negatives", CandidateChecks: "step candidate checks",
         WordNetConstraints: "step wordnet", NearDuplicates: "step near-duplicates", FillMasks: "step masks"}


def instrument() -> None:
    timed(coco.CocoSource, "load", "source: read and check the annotation JSON")
    timed(coco, "check_image_file", PIL)
    timed(coco.CocoSource, "context", "(source: image context, with the image check)")
    timed(Source, "select", "source: select entities, make samples")
    for cls, label in STEPS.items():
        timed(cls, "run", label)
    timed(local, "run_steps", "(engine: the steps, with their bookkeeping)")
    timed(_Bookkeeping, "reject", "(reject records, inside the steps and the source)")
    timed(runner.ShardBuffer, "add", "rows: eval rows and counts")
    timed(writer.ShardedRun, "finish_shard", "write each shard (Parquet, rejects, manifest)")
    timed(pipeline, "finish", "final Parquet and rejects file")
    timed(validate, "validate_eval", "validate the written file")
    timed(pipeline.DatasetCard, "save", "dataset card")


def one_build(config) -> tuple[dict[str, float], int]:
    SPENT.clear()
    t0 = time.process_time()
    rep = pipeline.build(config)
    total = time.process_time() - t0
    d = dict(SPENT)
    d["source: image context (entities, path)"] = d.pop("(source: image context, with the image check)") - d[PIL]
    d["engine: the steps' bookkeeping"] = (d.pop("(engine: the steps, with their bookkeeping)")
                                          - sum(d.get(label, 0.0) for label in STEPS.values()))
    d["other (build set-up, read loop, counts)"] = total - sum(v for k, v in d.items() if not k.startswith("("))
    d["total"] = total
    return d, rep.rows + rep.rejected


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=200, help="synthetic images (2 samples each), without --root")
    p.add_argument("--root", help="a COCO-format folder (annotations/instances_<split>.json, images/<split>/)")
    p.add_argument("--split", default="val")
    p.add_argument("--candidates", default="paper", help="the candidate design (paper, balanced)")
    p.add_argument("--repeats", type=int, default=7, help="builds measured (the median counts)")
    args = p.parse_args(argv)
    from scar.build.config import BuildConfig

    tmp = Path(tempfile.mkdtemp(prefix="scar-phases-"))
    root = Path(args.root) if args.root else generation.write_fixture(tmp / "src", args.images, scene="kitchen")
    stem = {} if args.root else {"stem": "Bench"}

    def config(i: int) -> BuildConfig:
        return BuildConfig(source={"name": "coco", "root": root, "split": args.split, **stem},
                           generator={"name": "lexical", "candidates": args.candidates},
                           output={"dir": tmp / f"out{i}", "progress": False})

    pipeline.build(config(-1))  # warm-up: WordNet, the tables
    instrument()
    runs = [one_build(config(i)) for i in range(args.repeats)]
    n = runs[0][1]
    med = {k: statistics.median(d.get(k, 0.0) for d, _ in runs) for k in runs[0][0]}
    total = med.pop("total")
    print(f"{n} samples (rows + rejects), median of {args.repeats} builds: {1e6 * total / n:.0f} us CPU per sample\n")
    print("| phase | us CPU per sample | share |\n|---|---|---|")
    for k, v in sorted(med.items(), key=lambda kv: -kv[1]):
        print(f"| {k} | {1e6 * v / n:.0f} | {100 * v / total:.0f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
