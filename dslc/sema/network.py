"""Network elaboration: one point of a network (space) → a concrete `NetworkSpec`.

Walks a network's statements with its parameters bound, expands template calls and repeated
blocks, turns operator calls into layer specs (nested calls become layers of their own,
named `<layer>.<op>`), and infers shapes as it goes (builtins like `channels(x)` need them,
and a shape error is reported at the call that causes it). Layer names are dotted:
`<layer>.<inner>` inside templates, `<block>.<i>.<inner>` inside repeats.

Operators come from the registry (dslc.ops): this module checks a call against the entry's
signature (tensor inputs, known and required attributes), lets the entry's binder build the
spec layer through `_Attributes` (the `AttributeReader` over evaluated values and their
spans), and turns a `ShapeProblem` into E401 at the attribute or input at fault. It owns the
diagnostics, not what any operator means; einsum's own syntax is built here from the AST.
It does not lower layers to loop nests (dslc.lower) or check accelerators.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from dslc.diagnostics.diagnostic import Diagnostic, Label, did_you_mean, error
from dslc.diagnostics.span import Span
from dslc.graph.shapes import ShapeProblem, infer_shape
from dslc.ops import registry
from dslc.ops.attributes import Attribute, Same
from dslc.ops.operator import Operator
from dslc.sema.evaluate import (
    EvalContext,
    EvalError,
    Poison,
    Poisoned,
    Scope,
    Sym,
    TensorRef,
    Value,
    as_bool,
    as_int,
    as_quantity,
    describe,
    evaluate,
    fail,
)
from dslc.spec import network as spec
from dslc.spec.base import Point
from dslc.spec.limits import MAX_DIM, MAX_LAYER_MACS, MAX_TENSOR_ELEMENTS
from dslc.syntax import ast

MAX_TEMPLATE_DEPTH = 32
MAX_REPEAT = 10_000
"""Largest `repeat` count: more is a typo, and would take forever to build."""
MAX_LAYERS = 100_000
"""Most layers one network may expand to (templates and repeats included)."""


@dataclass(slots=True)
class NetworkBuild:
    """What building one network point produced."""

    spec: spec.NetworkSpec | None
    diagnostics: list[Diagnostic]
    layer_spans: dict[str, Span] = field(default_factory=dict)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    used_params: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Attributes:
    """One call's keyword arguments as the registry's binders read them (`AttributeReader`).

    Coercion errors are raised as `EvalError`s at the argument's value, with the codes and
    wording elaboration uses everywhere (tests/golden pins them).
    """

    op: str
    """The operator as called, for messages."""
    values: dict[str, tuple[Value, Span]]
    """Each given attribute's value and the span of that value."""
    call: Span
    """The whole call, where a missing attribute is reported."""

    def has(self, attribute: Attribute) -> bool:
        return attribute.name in self.values

    def _default(self, attribute: Attribute) -> int:
        if attribute.default is None:
            raise self.missing(f"`{self.op}` needs `{attribute.name}`")
        return int(attribute.default)

    def integer(self, attribute: Attribute) -> int:
        if attribute.name not in self.values:
            return self._default(attribute)
        value, span = self.values[attribute.name]
        return as_int(value, span, f"`{attribute.name}`", minimum=attribute.minimum,
                      maximum=MAX_DIM)

    def pair(self, attribute: Attribute) -> tuple[int, int]:
        key = attribute.name
        if key not in self.values:
            default = self._default(attribute)
            return (default, default)
        value, span = self.values[key]
        if isinstance(value, tuple):
            if len(value) != 2:
                raise fail("E303", f"`{key}` takes an int or [height, width]", span)
            return (as_int(value[0], span, f"`{key}`", minimum=attribute.minimum,
                           maximum=MAX_DIM),
                    as_int(value[1], span, f"`{key}`", minimum=attribute.minimum,
                           maximum=MAX_DIM))
        single = as_int(value, span, f"`{key}`", minimum=attribute.minimum, maximum=MAX_DIM)
        return (single, single)

    def pad_pair(self, attribute: Attribute) -> tuple[int, int] | Same:
        value, span = self.values.get(attribute.name, (None, self.call))
        if isinstance(value, Sym):
            if value.name != "same":
                raise fail("E201", f"undefined name `{value.name}`", span,
                           help=f"`{attribute.name}` is an int, [h, w], or `same`")
            return "same"
        return self.pair(attribute)

    def flag(self, attribute: Attribute) -> bool:
        if attribute.name not in self.values:
            return bool(attribute.default)
        value, span = self.values[attribute.name]
        return as_bool(value, span, f"`{attribute.name}`")

    def int_list(self, attribute: Attribute) -> tuple[int, ...]:
        key = attribute.name
        if key not in self.values:
            raise self.missing(f"`{self.op}` needs `{key}`")
        value, span = self.values[key]
        if not isinstance(value, tuple):
            raise fail("E303", f"`{key}` takes a list of integers", span)
        return tuple(as_int(v, span, f"an entry of `{key}`", minimum=attribute.minimum,
                            maximum=MAX_DIM) for v in value)

    def missing(self, message: str) -> EvalError:
        return fail("E209", message, self.call)

    def invalid(self, attribute: Attribute, message: str, hint: str = "") -> EvalError:
        return fail("E302", message, self.values[attribute.name][1], help=hint)


class _Builder:
    def __init__(self, name: str, templates: dict[str, ast.TemplateDecl], point_scope: Scope,
                 point: Point) -> None:
        self.name = name
        self.templates = templates
        self.root = point_scope
        self.point = point
        self.layers: list[spec.Layer] = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.spans: dict[str, Span] = {}
        self.inputs: list[spec.InputSpec] = []
        self.diagnostics: list[Diagnostic] = []
        self.accuracy: float | None = None
        self.name_stack: list[list[str | bool]] = []  # [name, claimed] per statement
        self.template_stack: list[str] = []
        self.too_large = False
        """Set once the network passed MAX_LAYERS (E405): later layers are not built."""
        self.ctx = EvalContext(call=self.call, shape_of=self.shape_of)

    # ---- statements -----------------------------------------------------------------------

    def run(self, body: Sequence[ast.NetStmt], scope: Scope, prefix: str) -> None:
        for stmt in body:
            try:
                self.statement(stmt, scope, prefix)
            except EvalError as exc:
                self.diagnostics.append(exc.diagnostic)
                self.poison(stmt, scope)
            except Poisoned:
                self.poison(stmt, scope)

    def poison(self, stmt: ast.NetStmt, scope: Scope) -> None:
        """Bind a failed statement's name so that its uses are not reported again."""
        if isinstance(stmt, ast.LayerStmt | ast.RepeatStmt | ast.InputStmt) and \
                stmt.name.text not in scope.names:
            scope.names[stmt.name.text] = Poison()
            scope.defined_at[stmt.name.text] = stmt.name.span

    def statement(self, stmt: ast.NetStmt, scope: Scope, prefix: str) -> None:
        if isinstance(stmt, ast.ParamStmt):
            return
        if isinstance(stmt, ast.InputStmt):
            self.input(stmt, scope, prefix)
        elif isinstance(stmt, ast.LayerStmt):
            self.check_new(stmt.name, scope)
            self.bind(stmt.name, self.layer_value(stmt, scope, prefix), scope)
        elif isinstance(stmt, ast.RepeatStmt):
            self.repeat(stmt, scope, prefix)
        elif isinstance(stmt, ast.Property):
            self.property(stmt, scope, prefix)

    def bind(self, name: ast.Ident, value: Value, scope: Scope) -> None:
        self.check_new(name, scope)
        scope.names[name.text] = value
        scope.defined_at[name.text] = name.span

    def check_new(self, name: ast.Ident, scope: Scope) -> None:
        if name.text in scope.names and scope.defined_at.get(name.text) != name.span:
            first = scope.defined_at.get(name.text)
            related = (Label(first, "first defined here"),) if first else ()
            raise EvalError(error("E202", f"`{name.text}` is defined twice", name.span,
                                  label="redefined here", related=related,
                                  help="give the layer another name"))

    def input(self, stmt: ast.InputStmt, scope: Scope, prefix: str) -> None:
        if prefix:
            raise fail("E404", "inputs belong to networks, not templates", stmt.span,
                       help="pass the tensor as a template parameter")
        dims = tuple(as_int(evaluate(item, scope, self.ctx), item.span,
                            "an input dimension", minimum=1, maximum=MAX_DIM)
                     for item in stmt.shape.items)
        if not dims:
            raise fail("E404", f"input `{stmt.name.text}` has no dimensions", stmt.shape.span)
        if math.prod(dims) > MAX_TENSOR_ELEMENTS:
            raise fail("E302", f"input `{stmt.name.text}` has {math.prod(dims):.3g} elements, "
                       f"more than the limit of 2^44 ({MAX_TENSOR_ELEMENTS:.3g})",
                       stmt.shape.span,
                       help="dslc/spec/limits.py and docs/language/guide.md list the limits")
        self.bind(stmt.name, TensorRef(stmt.name.text), scope)
        self.inputs.append(spec.InputSpec(name=stmt.name.text, shape=dims))
        self.shapes[stmt.name.text] = dims
        self.spans[stmt.name.text] = stmt.span

    def property(self, stmt: ast.Property, scope: Scope, prefix: str) -> None:
        if stmt.name.text != "accuracy" or prefix:
            raise fail("E205", f"unknown network property `{stmt.name.text}`", stmt.name.span,
                       help=did_you_mean(stmt.name.text, ["accuracy"])
                       or "networks have one property: `accuracy`")
        value = evaluate(stmt.value, scope, self.ctx)
        quantity = as_quantity(value, stmt.value.span, "accuracy", ["fraction"])
        if quantity.value > 1:
            raise fail("E302", "accuracy cannot exceed 100%", stmt.value.span)
        self.accuracy = quantity.value

    def layer_value(self, stmt: ast.LayerStmt, scope: Scope, prefix: str) -> TensorRef:
        self.name_stack.append([prefix + stmt.name.text, False])
        try:
            value = evaluate(stmt.value, scope, self.ctx)
        finally:
            self.name_stack.pop()
        if not isinstance(value, TensorRef):
            raise fail("E404", f"layer `{stmt.name.text}` is not a tensor", stmt.value.span,
                       label=f"this is {describe(value)}",
                       help="a layer is an operator call, a template call or another tensor")
        return value

    def repeat(self, stmt: ast.RepeatStmt, scope: Scope, prefix: str) -> None:
        try:
            count = as_int(evaluate(stmt.count, scope, self.ctx), stmt.count.span,
                           "a repeat count", minimum=0)
        except EvalError as exc:
            if exc.diagnostic.code not in ("E302", "E303"):
                raise
            # A count that is not a non-negative integer is E403, as the catalogue says.
            raise fail("E403", exc.diagnostic.message, stmt.count.span,
                       help="a repeat count is a non-negative integer") from None
        current = evaluate(stmt.source, scope, self.ctx)
        if not isinstance(current, TensorRef):
            raise fail("E403", "`from` must name a tensor", stmt.source.span,
                       label=f"this is {describe(current)}")
        if stmt.result is None and not stmt.body:
            raise fail("E403", "a repeated block needs a body", stmt.span)
        if count > MAX_REPEAT:
            raise fail("E403", f"a repeat count must be at most {MAX_REPEAT}, found {count}",
                       stmt.count.span, help="a repeat count is a non-negative integer")
        before = len(self.layers)
        for index in range(count):
            if index == 1:
                self.check_expansion(stmt, count, len(self.layers) - before)
            inner_prefix = f"{prefix}{stmt.name.text}.{index}."
            inner = scope.child({"prev": current})
            for layer in stmt.body:
                self.bind(layer.name, self.layer_value(layer, inner, inner_prefix), inner)
            if stmt.result is not None:
                self.name_stack.append([inner_prefix.rstrip("."), False])
                try:
                    value = evaluate(stmt.result, inner, self.ctx)
                finally:
                    self.name_stack.pop()
            else:
                value = inner.names[stmt.body[-1].name.text]
            if not isinstance(value, TensorRef):
                raise fail("E403", "the body of a repeated block must produce a tensor",
                           (stmt.result or stmt.body[-1].value).span)
            current = value
        self.bind(stmt.name, current, scope)

    def check_expansion(self, stmt: ast.RepeatStmt, count: int, per_iteration: int) -> None:
        """Before expanding the rest of a repeat: E405 when its first iteration's layers
        times its count would take the network past MAX_LAYERS (so that nested repeats
        are refused at the statement that multiplies, not after building 100,000 layers)."""
        total = len(self.layers) + per_iteration * (count - 1)
        if total > MAX_LAYERS:
            raise fail("E405", f"network `{self.name}` would expand to {total:,} layers, more "
                       f"than the limit of {MAX_LAYERS:,}", stmt.span,
                       label=f"{count:,} repeats of {per_iteration:,} layers each",
                       help="check the repeat counts and the templates they call")

    # ---- calls ----------------------------------------------------------------------------

    def claim_name(self, op: str) -> str:
        if not self.name_stack:
            return self.unique(f"{op}")
        top = self.name_stack[-1]
        if not top[1]:
            top[1] = True
            return self.unique(str(top[0]))
        return self.unique(f"{top[0]}.{op}")

    def unique(self, name: str) -> str:
        if name not in self.shapes:
            return name
        index = 2
        while f"{name}{index}" in self.shapes:
            index += 1
        return f"{name}{index}"

    def shape_of(self, tensor: TensorRef) -> tuple[int, ...]:
        return self.shapes[tensor.tensor]

    def call(self, call: ast.Call | ast.Einsum, scope: Scope) -> Value:
        if isinstance(call, ast.Einsum):
            return self.einsum(call, scope)
        name = call.func.text
        if name in self.templates:
            return self.template(self.templates[name], call, scope)
        entry = registry.lookup(name)
        # An operator with its own syntax (einsum) is not callable by name.
        if entry is None or entry.bind is None:
            raise fail("E207", f"unknown operator `{name}`", call.func.span,
                       help=did_you_mean(name, [*registry.NAMES, *self.templates])
                       or "see `dslc explain E207` for the operators")
        return self.operator(name, entry, call, scope)

    def template(self, decl: ast.TemplateDecl, call: ast.Call, scope: Scope) -> Value:
        if decl.name.text in self.template_stack or len(self.template_stack) > MAX_TEMPLATE_DEPTH:
            raise fail("E403", f"template `{decl.name.text}` calls itself", call.span,
                       help="templates cannot be recursive; use `repeat`")
        # Claim the name before evaluating arguments, so that a nested call in an argument
        # is named after this one (`<layer>.<template>`), not the other way round.
        prefix = self.claim_name(decl.name.text) + "."
        bound = self.bind_args(call, [p.name.text for p in decl.params], scope,
                               f"template `{decl.name.text}`")
        inner = Scope({}, self.root)
        for param in decl.params:
            if param.name.text in bound:
                inner.names[param.name.text] = bound[param.name.text][0]
            elif param.default is not None:
                inner.names[param.name.text] = evaluate(param.default, inner, self.ctx)
            else:
                raise fail("E209", f"missing argument `{param.name.text}` of template "
                           f"`{decl.name.text}`", call.span, label="in this call")
        self.template_stack.append(decl.name.text)
        saved_stack = self.name_stack
        self.name_stack = []
        try:
            before = len(self.diagnostics)
            self.run(decl.body, inner, prefix)
            if len(self.diagnostics) > before:
                raise EvalError(self.diagnostics.pop())
            self.name_stack = [[prefix + "out", False]]
            result = evaluate(decl.result, inner, self.ctx)
        finally:
            self.template_stack.pop()
            self.name_stack = saved_stack
        if not isinstance(result, TensorRef):
            raise fail("E403", f"template `{decl.name.text}` does not return a tensor",
                       decl.result.span, label=f"this is {describe(result)}")
        return result

    def bind_args(self, call: ast.Call, params: Sequence[str], scope: Scope,
                  what: str) -> dict[str, tuple[Value, Span]]:
        bound: dict[str, tuple[Value, Span]] = {}
        positional = [a for a in call.args if a.keyword is None]
        if len(positional) > len(params):
            raise fail("E208", f"too many arguments for {what}", positional[len(params)].span,
                       help=f"{what} takes {len(params)}: {', '.join(params)}")
        for param, arg in zip(params, positional, strict=False):
            bound[param] = (evaluate(arg.value, scope, self.ctx), arg.span)
        for arg in call.args:
            if arg.keyword is None:
                continue
            key = arg.keyword.text
            if key not in params:
                raise fail("E208", f"{what} has no parameter `{key}`", arg.keyword.span,
                           help=did_you_mean(key, params))
            if key in bound:
                raise fail("E210", f"argument `{key}` given twice", arg.span)
            bound[key] = (evaluate(arg.value, scope, self.ctx), arg.span)
        return bound

    def operator(self, op: str, entry: Operator[Any], call: ast.Call, scope: Scope
                 ) -> TensorRef:
        """A call of a registry operator spelled `op`: check it against the entry's
        signature, then let the entry's binder build the layer."""
        assert entry.bind is not None
        layer_name = self.claim_name(op)
        inputs: list[str] = []
        attrs: dict[str, tuple[Value, Span]] = {}
        for arg in call.args:
            if arg.keyword is None:
                if attrs:
                    raise fail("E208", "positional argument after keyword arguments",
                               arg.span)
                value = evaluate(arg.value, scope, self.ctx)
                if not isinstance(value, TensorRef):
                    help = ""
                    if isinstance(value, Sym):
                        raise fail("E201", f"undefined name `{value.name}`", arg.value.span,
                                   label="not a tensor in scope",
                                   help=value.suggest())
                    raise fail("E303", f"`{op}` input must be a tensor, found "
                               f"{describe(value)}", arg.span,
                               help=help or "attributes are written `name = value`")
                inputs.append(value.tensor)
                continue
            assert arg.keyword is not None
            key = arg.keyword.text
            if entry.attribute(key) is None:
                names = [a.name for a in entry.attributes]
                raise fail("E208", f"`{op}` has no argument `{key}`",
                           arg.keyword.span,
                           help=did_you_mean(key, names) or (
                               f"`{op}` takes " + ", ".join(f"`{n}`" for n in names)
                               if names else f"`{op}` takes no keyword arguments"))
            if key in attrs:
                raise fail("E210", f"argument `{key}` given twice", arg.span)
            attrs[key] = (evaluate(arg.value, scope, self.ctx), arg.value.span)
        if len(inputs) < entry.min_inputs or (
                entry.max_inputs is not None and len(inputs) > entry.max_inputs):
            expected = (f"{entry.min_inputs}" if entry.max_inputs == entry.min_inputs
                        else f"at least {entry.min_inputs}")
            code = "E209" if len(inputs) < entry.min_inputs else "E208"
            raise fail(code, f"`{op}` takes {expected} input tensor"
                       f"{'s' if entry.min_inputs != 1 else ''}, {len(inputs)} given",
                       call.span)
        for attribute in entry.attributes:
            if attribute.required and attribute.name not in attrs:
                raise fail("E209", f"`{op}` needs `{attribute.name}`", call.span,
                           label=f"missing `{attribute.name} = ...`",
                           help=f"{attribute.name}: {attribute.doc}")
        try:
            layer = entry.bind(op, layer_name, tuple(inputs),
                               _Attributes(op, attrs, call.span))
        except ValidationError as exc:
            raise fail("E302", f"invalid `{op}`: {exc.errors()[0]['msg']}", call.span) from None
        return self.add_layer(layer, call, attrs)

    def add_layer(self, layer: spec.Layer, call: ast.Call | ast.Einsum,
                  attrs: dict[str, tuple[Value, Span]]) -> TensorRef:
        if self.too_large:
            raise Poisoned(layer.name)  # past the limit, reported once (below)
        if len(self.layers) >= MAX_LAYERS:
            self.too_large = True
            raise fail("E405", f"network `{self.name}` expands to more than the limit of "
                       f"{MAX_LAYERS:,} layers", call.span,
                       label=f"layer {MAX_LAYERS + 1:,} is made here",
                       help="check the repeat counts and templates, or split the network")
        result = infer_shape(layer, [self.shapes[name] for name in layer.inputs])
        if isinstance(result, ShapeProblem):
            span = call.span
            if result.attribute in attrs:
                span = attrs[result.attribute][1]
            elif isinstance(call, ast.Call) and result.attribute.isdigit():
                positional = [a for a in call.args if a.keyword is None]
                index = int(result.attribute)
                if index < len(positional):
                    span = positional[index].span
            shown = layer.name
            raise EvalError(error("E401", f"shape mismatch in `{shown}`: {result.message}",
                                  span, help=result.hint))
        self.check_size(layer, result, call)
        self.layers.append(layer)
        self.shapes[layer.name] = result
        self.spans[layer.name] = call.span
        return TensorRef(layer.name)

    def check_size(self, layer: spec.Layer, shape: tuple[int, ...],
                   call: ast.Call | ast.Einsum) -> None:
        """E302 for a layer past the limits of dslc/spec/limits.py: an output dimension
        above MAX_DIM, more than MAX_TENSOR_ELEMENTS output elements or MAX_LAYER_MACS
        MACs per sample (so that the cost model's 64-bit counts cannot overflow)."""
        help = "dslc/spec/limits.py and docs/language/guide.md list the limits"
        if any(d > MAX_DIM for d in shape):
            raise fail("E302", f"`{layer.name}` has an output dimension above {MAX_DIM:,} "
                       f"(shape {list(shape)})", call.span, help=help)
        elements = math.prod(shape)
        if elements > MAX_TENSOR_ELEMENTS:
            raise fail("E302", f"`{layer.name}` outputs {elements:.3g} elements per sample, "
                       f"more than the limit of 2^44 ({MAX_TENSOR_ELEMENTS:.3g})", call.span,
                       help=help)
        inputs = tuple(self.shapes[name] for name in layer.inputs)
        macs = registry.for_layer(layer).workload(layer, inputs, shape).macs
        if macs > MAX_LAYER_MACS:
            raise fail("E302", f"`{layer.name}` has {macs:.3g} MACs per sample, more than the "
                       f"limit of 2^44 ({MAX_LAYER_MACS:.3g})", call.span, help=help)

    # ---- einsum ---------------------------------------------------------------------------

    def einsum(self, node: ast.Einsum, scope: Scope) -> TensorRef:
        name = self.claim_name("einsum")
        inputs: list[str] = []
        for arg in node.args:
            if arg.keyword is not None:
                raise fail("E208", "einsum takes only tensors as arguments", arg.span)
            value = evaluate(arg.value, scope, self.ctx)
            if not isinstance(value, TensorRef):
                raise fail("E303", f"einsum input must be a tensor, found {describe(value)}",
                           arg.span)
            inputs.append(value.tensor)
        dims: dict[str, int] = {}
        for ident, bound_expr in node.dims:
            if ident.text in dims:
                raise fail("E202", f"dim `{ident.text}` declared twice", ident.span)
            dims[ident.text] = as_int(evaluate(bound_expr, scope, self.ctx), bound_expr.span,
                                      f"the bound of dim `{ident.text}`", minimum=1,
                                      maximum=MAX_DIM)
        if not dims:
            raise fail("E402", "einsum declares no dims", node.span,
                       help="add `dims K = 32, C = 16, ...`")
        tensors: list[spec.EinsumTensor] = []
        seen: set[str] = set()
        for decl in node.tensors:
            if decl.name.text in seen:
                raise fail("E202", f"tensor `{decl.name.text}` declared twice", decl.name.span)
            seen.add(decl.name.text)
            indices = tuple(_affine(index, dims, scope) for index in decl.indices)
            tensors.append(spec.EinsumTensor(name=decl.name.text, role=decl.role,
                                             indices=indices))
        outputs = [t for t in tensors if t.role == "output"]
        if len(outputs) != 1:
            raise fail("E402", f"einsum needs exactly one output tensor, found {len(outputs)}",
                       node.span)
        operands = [t for t in tensors if t.role == "input"]
        if inputs and len(inputs) != len(operands):
            raise fail("E402", f"einsum has {len(operands)} input tensors but "
                       f"{len(inputs)} arguments", node.span,
                       help="each `input` tensor binds to one argument, in order")
        if not [t for t in tensors if t.role != "output"]:
            raise fail("E402", "einsum needs at least one input or weight tensor", node.span)
        used = {term.dim for t in tensors for index in t.indices for term in index.terms}
        for dim in dims:
            if dim not in used:
                raise fail("E402", f"dim `{dim}` indexes no tensor", node.span)
        layer = spec.EinsumLayer(name=name, inputs=tuple(inputs), dims=tuple(dims.items()),
                                 tensors=tuple(tensors))
        return self.add_layer(layer, node, {})


def _affine(expr: ast.Expr, dims: dict[str, int], scope: Scope) -> spec.AffineIndex:
    """An index expression as an affine form over the dims (index `p` names dim `P`)."""
    by_lower = {d.lower(): d for d in dims}

    def walk(node: ast.Expr) -> tuple[dict[str, int], int]:
        if isinstance(node, ast.Number):
            if not isinstance(node.value, int):
                raise fail("E402", "einsum indices need integer coefficients", node.span)
            return {}, node.value
        if isinstance(node, ast.Name):
            text = node.ident.text
            dim = text if text in dims else by_lower.get(text)
            if dim is not None:
                return {dim: 1}, 0
            value = scope.lookup(text)
            if isinstance(value, int) and not isinstance(value, bool):
                return {}, value
            raise fail("E402", f"`{text}` is not a dim of this einsum", node.span,
                       help=did_you_mean(text, [*dims, *by_lower]) or
                       f"dims: {', '.join(dims)}")
        if isinstance(node, ast.Unary):
            terms, offset = walk(node.operand)
            return {d: -c for d, c in terms.items()}, -offset
        if isinstance(node, ast.Binary) and node.op in "+-":
            left, left_offset = walk(node.left)
            right, right_offset = walk(node.right)
            sign = 1 if node.op == "+" else -1
            merged = dict(left)
            for d, c in right.items():
                merged[d] = merged.get(d, 0) + sign * c
            return merged, left_offset + sign * right_offset
        if isinstance(node, ast.Binary) and node.op == "*":
            left, left_offset = walk(node.left)
            right, right_offset = walk(node.right)
            if left and right:
                raise fail("E402", "einsum indices must be affine (no product of dims)",
                           node.span)
            terms, scale, offset = (left, right_offset, left_offset) if left else (
                right, left_offset, right_offset)
            return {d: c * scale for d, c in terms.items()}, offset * scale
        raise fail("E402", "einsum indices must be affine expressions of the dims",
                   node.span, help="e.g. `p + r`, `2*p + r`")

    terms, offset = walk(expr)
    return spec.AffineIndex(terms=tuple(spec.AffineTerm(dim=d, coefficient=c)
                                        for d, c in terms.items() if c != 0), offset=offset)


def build_network(decl: ast.NetworkDecl, templates: dict[str, ast.TemplateDecl],
                  point_scope: Scope, point: Point) -> NetworkBuild:
    """Build one concrete network from its declaration at a point of its space."""
    builder = _Builder(decl.name.text, templates, point_scope, point)
    scope = point_scope.child()
    builder.run(decl.body, scope, "")
    build = NetworkBuild(None, builder.diagnostics, builder.spans, builder.shapes,
                         set(point_scope.used))
    if not builder.inputs and not builder.diagnostics:
        builder.diagnostics.append(error("E404", f"network `{decl.name.text}` has no inputs",
                                         decl.name.span, help="declare `input x: [C, H, W]`"))
    elif not builder.layers and not builder.diagnostics:
        builder.diagnostics.append(error("E404", f"network `{decl.name.text}` has no layers",
                                         decl.name.span))
    if builder.diagnostics:
        return build
    build.spec = spec.NetworkSpec(name=decl.name.text, inputs=tuple(builder.inputs),
                                  layers=tuple(builder.layers), accuracy=builder.accuracy,
                                  point=point)
    return build

