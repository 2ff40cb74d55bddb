"""``scar sources``: inspect source datasets without building: list, stats, overlap."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from scar.errors import ScarUserError

log = logging.getLogger("scar")


def add_parser(sub, common) -> None:
    from scar.build.sources.options import add_source_options

    p = sub.add_parser("sources", parents=[common], help="inspect source datasets: list, stats, overlap (leakage)",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Inspect the source datasets in their official formats, without building.",
                        epilog="examples:\n"
                               "  scar sources list\n"
                               "  scar sources stats --source refcoco+ --root data/refcoco_plus --split val\n"
                               "  scar sources stats --data-root data            every source folder under data/\n"
                               "  scar sources overlap --data-root data --json overlap.json\n")
    sos = p.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    sos.add_parser("list", parents=[common], help="the registered sources and what --root holds for each")
    st = sos.add_parser("stats", parents=[common], help="images, samples and drop reasons per split, in the layout "
                                                         "of the paper's statistics table")
    st.add_argument("--source", help="one source (with --root)")
    st.add_argument("--root", help="the folder the source was downloaded to")
    st.add_argument("--data-root", help="instead of --source/--root: one folder per source named by its file stem "
                                        "in lower case (coco_stuff/, refcoco_plus/, refcocog/, visualgenome/, ade20k/)")
    st.add_argument("--split", choices=["train", "val"], help="one split (default: both)")
    st.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    add_source_options(st)
    ov = sos.add_parser("overlap", parents=[common], help="images shared between sources and splits (train/val "
                                                           "leakage), from the annotations alone")
    ov.add_argument("--data-root", required=True, help="one folder per source, as for `stats --data-root`")
    ov.add_argument("--json", metavar="FILE", help="write every shared image id, per pair, as JSON")


def run(args, progress: bool) -> int:
    import json

    from scar.build.sources import SOURCES
    from scar.build.sources import stats as sst
    from scar.build.sources.options import source_options

    if args.sources_command == "list":
        for name in SOURCES.names():
            print(f"{name:<13} {SOURCES.info(name).get('help', '')}")
        return 0
    if args.sources_command == "overlap":
        counts, found = sst.overlap(args.data_root, progress=progress)
        print(sst.render_overlap(counts, found))
        if args.json:
            Path(args.json).write_text(json.dumps({"images": {f"{k}/{sp}": {"images": n, "coco_images": c}
                                                              for (k, sp), (n, c) in counts.items()},
                                                   "overlaps": [o.to_json() for o in found]}, indent=1))
            print(f"wrote {args.json}")
        return 0
    if args.data_root and (args.source or args.root):
        raise ScarUserError("give either --data-root or --source with --root, not both")
    if args.data_root:
        todo = list(sst.data_root_sources(args.data_root).items())
    elif args.source and args.root:
        todo = [(args.source, args.root)]
    else:
        raise ScarUserError("give --source and --root (one source) or --data-root (every source folder)")
    splits = [args.split] if args.split else ["train", "val"]
    figures = []
    for key, root in todo:
        for sp in splits:
            try:
                figures.append(sst.source_stats(key, root, sp, progress=progress, **source_options(args)))
            except FileNotFoundError as e:
                if args.split:
                    raise
                log.warning("%s %s skipped: %s", key, sp, e)
    print(sst.render_stats(figures))
    if args.json:
        Path(args.json).write_text(json.dumps([f.to_json() for f in figures], indent=1))
        print(f"wrote {args.json}")
    return 0
