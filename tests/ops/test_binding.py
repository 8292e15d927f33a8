"""Binding a call's attributes into its spec layer, through elaboration's attribute reader.

Each binder asks the reader for values by attribute kind; the reader raises elaboration's
diagnostics at the argument. These pin the codes, messages and spans of every reader path,
and the values binders derive (`pad = same`, a pool's stride defaulting to its kernel).
"""

from __future__ import annotations

import pytest
from helpers_ops import build, elaborate

from dslc.spec import network as spec

MAP = ((4, 8, 8),)


@pytest.mark.parametrize(("call", "code", "message", "at"), [
    ("conv(x0, out = 8, kernel = [3, 3, 3])", "E303",
     "`kernel` takes an int or [height, width]", "[3, 3, 3]"),
    ("conv(x0, out = 8, kernel = 0)", "E302", "`kernel` must be at least 1, found 0", "0"),
    # kernel is read before out, so of two bad values the kernel is reported
    ("conv(x0, out = 0, kernel = [1, 0])", "E302", "`kernel` must be at least 1, found 0",
     "[1, 0]"),
    ("conv(x0, out = 0, kernel = 1)", "E302", "`out` must be at least 1, found 0", "0"),
    ("conv(x0, out = 8, kernel = 3, pad = full)", "E201", "undefined name `full`", "full"),
    ("conv(x0, out = 8, kernel = 3, pad = -1)", "E302", "`pad` must be at least 0, found -1",
     "-1"),
    ("dwconv(x0, kernel = 3, multiplier = 2.5)", "E303",
     "expected an integer for `multiplier`, found the number 2.5", "2.5"),
    ("maxpool(x0)", "E209", "`maxpool` needs `kernel` (or `global = true`)", "maxpool(x0)"),
    ("avgpool(x0, global = 1)", "E303",
     "expected true or false for `global`, found the integer 1", "1"),
    ("reshape(x0, shape = [0, 256])", "E302", "reshape dimensions must be positive",
     "[0, 256]"),
    ("reshape(x0, shape = 256)", "E303", "`shape` takes a list of integers", "256"),
    ("transpose(x0, perm = [1, -1, 0])", "E302",
     "an entry of `perm` must be at least 0, found -1", "[1, -1, 0]"),
    ("concat(x0, x0, axis = -1)", "E302", "`axis` must be at least 0, found -1", "-1"),
    ("relu(x0, alpha = 1)", "E208", "`relu` has no argument `alpha`", "alpha"),
    ("linear(x0)", "E209", "`linear` needs `out`", "linear(x0)"),
    ("mul(x0)", "E209", "`mul` takes 2 input tensors, 1 given", "mul(x0)"),
    ("add(x0)", "E209", "`add` takes at least 2 input tensors, 1 given", "add(x0)"),
])
def test_reader_diagnostics(call: str, code: str, message: str, at: str) -> None:
    _, problems = elaborate(call, MAP)
    assert [(p.code, p.message, p.span.text) for p in problems] == [(code, message, at)]


def test_unknown_pad_symbol_says_what_pad_takes() -> None:
    _, problems = elaborate("maxpool(x0, kernel = 3, pad = full)", MAP)
    assert problems[0].help == "`pad` is an int, [h, w], or `same`"


def test_same_padding_and_defaults() -> None:
    layer = build("conv(x0, out = 8, kernel = [3, 5], pad = same, dilation = 2)", MAP).layers[0]
    assert isinstance(layer, spec.ConvLayer)
    # same: dilation * (kernel - 1) // 2 per side = 2 * 2 // 2 and 2 * 4 // 2
    assert (layer.pad, layer.stride, layer.groups) == ((2, 4), (1, 1), 1)
    pool = build("avgpool(x0, kernel = 2)", MAP).layers[0]
    assert isinstance(pool, spec.PoolLayer)
    assert (pool.op, pool.stride, pool.pad, pool.global_pool) == ("avgpool", (2, 2), (0, 0),
                                                                  False)
    strided = build("maxpool(x0, kernel = 3, stride = 1, pad = same)", MAP).layers[0]
    assert isinstance(strided, spec.PoolLayer)
    assert (strided.op, strided.stride, strided.pad) == ("maxpool", (1, 1), (1, 1))
    whole = build("maxpool(x0, global = true)", MAP).layers[0]
    assert isinstance(whole, spec.PoolLayer) and whole.global_pool and whole.kernel == (1, 1)
    gelu = build("gelu(x0)", MAP).layers[0]
    assert isinstance(gelu, spec.ElementwiseLayer) and gelu.function == "gelu"
    dense = build("linear(x0, out = 5)", MAP).layers[0]
    assert isinstance(dense, spec.DenseLayer) and dense.op == "dense"
    keys = build("matmul(x0, x0, transpose_b = true)", MAP).layers[0]
    assert isinstance(keys, spec.MatmulLayer) and keys.transpose_b
