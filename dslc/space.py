"""Design spaces: the networks or the accelerators one declaration stands for.

A declaration with `param`s is a space: every assignment of its parameters is one design.
`DesignSpace` is that space as a frozen value: its kind, its name, its parameters with their
domains (declaration order), and a `PointBuilder` that turns one point into the concrete
spec. It enumerates points in mixed-radix order (`points`, `point_at`, `index_of`; the last
parameter varies fastest), draws seeded samples (`sample`), resolves partly given points
(`resolve`) and builds a point's spec (`instantiate`).

In: parameter domains and a builder (dslc.sema elaborates both from the source). Out:
points, labels and concrete `NetworkSpec`/`AcceleratorSpec` values. A point is a
`dslc.spec.base.Point`: (param, value) pairs sorted by name, values in base units. A point
outside the space is a `UsageError` that names the parameter and its values; a point that is
inside but does not build (a shape error at that point) is a `DiagnosticError`.

It does not know how a point is built (the builder does), nor evaluate or search anything
(dslc.codesign does).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

from dslc.diagnostics.diagnostic import UsageError
from dslc.spec.accelerator import AcceleratorSpec
from dslc.spec.base import ParamSpec, ParamValue, Point
from dslc.spec.network import NetworkSpec

SpaceKind = Literal["network", "accelerator"]
S = TypeVar("S", NetworkSpec, AcceleratorSpec)
S_co = TypeVar("S_co", NetworkSpec, AcceleratorSpec, covariant=True)
GivenPoint = Point | Mapping[str, ParamValue]
"""A point as a caller may give it: sorted pairs, or a mapping of param names to values."""


class PointBuilder(Protocol[S_co]):
    """Builds the concrete spec of one point of a space."""

    def build(self, digits: tuple[int, ...], point: Point) -> S_co:
        """The spec at the point whose parameter values are `params[i].values[digits[i]]`
        (declaration order); `point` is the same point as sorted pairs. Raises
        DiagnosticError where the point does not build."""
        ...


def _same(domain_value: ParamValue, given: object, *, exact: bool = False) -> bool:
    """Whether a given value names a domain value: numbers within a relative 1e-9 (values
    in base units come from unit conversions) or, with `exact`, equal; booleans and strings
    exactly."""
    if isinstance(domain_value, bool) or isinstance(given, bool):
        return isinstance(domain_value, bool) and isinstance(given, bool) and \
            domain_value == given
    if isinstance(domain_value, str) or isinstance(given, str):
        return domain_value == given
    if isinstance(given, int | float):
        if exact:
            return float(domain_value) == float(given)
        return math.isclose(float(domain_value), float(given), rel_tol=1e-9, abs_tol=1e-12)
    return False


def _digit(values: tuple[ParamValue, ...], given: object) -> int | None:
    """The position of the domain value a given value names: the value equal to it, else
    the nearest within `_same`'s tolerance (two values of one domain may lie within it of
    each other: 2000000000 and 2000000001), else None."""
    exact = next((i for i, v in enumerate(values) if _same(v, given, exact=True)), None)
    if exact is not None or isinstance(given, bool) or not isinstance(given, int | float):
        return exact
    close = [i for i, v in enumerate(values) if _same(v, given)]
    return min(close, key=lambda i: abs(float(values[i]) - float(given)), default=None)


def value_text(value: ParamValue) -> str:
    """A parameter value as reports show it when the source's spelling is not at hand."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True, slots=True)
class DesignSpace(Generic[S]):
    """A network or accelerator declaration: every point of its parameters is one design."""

    kind: SpaceKind
    """`network` or `accelerator`."""
    name: str
    """The declaration's name."""
    params: tuple[ParamSpec, ...]
    """Free parameters in declaration order with their domains (empty: one fixed design)."""
    builder: PointBuilder[S] = field(compare=False, repr=False)
    """Turns a point into its concrete spec."""

    @property
    def size(self) -> int:
        """How many designs the space holds (0 when a domain is empty)."""
        return math.prod(len(param.values) for param in self.params)

    def __len__(self) -> int:
        return self.size

    # ---- points --------------------------------------------------------------------------

    def _digits(self, index: int) -> tuple[int, ...]:
        if not 0 <= index < self.size:
            raise UsageError(f"{self.kind} `{self.name}` has {self.size} points; there is no "
                             f"point {index}")
        digits: list[int] = []
        for param in reversed(self.params):
            index, digit = divmod(index, len(param.values))
            digits.append(digit)
        return tuple(reversed(digits))

    def _point(self, digits: tuple[int, ...]) -> Point:
        return tuple(sorted((param.name, param.values[digit])
                            for param, digit in zip(self.params, digits, strict=True)))

    def point_at(self, index: int) -> Point:
        """The index-th point in mixed-radix order (last parameter fastest)."""
        return self._point(self._digits(index))

    def points(self) -> Iterator[Point]:
        """Every point, in mixed-radix order."""
        for index in range(self.size):
            yield self.point_at(index)

    def index_of(self, point: GivenPoint) -> int:
        """The position of a (full) point in mixed-radix order."""
        index = 0
        for param, digit in zip(self.params, self._resolve_digits(point, fill=False),
                                strict=True):
            index = index * len(param.values) + digit
        return index

    def sample(self, count: int, seed: int) -> tuple[Point, ...]:
        """`count` distinct points drawn with `seed` (every point when there are fewer), in
        space order."""
        if count >= self.size:
            return tuple(self.points())
        import numpy as np  # here: importing dslc (and `dslc lint`) loads no numpy

        rng = np.random.default_rng(seed)
        chosen = sorted(int(i) for i in rng.choice(self.size, size=count, replace=False))
        return tuple(self.point_at(i) for i in chosen)

    def resolve(self, point: GivenPoint = ()) -> Point:
        """The full point a given one names: values matched against the domains (so 64 KiB
        given in bits finds the domain's value), single-valued parameters filled in.
        Raises UsageError for an unknown parameter, a value outside its domain, or a
        parameter with several values that is not given."""
        return self._point(self._resolve_digits(point, fill=True))

    def _resolve_digits(self, point: GivenPoint, *, fill: bool) -> tuple[int, ...]:
        if self.size == 0:
            raise UsageError(f"{self.kind} `{self.name}` has no points (a parameter's domain "
                             "is empty)")
        given = dict(point.items() if isinstance(point, Mapping) else point)
        names = [param.name for param in self.params]
        unknown = sorted(set(given) - set(names))
        if unknown:
            known = ", ".join(names) if names else "none"
            raise UsageError(f"{self.kind} `{self.name}` has no parameter `{unknown[0]}` "
                             f"(its parameters: {known})")
        digits: list[int] = []
        for param in self.params:
            if param.name not in given:
                if fill and len(param.values) == 1:
                    digits.append(0)
                    continue
                raise UsageError(f"no value for parameter `{param.name}` of {self.kind} "
                                 f"`{self.name}` (its values: {', '.join(param.labels)})")
            value = given[param.name]
            digit = _digit(param.values, value)
            if digit is None:
                raise UsageError(f"{value!r} is not a value of `{param.name}` in {self.kind} "
                                 f"`{self.name}` (its values: {', '.join(param.labels)})")
            digits.append(digit)
        return tuple(digits)

    # ---- designs -------------------------------------------------------------------------

    def instantiate(self, point: GivenPoint = ()) -> S:
        """The concrete spec at `point` (see `resolve` for what may be left out). Raises
        UsageError for a point outside the space and DiagnosticError where the point does
        not build."""
        digits = self._resolve_digits(point, fill=True)
        return self.builder.build(digits, self._point(digits))

    def instantiate_at(self, index: int) -> S:
        """The concrete spec of the index-th point in mixed-radix order: its values are the
        domains' own, taken by position, so nothing is matched (and no domain scanned) as
        `instantiate` matches the values it is given."""
        digits = self._digits(index)
        return self.builder.build(digits, self._point(digits))

    def texts_at(self, index: int) -> tuple[str, ...]:
        """`texts` of the index-th point, each value's spelling taken by position."""
        named = sorted((param.name, param.labels[digit])
                       for param, digit in zip(self.params, self._digits(index), strict=True))
        return tuple(text for _, text in named)

    def texts(self, point: Point) -> tuple[str, ...]:
        """How each value of a (full, resolved) point is written in the source (`64KiB`),
        in the point's (sorted) order."""
        labels = {param.name: dict(zip(param.values, param.labels, strict=True))
                  for param in self.params}
        return tuple(labels[name].get(value, value_text(value)) if name in labels
                     else value_text(value)
                     for name, value in point)

    def dimensions(self, point: Point) -> tuple[str, ...]:
        """Each value's dimension (`size`, or empty for a plain number or symbol), in the
        point's (sorted) order."""
        found = {param.name: param.dimension for param in self.params}
        return tuple(found.get(name, "") for name, _ in point)

    def label(self, point: Point) -> str:
        """`name` or `name(p=v, ...)`: how reports name the design at `point`."""
        if not point:
            return self.name
        pairs = (f"{key}={text}" for (key, _), text in zip(point, self.texts(point),
                                                            strict=True))
        return f"{self.name}({', '.join(pairs)})"
