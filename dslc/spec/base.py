"""Shared base for spec models: frozen, no extra fields, docstrings become field docs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

ParamValue = int | float | str | bool
"""A parameter value after elaboration: numbers in base units (bits, pJ, Hz, s, um2), symbols
as strings, percentages as fractions."""


class Spec(BaseModel):
    """Base of every spec model."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", use_attribute_docstrings=True, strict=False
    )


class ParamSpec(Spec):
    """One free parameter of a space and its domain."""

    name: str
    """The parameter's name as declared with `param`."""
    values: tuple[ParamValue, ...]
    """Every value the parameter may take, in declaration order (base units)."""
    labels: tuple[str, ...]
    """How each value is written in the source, for reports (`64KiB`, `3`, `row_stationary`)."""
    dimension: str = ""
    """The values' dimension when they are quantities (`size`: in bits; dslc.sema.units),
    empty for plain numbers, flags and symbols."""


Point = tuple[tuple[str, ParamValue], ...]
"""A point of a space: (param name, value) pairs sorted by name."""


class SpaceSpec(Spec):
    """A named space of designs: every assignment of its params is one design."""

    name: str
    """The network's or accelerator's name."""
    params: tuple[ParamSpec, ...]
    """Its free parameters in declaration order (empty for a fixed design)."""

    @property
    def size(self) -> int:
        total = 1
        for param in self.params:
            total *= len(param.values)
        return total
