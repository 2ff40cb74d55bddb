"""``scar publish``: upload a built folder to the Hugging Face Hub."""

from __future__ import annotations



def add_parser(sub, common) -> None:
    p = sub.add_parser("publish", parents=[common], help="upload a built folder to the Hugging Face Hub",
                        description="Create the dataset repository and upload the card, the Parquet files and the "
                                    "rejects (never images, local state or results). Every file is scanned for API "
                                    "keys and tokens first. The token comes from HF_TOKEN or `huggingface-cli login`.")
    p.add_argument("out", help="the folder a build wrote")
    p.add_argument("--repo-id", required=True, help="ORG/NAME of the dataset repository")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--dry-run", action="store_true", help="list exactly what would be uploaded, upload nothing")


def run(args, progress: bool) -> int:
    from scar.build.publish import publish

    plan = publish(args.out, args.repo_id, private=args.private, dry_run=args.dry_run)
    verb = "would upload" if args.dry_run else "uploaded"
    for f in plan.files:
        print(f"  {f}")
    print(f"{verb} {len(plan.files)} files ({plan.bytes} bytes) to datasets/{args.repo_id}")
    return 0
