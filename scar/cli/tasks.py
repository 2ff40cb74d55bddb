"""``scar tasks``: the task names ``scar eval --tasks`` accepts, by suite."""

from __future__ import annotations


def add_parser(sub, common) -> None:
    p = sub.add_parser("tasks", parents=[common], help="list the tasks and suites `scar eval --tasks` accepts",
                       description="List the suites (scar, mmeb) and their tasks: the SCaR files by source, the MMEB "
                                   "tasks with meta-task and IND/OOD. --data DIR also lists the SCaR files found there.")
    p.add_argument("--data", metavar="DIR", help="also list the SCaR_eval_*.parquet files in this folder")


def run(args, progress: bool) -> int:
    from pathlib import Path

    from scar.eval.tasks.suites import SUITES, load_suite

    for name in SUITES:
        s = load_suite(name)
        print(f"{name} ({len(s.tasks)} tasks; `--tasks {name}`):")
        for t in s.tasks:
            extra = ", ".join(x for x in (t.file, t.meta_task, t.ind_ood) if x)
            print(f"  {t.name:<28} {extra}")
    if args.data:
        from scar.errors import MissingInput

        if not Path(args.data).is_dir():
            raise MissingInput(f"--data {args.data}: no such folder")
        files = sorted(Path(args.data).glob("SCaR_eval_*.parquet"))
        print(f"in {args.data} ({len(files)}; the default when --tasks is not given):")
        for f in files:
            print(f"  SCaR_{f.stem.removeprefix('SCaR_eval_'):<23} {f.name}")
    print("\nAlso: a suite YAML file (--tasks my_suite.yaml) and SCaR_<Stem> for any SCaR_eval_<Stem>.parquet.")
    return 0
