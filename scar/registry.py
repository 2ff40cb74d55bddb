"""Look things up by name: lazy ``module:attr`` targets and helpful misses."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from typing import Any


def suggest(name: str, known: Iterable[str]) -> str:
    """A ' (did you mean ...?)' suffix for an unknown name, or a list of the known ones."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if close:
        return f" (did you mean {', '.join(repr(c) for c in close)}?)"
    return f" (known: {', '.join(known)})"


def load_target(target: str) -> Any:
    """Import ``package.module:attr`` and return the attribute."""
    module, _, attr = target.partition(":")
    if not attr:
        raise ValueError(f"target {target!r} must look like 'package.module:attr'")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    """Name -> lazily imported object. Entries are ``module:attr`` strings or objects."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}
        self._info: dict[str, dict[str, Any]] = {}

    def register(self, name: str, target: Any, **info: Any) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = target
        self._info[name] = info

    def names(self) -> list[str]:
        return sorted(self._entries)

    def info(self, name: str) -> dict[str, Any]:
        self._check(name)
        return dict(self._info[name])

    def get(self, name: str) -> Any:
        self._check(name)
        target = self._entries[name]
        if isinstance(target, str):
            target = load_target(target)
            self._entries[name] = target
        return target

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def _check(self, name: str) -> None:
        if name not in self._entries:
            from scar.errors import UnknownName

            raise UnknownName(f"unknown {self.kind} {name!r}{suggest(name, self._entries)}")
