"""``scar audit``: blind-solvability audit of SCaR eval files."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub, common) -> None:
    p = sub.add_parser("audit", parents=[common], help="blind-solvability audit of SCaR eval files",
                        description="Score blind baselines that never see the image (blind-medoid with "
                                    "all-MiniLM-L6-v2, blind-lexical-overlap; optional blind-fluency) on every eval "
                                    "file, with 95%% intervals next to chance; report swap-type balance, provenance "
                                    "shares, drops per filter and image overlap. Writes DIR/audit.json and the "
                                    "card's audit section. Works on released files too.")
    p.add_argument("dir", help="a folder with SCaR_eval_*.parquet files")
    p.add_argument("--results", help="also write each blind baseline as a result JSON here (for leaderboards)")
    p.add_argument("--text-model", help="sentence-transformers model for blind-medoid (default: the bundled "
                                         "all-MiniLM-L6-v2)")
    p.add_argument("--fluency-model", help="a causal LM (Hub id or path) for the optional blind-fluency baseline")


def run(args, progress: bool) -> int:
    from scar.build.card import record_audit
    from scar.eval.audit import audit_folder, format_table

    report = audit_folder(args.dir, text_model=args.text_model, fluency_model=args.fluency_model,
                          results=args.results)
    record_audit(args.dir, report)
    print(format_table(report))
    print(f"wrote {Path(args.dir) / 'audit.json'}" + (f" and results under {args.results}" if args.results else ""))
    return 0
