"""The registry: every operator entry, found by source name or by spec class.

Owns `OPERATORS` (every entry), `NAMES` (every spelling, sorted), `lookup(name)` and
`for_layer(layer)`. Entries are collected from the modules of this package: each operator
module defines one module-level `OPERATOR`, so adding an operator is adding its module. Two
entries claiming one spelling or one spec class is a bug in dslc and fails at import.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import dslc.ops
from dslc.ops.operator import Operator


def _collect() -> tuple[Operator[Any], ...]:
    found: list[Operator[Any]] = []
    for info in sorted(pkgutil.iter_modules(dslc.ops.__path__), key=lambda i: i.name):
        entry = getattr(importlib.import_module(f"dslc.ops.{info.name}"), "OPERATOR", None)
        if isinstance(entry, Operator):
            found.append(entry)
    return tuple(found)


OPERATORS = _collect()
"""Every operator entry, by module name."""


def _index(entries: tuple[Operator[Any], ...]
           ) -> tuple[dict[str, Operator[Any]], dict[type, Operator[Any]]]:
    by_name: dict[str, Operator[Any]] = {}
    by_layer: dict[type, Operator[Any]] = {}
    for entry in entries:
        for name in entry.names:
            if name in by_name:
                raise RuntimeError(f"operator `{name}` is defined twice (a bug in dslc)")
            by_name[name] = entry
        if entry.layer in by_layer:
            raise RuntimeError(f"{entry.layer.__name__} is built by two operators "
                               "(a bug in dslc)")
        by_layer[entry.layer] = entry
    return by_name, by_layer


_BY_NAME, _BY_LAYER = _index(OPERATORS)

NAMES = tuple(sorted(_BY_NAME))
"""Every name the language accepts for an operator."""


def lookup(name: str) -> Operator[Any] | None:
    """The entry a source name (spelling) calls, if any."""
    return _BY_NAME.get(name)


def for_layer(layer: object) -> Operator[Any]:
    """The entry that builds this spec layer (KeyError for a class no entry builds)."""
    return _BY_LAYER[type(layer)]
