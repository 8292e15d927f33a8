"""Features of layers and accelerators for the learned cost evaluator (numpy, no torch).

In: the lowered networks of a request's network designs and the accelerator designs' points.
Out: float matrices with their column names:

- `layer_table`: the distinct MAC layers (loop nests, by `Problem.key`) of all the networks,
  one feature row each (`layer_features`: the operator one-hot; per operator and loop
  dimension the log of its bound; the log of the MACs, of each tensor role's words and of
  the MACs per word; the largest input stride; which dimensions index which role), and per
  network how many of its layers lower to each: the network's row is that count vector,
  because the exact model's network cost is the sum of its layers' (the evaluator sums its
  per-layer predictions with these weights);
- an accelerator row: per parameter of its space, a numeric value as its log2 and a name or
  flag one-hot.

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
from dslc.lower.problem import Problem
from dslc.spec.base import ParamValue

FloatArray = npt.NDArray[np.float64]
ROLES = ("input", "weight", "output")
FEATURE_VERSION = 2
"""Bumped whenever a feature changes (part of a saved evaluator's key)."""


def _log(value: float) -> float:
    return math.log(1.0 + value)


@dataclass(frozen=True, slots=True)
class LayerTable:
    """The distinct MAC layers (loop nests) of a request's networks, and how many times
    each network runs each one."""

    keys: tuple[str, ...]
    """Every distinct `Problem.key`, sorted."""
    rows: FloatArray
    """[layers, features]: one row per key (`layer_features`)."""
    names: tuple[str, ...]
    """The feature columns' names."""
    counts: FloatArray
    """[networks, layers]: how many of each network's MAC layers lower to each key."""
    log_macs: FloatArray
    """[layers]: the natural log of each layer's MACs."""


def layer_table(lowered: Sequence[LoweredNetwork]) -> LayerTable:
    """The distinct layers of `lowered` (one network each) and their features (see the
    module docstring)."""
    problems: dict[str, Problem] = {}
    for net in lowered:
        for problem in net.problems:
            problems.setdefault(problem.key, problem)
    keys = tuple(sorted(problems))
    rows, names = layer_features([problems[key] for key in keys])
    column = {key: k for k, key in enumerate(keys)}
    counts = np.zeros((len(lowered), len(keys)))
    for i, net in enumerate(lowered):
        for problem in net.problems:
            counts[i, column[problem.key]] += 1.0
    log_macs = np.array([math.log(problems[key].macs) for key in keys])
    return LayerTable(keys, rows, names, counts, log_macs)


def layer_features(problems: Sequence[Problem]) -> tuple[FloatArray, tuple[str, ...]]:
    """One row per loop nest: the operator one-hot; per operator and loop dimension the
    log of its bound (an operator's dims mean different things: `N` is the batch of a
    convolution and a column count of a matmul); the log of the MACs and of each tensor
    role's words, and of the MACs per word (its reuse); the largest stride of an input
    axis; and per role and dimension whether the dimension indexes that role's tensor
    (what makes a dimension a reuse dimension for it)."""
    ops = sorted({p.op for p in problems})
    op_dims = sorted({(p.op, dim) for p in problems for dim in p.dims})
    dims = sorted({dim for p in problems for dim in p.dims})
    names: list[str] = [f"op={op}" for op in ops]
    names += [f"{op}.log {dim}" for op, dim in op_dims]
    names += ["log macs"]
    names += [f"log {role} words" for role in ROLES]
    names += [f"log macs per {role} word" for role in ROLES]
    names += ["stride"]
    names += [f"{role} indexed by {dim}" for role in ROLES for dim in dims]
    column = {name: k for k, name in enumerate(names)}
    rows = np.zeros((len(problems), len(names)))
    for r, problem in enumerate(problems):
        rows[r, column[f"op={problem.op}"]] = 1.0
        for dim, bound in zip(problem.dims, problem.bounds, strict=True):
            rows[r, column[f"{problem.op}.log {dim}"]] = math.log(bound)
        macs = problem.macs
        rows[r, column["log macs"]] = math.log(macs)
        words = {role: 0 for role in ROLES}
        stride = 1
        for tensor in problem.tensors:
            words[tensor.role] += problem.tensor_size(tensor)
            if tensor.role == "input":
                stride = max([stride, *(abs(c) for axis in tensor.axes
                                        for _, c in axis.terms)])
            for d in tensor.dims():
                rows[r, column[f"{tensor.role} indexed by {problem.dims[d]}"]] = 1.0
        for role in ROLES:
            rows[r, column[f"log {role} words"]] = _log(words[role])
            rows[r, column[f"log macs per {role} word"]] = math.log(macs / max(1, words[role]))
        rows[r, column["stride"]] = float(stride)
    return rows, tuple(names)


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
