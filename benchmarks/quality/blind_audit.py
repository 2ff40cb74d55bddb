"""Blind-solvability of the two candidate designs, measured with `scar audit`.

Builds the bundled sample, the real COCO annotations of ``tests/fixtures/realdata/coco_tiny``
and a synthetic COCO-format set (scar.testing.synthetic) with ``--candidates paper`` and
``--candidates balanced``, runs the audit on each, and prints blind-medoid /
blind-lexical-overlap accuracy with 95% intervals next to chance (10%), the tie rate, and the
accuracy with ties broken at random (``acc~``: the expected accuracy of a baseline that picks
one of its tied candidates at random). The balanced design is built once per ``--seeds`` seed
(each seed draws other grids of the same samples), so a result that holds for one build only
shows. Writes benchmarks/quality/blind_audit.json.

    python benchmarks/quality/blind_audit.py [--synthetic-images 300] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

from scar import __version__
from scar.eval.audit import audit_folder
from scar.build.config import BuildConfig
from scar.build.pipeline import build
from scar.build.samples import materialize
from scar.testing.synthetic import write_synthetic_coco


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synthetic-images", type=int, default=300)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="build seeds of the balanced design")
    ap.add_argument("--out", default=str(Path(__file__).with_suffix(".json")))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = {"Sample": materialize(tmp / "sample"),
                "COCO_tiny": Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "realdata" / "coco_tiny",
                "Synthetic": write_synthetic_coco(tmp / "syn", n_images=args.synthetic_images, anns_per_image=3,
                                                  split="val", seed=0)}
        for name, root in data.items():
            for design, seed in [("paper", 0)] + [("balanced", x) for x in args.seeds]:
                out = tmp / f"{name}_{design}_{seed}"
                rep = build(BuildConfig(source={"name": "coco", "root": root, "split": "val", "stem": name}, seed=seed,
                                        generator={"candidates": design}, output={"dir": out, "progress": False}))
                audit = audit_folder(out)["files"][rep.path.name]
                for b, s in audit["blind"].items():
                    rows.append({"data": name, "design": design, "seed": seed, "rows": rep.rows, "baseline": b,
                                 "accuracy": s["accuracy"], "ci95": s["ci95"], "tie_rate": s["tie_rate"],
                                 "accuracy_random_ties": s["accuracy_random_ties"]})
    print(f"{'data':<10} {'design':<9} {'seed':>4} {'rows':>5} {'baseline':<22} {'acc':>6} {'95% CI':>13} {'ties':>6} {'acc~':>6}")
    for r in rows:
        lo, hi = r["ci95"]
        print(f"{r['data']:<10} {r['design']:<9} {r['seed']:>4} {r['rows']:>5} {r['baseline']:<22} {100 * r['accuracy']:6.1f} "
              f"{100 * lo:6.1f}–{100 * hi:5.1f} {100 * r['tie_rate']:6.1f} {100 * r['accuracy_random_ties']:6.1f}")
    Path(args.out).write_text(json.dumps({"scar": __version__, "python": platform.python_version(),
                                          "machine": platform.machine(), "synthetic_images": args.synthetic_images,
                                          "seeds": args.seeds,
                                          "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
