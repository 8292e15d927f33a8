"""Features of networks and accelerators for the learned cost evaluator (numpy, no torch).

In: the lowered networks of a request's network designs and the accelerator designs' points.
Out: float matrices, one row per design, with their column names:

- a network row: per operator kind (`conv`, `dwconv`, `dense`, ...) the layer count and the
  log of the summed MACs, weight, input and output words; the log of the total MACs, of the
  largest layer's MACs and of the words moved by layers without MACs; per loop dimension
  name the MAC-weighted mean of the log of its bound (how large K, C, P... are where the
  work is); and the design's point, one-hot per parameter value (and per space when the
  request has several);
- an accelerator row: per parameter of its space, a numeric value as its log2 and a name or
  flag one-hot (and one-hot per space when there are several).

`HardwareEncoding` says where each accelerator parameter's columns are, so the generator
(dslc.codesign.dance.search) can build the same row from a relaxed (soft one-hot) choice.
It does not train or predict anything (dslc.codesign.dance.evaluator does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dslc.codesign.designs import Design
from dslc.lower.lower import LoweredNetwork
from dslc.spec.base import ParamValue

FloatArray = npt.NDArray[np.float64]
FEATURE_VERSION = 1
"""Bumped whenever a feature changes (part of a saved evaluator's key)."""


def _log(value: float) -> float:
    return math.log(1.0 + value)


def network_features(designs: Sequence[Design], lowered: Sequence[LoweredNetwork]
                     ) -> tuple[FloatArray, tuple[str, ...]]:
    """One row per network design (see the module docstring), and the column names."""
    kinds = sorted({layer.op for net in lowered for layer in net.layers
                    if layer.problem is not None})
    dims = sorted({dim for net in lowered for problem in net.problems for dim in problem.dims})
    values = _point_values(designs)
    spaces = sorted({design.space for design in designs})
    names: list[str] = []
    for kind in kinds:
        names += [f"{kind}.count", f"{kind}.log_macs", f"{kind}.log_weights",
                  f"{kind}.log_inputs", f"{kind}.log_outputs"]
    names += ["log_macs", "log_max_macs", "log_moved", "layers"]
    names += [f"dim.{dim}" for dim in dims]
    names += [f"space={space}" for space in spaces] if len(spaces) > 1 else []
    names += [f"{space}.{param}={value!r}" for space, param, value in values]
    rows = np.zeros((len(designs), len(names)))
    column = {name: i for i, name in enumerate(names)}
    for row, (design, net) in enumerate(zip(designs, lowered, strict=True)):
        sums = {kind: np.zeros(5) for kind in kinds}
        log_bounds = {dim: 0.0 for dim in dims}
        total = 0.0
        largest = 0.0
        for problem in net.problems:
            macs = problem.macs
            total += macs
            largest = max(largest, macs)
            sizes = {"input": 0, "weight": 0, "output": 0}
            for tensor in problem.tensors:
                sizes[tensor.role] += problem.tensor_size(tensor)
            sums[problem.op] += (1, macs, sizes["weight"], sizes["input"], sizes["output"])
            for dim, bound in zip(problem.dims, problem.bounds, strict=True):
                log_bounds[dim] += macs * math.log(bound)
        for kind in kinds:
            count, summed, weights, inputs, outputs = sums[kind].tolist()
            start = column[f"{kind}.count"]
            rows[row, start:start + 5] = (count, _log(summed), _log(weights), _log(inputs),
                                          _log(outputs))
        moved = sum(m.input_words + m.output_words for m in net.movements)
        rows[row, column["log_macs"]] = _log(total)
        rows[row, column["log_max_macs"]] = _log(largest)
        rows[row, column["log_moved"]] = _log(moved)
        rows[row, column["layers"]] = len(net.problems)
        for dim in dims:
            rows[row, column[f"dim.{dim}"]] = log_bounds[dim] / max(total, 1)
        if len(spaces) > 1:
            rows[row, column[f"space={design.space}"]] = 1.0
        for param, value in design.point:
            rows[row, column[f"{design.space}.{param}={value!r}"]] = 1.0
    return rows, tuple(names)


def _point_values(designs: Sequence[Design]) -> list[tuple[str, str, ParamValue]]:
    """Every (space, parameter, value) the designs take, in first-seen order per
    parameter (the space's declaration order of values)."""
    found: dict[tuple[str, str, ParamValue], None] = {}
    for design in designs:
        for param, value in design.point:
            found[(design.space, param, value)] = None
    return sorted(found, key=lambda item: (item[0], item[1], _order(item[2])))


def _order(value: ParamValue) -> tuple[int, float, str]:
    if isinstance(value, bool):
        return (0, float(value), "")
    if isinstance(value, int | float):
        return (1, float(value), "")
    return (2, 0.0, value)


def _numeric(values: Sequence[ParamValue]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) and v > 0
               for v in values)


@dataclass(frozen=True, slots=True)
class HardwareParam:
    """One parameter of the accelerator space and where its columns are."""

    name: str
    values: tuple[ParamValue, ...]
    """Its values, in the order the generator's distribution lists them."""
    numeric: bool
    """A positive number (one column: log2 of the value), else one-hot columns."""
    start: int
    """Its first column."""

    @property
    def width(self) -> int:
        return 1 if self.numeric else len(self.values)

    def column_values(self) -> FloatArray:
        """[values, width]: the columns each value writes."""
        if self.numeric:
            return np.array([[math.log2(float(v))] for v in self.values])
        return np.eye(len(self.values))


@dataclass(frozen=True, slots=True)
class HardwareEncoding:
    """How an accelerator design becomes a feature row."""

    space: str
    params: tuple[HardwareParam, ...]

    @property
    def width(self) -> int:
        return sum(p.width for p in self.params)

    @property
    def names(self) -> tuple[str, ...]:
        names: list[str] = []
        for p in self.params:
            names += [f"log2 {p.name}"] if p.numeric else [f"{p.name}={v!r}" for v in p.values]
        return tuple(names)

    def digits(self, design: Design) -> tuple[int, ...]:
        """The index of each parameter's value in the design."""
        point = dict(design.point)
        return tuple(p.values.index(point[p.name]) for p in self.params)

    def row(self, design: Design) -> FloatArray:
        found: FloatArray = self.rows([design])[0]
        return found

    def rows(self, designs: Sequence[Design]) -> FloatArray:
        rows: FloatArray = np.zeros((len(designs), self.width))
        for i, design in enumerate(designs):
            for p, digit in zip(self.params, self.digits(design), strict=True):
                rows[i, p.start:p.start + p.width] = p.column_values()[digit]
        return rows


def hardware_encoding(designs: Sequence[Design]) -> HardwareEncoding:
    """The encoding of the accelerator designs (of one space: the strategy's sema check
    and `dslc learn evaluator` refuse several)."""
    spaces = sorted({d.space for d in designs})
    if len(spaces) != 1:
        raise ValueError(f"one accelerator space expected, got {len(spaces)}")
    by_param: dict[str, list[ParamValue]] = {}
    for design in designs:
        for param, value in design.point:
            found = by_param.setdefault(param, [])
            if value not in found:
                found.append(value)
    params: list[HardwareParam] = []
    start = 0
    for name in sorted(by_param):
        values = tuple(sorted(by_param[name], key=_order))
        encoded = HardwareParam(name, values, _numeric(values), start)
        params.append(encoded)
        start += encoded.width
    return HardwareEncoding(spaces[0], tuple(params))
