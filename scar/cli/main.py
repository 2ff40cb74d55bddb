"""The ``scar`` command line: thin wrappers over the Python API. The CLI owns output."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from scar import __version__
from scar.cli.parsing import ScarParser, set_argv
from scar.errors import ScarUserError

log = logging.getLogger("scar")

#: The commands, in the order `scar --help` lists them; each is the module scar/cli/<name>.py
#: with ``add_parser(sub, common)`` and ``run(args, progress) -> int``.
COMMANDS = ("demo", "build", "sources", "eval", "leaderboard", "models", "validate", "publish", "audit", "review", "tasks")

_EPILOG = """examples:
  scar demo --out demo_out                  build the bundled sample, score sanity embedders, print the table
  scar build --source coco --root DIR --split val --out OUT --name MyData
  scar eval --data OUT --model random --model oracle --out OUT/results
  scar leaderboard OUT/results --out OUT/leaderboard.md
"""


def _add_common(p: argparse.ArgumentParser, default) -> None:
    """-v/-q work before or after the command; a subcommand's default never overrides."""
    p.add_argument("-v", "--verbose", action="count", default=0 if default is None else default,
                   help="more log output (-vv for debug)")
    p.add_argument("-q", "--quiet", action="store_true", default=False if default is None else default,
                   help="warnings only, no progress bars")


def parser() -> argparse.ArgumentParser:
    """The ``scar`` argument parser, every command included."""
    p = ScarParser(
        prog="scar", epilog=_EPILOG,
        description="Build the SCaR benchmark (Segmentation-and-Scene Caption Retrieval), score embedders "
                    "on it, and publish leaderboard tables.")
    p.add_argument("--version", action="version", version=f"scar {__version__}")
    _add_common(p, None)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=ScarParser)
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common, argparse.SUPPRESS)

    for name in COMMANDS:
        importlib.import_module(f"scar.cli.{name}").add_parser(sub, common)
    return p


def _command_parser(command: str) -> argparse.ArgumentParser:
    return next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[command]


def command_options(command: str) -> list[argparse.Action]:
    """The options and arguments of ``scar <command>`` (``dest``, ``option_strings``,
    ``choices``...), e.g. to check that every option reaches the build's config."""
    return list(_command_parser(command)._actions)


def synopsis(command: str, width: int = 100) -> str:
    """``command``'s usage as the parser writes it, at a fixed width (the README's synopsis is
    this text; a test compares)."""
    sub = _command_parser(command)
    fmt = argparse.HelpFormatter(prog=sub.prog, width=width)
    fmt.add_usage(sub.usage, sub._actions, sub._mutually_exclusive_groups, prefix="")
    return fmt.format_help().strip()


def main(argv: list[str] | None = None) -> int:
    set_argv(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.DEBUG if args.verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("huggingface_hub").propagate = False  # it prints through its own handler: once, not twice
    if args.command is None:
        parser().print_help()
        return 2
    progress = not args.quiet
    try:
        return importlib.import_module(f"scar.cli.{args.command}").run(args, progress)
    except ScarUserError as e:  # bad input: one line (and where it was raised at -v); anything else is a bug
        if args.verbose:
            log.error("traceback of the error below", exc_info=e)
        print(f"scar {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
