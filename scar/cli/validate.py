"""``scar validate``: check a built folder against the schema and invariants."""

from __future__ import annotations



def add_parser(sub, common) -> None:
    p = sub.add_parser("validate", parents=[common], help="check a SCaR folder against the schema and invariants",
                        description="Check every SCaR_eval_*/SCAR_* file of a folder: released columns, 10 distinct "
                                    "candidates with the GT first, swap types aligned, boxes inside the image, image "
                                    "files present. Names every offending row; exit status 1 when any.")
    p.add_argument("out", help="the folder a build wrote")
    p.add_argument("--image-root", help="image root (default OUT/images when it exists)")
    p.add_argument("--max-print", type=int, default=50, help="print at most N problems (all are counted)")


def run(args, progress: bool) -> int:
    from scar.build.validate import validate_folder

    problems = validate_folder(args.out, args.image_root)
    for p in problems[: args.max_print]:
        print(p)
    if len(problems) > args.max_print:
        print(f"... and {len(problems) - args.max_print} more")
    print(f"{args.out}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0
