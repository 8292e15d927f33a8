"""Lark's LALR reductions → AST, built while the parser runs.

`ToAst` has exactly one method per grammar rule or alias (a test checks that the two sets
agree); `reduction_callbacks` turns lark's compiled rules into the parser's reduction
callbacks, and a rule without a method is an `InternalError` there, so lark trees never
leak into the AST. No parse tree is built: each reduction gets the values of its symbols
and returns an `Extent` (the value, the positions lark's `propagate_positions` would give
its tree, and its depth in that tree); building lark's tree and then transforming it was
most of `dslc lint`'s time on large files. Numbers that cannot be represented become
diagnostics collected on the transformer, never exceptions.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

from lark import Token
from lark.grammar import Rule, Terminal

from dslc.diagnostics.diagnostic import Diagnostic, InternalError, error
from dslc.diagnostics.span import SourceFile, Span
from dslc.syntax import ast

_MAX_NUMBER = 1e300
_MAX_INT = 10**300
_MAX_INT_DIGITS = len(str(_MAX_INT))
_BINARY_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "pow": "^"}

_first = operator.itemgetter(0)

# What a reduction does with each symbol of its rule (see `reduction_callbacks`).
_DROP, _KEEP, _SPLICE = 0, 1, 2


class Extent:
    """A reduced value with what lark's `propagate_positions` would have recorded for its
    tree: the start of its first symbol and the end of its last (keywords and brackets
    included; None when it matched nothing), and its depth, the number of tree levels from
    it down to its deepest leaf (what `MAX_DEPTH` bounds, checked on the root only)."""

    __slots__ = ("depth", "end_pos", "start_pos", "value")

    def __init__(self, value: Any, start_pos: int | None, end_pos: int | None,
                 depth: int) -> None:
        self.value = value
        self.start_pos = start_pos
        self.end_pos = end_pos
        self.depth = depth


def _split_quantity(text: str) -> tuple[str, str]:
    """Split `64KiB` / `12 words` / `71.5%` into number text and unit."""
    index = 0
    while index < len(text) and (text[index].isdigit() or text[index] in ".eE+-"):
        # An `e` is part of the number only when digits or a sign follow it.
        if text[index] in "eE" and not (
            index + 1 < len(text) and (text[index + 1].isdigit() or text[index + 1] in "+-")
        ):
            break
        index += 1
    return text[:index], text[index:].strip()


class ToAst:
    """Builds the AST from reductions; spans come from each reduction's `Extent`."""

    def __init__(self, file: SourceFile) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    # ---- helpers --------------------------------------------------------------------------

    def _span(self, meta: Extent) -> Span:
        if meta.start_pos is None or meta.end_pos is None:
            return Span(self.file, 0, 0)
        return Span(self.file, meta.start_pos, meta.end_pos)

    def _tok_span(self, token: Token) -> Span:
        start = token.start_pos or 0
        end = token.end_pos if token.end_pos is not None else start + len(token)
        return Span(self.file, start, end)

    def _ident(self, token: Token) -> ast.Ident:
        return ast.Ident(str(token), self._tok_span(token))

    def _number(self, text: str, span: Span) -> int | float:
        """The literal's value; past 1e300 (by value: `000...01` is 1, and `1` with 300
        zeros is 1e300 itself, which is allowed) it is E105 and 0."""
        try:
            if any(c in text for c in ".eE"):
                value = float(text)
                if math.isinf(value) or abs(value) > _MAX_NUMBER:
                    raise ValueError(text)
                return value
            digits = text.lstrip("0") or "0"
            # More than 301 significant digits is past 10^300 without converting them.
            if len(digits) > _MAX_INT_DIGITS or int(digits) > _MAX_INT:
                raise ValueError(text)
            return int(digits)
        except ValueError:
            self.diagnostics.append(error(
                "E105", "number too large", span, label="cannot be represented",
                help="numbers must be at most 1e300"))
            return 0

    # ---- top level ------------------------------------------------------------------------

    def start(self, meta: Extent, children: list[Any]) -> ast.Module:
        return ast.Module(tuple(children), Span(self.file, 0, len(self.file.text)))

    def import_decl(self, meta: Extent, children: list[Any]) -> ast.ImportDecl:
        return ast.ImportDecl(self.string(meta, children), self._span(meta))

    # ---- networks -------------------------------------------------------------------------

    def network_decl(self, meta: Extent, children: list[Any]) -> ast.NetworkDecl:
        name, *body = children
        return ast.NetworkDecl(self._ident(name), tuple(body), self._span(meta))

    def template_decl(self, meta: Extent, children: list[Any]) -> ast.TemplateDecl:
        name, params, *body, result = children
        return ast.TemplateDecl(self._ident(name), params, tuple(body), result,
                                self._span(meta))

    def template_params(self, meta: Extent, children: list[Any]) -> tuple[ast.TemplateParam, ...]:
        return tuple(c for c in children if c is not None)

    def template_param(self, meta: Extent, children: list[Any]) -> ast.TemplateParam:
        name, default = children
        return ast.TemplateParam(self._ident(name), default, self._span(meta))

    def return_stmt(self, meta: Extent, children: list[Any]) -> Any:
        return children[0]

    def input_stmt(self, meta: Extent, children: list[Any]) -> ast.InputStmt:
        name, shape = children
        return ast.InputStmt(self._ident(name), shape, self._span(meta))

    def param_stmt(self, meta: Extent, children: list[Any]) -> ast.ParamStmt:
        name, domain = children
        return ast.ParamStmt(self._ident(name), domain, self._span(meta))

    def layer_stmt(self, meta: Extent, children: list[Any]) -> ast.LayerStmt:
        name, value = children
        return ast.LayerStmt(self._ident(name), value, self._span(meta))

    def repeat_stmt(self, meta: Extent, children: list[Any]) -> ast.RepeatStmt:
        name, count, source, *rest = children
        result = rest.pop() if rest and not isinstance(rest[-1], ast.LayerStmt) else None
        body = tuple(r for r in rest if isinstance(r, ast.LayerStmt))
        return ast.RepeatStmt(self._ident(name), count, source, body, result, self._span(meta))

    # ---- accelerators ---------------------------------------------------------------------

    def accelerator_decl(self, meta: Extent, children: list[Any]) -> ast.AcceleratorDecl:
        name, *body = children
        return ast.AcceleratorDecl(self._ident(name), tuple(body), self._span(meta))

    def component(self, meta: Extent, children: list[Any]) -> ast.Component:
        kind, name, *body = children
        return ast.Component(str(kind), self._ident(name), tuple(body), self._span(meta))

    # ---- mappings -------------------------------------------------------------------------

    def mapping_decl(self, meta: Extent, children: list[Any]) -> ast.MappingDecl:
        name, network, layer, accelerator, *body = children
        levels = tuple(b for b in body if isinstance(b, ast.MapLevel))
        props = tuple(b for b in body if isinstance(b, ast.Property))
        return ast.MappingDecl(self._ident(name), network, layer, accelerator, levels, props,
                               self._span(meta))

    def space_ref(self, meta: Extent, children: list[Any]) -> ast.SpaceRef:
        name, args = children
        return ast.SpaceRef(self._ident(name), args, self._span(meta))

    def layer_path(self, meta: Extent, children: list[Any]) -> tuple[ast.Ident, ...]:
        return tuple(self._ident(c) for c in children)

    def map_level(self, meta: Extent, children: list[Any]) -> ast.MapLevel:
        target, *directives = children
        return ast.MapLevel(self._ident(target), tuple(directives), self._span(meta))

    def temporal(self, meta: Extent, children: list[Any]) -> ast.Directive:
        return ast.Directive("temporal", None, children[0], (), self._span(meta))

    def spatial(self, meta: Extent, children: list[Any]) -> ast.Directive:
        axis, loops = children
        return ast.Directive("spatial", self._ident(axis), loops, (), self._span(meta))

    def keep(self, meta: Extent, children: list[Any]) -> ast.Directive:
        return ast.Directive("keep", None, (), children[0], self._span(meta))

    def bypass(self, meta: Extent, children: list[Any]) -> ast.Directive:
        return ast.Directive("bypass", None, (), children[0], self._span(meta))

    def loop_list(self, meta: Extent, children: list[Any]) -> tuple[ast.Loop, ...]:
        return tuple(c for c in children if c is not None)

    def loop(self, meta: Extent, children: list[Any]) -> ast.Loop:
        dim, factor = children
        return ast.Loop(self._ident(dim), factor, self._span(meta))

    def name_list(self, meta: Extent, children: list[Any]) -> tuple[ast.Ident, ...]:
        return tuple(self._ident(c) for c in children if c is not None)

    # ---- map-space constraints ------------------------------------------------------------

    def constraints_block(self, meta: Extent, children: list[Any]) -> ast.ConstraintsBlock:
        span = self._span(meta)
        keyword = ast.Ident("constraints", Span(self.file, span.start,
                                                span.start + len("constraints")))
        return ast.ConstraintsBlock(keyword, tuple(children), span)

    def constraint_targets(self, meta: Extent, children: list[Any]
                           ) -> tuple[ast.ConstraintTarget, ...]:
        return tuple(children)

    def constraint_target(self, meta: Extent, children: list[Any]) -> ast.ConstraintTarget:
        target, *directives = children
        converted = tuple(
            ast.ConstraintDirective(d.kind, None, (), d.names, d.span)
            if isinstance(d, ast.Directive) else d for d in directives)  # keep, bypass
        return ast.ConstraintTarget(self._ident(target), converted, self._span(meta))

    def factors(self, meta: Extent, children: list[Any]) -> ast.ConstraintDirective:
        return ast.ConstraintDirective("factors", None, children[0], (), self._span(meta))

    def spatial_rules(self, meta: Extent, children: list[Any]) -> ast.ConstraintDirective:
        axis, rules = children
        return ast.ConstraintDirective("spatial", self._ident(axis), rules, (),
                                       self._span(meta))

    def _dims(self, kind: str, meta: Extent, children: list[Any]) -> ast.ConstraintDirective:
        axis, names = children
        return ast.ConstraintDirective(kind, None if axis is None else self._ident(axis), (),
                                       names, self._span(meta))

    def allow(self, meta: Extent, children: list[Any]) -> ast.ConstraintDirective:
        return self._dims("allow", meta, children)

    def forbid(self, meta: Extent, children: list[Any]) -> ast.ConstraintDirective:
        return self._dims("forbid", meta, children)

    def order(self, meta: Extent, children: list[Any]) -> ast.ConstraintDirective:
        return ast.ConstraintDirective("order", None, (), children[0], self._span(meta))

    def idle(self, meta: Extent, children: list[Any]) -> ast.ConstraintDirective:
        return ast.ConstraintDirective("idle", self._ident(children[0]), (), (),
                                       self._span(meta))

    def factor_rules(self, meta: Extent, children: list[Any]) -> tuple[ast.FactorBound, ...]:
        return tuple(c for c in children if c is not None)

    def factor_rule(self, meta: Extent, children: list[Any]) -> ast.FactorBound:
        if len(children) == 2:
            dim, value = children
            op = "="
        else:
            dim, op, value = children
        return ast.FactorBound(self._ident(dim), str(op), value, self._span(meta))

    def order_list(self, meta: Extent, children: list[Any]) -> tuple[ast.Ident, ...]:
        return tuple(self._ident(c) for c in children if c is not None)

    # ---- co-design ------------------------------------------------------------------------

    def codesign_decl(self, meta: Extent, children: list[Any]) -> ast.CoDesignDecl:
        name, *body = children
        return ast.CoDesignDecl(self._ident(name), tuple(body), self._span(meta))

    def constraint_stmt(self, meta: Extent, children: list[Any]) -> ast.ConstraintStmt:
        left, op, right = children
        return ast.ConstraintStmt(left, str(op), right, self._span(meta))

    # ---- properties and values ------------------------------------------------------------

    def prop(self, meta: Extent, children: list[Any]) -> ast.Property:
        name, value = children
        return ast.Property(self._ident(name), value, self._span(meta))

    def sub_block(self, meta: Extent, children: list[Any]) -> ast.SubBlock:
        name, *body = children
        return ast.SubBlock(self._ident(name), tuple(body), self._span(meta))

    def mesh(self, meta: Extent, children: list[Any]) -> ast.Mesh:
        x, _, y = children
        return ast.Mesh(x, y, self._span(meta))

    def objective(self, meta: Extent, children: list[Any]) -> ast.Objective:
        sense, expr = children
        return ast.Objective(str(sense), expr, self._span(meta))

    # ---- expressions ----------------------------------------------------------------------

    def range_expr(self, meta: Extent, children: list[Any]) -> ast.RangeExpr:
        start, stop = children
        return ast.RangeExpr(start, stop, None, self._span(meta))

    def stepped_range(self, meta: Extent, children: list[Any]) -> ast.RangeExpr:
        start, stop, step = children
        return ast.RangeExpr(start, stop, step, self._span(meta))

    def _binary(self, op: str, meta: Extent, children: list[Any]) -> ast.Binary:
        left, right = children
        return ast.Binary(op, left, right, self._span(meta))

    def add(self, meta: Extent, children: list[Any]) -> ast.Binary:
        return self._binary("+", meta, children)

    def sub(self, meta: Extent, children: list[Any]) -> ast.Binary:
        return self._binary("-", meta, children)

    def mul(self, meta: Extent, children: list[Any]) -> ast.Binary:
        return self._binary("*", meta, children)

    def div(self, meta: Extent, children: list[Any]) -> ast.Binary:
        return self._binary("/", meta, children)

    def floordiv(self, meta: Extent, children: list[Any]) -> ast.Binary:
        return self._binary("//", meta, children)

    def pow(self, meta: Extent, children: list[Any]) -> ast.Binary:
        return self._binary("^", meta, children)

    def neg(self, meta: Extent, children: list[Any]) -> ast.Unary:
        return ast.Unary("-", children[0], self._span(meta))

    def number(self, meta: Extent, children: list[Any]) -> ast.Number:
        span = self._tok_span(children[0])
        return ast.Number(self._number(str(children[0]), span), span)

    def quantity(self, meta: Extent, children: list[Any]) -> ast.Quantity:
        span = self._tok_span(children[0])
        number, unit = _split_quantity(str(children[0]))
        return ast.Quantity(float(self._number(number, span)), unit, span)

    def string(self, meta: Extent, children: list[Any]) -> ast.String:
        token = children[0]
        raw = str(token)[1:-1]
        value = raw.replace('\\"', '"').replace("\\\\", "\\")
        return ast.String(value, self._tok_span(token))

    def name(self, meta: Extent, children: list[Any]) -> ast.Name:
        ident = self._ident(children[0])
        return ast.Name(ident, ident.span)

    def list_expr(self, meta: Extent, children: list[Any]) -> ast.ListExpr:
        return ast.ListExpr(tuple(c for c in children if c is not None), self._span(meta))

    def set_expr(self, meta: Extent, children: list[Any]) -> ast.SetExpr:
        return ast.SetExpr(tuple(c for c in children if c is not None), self._span(meta))

    def call(self, meta: Extent, children: list[Any]) -> ast.Call:
        func, args = children
        return ast.Call(self._ident(func), args, self._span(meta))

    def call_args(self, meta: Extent, children: list[Any]) -> tuple[ast.Arg, ...]:
        return tuple(c for c in children if c is not None)

    def arg(self, meta: Extent, children: list[Any]) -> ast.Arg:
        return ast.Arg(None, children[0], self._span(meta))

    def keyword_arg(self, meta: Extent, children: list[Any]) -> ast.Arg:
        keyword, value = children
        return ast.Arg(self._ident(keyword), value, self._span(meta))

    def einsum(self, meta: Extent, children: list[Any]) -> ast.Einsum:
        args, *stmts = children
        dims: list[tuple[ast.Ident, ast.Expr]] = []
        tensors: list[ast.EinsumTensorDecl] = []
        for stmt in stmts:
            if isinstance(stmt, ast.EinsumTensorDecl):
                tensors.append(stmt)
            else:
                dims.extend(stmt)
        return ast.Einsum(args or (), tuple(dims), tuple(tensors), self._span(meta))

    def einsum_dims(self, meta: Extent, children: list[Any]) -> list[tuple[ast.Ident, ast.Expr]]:
        return list(children)

    def dim_bind(self, meta: Extent, children: list[Any]) -> tuple[ast.Ident, ast.Expr]:
        name, value = children
        return (self._ident(name), value)

    def einsum_role(self, meta: Extent, children: list[Any]) -> str:
        return str(children[0])

    def einsum_tensor(self, meta: Extent, children: list[Any]) -> ast.EinsumTensorDecl:
        role, name, *indices = children
        return ast.EinsumTensorDecl(str(role), self._ident(name),
                                    tuple(i for i in indices if i is not None),
                                    self._span(meta))


def reduction_callbacks(builder: ToAst, rules: Sequence[Rule]
                         ) -> dict[Rule, Callable[[list[Any]], Any]]:
    """One callback per compiled rule of lark's LALR parser, building the AST with
    `builder`. A callback gets the values of the rule's symbols (tokens, `Extent`s) and
    returns the rule's value the way lark's tree builder would shape it: anonymous tokens
    dropped, `[...]` that did not match as None, `_rule`s spliced into their parent, and a
    `?rule` with one value left standing as that value (its extent widened, as lark's
    container positions are, when brackets were dropped around it)."""
    built: dict[Rule, Callable[[list[Any]], Any]] = {}
    for rule in rules:
        name = rule.alias or rule.origin.name
        keep_tokens = rule.options.keep_all_tokens
        plan = tuple(
            _DROP if isinstance(symbol, Terminal) and symbol.filter_out and not keep_tokens
            else _SPLICE if not symbol.is_term and symbol.name.startswith("_")
            else _KEEP
            for symbol in rule.expansion)
        nones = _placeholders(rule)
        if name.startswith("_"):
            built[rule] = _reducer(plan, nones, None, splice=True)
        elif rule.options.expand1 and rule.alias is None:
            # Most reductions are `?rule`s of one symbol (`?expr: arith` and the rest of
            # the precedence chain): the value stands as it is, with no Python frame.
            built[rule] = (_first if plan == (_KEEP,) and nones is None
                           else _reducer(plan, nones, None, splice=False))
        else:
            method = getattr(builder, name, None)
            if method is None:
                raise InternalError(f"grammar rule `{name}` has no AST method")
            built[rule] = _reducer(plan, nones, method, splice=False)
    return built


def _reducer(plan: tuple[int, ...], nones: tuple[int, ...] | None,
             method: Callable[[Extent, list[Any]], Any] | None, *, splice: bool
             ) -> Callable[[list[Any]], Any]:
    simple = nones is None and _SPLICE not in plan

    def reduce(children: list[Any]) -> Any:
        values: list[Any] = []
        start = end = None
        depth = 0
        for index, child in enumerate(children):
            if nones is not None and nones[index]:
                values.extend([None] * nones[index])
            if type(child) is Extent:
                if child.start_pos is not None:
                    if start is None:
                        start = child.start_pos
                    end = child.end_pos
                if child.depth > depth:
                    depth = child.depth
                if not simple and plan[index] == _SPLICE:
                    if values:
                        values.extend(child.value)
                    else:
                        # `x*` is left-recursive: taking the list over, not copying it,
                        # keeps a block of n statements linear.
                        values = child.value
                else:
                    values.append(child.value)
            else:
                # A token (placeholders are added above, never passed in).
                if start is None:
                    start = child.start_pos
                end = child.end_pos
                if plan[index] != _DROP:
                    values.append(child)
        if nones is not None and nones[-1]:
            values.extend([None] * nones[-1])
        if splice:
            # A `_rule` is no tree level: its values join its parent's.
            return Extent(values, start, end, depth)
        if method is None:
            # A `?rule`: one value stands for the rule, as lark's tree builder leaves it.
            if len(values) == 1:
                if len(children) == 1:
                    return children[0]
                only = values[0]
                inner = next(c for c in children if type(c) is Extent)
                return only if isinstance(only, Token) else Extent(
                    only, start, end, inner.depth)
            raise InternalError("an inlined grammar rule has no AST method")
        extent = Extent(None, start, end, depth + 1)
        extent.value = method(extent, values)
        return extent

    return reduce


def _placeholders(rule: Rule) -> tuple[int, ...] | None:
    """How many None placeholders lark's `maybe_placeholders` puts before each symbol of
    `rule` and after the last (None when there are none), as its child filter counts them."""
    marks = rule.options.empty_indices
    if not marks:
        return None
    counts = tuple(len(ones) for ones in "".join(str(int(m)) for m in marks).split("0"))
    return counts if any(counts) else None
