"""The argument parser every ``scar`` command uses: "did you mean" for mistyped commands,
choices and options, and defaults shown in ``--help``.

argparse alone reports ``scar biuld`` as an invalid choice with the whole list, and
``scar eval --modle x`` as a missing ``--model``; here both name the likely intent.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys

#: The argv being parsed (set by ``main``), so an error can point at a mistyped option even
#: when argparse reports something else first (a missing required option).
_ARGV: list[str] = []


def set_argv(argv: list[str]) -> None:
    _ARGV[:] = list(argv)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; ``(default: X)`` after every option that has a
    meaningful default its help does not already state."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        d = action.default
        if (action.option_strings and not (d is None or d is False or d == [] or d is argparse.SUPPRESS) and "default" not in text
                and "%(default)" not in text):
            text += " (default: %(default)s)"
        return text


def _close(word: str, known) -> list[str]:
    return difflib.get_close_matches(word, sorted(known), n=3, cutoff=0.6)


class ScarParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors suggest what was probably meant."""

    def __init__(self, *args, **kwargs) -> None:
        fc = kwargs.get("formatter_class")
        if fc in (None, argparse.HelpFormatter, argparse.RawDescriptionHelpFormatter):
            kwargs["formatter_class"] = HelpFormatter
        super().__init__(*args, **kwargs)

    def _options(self) -> list[str]:
        return [s for a in self._actions for s in a.option_strings if s.startswith("--")]

    def _mistyped(self) -> list[str]:
        """'--modle (did you mean --model?)' for each option in argv this parser does not know."""
        known = set(self._options())
        out = []
        for tok in _ARGV:
            opt = tok.split("=", 1)[0]
            if opt.startswith("--") and opt not in known and not any(k.startswith(opt) for k in known):
                close = _close(opt, known)
                out.append(f"{opt}" + (f" (did you mean {' or '.join(close)}?)" if close else ""))
        return out

    def error(self, message: str):  # noqa: D401 - argparse's signature
        m = re.match(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if m:
            arg, word, choices = m.groups()
            known = re.findall(r"'([^']*)'", choices)
            close = _close(word, known)
            what = "command" if arg == "COMMAND" else f"value for {arg}"
            message = f"unknown {what} {word!r}" + (f": did you mean {' or '.join(repr(c) for c in close)}?"
                                                    if close else f"; choose from {', '.join(known)}")
        else:
            wrong = self._mistyped()
            if wrong and (message.startswith("the following arguments are required")
                          or message.startswith("unrecognized arguments")):
                message = "unknown option " + ", ".join(wrong)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")
