"""Expression evaluation and value coercion for elaboration.

Owns the values an expression can have (numbers, quantities in base units, symbols, lists,
sets, tensors of the network being built), `Scope` (names in force, with use tracking for
unused-parameter warnings), `evaluate` and the `as_*` coercions that turn a value into what
a slot needs or raise `EvalError` carrying a diagnostic with the expression's span. Calls of
operators and templates are delegated to a `CallHandler` supplied by the network builder.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dslc.diagnostics.diagnostic import Diagnostic, did_you_mean, error
from dslc.diagnostics.span import Span
from dslc.sema.units import DIMENSION_NAMES, UNITS, format_quantity, in_base_units
from dslc.spec.limits import MAX_MESH_EXTENT
from dslc.syntax import ast

MAX_RANGE = 100_000
MAX_SUGGESTIONS = 64
"""Distinct undefined names one scope tree suggests a did-you-mean for: each suggestion
scans every name in scope, so past this many a file with thousands of distinct typos would
cost time quadratic in its size; later ones get no suggestion. (A name suggested once is
remembered, so 150,000 uses of one undefined name cost one scan.)"""


class EvalError(Exception):
    """Aborts the evaluation of one statement; the diagnostic says why."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class Poisoned(Exception):
    """A name whose definition failed (already reported) was used: abort silently."""


@dataclass(frozen=True, slots=True)
class Poison:
    """The value of a name whose definition failed; using it raises `Poisoned`."""


@dataclass(frozen=True, slots=True)
class Qty:
    """A quantity in base units (see dslc.sema.units)."""

    value: float
    dimension: str
    text: str = ""

    def label(self) -> str:
        return self.text or format_quantity(self.value, self.dimension)


@dataclass(frozen=True, slots=True)
class Sym:
    """A bare name that is not bound in scope: a preset, role, strategy, metric, ...

    `scope` is where it was met, for a did-you-mean where a symbol is not acceptable after
    all (`suggest`); it is not compared, hashed or pickled."""

    name: str
    scope: Scope | None = field(default=None, compare=False, repr=False)

    def __reduce__(self) -> tuple[type[Sym], tuple[str]]:
        return (Sym, (self.name,))

    def suggest(self, extra: Iterable[str] = ()) -> str:
        """A did-you-mean among the names in scope where it was met (and `extra`)."""
        if self.scope is None:
            return did_you_mean(self.name, extra)
        return self.scope.suggest(self.name, extra)


@dataclass(frozen=True, slots=True)
class TensorRef:
    """A tensor of the network under construction (a graph input or a layer's output)."""

    tensor: str


@dataclass(frozen=True, slots=True)
class SetValue:
    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class MeshValue:
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class TableRef:
    path: str


Value = (
    int | float | bool | str | Qty | Sym | TensorRef | SetValue | MeshValue | TableRef | Poison
    | tuple["Value", ...]
)


def describe(value: Value) -> str:
    """What kind of value this is, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value:g}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Qty):
        return f"{DIMENSION_NAMES.get(value.dimension, value.dimension)} ({value.label()})"
    if isinstance(value, Sym):
        return f"the name `{value.name}`"
    if isinstance(value, TensorRef):
        return f"the tensor `{value.tensor}`"
    if isinstance(value, SetValue):
        return "a set"
    if isinstance(value, MeshValue):
        return "a mesh"
    if isinstance(value, TableRef):
        return "a table"
    return "a list"


@dataclass(slots=True)
class Scope:
    """Names in force. `used` records lookups so that unused parameters can be reported."""

    names: dict[str, Value]
    parent: Scope | None = None
    used: set[str] = field(default_factory=set)
    defined_at: dict[str, Span] = field(default_factory=dict)
    suggestions: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)
    """This scope's memo of did-you-mean help by undefined name (see `suggest`)."""
    suggested: int = 0
    """At the root: how many did-you-mean scans its scope tree has made."""

    def lookup(self, name: str) -> Value | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                scope.used.add(name)
                return scope.names[name]
            scope = scope.parent
        return None

    def all_names(self) -> set[str]:
        names: set[str] = set()
        scope: Scope | None = self
        while scope is not None:
            names |= set(scope.names)
            scope = scope.parent
        return names

    def child(self, names: dict[str, Value] | None = None) -> Scope:
        return Scope(dict(names or {}), self)

    def suggest(self, name: str, extra: Iterable[str] = ()) -> str:
        """A did-you-mean for an undefined `name` among the names in scope and `extra`,
        remembered by this scope: one scan per distinct undefined name, and none past
        MAX_SUGGESTIONS scans in the whole scope tree (then '')."""
        extra = tuple(extra)
        key = (name, extra)
        if key not in self.suggestions:
            root = self
            while root.parent is not None:
                root = root.parent
            if root.suggested >= MAX_SUGGESTIONS:
                return ""
            root.suggested += 1
            self.suggestions[key] = did_you_mean(name, [*self.all_names(), *extra])
        return self.suggestions[key]


class CallHandler(Protocol):
    def __call__(self, call: ast.Call | ast.Einsum, scope: Scope) -> Value: ...


ShapeOf = Callable[[TensorRef], tuple[int, ...]]


def fail(code: str, message: str, span: Span, *, label: str = "", help: str = "") -> EvalError:
    return EvalError(error(code, message, span, label=label, help=help))


@dataclass(frozen=True, slots=True)
class EvalContext:
    """What evaluation may call out to. `symbols` lists names that are valid unbound."""

    call: CallHandler | None = None
    shape_of: ShapeOf | None = None
    symbols: frozenset[str] = frozenset()


_FUNCTIONS = ("channels", "height", "width", "dim", "min", "max", "ceil", "floor", "round",
              "divisible", "table")


def evaluate(expr: ast.Expr, scope: Scope, ctx: EvalContext) -> Value:
    """The value of an expression; unbound names evaluate to `Sym`."""
    if isinstance(expr, ast.Number):
        return expr.value
    if isinstance(expr, ast.Quantity):
        unit = UNITS[expr.unit]
        base = in_base_units(expr.value, unit.factor)
        if not math.isfinite(base) or abs(base) > 1e300:
            raise fail("E105", "number too large", expr.span, label="cannot be represented",
                       help="numbers must be at most 1e300 in base units (bits, pJ, Hz, s, um2)")
        return Qty(base, unit.dimension, expr.span.text)
    if isinstance(expr, ast.String):
        return expr.value
    if isinstance(expr, ast.Name):
        name = expr.ident.text
        if name in ("true", "false"):
            return name == "true"
        value = scope.lookup(name)
        if isinstance(value, Poison):
            raise Poisoned(name)
        return Sym(name, scope) if value is None else value
    if isinstance(expr, ast.ListExpr):
        return tuple(evaluate(item, scope, ctx) for item in expr.items)
    if isinstance(expr, ast.SetExpr):
        # Each value once, in order; looked up by hash (values are frozen dataclasses,
        # numbers and strings): a scan of the list per value made a set of 100,000 names
        # take minutes.
        items: list[Value] = []
        seen: set[object] = set()
        for item in expr.items:
            value = evaluate(item, scope, ctx)
            try:
                new = value not in seen
                seen.add(value)
            except TypeError:  # an unhashable value: compared with each one kept
                new = value not in items
            if new:
                items.append(value)
        return SetValue(tuple(items))
    if isinstance(expr, ast.RangeExpr):
        return _range(expr, scope, ctx)
    if isinstance(expr, ast.Unary):
        operand = evaluate(expr.operand, scope, ctx)
        return _arith("*", -1, operand, expr.span)
    if isinstance(expr, ast.Binary):
        left = evaluate(expr.left, scope, ctx)
        right = evaluate(expr.right, scope, ctx)
        return _arith(expr.op, left, right, expr.span)
    if isinstance(expr, ast.Call):
        return _call(expr, scope, ctx)
    if isinstance(expr, ast.Mesh):
        x = as_int(evaluate(expr.x, scope, ctx), expr.x.span, "a mesh extent", minimum=1,
                   maximum=MAX_MESH_EXTENT)
        y = as_int(evaluate(expr.y, scope, ctx), expr.y.span, "a mesh extent", minimum=1,
                   maximum=MAX_MESH_EXTENT)
        return MeshValue(x, y)
    if isinstance(expr, ast.Einsum):
        if ctx.call is None:
            raise fail("E404", "an einsum layer is only valid in a network", expr.span)
        return ctx.call(expr, scope)
    if isinstance(expr, ast.Objective):
        raise fail("E303", f"`{expr.sense}` is only valid as a co-design objective", expr.span)
    raise fail("E900", f"unhandled expression {type(expr).__name__} (a bug in dslc)",
               expr.span)


def _range(expr: ast.RangeExpr, scope: Scope, ctx: EvalContext) -> Value:
    start = evaluate(expr.start, scope, ctx)
    stop = evaluate(expr.stop, scope, ctx)
    step: Value = 1 if expr.step is None else evaluate(expr.step, scope, ctx)
    if isinstance(start, Qty) and isinstance(stop, Qty):
        if start.dimension != stop.dimension:
            raise fail("E301", "range ends have different units", expr.span)
        step_value = step.value if isinstance(step, Qty) else None
        if step_value is None:
            raise fail("E303", "a range of quantities needs a quantity `step`", expr.span)
        step_span = expr.step.span if expr.step is not None else expr.span
        if isinstance(step, Qty) and step.dimension != start.dimension:
            raise fail("E301", f"the step is {describe(step)}, the range ends are "
                       f"{DIMENSION_NAMES.get(start.dimension, start.dimension)}", step_span)
        if step_value <= 0:
            raise fail("E302", "a range step must be positive", step_span)
        steps = (stop.value - start.value) / step_value
        if not math.isfinite(steps) or steps + 1 > MAX_RANGE:
            raise fail("E302", "range too large", expr.span,
                       help=f"ranges are limited to {MAX_RANGE} values")
        count = math.floor(steps + 1e-9) + 1
        if count > MAX_RANGE:
            raise fail("E302", "range too large", expr.span,
                       help=f"ranges are limited to {MAX_RANGE} values")
        return tuple(Qty(start.value + i * step_value, start.dimension)
                     for i in range(max(0, count)))
    first = as_int(start, expr.start.span, "a range start")
    last = as_int(stop, expr.stop.span, "a range end")
    stride = as_int(step, expr.step.span if expr.step else expr.span, "a range step", minimum=1)
    if (last - first) // stride + 1 > MAX_RANGE:
        raise fail("E302", "range too large", expr.span,
                   help=f"ranges are limited to {MAX_RANGE} values")
    return tuple(range(first, last + 1, stride))


def _arith(op: str, left: Value, right: Value, span: Span) -> Value:
    if isinstance(left, bool) or isinstance(right, bool):
        raise fail("E304", f"cannot apply `{op}` to a boolean", span)
    numeric = (int, float)
    if isinstance(left, numeric) and isinstance(right, numeric):
        try:
            result = _numeric(op, left, right)
        except (ZeroDivisionError, OverflowError, ValueError):
            raise fail("E304", "invalid arithmetic", span,
                       label="division by zero or overflow") from None
        if isinstance(result, float) and (math.isinf(result) or math.isnan(result)):
            raise fail("E304", "invalid arithmetic", span, label="result is not finite")
        if isinstance(result, int) and abs(result) > 10**300:
            raise fail("E105", "number too large", span, label="result too large")
        return result
    if isinstance(left, Qty) or isinstance(right, Qty):
        return _quantity_arith(op, left, right, span)
    raise fail("E304", f"cannot apply `{op}` to {describe(left)} and {describe(right)}", span)


def _numeric(op: str, left: int | float, right: int | float) -> int | float:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        result = left / right
        return int(result) if result.is_integer() and isinstance(left, int) and isinstance(
            right, int) else result
    if op == "//":
        return left // right
    if abs(right) > 1000:
        raise OverflowError
    result = left**right
    if isinstance(result, complex):  # a negative base to a fractional power
        raise ValueError(result)
    return result


def _quantity_arith(op: str, left: Value, right: Value, span: Span) -> Value:
    result = _quantity_result(op, left, right, span)
    number = result.value if isinstance(result, Qty) else result
    if isinstance(number, int | float) and not (
            math.isfinite(number) and abs(number) <= 1e300):
        raise fail("E304", "invalid arithmetic", span, label="result is not finite")
    return result


def _quantity_result(op: str, left: Value, right: Value, span: Span) -> Value:
    numeric = (int, float)
    if isinstance(left, Qty) and isinstance(right, Qty):
        if left.dimension != right.dimension:
            raise fail("E304", f"cannot combine {describe(left)} and {describe(right)}", span)
        if op in "+-":
            value = left.value + right.value if op == "+" else left.value - right.value
            return Qty(value, left.dimension)
        if op in ("/", "//") and right.value != 0:
            ratio = left.value / right.value
            if not math.isfinite(ratio):
                raise fail("E304", "invalid arithmetic", span, label="result is not finite")
            return math.floor(ratio) if op == "//" else ratio
        raise fail("E304", f"cannot apply `{op}` to two quantities", span)
    if isinstance(left, Qty) and isinstance(right, numeric):
        if op == "*":
            return Qty(left.value * right, left.dimension)
        if op == "/" and right != 0:
            return Qty(left.value / right, left.dimension)
    if isinstance(right, Qty) and isinstance(left, numeric) and op == "*":
        return Qty(right.value * left, right.dimension)
    raise fail("E304", f"cannot apply `{op}` to {describe(left)} and {describe(right)}", span)


def _call(call: ast.Call, scope: Scope, ctx: EvalContext) -> Value:
    name = call.func.text
    if name not in _FUNCTIONS:
        if ctx.call is not None:
            return ctx.call(call, scope)
        raise fail("E207", f"unknown function `{name}`", call.func.span,
                   help=did_you_mean(name, _FUNCTIONS))
    if any(arg.keyword is not None for arg in call.args):
        keyword = next(a.keyword for a in call.args if a.keyword is not None)
        assert keyword is not None
        raise fail("E208", f"`{name}` takes no keyword arguments", keyword.span)
    args = [evaluate(arg.value, scope, ctx) for arg in call.args]
    spans = [arg.span for arg in call.args]

    def arity(count: int) -> None:
        if len(args) != count:
            code = "E209" if len(args) < count else "E208"
            raise fail(code, f"`{name}` takes {count} argument{'s' if count > 1 else ''}, "
                       f"{len(args)} given", call.span)

    if name in ("channels", "height", "width", "dim"):
        arity(2 if name == "dim" else 1)
        tensor = args[0]
        if not isinstance(tensor, TensorRef) or ctx.shape_of is None:
            raise fail("E303", f"`{name}` needs a tensor, found {describe(tensor)}", spans[0])
        shape = ctx.shape_of(tensor)
        if name == "dim":
            axis = as_int(args[1], spans[1], "an axis", minimum=0)
        else:
            axis = {"channels": 0, "height": len(shape) - 2, "width": len(shape) - 1}[name]
        if not 0 <= axis < len(shape):
            raise fail("E302", f"tensor `{tensor.tensor}` of shape {list(shape)} has no "
                       f"axis for `{name}`", call.span)
        return shape[axis]
    if name == "table":
        arity(1)
        if not isinstance(args[0], str):
            raise fail("E303", "`table` needs a file name string", spans[0])
        return TableRef(args[0])
    numbers = [as_number(a, s, f"an argument of `{name}`") for a, s in zip(args, spans,
                                                                            strict=True)]
    if name in ("min", "max"):
        if not numbers:
            raise fail("E209", f"`{name}` needs at least one argument", call.span)
        return min(numbers) if name == "min" else max(numbers)
    if name in ("ceil", "floor", "round"):
        arity(1)
        if name == "ceil":
            return math.ceil(numbers[0])
        if name == "floor":
            return math.floor(numbers[0])
        return round(numbers[0])
    arity(2)
    value = numbers[0]
    divisor = as_int(args[1], spans[1], "the divisor of `divisible`", minimum=1)
    rounded = max(divisor, int(value + divisor / 2) // int(divisor) * int(divisor))
    if rounded < 0.9 * value:
        rounded += int(divisor)
    return int(rounded)


# ---- coercions ----------------------------------------------------------------------------


def _reject_symbol(value: Value, span: Span, what: str) -> None:
    if isinstance(value, Sym):
        raise fail("E201", f"undefined name `{value.name}`", span,
                   label=f"expected {what}", help=value.suggest())


def as_number(value: Value, span: Span, what: str) -> int | float:
    _reject_symbol(value, span, what)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail("E303", f"expected a number for {what}, found {describe(value)}", span,
                   help=_symbol_help(value))
    return value


def as_int(value: Value, span: Span, what: str, *, minimum: int | None = None,
           maximum: int | None = None) -> int:
    _reject_symbol(value, span, what)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, Qty):
            raise fail("E301", f"expected a plain integer for {what}, found {describe(value)}",
                       span, help="remove the unit")
        raise fail("E303", f"expected an integer for {what}, found {describe(value)}", span,
                   help=_symbol_help(value))
    if minimum is not None and value < minimum:
        raise fail("E302", f"{what} must be at least {minimum}, found {value}", span)
    if maximum is not None and value > maximum:
        raise fail("E302", f"{what} must be at most {maximum:,}, found {_short(value)}", span,
                   help="dslc/spec/limits.py and docs/language/guide.md list the limits")
    return value


def _short(value: int | float) -> str:
    """A number for a message, even a 300-digit one."""
    if isinstance(value, int) and abs(value) >= 10**15:
        return f"about {float(value):.3g}" if abs(value) < 10**300 else "a number above 1e300"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def past(value: float, *limits: float) -> str:
    """`value` for a message saying it is past `limits` (written `:g`): with as many digits
    as it takes to differ from each of them (1.0000001e9 is not shown as 1e+09)."""
    for digits in range(6, 18):
        shown = f"{value:.{digits}g}"
        if all(shown != f"{limit:.{digits}g}" for limit in limits):
            return shown
    return repr(value)


def within(value: float, span: Span, what: str, low: float, high: float, unit: str = ""
           ) -> float:
    """`value` if low <= value <= high, else E302 stating the range (in `unit`'s terms:
    the caller passes values already converted)."""
    if not (low <= value <= high):
        raise fail("E302", f"{what} must be between {low:g}{unit} and {high:g}{unit}, found "
                   f"{past(value, low, high)}{unit}", span,
                   help="dslc/spec/limits.py and docs/language/guide.md list the limits")
    return value


def as_bool(value: Value, span: Span, what: str) -> bool:
    if not isinstance(value, bool):
        raise fail("E303", f"expected true or false for {what}, found {describe(value)}", span)
    return value


def as_quantity(value: Value, span: Span, what: str, dimensions: Sequence[str], *,
                allow_plain: bool = False) -> Qty:
    """A quantity of one of `dimensions`; a plain number is accepted in the first when
    `allow_plain` (e.g. words per cycle)."""
    _reject_symbol(value, span, what)
    if allow_plain and isinstance(value, int | float) and not isinstance(value, bool):
        return Qty(float(value), dimensions[0])
    if not isinstance(value, Qty):
        expected = " or ".join(DIMENSION_NAMES[d] for d in dimensions)
        raise fail("E303" if not isinstance(value, int | float) else "E301",
                   f"expected {expected} for {what}, found {describe(value)}", span,
                   help=_symbol_help(value) or ("add a unit" if isinstance(value, int | float)
                                                else ""))
    if value.dimension not in dimensions:
        expected = " or ".join(DIMENSION_NAMES[d] for d in dimensions)
        raise fail("E301", f"expected {expected} for {what}, found {describe(value)}", span,
                   label="wrong unit")
    if value.value < 0:
        raise fail("E302", f"{what} cannot be negative", span)
    return value


def as_symbol(value: Value, span: Span, what: str, allowed: Iterable[str],
              scope_names: Iterable[str] = ()) -> str:
    allowed = tuple(allowed)
    if isinstance(value, Sym):
        if value.name in allowed:
            return value.name
        raise fail("E201", f"undefined name `{value.name}`", span,
                   label=f"not {what}" if what else "",
                   help=value.suggest([*allowed, *scope_names])
                   or f"expected one of {_list(allowed)}")
    raise fail("E303", f"expected one of {_list(allowed)} for {what}, found {describe(value)}",
               span)


def _undefined(name: str, span: Span, what: str, allowed: Sequence[str],
               scope_names: Iterable[str]) -> str:
    suggestion = did_you_mean(name, [*allowed, *scope_names])
    raise fail("E201", f"undefined name `{name}`", span,
               label=f"not {what}" if what else "",
               help=suggestion or f"expected one of {_list(allowed)}")


def undefined_name(name: str, span: Span, candidates: Iterable[str], what: str = "") -> EvalError:
    return fail("E201", f"undefined name `{name}`", span, label=what,
                help=did_you_mean(name, candidates))


def _list(items: Sequence[str]) -> str:
    shown = ", ".join(f"`{i}`" for i in items[:8])
    return shown + (", ..." if len(items) > 8 else "")


def _symbol_help(value: Value) -> str:
    if isinstance(value, Sym):
        return f"`{value.name}` is not defined here"
    return ""


def domain_values(value: Value, span: Span) -> tuple[Value, ...]:
    """The values of a parameter domain (a set, a range or a list)."""
    if isinstance(value, SetValue):
        return value.items
    if isinstance(value, tuple):
        return value
    raise fail("E303", f"a parameter domain must be a set `{{...}}` or a range `a..b`, "
               f"found {describe(value)}", span)


def value_label(value: Value) -> str:
    if isinstance(value, Qty):
        return value.label()
    if isinstance(value, Sym):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
