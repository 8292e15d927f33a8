"""Map-space constraint models: what the mapper may choose, as written in a `constraints` block.

A `constraints { LEVEL { ... } ... }` block restricts the mappings the mapper searches, as
Timeloop's `constraints` targets do. It is written on an accelerator (it then applies to
every mapping on it) or in a mapper request (a co-design's `mapper` block, `dslc map
--constraints`); the two combine (`MapConstraints.combined`: every constraint of both must
hold). Three kinds of entries, each naming its target (a memory or a fanout of the
accelerator) and where it was written (`origin`, for messages):

- `SlotConstraint`: the loops of one slot, a memory's temporal loops (`axis` empty) or one
  mesh axis of a fanout: fixed or bounded factors per dim (`K 4`, `C <= 8`, `R all`), the
  only dims that may have a loop there (`allow`; an empty tuple leaves the slot idle) and
  dims that may not (`forbid`).
- `OrderConstraint`: a memory's loop order, fixed or partly fixed: the dims that come first
  (`outer`), last (`inner`), and whether other dims may have loops in between.
- `KeepConstraint`: tensors a memory must keep, and tensors that must bypass it.

Dims and tensors are names as written: a constraint naming a dim that a layer does not have
says nothing about that layer (a `forbid [R]` means nothing to a dense layer). Checks that
need the accelerator are made in dslc.sema (diagnostics with spans); those that need a
layer's bounds when the layer is mapped (dslc.mapper.constraints).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from dslc.spec.base import Spec

FactorOp = Literal["=", "<=", ">="]
"""How a factor rule bounds a factor: exactly, at most, at least."""
Axis = Literal["", "x", "y"]
"""A slot's axis: empty for a memory's temporal loops, `x` or `y` for a fanout's mesh."""


class FactorRule(Spec):
    """A bound on one dim's factor in one slot: `K 4`, `K <= 8`, `K >= 2` or `R all`."""

    dim: str
    """The dim (K, C, P, ... or an einsum dim)."""
    op: FactorOp = "="
    """`=` fixes the factor, `<=` and `>=` bound it."""
    value: int | None = Field(default=None, gt=0)
    """The factor; None is `all`: the dim's whole bound (every other slot of it is 1)."""

    @property
    def text(self) -> str:
        """The rule as written (`K 4`, `K <= 8`, `R all`)."""
        if self.value is None:
            return f"{self.dim} all"
        return f"{self.dim} {self.value}" if self.op == "=" else \
            f"{self.dim} {self.op} {self.value}"


class SlotConstraint(Spec):
    """Constraints on the loops of one slot: a memory's temporal loops, or one mesh axis."""

    target: str
    """The memory (temporal loops) or fanout (with `axis`) it constrains."""
    axis: Axis = ""
    """Empty for a memory; `x` or `y` for a fanout's mesh axis."""
    factors: tuple[FactorRule, ...] = ()
    """Fixed or bounded factors of dims in this slot."""
    allow: tuple[str, ...] | None = None
    """The only dims that may have a loop in this slot (None: any; empty: the slot stays
    idle, every factor 1)."""
    forbid: tuple[str, ...] = ()
    """Dims that may not have a loop in this slot."""
    origin: str = ""
    """Where it was written, for messages (e.g. "accelerator `eyeriss_like`")."""


class OrderConstraint(Spec):
    """A memory's loop order, fixed or partly fixed (only its loops of factor > 1 count)."""

    target: str
    """The memory whose temporal loops it orders."""
    outer: tuple[str, ...] = ()
    """Dims whose loops come first (outermost), in this order."""
    inner: tuple[str, ...] = ()
    """Dims whose loops come last (innermost), in this order."""
    others: bool = True
    """Whether dims not listed may have loops here, between `outer` and `inner` (written
    `...`); without them the listed dims are the only ones with loops at this level."""
    origin: str = ""
    """Where it was written, for messages."""

    @property
    def text(self) -> str:
        """The order as written, outer to inner (`[K, C, ...]`)."""
        middle = ["..."] if self.others else []
        return "[" + ", ".join([*self.outer, *middle, *self.inner]) + "]"


class KeepConstraint(Spec):
    """Tensors a memory must keep and tensors that must bypass it (names or roles)."""

    target: str
    """The memory."""
    keep: tuple[str, ...] = ()
    """Tensors (names or roles: input, weight, output) it must keep."""
    bypass: tuple[str, ...] = ()
    """Tensors (names or roles) that must bypass it."""
    origin: str = ""
    """Where it was written, for messages."""


class MapConstraints(Spec):
    """Every map-space constraint of an accelerator or a mapper request (empty: none)."""

    slots: tuple[SlotConstraint, ...] = ()
    """Constraints on factors, per memory or mesh axis."""
    orders: tuple[OrderConstraint, ...] = ()
    """Constraints on loop orders, per memory."""
    keeps: tuple[KeepConstraint, ...] = ()
    """Constraints on keep and bypass choices, per memory."""

    @property
    def empty(self) -> bool:
        return not (self.slots or self.orders or self.keeps)

    def combined(self, other: MapConstraints) -> MapConstraints:
        """Both sets of constraints at once (every one of both must hold)."""
        if other.empty:
            return self
        if self.empty:
            return other
        return MapConstraints(slots=(*self.slots, *other.slots),
                              orders=(*self.orders, *other.orders),
                              keeps=(*self.keeps, *other.keeps))

    def targets(self) -> tuple[str, ...]:
        """Every level named, in order of first mention."""
        entries: list[SlotConstraint | OrderConstraint | KeepConstraint] = [
            *self.slots, *self.orders, *self.keeps]
        return tuple(dict.fromkeys(entry.target for entry in entries))

    def origins(self) -> frozenset[str]:
        """Where its constraints were written."""
        entries: list[SlotConstraint | OrderConstraint | KeepConstraint] = [
            *self.slots, *self.orders, *self.keeps]
        return frozenset(entry.origin for entry in entries)


NO_CONSTRAINTS = MapConstraints()
"""The empty set of constraints (a shared default)."""
