"""Keyword attributes of operators and the protocol elaboration reads them through.

Owns `Attribute` (a keyword attribute's name, kind, default and doc line) and
`AttributeReader`, what an operator's binder asks of a call's keyword arguments. The reader is
implemented by elaboration (dslc.sema.network) over its evaluated values and spans, so the
binders here never see a source value, a span or a diagnostic: a reader method returns the
value the attribute's kind calls for, or raises elaboration's own error at the argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

AttributeKind = Literal["pos_int", "nonneg_int", "pair", "pad_pair", "bool", "int_list"]
"""pos_int/nonneg_int: an integer of at least 1/0; pair: an int or [h, w] of at least 1;
pad_pair: an int or [h, w] of at least 0, or `same`; bool: true or false; int_list: a list of
integers of at least 0."""

Same = Literal["same"]
"""The `pad = same` symbol: padding that keeps the size at stride 1."""

_MINIMUM: dict[AttributeKind, int] = {
    "pos_int": 1, "nonneg_int": 0, "pair": 1, "pad_pair": 0, "bool": 0, "int_list": 0,
}


@dataclass(frozen=True, slots=True)
class Attribute:
    """A keyword attribute of an operator."""

    name: str
    """Its name in the source (`kernel`, `out`, ...)."""
    kind: AttributeKind
    """What values it takes (see `AttributeKind`)."""
    doc: str
    """The language reference's description of it, defaults included as prose."""
    required: bool = False
    """Whether a call must give it."""
    default: int | bool | None = None
    """The value when it is not given (both sides of a pair); None when required or when the
    binder derives it (a pool's stride defaults to its kernel)."""

    @property
    def minimum(self) -> int:
        """The smallest integer (or pair side, or list entry) its kind accepts."""
        return _MINIMUM[self.kind]


class AttributeReader(Protocol):
    """A call's keyword arguments, read by kind. Every method raises at the argument's span.

    Absent attributes read as their `default`; reading an absent attribute without one is
    a missing argument. The binder calls these in the order the errors should be found.
    """

    def has(self, attribute: Attribute) -> bool:
        """Whether the call gives the attribute."""
        ...

    def integer(self, attribute: Attribute) -> int:
        """A plain integer of at least the kind's minimum."""
        ...

    def pair(self, attribute: Attribute) -> tuple[int, int]:
        """An int (used for both sides) or [height, width]."""
        ...

    def pad_pair(self, attribute: Attribute) -> tuple[int, int] | Same:
        """A pair, or the symbol `same`."""
        ...

    def flag(self, attribute: Attribute) -> bool:
        """true or false."""
        ...

    def int_list(self, attribute: Attribute) -> tuple[int, ...]:
        """A list of integers."""
        ...

    def missing(self, message: str) -> Exception:
        """The error for a call that lacks something (for the binder to raise)."""
        ...

    def invalid(self, attribute: Attribute, message: str, hint: str = "") -> Exception:
        """The error for an attribute whose value is out of range (for the binder to raise),
        with how to fix it when there is an obvious fix."""
        ...
