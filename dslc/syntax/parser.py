"""Text → AST, with syntax errors as diagnostics.

`read_source` decodes a file (a bad encoding is diagnostic E104); `parse` runs the LALR
parser, whose reductions build the AST (`transform.reduction_callbacks`; no parse tree).
Syntax errors become E101 (unexpected character), E102 (unexpected token) or E103
(unexpected end of input) with the span of the offending text, what was expected, and the
unclosed bracket where that is the cause. Nesting deeper than `MAX_DEPTH` is E106, so later
recursive stages never meet a tree that could exhaust the stack. Only the first syntax
error of a file is reported: after it, the parser's guesses mislead. A file with a syntax
error or nested too deeply is parsed again with lark's own callbacks, which build its
parse tree, so that lark's exception or tree gives the diagnostic as it always has.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.exceptions import UnexpectedEOF
from lark.grammar import Rule

from dslc.diagnostics.diagnostic import Diagnostic, InternalError, Label, error
from dslc.diagnostics.span import SourceFile, Span
from dslc.syntax import ast
from dslc.syntax.transform import Extent, ToAst, reduction_callbacks

MAX_DEPTH = 120
MAX_SOURCE_CHARS = 4_000_000

_TERMINAL_NAMES = {
    "NAME": "a name", "NUMBER": "a number", "INT": "an integer", "QUANTITY": "a quantity",
    "STRING": "a string", "LBRACE": "`{`", "RBRACE": "`}`", "LPAR": "`(`", "RPAR": "`)`",
    "LSQB": "`[`", "RSQB": "`]`", "COMMA": "`,`", "EQUAL": "`=`", "COLON": "`:`",
    "DOT": "`.`", "PLUS": "`+`", "MINUS": "`-`", "STAR": "`*`", "SLASH": "`/`",
    "CIRCUMFLEX": "`^`", "MESH_X": "`x`", "COMPARE": "a comparison (`<=`, `>=`, ...)",
    "SENSE": "`minimize` or `maximize`", "COMPONENT_KIND": "`memory`, `fanout` or `compute`",
    "FACTOR_OP": "`=`, `<=` or `>=`", "ELLIPSIS": "`...`",
    "$END": "end of input",
}
_OPENERS = {"{": "}", "(": ")", "[": "]"}


Callbacks = dict[Rule, Callable[[list[Any]], Any]]


@functools.cache
def _lark() -> tuple[Lark, Callbacks, Callbacks]:
    """The parser, the dictionary of reduction callbacks its LALR parser reads on every
    reduction, and a copy of lark's own (which build a parse tree with positions). Each
    parse installs its callbacks in that dictionary: a `ToAst`'s, which build the AST with
    no tree (building a tree and then transforming it was most of lint's time on large
    files; lark takes a transformer only at construction, and then without positions), or
    lark's, for the diagnostics of a file that failed. An `InternalError` if this lark
    keeps them elsewhere (its `_Parser.callbacks`, from long before 1.1.9 to 1.3.1)."""
    grammar = resources.files("dslc.syntax").joinpath("grammar.lark").read_text("utf-8")
    lark = Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True,
                maybe_placeholders=True, cache=False, start=["start", "constraint_targets"])
    callbacks = getattr(getattr(getattr(getattr(lark, "parser", None), "parser", None),
                                "parser", None), "callbacks", None)
    if not isinstance(callbacks, dict) or set(callbacks) != set(lark.rules):
        raise InternalError("this lark version keeps its LALR callbacks elsewhere")
    return lark, callbacks, dict(callbacks)


# The callbacks installed belong to one parse at a time.
_LOCK = threading.Lock()


def grammar_rule_names() -> frozenset[str]:
    """Every rule and alias the transformer must handle."""
    names: set[str] = set()
    for rule in _lark()[0].rules:
        if rule.options.expand1 and rule.alias is None:
            continue
        names.add(rule.alias or rule.origin.name)
    return frozenset(str(n) for n in names if not str(n).startswith("_"))


def read_source(path: str, data: bytes) -> tuple[SourceFile | None, list[Diagnostic]]:
    """Decode UTF-8 (with or without BOM); anything else is E104 at the first bad byte."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = data[: exc.start].decode("utf-8", errors="replace")
        file = SourceFile.of(path, text + " ")
        span = Span(file, len(text), len(text) + 1)
        return None, [error("E104", "file is not valid UTF-8", span,
                            label=f"invalid byte 0x{data[exc.start]:02x}",
                            help="save the file as UTF-8")]
    return SourceFile.of(path, text), []


def _describe(expected: set[str]) -> str:
    # Words ("a name", "a number") before punctuation, so that they survive the cut below.
    names = sorted({_TERMINAL_NAMES.get(t, f"`{t.lower()}`") for t in expected},
                   key=lambda n: (n.startswith("`"), n))
    if len(names) > 6:
        names = [*names[:6], "..."]
    return ", ".join(names)


def _unclosed(file: SourceFile, upto: int) -> Span | None:
    """The innermost bracket opened before `upto` and not closed (comments and strings aside)."""
    stack: list[int] = []
    text = file.text
    index = 0
    while index < upto:
        char = text[index]
        if char == "#":
            newline = text.find("\n", index)
            index = upto if newline < 0 else newline
        elif char == '"':
            close = text.find('"', index + 1)
            index = upto if close < 0 else close
        elif char in _OPENERS:
            stack.append(index)
        elif char in ")]}" and stack and _OPENERS[text[stack[-1]]] == char:
            stack.pop()
        index += 1
    return Span(file, stack[-1], stack[-1] + 1) if stack else None


def _syntax_diagnostic(file: SourceFile, exc: UnexpectedInput) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        start = exc.pos_in_stream or 0
        char = file.text[start : start + 1]
        span = Span(file, start, start + 1)
        shown = repr(char) if not char.isprintable() or char.isspace() else f"`{char}`"
        help = ""
        if char in "'":
            help = "strings use double quotes"
        elif char == "x" or char.isdigit():
            help = "write a mesh as `14 x 12`, with spaces around `x`"
        return error("E101", f"unexpected character {shown}", span,
                     label="not valid here", help=help)
    if isinstance(exc, UnexpectedEOF) or (
            isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        # Point just after the last non-blank character, not at trailing blank lines.
        end = len(file.text.rstrip())
        if end < len(file.text):
            span = Span(file, end, end + 1)
        else:
            span = Span(file, max(0, end - 1), end) if end else Span(file, 0, 0)
        expected = set(getattr(exc, "expected", None) or getattr(exc, "accepts", set()) or ())
        opener = _unclosed(file, len(file.text))
        related = (Label(opener, "unclosed bracket opened here"),) if opener else ()
        label = f"expected {_describe(expected)}" if expected else ""
        closer = _OPENERS[opener.text] if opener else ""
        if opener and {"}": "RBRACE", ")": "RPAR", "]": "RSQB"}[closer] in expected:
            label = f"expected `{closer}`"
        return error("E103", "unexpected end of input", span, label=label,
                     help=f"close the `{opener.text}` with `{closer}`" if opener else "",
                     related=related)
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    start = token.start_pos or 0
    expected = set(exc.accepts or exc.expected)
    if token.type == "INT" and "INT" not in expected and expected & {"NUMBER", "QUANTITY"}:
        # Digits glued to letters (`14x12`, `16kB`): neither a number nor a known quantity.
        end = start
        while end < len(file.text) and (file.text[end].isalnum() or file.text[end] in "._/%"):
            end += 1
        word = file.text[start:end]
        return error("E101", f"`{word}` is not a number or a quantity", Span(file, start, end),
                     label="unknown unit, or a missing space",
                     help="units touch their number (`16b`, `64KiB`, `200MHz`, `1pJ`) or follow "
                          "it spelled out (`12 words`); a mesh is written `14 x 12`")
    span = Span(file, start, max(start + 1, token.end_pos or start + len(token)))
    help = ""
    unclosed: tuple[Label, ...] = ()
    opener = _unclosed(file, start) if token.type in ("RBRACE", "RPAR", "RSQB") else None
    if opener is not None and _OPENERS[opener.text] != str(token):
        # A closing bracket that does not match the innermost open one.
        unclosed = (Label(opener, f"unclosed `{opener.text}` opened here"),)
        help = f"close the `{opener.text}` with `{_OPENERS[opener.text]}` first"
    elif "EQUAL" in expected and token.type in ("NAME", "NUMBER", "QUANTITY"):
        help = "a property is written `name = value`"
    elif token.type == "RBRACE" and "NAME" in expected:
        help = "a block cannot end here; check the statement before it"
    elif "RBRACE" in expected and token.type in ("NAME", "COMPONENT_KIND"):
        help = "statements in this block start with a keyword (`layer`, `param`, `input`, ...)"
    text = str(token)
    shown = f"`{text}`" if text.isprintable() and text else _TERMINAL_NAMES.get(token.type, "")
    return error("E102", f"unexpected {shown}", span,
                 label=f"expected {_describe(expected)}", help=help, related=unclosed)


def _too_deep(tree: Tree[Token], file: SourceFile) -> Diagnostic | None:
    stack: list[tuple[Tree[Token], int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            start = getattr(meta, "start_pos", 0)
            end = getattr(meta, "end_pos", start + 1)
            return error("E106", "expression or block nested too deeply",
                         Span(file, start, min(end, start + 1)),
                         label=f"more than {MAX_DEPTH} levels deep",
                         help="split it into named layers or parameters")
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return None


def parse(file: SourceFile) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse one source file into an AST, or return the diagnostics that prevent it."""
    return _parse(file, "start")


def parse_constraints(file: SourceFile
                      ) -> tuple[tuple[ast.ConstraintTarget, ...] | None, list[Diagnostic]]:
    """Parse the body of a `constraints` block alone (`GLB { factors [K 4] } PE { idle y }`,
    as `dslc map --constraints` takes it), or return the diagnostics that prevent it."""
    return _parse(file, "constraint_targets")


def _parse(file: SourceFile, start: str) -> tuple[Any, list[Diagnostic]]:
    if len(file.text) > MAX_SOURCE_CHARS:
        return None, [error("E107", "file too large", Span(file, 0, 0),
                            help=f"spec files are limited to {MAX_SOURCE_CHARS} characters")]
    lark, callbacks, tree_callbacks = _lark()
    transformer = ToAst(file)
    built = reduction_callbacks(transformer, lark.rules)
    with _LOCK:
        callbacks.update(built)
        try:
            root = lark.parse(file.text, start=start)
        except (UnexpectedInput, RecursionError):
            # The same parse building lark's tree: its exception or tree says what is wrong.
            callbacks.update(tree_callbacks)
            return None, [_refusal(lark, file, start)]
        assert isinstance(root, Extent)
        if root.depth - 1 > MAX_DEPTH:  # `_too_deep` counts the root as depth 0
            callbacks.update(tree_callbacks)
            return None, [_refusal(lark, file, start)]
    if transformer.diagnostics:
        # A number that could not be represented stands as 0 in the tree; elaborating it
        # would report follow-on errors about a value the user never wrote.
        return None, transformer.diagnostics
    return root.value, []


def _refusal(lark: Lark, file: SourceFile, start: str) -> Diagnostic:
    """Why a file failed (a syntax error, or nesting too deep), from lark's exception or
    tree when it builds one: the diagnostic as it has always been."""
    try:
        tree = lark.parse(file.text, start=start)
    except UnexpectedInput as exc:
        return _syntax_diagnostic(file, exc)
    except RecursionError:
        return error("E106", "expression or block nested too deeply", Span(file, 0, 0),
                     help="split it into named parts")
    deep = _too_deep(tree, file)
    if deep is None:
        raise InternalError("the AST and lark's tree disagree about a file's depth")
    return deep
