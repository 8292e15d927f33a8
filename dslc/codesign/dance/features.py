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
  flag one-hot (the value columns), then a one-hot of its value (the choice columns);
- `pair_features`: per (accelerator, layer), what the analytical model says without a
  mapping search, per MAC, as logs: the lower bounds on energy and latency
  (dslc.cost.bounds) and `traffic_estimate`, the words a one-level tiling moves from the
  outermost memory through a buffer of the first on-chip level's capacity and of all
  on-chip levels' together.

`HardwareEncoding` says where each accelerator parameter's columns are, so the generator
(dslc.codesign.dance.search) can build the same row from a relaxed (soft one-hot) choice,
and the evaluator can look up the pair features of a row from its choice columns (over the
grid of every parameter's values, `grid_shape`).
It does not train or predict anything (dslc.codesign.dance.evaluator does).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dslc.arch import ArchModel
from dslc.codesign.designs import Design
from dslc.cost.bounds import arch_table, layer_bounds
from dslc.lower.lower import LoweredNetwork
from dslc.lower.problem import Problem
from dslc.spec.base import ParamValue

FloatArray = npt.NDArray[np.float64]
ROLES = ("input", "weight", "output")
FEATURE_VERSION = 3
"""Bumped whenever a feature changes (part of a saved evaluator's key): 3 added the
(layer, accelerator) features (`pair_features`) and the choice columns."""
PAIR_NAMES = ("log bound energy per mac", "log bound latency per mac",
              "log traffic per mac, first on-chip level", "log traffic per mac, on chip")
"""The (layer, accelerator) features of `pair_features`, in column order."""


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


MAX_TILINGS = 1 << 20
"""Most one-level tilings `traffic_estimate` weighs for one layer: past it, the dimensions
with the most tile sizes take every other power of two (then every fourth, ...), so a
layer of many large dimensions (an einsum of a dozen indices) costs seconds and megabytes,
not hours and gigabytes. A layer under it (every shipped one) is estimated as before the
cap, so FEATURE_VERSION stayed."""


def _tile_choices(bound: int, stride: int = 1) -> FloatArray:
    """A dimension's tile sizes: 1, the powers of two 2^stride, 2^(2 stride), ... below its
    bound, and the bound."""
    found = {1, bound}
    size = 1 << stride
    while size < bound:
        found.add(size)
        size <<= stride
    return np.array(sorted(found), dtype=np.float64)


def _tilings(bounds: Sequence[int]) -> FloatArray:
    """[tilings, dims] every combination of the dimensions' tile sizes (`_tile_choices`),
    at most MAX_TILINGS: while there are more, the dimension with the most sizes (the first
    of equals) doubles its stride, and once none has more than 1 and its bound, keeps tiles
    of 1 only (a layer of over 20 dimensions larger than 1)."""
    strides = [1] * len(bounds)
    choices = [_tile_choices(b) for b in bounds]
    while math.prod(len(c) for c in choices) > MAX_TILINGS:
        widest = max(range(len(bounds)), key=lambda d: (len(choices[d]), -d))
        if len(choices[widest]) > 2:
            strides[widest] *= 2
            choices[widest] = _tile_choices(bounds[widest], strides[widest])
        else:
            choices[widest] = np.ones(1)
    grids = np.meshgrid(*choices, indexing="ij")
    found: FloatArray = np.stack([g.reshape(-1) for g in grids], 1)
    return found


def traffic_estimate(problem: Problem, capacities: FloatArray) -> FloatArray:
    """[len(capacities)] an estimate of the words a layer moves between the outermost memory
    and one buffer of each capacity (in words), without a mapping search: the fewest over
    one-level tilings (per dimension a tile of a power of two or the whole bound, n =
    ceil(bound / tile) tiles; at most MAX_TILINGS of them, `_tilings`) whose tiles of every
    tensor fit in the buffer together, and over which tensor stays resident. The resident
    tensor s is fetched once per tile of its own (its footprint x the tiles of the
    dimensions indexing it); every other tensor once per tile iteration (its footprint x the
    product of all n), an output twice when a dimension it does not depend on is split (its
    partial sums go out and come back). A tensor's footprint in a tile is the product over
    its axes of the tiles' extents (a sliding window `p + r` spans tile_p + tile_r - 1), at
    most its size. The smallest tiling (every tile 1) always counts, whatever the capacity.
    Not a bound and not the mapper's answer: a feature that says how much re-fetching a
    small buffer forces (dslc.codesign.dance.evaluator)."""
    bounds = problem.bounds
    tiles = _tilings(bounds)
    counts = np.ceil(np.array(bounds, dtype=np.float64)[None, :] / tiles)
    iterations = counts.prod(axis=1)
    footprints, own = [], []
    for tensor in problem.tensors:
        footprint = np.ones(len(tiles))
        for axis in tensor.axes:
            extent = np.ones(len(tiles))
            for d, coefficient in axis.terms:
                extent = extent + abs(coefficient) * (tiles[:, d] - 1)
            footprint = footprint * extent
        footprints.append(np.minimum(footprint, float(problem.tensor_size(tensor))))
        dims = sorted(tensor.dims())
        own.append(counts[:, dims].prod(axis=1) if dims else np.ones(len(tiles)))
    best = np.full(len(tiles), np.inf)
    for s in range(len(problem.tensors)):
        traffic = footprints[s] * own[s]
        for t, tensor in enumerate(problem.tensors):
            if t == s:
                continue
            moved = footprints[t] * iterations
            if tensor.role == "output":
                moved = np.where(iterations > own[t], 2.0 * moved, moved)
            traffic = traffic + moved
        best = np.minimum(best, traffic)
    total = np.sum(footprints, axis=0)
    order = np.argsort(total, kind="stable")
    least = np.minimum.accumulate(best[order])
    fits = np.searchsorted(total[order], capacities, side="right") - 1
    found: FloatArray = least[np.maximum(fits, 0)]
    return found


def pair_features(problems: Sequence[Problem], archs: Sequence[ArchModel], *,
                  imperfect: bool = False) -> FloatArray:
    """[accelerators, layers, len(PAIR_NAMES)] what the analytical model says of each layer
    on each accelerator without a mapping search, per MAC and as natural logs: the lower
    bounds on energy (pJ) and latency (s) of dslc.cost.bounds, and `traffic_estimate` for
    a buffer of the first on-chip level's capacity (level 1, all its instances) and of all
    on-chip levels' together (every level below the outermost). An infinite bound (no
    valid mapping of the layer on that accelerator) is replaced by the layer's largest
    finite one (a row the search may still score); a zero energy bound by a thousandth of
    a femtojoule per MAC."""
    table = arch_table(archs)
    sizes = np.where(np.isfinite(table.size_words), table.size_words, 0.0) * table.instances
    sizes = np.where(table.valid, sizes, 0.0)
    first = sizes[:, 1] if sizes.shape[1] > 1 else np.zeros(len(archs))
    on_chip = sizes[:, 1:].sum(axis=1)
    clock = np.array([arch.clock_hz for arch in archs])
    found = np.zeros((len(archs), len(problems), len(PAIR_NAMES)))
    for k, problem in enumerate(problems):
        macs = float(problem.macs)
        bound = layer_bounds(problem, table, imperfect=imperfect)
        energy = bound.energy_pj.astype(np.float64)
        cycles = bound.cycles.astype(np.float64)
        finite = np.isfinite(energy)
        if not finite.all():
            energy = np.where(finite, energy, energy[finite].max() if finite.any() else macs)
            cycles = np.where(finite, cycles, cycles[finite].max() if finite.any() else macs)
        found[:, k, 0] = np.log(np.maximum(energy, 1e-6 * macs) / macs)
        found[:, k, 1] = np.log(cycles / clock / macs)
        found[:, k, 2] = np.log(traffic_estimate(problem, first) / macs)
        found[:, k, 3] = np.log(traffic_estimate(problem, on_chip) / macs)
    return found


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
    """One parameter of the accelerator space and where its columns are: its *value*
    columns (what the layer and area MLPs read) followed by its *choice* columns (a one-hot
    of the value, from which the evaluator looks up the (layer, accelerator) features of
    `pair_features`; dslc.codesign.dance.evaluator)."""

    name: str
    values: tuple[ParamValue, ...]
    """Its values, in the order the generator's distribution lists them."""
    numeric: bool
    """A positive number (one value column: log2 of the value), else one-hot columns."""
    start: int
    """Its first column."""

    @property
    def value_width(self) -> int:
        return 1 if self.numeric else len(self.values)

    @property
    def width(self) -> int:
        return self.value_width + len(self.values)

    def column_values(self) -> FloatArray:
        """[values, width]: the columns each value writes (value columns, then the
        one-hot choice columns)."""
        if self.numeric:
            shown = np.array([[math.log2(float(v))] for v in self.values])
        else:
            shown = np.eye(len(self.values))
        found: FloatArray = np.concatenate([shown, np.eye(len(self.values))], axis=1)
        return found


@dataclass(frozen=True, slots=True)
class HardwareEncoding:
    """How an accelerator design becomes a feature row: per parameter (in `params` order)
    its value columns and its choice columns (`HardwareParam`). The parameters' values
    span a grid (`grid_shape`, mixed radix, the last parameter fastest) over which the
    evaluator tabulates the (layer, accelerator) features."""

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
            names += [f"{p.name} is {v!r}" for v in p.values]
        return tuple(names)

    @property
    def value_columns(self) -> tuple[int, ...]:
        """The value columns of every parameter (what the MLPs read), in order."""
        return tuple(c for p in self.params for c in range(p.start, p.start + p.value_width))

    @property
    def choice_slices(self) -> tuple[tuple[int, int], ...]:
        """Per parameter, the [start, end) of its choice (one-hot) columns."""
        return tuple((p.start + p.value_width, p.start + p.width) for p in self.params)

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return tuple(len(p.values) for p in self.params)

    def digits(self, design: Design) -> tuple[int, ...]:
        """The index of each parameter's value in the design."""
        point = dict(design.point)
        return tuple(p.values.index(point[p.name]) for p in self.params)

    def cell(self, design: Design) -> int:
        """The design's position in the grid (mixed radix of `digits`)."""
        index = 0
        for p, digit in zip(self.params, self.digits(design), strict=True):
            index = index * len(p.values) + digit
        return index

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
