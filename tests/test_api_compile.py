"""`api.compile` and `api.lint` on a large one-line file (issue 17's input, smaller): every
diagnostic where it belongs, and the garbage collector's pause undone afterwards."""

from __future__ import annotations

import gc
from pathlib import Path

from dslc import api

PREFIX = "network n {\n    input x: [3, 8, 8]\n    "


def one_line(count: int, operand: str) -> str:
    body = " ".join(f"layer a{i} = relu({operand})" for i in range(count))
    return f"{PREFIX}{body}\n}}\n"


def test_every_undefined_name_of_a_long_line_is_reported_at_its_place(tmp_path: Path) -> None:
    path = tmp_path / "errors.cd"
    text = one_line(3000, "y")
    path.write_text(text)
    found = api.lint([path]).diagnostics
    assert len(found) == 3000
    assert {d.code for d in found} == {"E201"}
    starts = [d.span.start for d in found if d.span is not None]
    # Statement i starts after the prefix and the i statements before it, each
    # `layer aJ = relu(y) ` long; `y` is 15 characters plus the name's digits into it.
    expected, offset = [], len(PREFIX)
    for i in range(3000):
        expected.append(offset + 15 + len(str(i)))
        offset += len(f"layer a{i} = relu(y) ")
    assert starts == expected
    assert all(text[s] == "y" for s in starts)
    assert found[0].span is not None and found[0].span.location().endswith(":3:21")


def test_compile_pauses_the_collector_and_restores_it(tmp_path: Path) -> None:
    path = tmp_path / "valid.cd"
    path.write_text(one_line(500, "x"))
    assert gc.isenabled()
    program = api.compile(path)
    assert gc.isenabled()
    assert program.errors == ()
    assert len(api.network(program, "n").layers) == 500
    gc.disable()
    try:
        api.compile(path)
        assert not gc.isenabled()  # a caller's choice stays as it was
    finally:
        gc.enable()
