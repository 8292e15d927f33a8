"""Every registry entry, through its example: elaborated, shaped, counted and lowered.

The walk checks each entry against itself (its MAC count against the product of its lowered
loop nest's bounds, at two batches) and against the language (one arity, the same for a call
in the source and for a spec built in Python); a few entries are checked against MAC, weight
and shape figures computed by hand.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from helpers_ops import build, elaborate

from dslc.graph.layer_graph import build_graph
from dslc.graph.shapes import ShapeProblem, infer_shape
from dslc.lower.lower import lower_network
from dslc.ops.operator import Operator
from dslc.ops.registry import OPERATORS

ENTRIES = {entry.names[0]: entry for entry in OPERATORS}


@pytest.mark.parametrize("entry", OPERATORS, ids=lambda entry: entry.names[0])
def test_macs_are_the_points_of_the_lowered_loop_nest(entry: Operator[Any]) -> None:
    network = build(entry.example.call, entry.example.inputs)
    graph = build_graph(network)
    assert graph.ok, graph.problems
    layer = graph.layer("y")
    assert isinstance(layer, entry.layer)
    stats = graph.stats("y")
    for batch in (1, 3):
        problem = lower_network(network, batch).problem("y")
        if entry.lower is None:
            assert problem is None
            assert stats.macs == 0 and stats.weight_elements == 0
            continue
        assert problem is not None and problem.op == layer.op
        assert problem.macs == math.prod(problem.bounds) == batch * stats.macs
        # Weights are one copy for every sample; the loop nest's weight tensors agree.
        weights = sum(problem.tensor_size(t) for t in problem.tensors if t.role == "weight")
        assert weights == stats.weight_elements


@pytest.mark.parametrize(("name", "shape", "macs", "weights"), [
    # [4, 8, 8] -> 8 x 3x3 filters, pad 1: output [8, 8, 8], each a sum over 4 * 3 * 3 = 36.
    ("conv", (8, 8, 8), 8 * 8 * 8 * 36, 8 * 36),
    # pad same = 1, stride 2: (8 + 2 - 3) // 2 + 1 = 4; 4 channels x 2 filters = 8 outputs
    # channels, each output a sum over its 3x3 window.
    ("dwconv", (8, 4, 4), 8 * 4 * 4 * 9, 8 * 9),
    # [10, 32] x [32 -> 16]: 10 rows of 16 outputs, each a sum over 32.
    ("dense", (10, 16), 10 * 16 * 32, 16 * 32),
    # 4 heads of [6, 8] x [5, 8]^T: [4, 6, 5] outputs, each a sum over 8; no weights.
    ("matmul", (4, 6, 5), 4 * 6 * 5 * 8, 0),
    # K=8, C=4, P=6, R=3: O[k, p] spans [8, 6]; W[k, c, r] has 8 * 4 * 3 weights.
    ("einsum", (8, 6), 8 * 4 * 6 * 3, 8 * 4 * 3),
    # (8 + 2 - 3) // 2 + 1 = 4
    ("maxpool", (4, 4, 4), 0, 0),
    # [4, 8, 8] + [4, 8, 8] + [4, 1, 1] broadcast
    ("add", (4, 8, 8), 0, 0),
    ("concat", (4, 10, 8), 0, 0),
    ("reshape", (8, 4, 6), 0, 0),
    ("transpose", (5, 3, 4), 0, 0),
])
def test_examples_by_hand(name: str, shape: tuple[int, ...], macs: int, weights: int) -> None:
    entry = ENTRIES[name]
    graph = build_graph(build(entry.example.call, entry.example.inputs))
    assert graph.shape("y") == shape
    stats = graph.stats("y")
    assert (stats.macs, stats.weight_elements) == (macs, weights)


def _arity_error(entry: Operator[Any], count: int) -> bool:
    """Whether elaboration rejects a call with `count` tensor inputs for their number."""
    call = f"{entry.names[0]}({', '.join(['x0'] * count)})"
    _, problems = elaborate(call, entry.example.inputs[:1])
    return any(p.code in ("E208", "E209") and "input tensor" in p.message for p in problems)


def _shape_arity_problem(entry: Operator[Any], count: int) -> bool:
    """Whether shape inference rejects a spec layer with `count` inputs for their number."""
    network = build(entry.example.call, entry.example.inputs)
    layer = network.layers[-1].model_copy(update={"inputs": ("x0",) * count})
    result = infer_shape(layer, [entry.example.inputs[0]] * count)
    return isinstance(result, ShapeProblem) and "input(s)" in result.message


@pytest.mark.parametrize("entry", [e for e in OPERATORS if e.bind is not None],
                         ids=lambda entry: entry.names[0])
def test_one_arity_for_source_calls_and_python_specs(entry: Operator[Any]) -> None:
    most = entry.max_inputs if entry.max_inputs is not None else entry.min_inputs + 2
    for count in range(most + 2):
        allowed = entry.min_inputs <= count and (
            entry.max_inputs is None or count <= entry.max_inputs)
        assert _arity_error(entry, count) == (not allowed), (entry.names[0], count)
        if count:
            assert _shape_arity_problem(entry, count) == (not allowed), (entry.names[0], count)


def test_the_language_arities() -> None:
    arity = {name: (entry.min_inputs, entry.max_inputs) for name, entry in ENTRIES.items()}
    assert arity.pop("add") == (2, None)
    assert arity.pop("concat") == (2, None)
    assert arity.pop("mul") == (2, 2)
    assert arity.pop("matmul") == (2, 2)
    # einsum's inputs are its declared input tensors, which its shape rule binds.
    assert arity.pop("einsum") == (0, None)
    assert set(arity.values()) == {(1, 1)}
