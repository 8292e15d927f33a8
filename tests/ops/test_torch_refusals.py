"""Windows and products the language used to accept but PyTorch defines otherwise or refuses.

Counted by hand; each failed on the code before the fix (tests/lower/test_lowering_vs_torch.py
found them by comparing against torch).
"""

from __future__ import annotations

from dslc import api
from dslc.diagnostics.diagnostic import Diagnostic
from dslc.graph.layer_graph import build_graph


def _compile(call: str, *inputs: str) -> tuple[str, list[Diagnostic]]:
    declared = inputs or ("x: [4, 10, 10]",)
    text = ("network n {\n" + "".join(f"    input {i}\n" for i in declared)
            + f"    layer y = {call}\n}}\n")
    return text, list(api.compile(text=text).errors)


def _shape(call: str, *inputs: str) -> tuple[int, ...]:
    text, errors = _compile(call, *inputs)
    assert errors == []
    return build_graph(api.network(api.compile(text=text), "n")).shapes["y"]


def _only_error(call: str, *inputs: str) -> Diagnostic:
    _, errors = _compile(call, *inputs)
    assert len(errors) == 1, errors
    assert errors[0].span is not None and errors[0].help
    return errors[0]


def test_same_padding_of_an_even_kernel_is_refused() -> None:
    # A 2x2 kernel needs 1 row of padding to keep 10 rows (10 + 1 - 2 + 1 = 10): PyTorch's
    # padding='same' puts it after; dslc pads both sides alike, so it used to pad 0 and give
    # 9x9 (10 - 2 + 1) under the name `same`.
    error = _only_error("conv(x, out = 4, kernel = 2, pad = same)")
    assert error.code == "E302"
    assert error.span is not None and error.span.text == "same"
    assert "spans 2" in error.message and "height" in error.message
    assert "`pad = 0` loses a row, `pad = 1` adds one" in error.help
    # Only the width's kernel is even: 4 columns need 3 of padding.
    error = _only_error("dwconv(x, kernel = [3, 4], pad = same)")
    assert "width" in error.message and "spans 4" in error.message
    assert _only_error("maxpool(x, kernel = 2, stride = 1, pad = same)").code == "E302"


def test_same_padding_of_an_odd_span_keeps_the_size() -> None:
    assert _shape("conv(x, out = 4, kernel = 3, pad = same)") == (4, 10, 10)
    # Kernel 2 dilated by 2 spans 3: 1 row each side, 10 + 2 - 3 + 1 = 10.
    assert _shape("conv(x, out = 4, kernel = 2, dilation = 2, pad = same)") == (4, 10, 10)
    # At stride 2 it is TensorFlow's SAME: ceil(10 / 2) = 5 = (10 + 2 - 3) // 2 + 1.
    assert _shape("dwconv(x, kernel = 3, stride = 2, pad = same)") == (4, 5, 5)


def test_pool_padding_past_half_the_kernel_is_refused() -> None:
    # PyTorch: "pad should be at most half of effective kernel size". dslc used to give
    # (10 + 4 - 2) // 2 + 1 = 7 rows, the first and last windows all padding.
    error = _only_error("maxpool(x, kernel = 2, pad = 2)")
    assert error.code == "E401"
    assert error.span is not None and error.span.text == "2"
    assert "more than half the kernel" in error.message
    assert "at most 1" in error.help
    assert _only_error("avgpool(x, kernel = [3, 1], pad = [1, 1])").code == "E401"
    # Half the kernel is allowed: (10 + 2 - 2) // 2 + 1 = 6.
    assert _shape("maxpool(x, kernel = 2, pad = 1)") == (4, 6, 6)
    assert _shape("avgpool(x, kernel = 3, stride = 1, pad = same)") == (4, 10, 10)


def test_matmul_inner_size_mismatch_has_a_hint() -> None:
    error = _only_error("matmul(a, b)", "a: [6, 9]", "b: [12, 7]")
    assert error.code == "E401"
    assert "second-to-last axis" in error.help
    error = _only_error("matmul(a, b, transpose_b = true)", "a: [7, 9]", "b: [8, 10]")
    assert "last axis (with `transpose_b`)" in error.help
