"""The ``scar`` command line: one module per command (``add_parser`` + ``run``)."""

from scar.cli.main import main

__all__ = ["main"]
