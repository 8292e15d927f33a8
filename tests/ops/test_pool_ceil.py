"""`ceil = true` on a pool rounds its output size up, as PyTorch's `ceil_mode`: a last window
that starts inside the input or its leading padding is kept, one that would start in the
trailing padding is not (PyTorch's `pooling_output_shape`). Sizes counted by hand."""

from __future__ import annotations

import pytest

from dslc import api
from dslc.graph.layer_graph import build_graph
from dslc.ops.window import extent


def _shape(call: str, input_shape: str = "[4, 7, 7]") -> tuple[int, ...]:
    text = f"network n {{\n    input x: {input_shape}\n    layer y = {call}\n}}\n"
    program = api.compile(text=text)
    assert list(program.errors) == []
    return build_graph(api.network(program, "n")).shapes["y"]


@pytest.mark.parametrize(("call", "given", "shape"), [
    # 7 rows, windows of 2 every 2: floor(5 / 2) + 1 = 3 keeps rows 0-5; ceil keeps a 4th
    # window at row 6, which starts inside the input.
    ("maxpool(x, kernel = 2, stride = 2)", "[4, 7, 7]", (4, 3, 3)),
    ("maxpool(x, kernel = 2, stride = 2, ceil = true)", "[4, 7, 7]", (4, 4, 4)),
    # 8 rows: 4 windows either way (the division is exact)
    ("maxpool(x, kernel = 2, stride = 2, ceil = true)", "[4, 8, 8]", (4, 4, 4)),
    # 7 rows, kernel 3, stride 2, pad 1: padded 9, floor(6 / 2) + 1 = 4 = ceil: no change
    ("avgpool(x, kernel = 3, stride = 2, pad = 1, ceil = true)", "[4, 7, 7]", (4, 4, 4)),
    # 6 rows, kernel 3, stride 2, pad 1: padded 8, floor(5 / 2) + 1 = 3, ceil(5 / 2) + 1 = 4;
    # the 4th window would start at padded row 6 = input row 5, inside the input: kept
    ("maxpool(x, kernel = 3, stride = 2, pad = 1)", "[4, 6, 6]", (4, 3, 3)),
    ("maxpool(x, kernel = 3, stride = 2, pad = 1, ceil = true)", "[4, 6, 6]", (4, 4, 4)),
    # 5 rows, kernel 2, stride 2, pad 1: padded 7, ceil(5 / 2) + 1 = 4; the 4th window would
    # start at padded row 6, in the trailing padding (6 >= 5 + 1): dropped, 3 as floor gives
    ("maxpool(x, kernel = 2, stride = 2, pad = 1, ceil = true)", "[4, 5, 5]", (4, 3, 3)),
])
def test_ceil_rounds_the_output_up(call: str, given: str, shape: tuple[int, ...]) -> None:
    assert _shape(call, given) == shape


def test_ceil_per_axis() -> None:
    # 7 rows: ceil(4 / 3) + 1 = 3; 9 columns: ceil(6 / 3) + 1 = 3; 10 columns: ceil(7/3) + 1
    # = 4, the last window starting at column 9, inside the input
    assert _shape("maxpool(x, kernel = 3, ceil = true)", "[2, 7, 9]") == (2, 3, 3)
    assert _shape("maxpool(x, kernel = 3, ceil = true)", "[2, 7, 10]") == (2, 3, 4)
    assert _shape("maxpool(x, kernel = 3)", "[2, 7, 10]") == (2, 2, 3)


def test_a_window_wider_than_the_input_fits_in_ceil_mode_as_in_pytorch() -> None:
    # 2 rows, kernel 3, stride 2: floor((2 - 3) / 2) + 1 = 0 windows (E401), but ceil mode
    # keeps one window starting at row 0 (PyTorch gives 1x1 too)
    assert _shape("maxpool(x, kernel = 3, stride = 2, ceil = true)", "[1, 2, 2]") == (1, 1, 1)
    program = api.compile(text="network n {\n    input x: [1, 2, 2]\n"
                               "    layer y = maxpool(x, kernel = 3, stride = 2)\n}\n")
    assert [d.code for d in program.errors] == ["E401"]


def test_global_pools_ignore_ceil() -> None:
    assert _shape("avgpool(x, global = true, ceil = true)") == (4, 1, 1)


@pytest.mark.parametrize(("size", "span", "stride", "pad", "floor", "ceil"), [
    (7, 2, 2, 0, 3, 4),
    (8, 2, 2, 0, 4, 4),
    (6, 3, 2, 1, 3, 4),
    (5, 2, 2, 1, 3, 3),  # the 4th window would start in the trailing padding
    (2, 3, 2, 0, 0, 1),
    (1, 3, 2, 0, 0, 0),  # no window in either mode
    # ResNet's stem pool (floor mode): 111 // 2 + 1 = 56; in ceil mode a 57th window starts
    # at padded row 112 = input row 111, inside the input
    (112, 3, 2, 1, 56, 57),
    (55, 3, 2, 0, 27, 27),  # AlexNet's first pool
    (13, 3, 2, 0, 6, 6),
    (14, 3, 2, 0, 6, 7),  # SqueezeNet-style pool on an even map
])
def test_extent(size: int, span: int, stride: int, pad: int, floor: int, ceil: int) -> None:
    assert extent(size, span, stride, pad) == floor
    assert extent(size, span, stride, pad, ceil=True) == ceil
