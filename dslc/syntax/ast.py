"""The abstract syntax tree of a `.cd` file.

Frozen, slotted dataclasses; every node has a `span`. The tree says what was written, not
whether it means anything: names are unresolved, properties are unchecked, units are raw.
Produced by dslc.syntax.transform, consumed by dslc.sema.
"""

from __future__ import annotations

from dataclasses import dataclass

from dslc.diagnostics.span import Span


@dataclass(frozen=True, slots=True)
class Ident:
    """A name as written."""

    text: str
    span: Span


# ---- expressions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Number:
    value: int | float
    span: Span


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number with a unit, e.g. `64KiB`, `12 words`, `71.5%`."""

    value: float
    unit: str
    span: Span


@dataclass(frozen=True, slots=True)
class String:
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    ident: Ident
    span: Span


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class SetExpr:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class RangeExpr:
    """An inclusive range `start..stop` with an optional `step`."""

    start: Expr
    stop: Expr
    step: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Arg:
    """A call argument, positional (`keyword` None) or `keyword = value`."""

    keyword: Ident | None
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: Ident
    args: tuple[Arg, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class EinsumTensorDecl:
    role: str
    name: Ident
    indices: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Einsum:
    args: tuple[Arg, ...]
    dims: tuple[tuple[Ident, Expr], ...]
    tensors: tuple[EinsumTensorDecl, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Mesh:
    """`X x Y`, the shape of a fanout."""

    x: Expr
    y: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Objective:
    """`minimize EXPR` or `maximize EXPR`."""

    sense: str
    expr: Expr
    span: Span


Expr = (
    Number | Quantity | String | Name | ListExpr | SetExpr | RangeExpr | Unary | Binary | Call
    | Einsum | Mesh | Objective
)


# ---- statements ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Property:
    """`name = value`."""

    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class SubBlock:
    """`name { properties }`, e.g. an explicit dataflow or the mapper settings."""

    name: Ident
    body: tuple[Property | SubBlock | ConstraintsBlock, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class FactorBound:
    """`K 4`, `K = 4`, `K <= 8`, `K >= 2` or `R all` in a constraint's factor list."""

    dim: Ident
    op: str
    """`=`, `<=` or `>=` (`K 4` is `=`)."""
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ConstraintDirective:
    """One statement of a constraint target: `factors [...]`, `spatial x [...]`,
    `allow [x] [...]`, `forbid [x] [...]`, `order [...]`, `idle x`, `keep [...]` or
    `bypass [...]`."""

    kind: str
    axis: Ident | None
    rules: tuple[FactorBound, ...]
    names: tuple[Ident, ...]
    """Dims (allow, forbid, order: `...` is the name `...`) or tensors (keep, bypass)."""
    span: Span


@dataclass(frozen=True, slots=True)
class ConstraintTarget:
    """`LEVEL { directives }` inside a `constraints` block."""

    target: Ident
    directives: tuple[ConstraintDirective, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class ConstraintsBlock:
    """`constraints { LEVEL { ... } ... }`: map-space constraints, in an accelerator or a
    `mapper` block. `name` is the keyword itself (so that a block that takes properties
    reports it as one it does not have)."""

    name: Ident
    targets: tuple[ConstraintTarget, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class InputStmt:
    name: Ident
    shape: ListExpr
    span: Span


@dataclass(frozen=True, slots=True)
class ParamStmt:
    name: Ident
    domain: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class LayerStmt:
    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class RepeatStmt:
    """`block NAME = repeat COUNT from SOURCE { layers; result }`; `prev` is the last output."""

    name: Ident
    count: Expr
    source: Expr
    body: tuple[LayerStmt, ...]
    result: Expr | None
    span: Span


NetStmt = InputStmt | ParamStmt | LayerStmt | RepeatStmt | Property


@dataclass(frozen=True, slots=True)
class ImportDecl:
    path: String
    span: Span


@dataclass(frozen=True, slots=True)
class NetworkDecl:
    name: Ident
    body: tuple[NetStmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class TemplateParam:
    name: Ident
    default: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class TemplateDecl:
    name: Ident
    params: tuple[TemplateParam, ...]
    body: tuple[NetStmt, ...]
    result: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Component:
    """A `memory`, `fanout` or `compute` block of an accelerator."""

    kind: str
    name: Ident
    body: tuple[Property | SubBlock, ...]
    span: Span


AccStmt = ParamStmt | Property | SubBlock | Component | ConstraintsBlock


@dataclass(frozen=True, slots=True)
class AcceleratorDecl:
    name: Ident
    body: tuple[AccStmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class SpaceRef:
    """A network or accelerator, optionally at a point: `name(param = value, ...)`."""

    name: Ident
    args: tuple[Arg, ...] | None
    span: Span


@dataclass(frozen=True, slots=True)
class Loop:
    dim: Ident
    factor: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Directive:
    """`temporal [...]`, `spatial x [...]`, `keep [...]` or `bypass [...]`."""

    kind: str
    axis: Ident | None
    loops: tuple[Loop, ...]
    names: tuple[Ident, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class MapLevel:
    target: Ident
    directives: tuple[Directive, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class MappingDecl:
    name: Ident
    network: SpaceRef
    layer: tuple[Ident, ...]
    accelerator: SpaceRef
    levels: tuple[MapLevel, ...]
    props: tuple[Property, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class ConstraintStmt:
    left: Expr
    op: str
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class CoDesignDecl:
    name: Ident
    body: tuple[Property | SubBlock | ConstraintStmt, ...]
    span: Span


Decl = ImportDecl | NetworkDecl | TemplateDecl | AcceleratorDecl | MappingDecl | CoDesignDecl


@dataclass(frozen=True, slots=True)
class Module:
    """One parsed file."""

    items: tuple[Decl, ...]
    span: Span
