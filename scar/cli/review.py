"""``scar review``: review samples in a local web page, then apply the decisions."""

from __future__ import annotations

import errno
import sys


def add_parser(sub, common) -> None:
    p = sub.add_parser("review", parents=[common], help="review samples in a local web page, then apply",
                        description="Serve a page on 127.0.0.1 showing each sample's image with its box, the GT and "
                                    "the 9 distractors; accept (a), reject with a reason (r), edit (e, s to save). "
                                    "Decisions are saved as they are made (OUT/review/decisions.jsonl). "
                                    "--apply rewrites the eval files: rejected rows go to rejected/review.jsonl.")
    p.add_argument("out", help="the folder a build wrote")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free port; the URL printed "
                                                       "carries the session token the page needs)")
    p.add_argument("--image-root", help="image root (default OUT/images)")
    p.add_argument("--apply", action="store_true", help="apply the saved decisions to the folder and exit")


def run(args, progress: bool) -> int:
    if args.apply:
        from scar.build.review import apply_decisions

        counts = apply_decisions(args.out)
        for line in counts.pop("refused"):
            print(f"edit refused: {line}")
        print(f"applied: {counts['rejected']} rejected, {counts['edited']} edited, "
              f"{counts['refused_edits']} edits refused; README.md updated")
        return 0
    from scar.build.review.server import make_server

    if not 0 <= args.port <= 65535:
        print(f"scar review: error: --port must be in 0..65535, got {args.port}", file=sys.stderr)
        return 1
    try:
        srv = make_server(args.out, port=args.port, image_root=args.image_root)
    except OSError as e:
        if e.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
        why = "is in use" if e.errno == errno.EADDRINUSE else "needs privileges"
        print(f"scar review: error: port {args.port} {why}; pick another with --port, or leave --port out "
              "for a free one", file=sys.stderr)
        return 1
    print(f"reviewing {args.out} at {srv.url}  (Ctrl-C to stop; then `scar review {args.out} --apply`)")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0
