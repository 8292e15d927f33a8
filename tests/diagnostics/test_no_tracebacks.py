"""No input ever produces a traceback: `compile` returns diagnostics, whatever the bytes.

Property tests over random bytes, random printable text, random token soups drawn from the
language's vocabulary, and mutations of valid specs (token deletion, duplication, swaps,
character edits, truncation), plus hand-picked pathological inputs: deep nesting, huge
numbers, wrong encodings, NUL bytes. Kept fast: bounded example counts, no deadline.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dslc.api import compile
from dslc.sema.program import Program

VALID = """
template mbconv(x, out, expand, kernel, stride = 1) {
    layer e = conv(x, out = channels(x) * expand, kernel = 1)
    layer d = dwconv(e, kernel = kernel, stride = stride, pad = same)
    layer p = conv(d, out = out, kernel = 1)
    return p
}

network space {
    input x: [3, 32, 32]
    param k in {3, 5}
    param d in 1..2
    layer stem = conv(x, out = 8, kernel = 3, stride = 2, pad = 1)
    block s = repeat d from stem { mbconv(prev, out = 8, expand = 2, kernel = k) }
    layer r = add(s, stem)
    layer o = einsum(r) {
        dims K = 4, C = 8, P = 16, Q = 16, R = 1
        output O[k, p, q]
        weight W[k, c, r]
        input I[c, p + r, q]
    }
    layer head = dense(flatten(avgpool(r, global = true)), out = 10)
    accuracy = 71.5%
}

accelerator family {
    param rows in {4, 8}
    param glb in 32KiB..64KiB step 32KiB
    word  = 16b
    clock = 200MHz
    memory DRAM { width = 64b, read = 200pJ, write = 200pJ, bandwidth = 30GB/s }
    memory GLB  { size = glb, width = 64b, holds = [input, output], buffering = 2 }
    fanout PE   { mesh = rows x 4, dataflow { x = [C], y = [K], stationary = weight } }
    memory RF   { size = 64 words, word = 8b, leakage = 1mW }
    compute MAC { energy = 1pJ, area = 100um2 }
}

mapping m for space(k = 3, d = 1).stem on family(rows = 4, glb = 32KiB) {
    DRAM { temporal [K 2] }
    GLB  { temporal [P 16, Q 16], keep [input] }
    PE   { spatial x [C 3], spatial y [K 4] }
    RF   { temporal [R 3, S 3] }
}

codesign explore {
    networks     = space
    accelerators = family
    batch        = 1
    objective    = minimize energy * latency ^ 2
    constraint   latency <= 5ms
    constraint   area <= 6mm2
    strategy     = semi_decoupled
    reference    = family(rows = 8, glb = 64KiB)
    mapper       { search = heuristic, budget = 100, seed = 1 }
}
"""

TOKENS = re.findall(r"\w+|\s+|\S", VALID)
VOCAB = sorted({t for t in TOKENS if not t.isspace()} | {
    "..", "step", "x", "minimize", "maximize", "(", ")", "[", "]", "{", "}", ",", "=", ":",
    "\"s\"", "1e400", "0", "-", "^", "//", "import", "\n", "<=", "none", "prev", "$", "'",
    "0KiB", "1e299GiB", "0.5", "1e-300", "1000000000", "-1", "true", "global", "same",
})


def check(data: bytes | str) -> Program:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    program = compile("fuzz.cd", text=raw)
    assert isinstance(program.diagnostics, tuple)
    return program


def test_the_seed_spec_is_clean() -> None:
    # The mutations below start from a spec that elaborates without a single diagnostic.
    program = check(VALID)
    assert [(d.code, d.message) for d in program.diagnostics if d.code != "N701"] == []
    assert set(program.mappings) == {"m"}
    assert set(program.codesigns) == {"explore"}


FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    check(data)


@FAST
@given(st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=126), max_size=400))
def test_random_printable_text(text: str) -> None:
    check(text)


@FAST
@given(st.lists(st.sampled_from(VOCAB), max_size=80))
def test_random_token_soup(tokens: list[str]) -> None:
    check(" ".join(tokens))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    tokens = list(TOKENS)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(tokens) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "char"]))
        if action == "delete":
            del tokens[i]
        elif action == "duplicate":
            tokens.insert(i, tokens[i])
        elif action == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif action == "replace":
            tokens[i] = draw(st.sampled_from(VOCAB))
        else:
            text = tokens[i]
            k = draw(st.integers(0, len(text)))
            char = draw(st.characters(min_codepoint=0, max_codepoint=0x2FF))
            tokens[i] = text[:k] + char + text[k + 1:]
    return "".join(tokens)


@settings(max_examples=250, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_of_a_valid_spec(text: str) -> None:
    check(text)


def test_every_truncation() -> None:
    for end in range(0, len(VALID), 7):
        check(VALID[:end])


def test_every_single_token_deletion() -> None:
    for index in range(0, len(TOKENS), 3):
        if not TOKENS[index].isspace():
            check("".join(TOKENS[:index] + TOKENS[index + 1:]))


# ---- pathological inputs ------------------------------------------------------------------------

NEST = 10_000

PATHOLOGICAL = {
    "parens": "codesign c { batch = " + "(" * NEST + "1" + ")" * NEST + " }",
    "brackets": "codesign c { batch = " + "[" * NEST + "1" + "]" * NEST + " }",
    "braces": "codesign c { batch = " + "{" * NEST + "1" + "}" * NEST + " }",
    "unclosed parens": "codesign c { batch = " + "(" * NEST,
    "unclosed brackets": "network n { input x: " + "[" * NEST,
    "sub blocks": "codesign c { " + "m { " * NEST + "}" * NEST + " }",
    "unary minus": "codesign c { batch = " + "-" * NEST + "1 }",
    "power tower": "codesign c { batch = " + "2 ^ " * NEST + "2 }",
    "long sum": "codesign c { batch = " + "1 + " * NEST + "1 }",
    "call chain": "network n { input x: [1] layer a = " + "relu(" * 200 + "x" + ")" * 200 + " }",
    "huge int": "codesign c { batch = " + "1" + "0" * 10_000 + " }",
    "huge float": "codesign c { batch = 1e400 }",
    "huge quantity": "accelerator a { word = 1e400b clock = 1e999999MHz }",
    "huge power": "codesign c { batch = 10 ^ 10000 }",
    "huge power of huge": "codesign c { batch = (10 ^ 300) ^ (10 ^ 300) }",
    "tiny float": "codesign c { batch = 1e-400 }",
    "huge range": "network n { param p in 1..1000000000000 input x: [p] layer a = relu(x) }",
    "huge mesh": "accelerator a { word = 16b clock = 1GHz memory D {} "
                 "fanout P { mesh = 1000000000 x 1000000000 } memory R {} compute M {} }",
    "huge dims": "network n { input x: [1000000000, 1000000000, 1000000000] "
                 "layer a = conv(x, out = 1000000000, kernel = 1) }",
    "huge repeat": "network n { input x: [1] block b = repeat 1000000000 from x { relu(prev) } }",
    "many params": "network n { " + " ".join(f"param p{i} in 1..9" for i in range(40))
                   + " input x: [1] layer a = relu(x) }",
    "nul bytes": "network n {\x00 input x: [1]\x00 }",
    "only nul": "\x00" * 100,
    "control characters": "".join(chr(i) for i in range(32)),
    "lone surrogate": "network \udcff {}",
    "bidi and emoji": "network n\u202e { input x: [1] } # \U0001f600",
    "no newline after comment": "# comment",
    "crlf": "network n {\r\n input x: [3, 8, 8]\r\n layer a = relu(x)\r\n}\r\n",
    "lone cr": "network n {\r input x: [3, 8, 8]\r layer a = relu(x)\r}",
    "tabs": "network n {\t\tinput x:\t[3, 8, 8]\tlayer a\t=\trelu(x)\t}",
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological(name: str) -> None:
    check(PATHOLOGICAL[name])


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-16-le", "utf-32", "cp1252"])
def test_wrong_encodings(encoding: str) -> None:
    text = "# café: ñ, ü\nnetwork n {\n    input x: [3, 8, 8]\n    layer a = relu(x)\n}\n"
    program = check(text.encode(encoding))
    assert [d.code for d in program.diagnostics] == ["E104"]


def test_deep_nesting_is_a_diagnostic() -> None:
    program = check(PATHOLOGICAL["brackets"])
    assert [d.code for d in program.diagnostics] == ["E106"]


def test_huge_numbers_are_diagnostics() -> None:
    for name in ("huge int", "huge float", "huge quantity"):
        program = check(PATHOLOGICAL[name])
        assert "E105" in {d.code for d in program.diagnostics}, name
