"""Lark parse tree → AST.

`ToAst` has exactly one method per grammar rule or alias (a test checks that the two sets
agree) and a `__default__` that raises `InternalError`, so a rule added to the grammar without
a method is caught instead of leaking lark trees into the AST. Numbers that cannot be
represented become diagnostics collected on the transformer, never exceptions.
"""

from __future__ import annotations

import math
from typing import Any

from lark import Token, Transformer, v_args
from lark.tree import Meta

from dslc.diagnostics.diagnostic import Diagnostic, InternalError, error
from dslc.diagnostics.span import SourceFile, Span
from dslc.syntax import ast

_MAX_NUMBER = 1e300
_BINARY_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "pow": "^"}


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


@v_args(meta=True, inline=False)
class ToAst(Transformer[Token, ast.Module]):
    """Builds the AST; spans come from lark's propagated positions."""

    def __init__(self, file: SourceFile) -> None:
        super().__init__(visit_tokens=False)
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    # ---- helpers --------------------------------------------------------------------------

    def _span(self, meta: Meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.file, 0, 0)
        return Span(self.file, meta.start_pos, meta.end_pos)

    def _tok_span(self, token: Token) -> Span:
        start = token.start_pos or 0
        end = token.end_pos if token.end_pos is not None else start + len(token)
        return Span(self.file, start, end)

    def _ident(self, token: Token) -> ast.Ident:
        return ast.Ident(str(token), self._tok_span(token))

    def _number(self, text: str, span: Span) -> int | float:
        try:
            if any(c in text for c in ".eE"):
                value = float(text)
                if math.isinf(value) or abs(value) > _MAX_NUMBER:
                    raise ValueError(text)
                return value
            if len(text) > 300:
                raise ValueError(text)
            return int(text)
        except ValueError:
            self.diagnostics.append(error(
                "E105", "number too large", span, label="cannot be represented",
                help="numbers must be below 1e300"))
            return 0

    def __default__(self, data: Any, children: Any, meta: Any) -> Any:
        raise InternalError(f"grammar rule `{data}` has no AST method")

    # ---- top level ------------------------------------------------------------------------

    def start(self, meta: Meta, children: list[Any]) -> ast.Module:
        return ast.Module(tuple(children), Span(self.file, 0, len(self.file.text)))

    def import_decl(self, meta: Meta, children: list[Any]) -> ast.ImportDecl:
        return ast.ImportDecl(self.string(meta, children), self._span(meta))

    # ---- networks -------------------------------------------------------------------------

    def network_decl(self, meta: Meta, children: list[Any]) -> ast.NetworkDecl:
        name, *body = children
        return ast.NetworkDecl(self._ident(name), tuple(body), self._span(meta))

    def template_decl(self, meta: Meta, children: list[Any]) -> ast.TemplateDecl:
        name, params, *body, result = children
        return ast.TemplateDecl(self._ident(name), params, tuple(body), result,
                                self._span(meta))

    def template_params(self, meta: Meta, children: list[Any]) -> tuple[ast.TemplateParam, ...]:
        return tuple(c for c in children if c is not None)

    def template_param(self, meta: Meta, children: list[Any]) -> ast.TemplateParam:
        name, default = children
        return ast.TemplateParam(self._ident(name), default, self._span(meta))

    def return_stmt(self, meta: Meta, children: list[Any]) -> Any:
        return children[0]

    def input_stmt(self, meta: Meta, children: list[Any]) -> ast.InputStmt:
        name, shape = children
        return ast.InputStmt(self._ident(name), shape, self._span(meta))

    def param_stmt(self, meta: Meta, children: list[Any]) -> ast.ParamStmt:
        name, domain = children
        return ast.ParamStmt(self._ident(name), domain, self._span(meta))

    def layer_stmt(self, meta: Meta, children: list[Any]) -> ast.LayerStmt:
        name, value = children
        return ast.LayerStmt(self._ident(name), value, self._span(meta))

    def repeat_stmt(self, meta: Meta, children: list[Any]) -> ast.RepeatStmt:
        name, count, source, *rest = children
        result = rest.pop() if rest and not isinstance(rest[-1], ast.LayerStmt) else None
        body = tuple(r for r in rest if isinstance(r, ast.LayerStmt))
        return ast.RepeatStmt(self._ident(name), count, source, body, result, self._span(meta))

    # ---- accelerators ---------------------------------------------------------------------

    def accelerator_decl(self, meta: Meta, children: list[Any]) -> ast.AcceleratorDecl:
        name, *body = children
        return ast.AcceleratorDecl(self._ident(name), tuple(body), self._span(meta))

    def component(self, meta: Meta, children: list[Any]) -> ast.Component:
        kind, name, *body = children
        return ast.Component(str(kind), self._ident(name), tuple(body), self._span(meta))

    # ---- mappings -------------------------------------------------------------------------

    def mapping_decl(self, meta: Meta, children: list[Any]) -> ast.MappingDecl:
        name, network, layer, accelerator, *body = children
        levels = tuple(b for b in body if isinstance(b, ast.MapLevel))
        props = tuple(b for b in body if isinstance(b, ast.Property))
        return ast.MappingDecl(self._ident(name), network, layer, accelerator, levels, props,
                               self._span(meta))

    def space_ref(self, meta: Meta, children: list[Any]) -> ast.SpaceRef:
        name, args = children
        return ast.SpaceRef(self._ident(name), args, self._span(meta))

    def layer_path(self, meta: Meta, children: list[Any]) -> tuple[ast.Ident, ...]:
        return tuple(self._ident(c) for c in children)

    def map_level(self, meta: Meta, children: list[Any]) -> ast.MapLevel:
        target, *directives = children
        return ast.MapLevel(self._ident(target), tuple(directives), self._span(meta))

    def temporal(self, meta: Meta, children: list[Any]) -> ast.Directive:
        return ast.Directive("temporal", None, children[0], (), self._span(meta))

    def spatial(self, meta: Meta, children: list[Any]) -> ast.Directive:
        axis, loops = children
        return ast.Directive("spatial", self._ident(axis), loops, (), self._span(meta))

    def keep(self, meta: Meta, children: list[Any]) -> ast.Directive:
        return ast.Directive("keep", None, (), children[0], self._span(meta))

    def bypass(self, meta: Meta, children: list[Any]) -> ast.Directive:
        return ast.Directive("bypass", None, (), children[0], self._span(meta))

    def loop_list(self, meta: Meta, children: list[Any]) -> tuple[ast.Loop, ...]:
        return tuple(c for c in children if c is not None)

    def loop(self, meta: Meta, children: list[Any]) -> ast.Loop:
        dim, factor = children
        return ast.Loop(self._ident(dim), factor, self._span(meta))

    def name_list(self, meta: Meta, children: list[Any]) -> tuple[ast.Ident, ...]:
        return tuple(self._ident(c) for c in children if c is not None)

    # ---- map-space constraints ------------------------------------------------------------

    def constraints_block(self, meta: Meta, children: list[Any]) -> ast.ConstraintsBlock:
        span = self._span(meta)
        keyword = ast.Ident("constraints", Span(self.file, span.start,
                                                span.start + len("constraints")))
        return ast.ConstraintsBlock(keyword, tuple(children), span)

    def constraint_targets(self, meta: Meta, children: list[Any]
                           ) -> tuple[ast.ConstraintTarget, ...]:
        return tuple(children)

    def constraint_target(self, meta: Meta, children: list[Any]) -> ast.ConstraintTarget:
        target, *directives = children
        converted = tuple(
            ast.ConstraintDirective(d.kind, None, (), d.names, d.span)
            if isinstance(d, ast.Directive) else d for d in directives)  # keep, bypass
        return ast.ConstraintTarget(self._ident(target), converted, self._span(meta))

    def factors(self, meta: Meta, children: list[Any]) -> ast.ConstraintDirective:
        return ast.ConstraintDirective("factors", None, children[0], (), self._span(meta))

    def spatial_rules(self, meta: Meta, children: list[Any]) -> ast.ConstraintDirective:
        axis, rules = children
        return ast.ConstraintDirective("spatial", self._ident(axis), rules, (),
                                       self._span(meta))

    def _dims(self, kind: str, meta: Meta, children: list[Any]) -> ast.ConstraintDirective:
        axis, names = children
        return ast.ConstraintDirective(kind, None if axis is None else self._ident(axis), (),
                                       names, self._span(meta))

    def allow(self, meta: Meta, children: list[Any]) -> ast.ConstraintDirective:
        return self._dims("allow", meta, children)

    def forbid(self, meta: Meta, children: list[Any]) -> ast.ConstraintDirective:
        return self._dims("forbid", meta, children)

    def order(self, meta: Meta, children: list[Any]) -> ast.ConstraintDirective:
        return ast.ConstraintDirective("order", None, (), children[0], self._span(meta))

    def idle(self, meta: Meta, children: list[Any]) -> ast.ConstraintDirective:
        return ast.ConstraintDirective("idle", self._ident(children[0]), (), (),
                                       self._span(meta))

    def factor_rules(self, meta: Meta, children: list[Any]) -> tuple[ast.FactorBound, ...]:
        return tuple(c for c in children if c is not None)

    def factor_rule(self, meta: Meta, children: list[Any]) -> ast.FactorBound:
        if len(children) == 2:
            dim, value = children
            op = "="
        else:
            dim, op, value = children
        return ast.FactorBound(self._ident(dim), str(op), value, self._span(meta))

    def order_list(self, meta: Meta, children: list[Any]) -> tuple[ast.Ident, ...]:
        return tuple(self._ident(c) for c in children if c is not None)

    # ---- co-design ------------------------------------------------------------------------

    def codesign_decl(self, meta: Meta, children: list[Any]) -> ast.CoDesignDecl:
        name, *body = children
        return ast.CoDesignDecl(self._ident(name), tuple(body), self._span(meta))

    def constraint_stmt(self, meta: Meta, children: list[Any]) -> ast.ConstraintStmt:
        left, op, right = children
        return ast.ConstraintStmt(left, str(op), right, self._span(meta))

    # ---- properties and values ------------------------------------------------------------

    def prop(self, meta: Meta, children: list[Any]) -> ast.Property:
        name, value = children
        return ast.Property(self._ident(name), value, self._span(meta))

    def sub_block(self, meta: Meta, children: list[Any]) -> ast.SubBlock:
        name, *body = children
        return ast.SubBlock(self._ident(name), tuple(body), self._span(meta))

    def mesh(self, meta: Meta, children: list[Any]) -> ast.Mesh:
        x, _, y = children
        return ast.Mesh(x, y, self._span(meta))

    def objective(self, meta: Meta, children: list[Any]) -> ast.Objective:
        sense, expr = children
        return ast.Objective(str(sense), expr, self._span(meta))

    # ---- expressions ----------------------------------------------------------------------

    def range_expr(self, meta: Meta, children: list[Any]) -> ast.RangeExpr:
        start, stop = children
        return ast.RangeExpr(start, stop, None, self._span(meta))

    def stepped_range(self, meta: Meta, children: list[Any]) -> ast.RangeExpr:
        start, stop, step = children
        return ast.RangeExpr(start, stop, step, self._span(meta))

    def _binary(self, op: str, meta: Meta, children: list[Any]) -> ast.Binary:
        left, right = children
        return ast.Binary(op, left, right, self._span(meta))

    def add(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("+", meta, children)

    def sub(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("-", meta, children)

    def mul(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("*", meta, children)

    def div(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("/", meta, children)

    def floordiv(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("//", meta, children)

    def pow(self, meta: Meta, children: list[Any]) -> ast.Binary:
        return self._binary("^", meta, children)

    def neg(self, meta: Meta, children: list[Any]) -> ast.Unary:
        return ast.Unary("-", children[0], self._span(meta))

    def number(self, meta: Meta, children: list[Any]) -> ast.Number:
        span = self._tok_span(children[0])
        return ast.Number(self._number(str(children[0]), span), span)

    def quantity(self, meta: Meta, children: list[Any]) -> ast.Quantity:
        span = self._tok_span(children[0])
        number, unit = _split_quantity(str(children[0]))
        return ast.Quantity(float(self._number(number, span)), unit, span)

    def string(self, meta: Meta, children: list[Any]) -> ast.String:
        token = children[0]
        raw = str(token)[1:-1]
        value = raw.replace('\\"', '"').replace("\\\\", "\\")
        return ast.String(value, self._tok_span(token))

    def name(self, meta: Meta, children: list[Any]) -> ast.Name:
        ident = self._ident(children[0])
        return ast.Name(ident, ident.span)

    def list_expr(self, meta: Meta, children: list[Any]) -> ast.ListExpr:
        return ast.ListExpr(tuple(c for c in children if c is not None), self._span(meta))

    def set_expr(self, meta: Meta, children: list[Any]) -> ast.SetExpr:
        return ast.SetExpr(tuple(c for c in children if c is not None), self._span(meta))

    def call(self, meta: Meta, children: list[Any]) -> ast.Call:
        func, args = children
        return ast.Call(self._ident(func), args, self._span(meta))

    def call_args(self, meta: Meta, children: list[Any]) -> tuple[ast.Arg, ...]:
        return tuple(c for c in children if c is not None)

    def arg(self, meta: Meta, children: list[Any]) -> ast.Arg:
        return ast.Arg(None, children[0], self._span(meta))

    def keyword_arg(self, meta: Meta, children: list[Any]) -> ast.Arg:
        keyword, value = children
        return ast.Arg(self._ident(keyword), value, self._span(meta))

    def einsum(self, meta: Meta, children: list[Any]) -> ast.Einsum:
        args, *stmts = children
        dims: list[tuple[ast.Ident, ast.Expr]] = []
        tensors: list[ast.EinsumTensorDecl] = []
        for stmt in stmts:
            if isinstance(stmt, ast.EinsumTensorDecl):
                tensors.append(stmt)
            else:
                dims.extend(stmt)
        return ast.Einsum(args or (), tuple(dims), tuple(tensors), self._span(meta))

    def einsum_dims(self, meta: Meta, children: list[Any]) -> list[tuple[ast.Ident, ast.Expr]]:
        return list(children)

    def dim_bind(self, meta: Meta, children: list[Any]) -> tuple[ast.Ident, ast.Expr]:
        name, value = children
        return (self._ident(name), value)

    def einsum_role(self, meta: Meta, children: list[Any]) -> str:
        return str(children[0])

    def einsum_tensor(self, meta: Meta, children: list[Any]) -> ast.EinsumTensorDecl:
        role, name, *indices = children
        return ast.EinsumTensorDecl(str(role), self._ident(name),
                                    tuple(i for i in indices if i is not None),
                                    self._span(meta))
