"""Builders shared by the cost-model tests: problems, accelerators and mappings by hand."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager

from dslc.arch import resolve_accelerator
from dslc.cost.batched import BatchEvaluator
from dslc.cost.kernel import DISABLE_ENV
from dslc.cost.model import evaluate
from dslc.cost.result import Cost
from dslc.lower.problem import Problem, Projection, Tensor
from dslc.mapping.mapping import mapping_from_spec
from dslc.spec.accelerator import (
    AcceleratorSpec,
    ComputeSpec,
    DataflowSpec,
    FanoutSpec,
    MemorySpec,
    Role,
)
from dslc.spec.mapping import LoopSpec, MappingLevelSpec, MappingSpec


def axis(*terms: tuple[int, int]) -> Projection:
    return Projection(tuple(sorted(terms)))


def conv1d(p: int, r: int) -> Problem:
    """O[p] += W[r] * I[p + r] (dims P=0, R=1)."""
    return Problem("conv1d", ("P", "R"), (p, r), (
        Tensor("weight", "weight", (axis((1, 1)),)),
        Tensor("input", "input", (axis((0, 1), (1, 1)),)),
        Tensor("output", "output", (axis((0, 1)),)),
    ), op="conv")


def conv2d(n: int, k: int, c: int, p: int, q: int, r: int, s: int, stride: int = 1,
           dilation: int = 1) -> Problem:
    """Dims N K C P Q R S = 0..6; weight [K, C, R, S]; input [N, C, P*st + R*dil, Q*st + S*dil];
    output [N, K, P, Q]."""
    return Problem("conv2d", ("N", "K", "C", "P", "Q", "R", "S"), (n, k, c, p, q, r, s), (
        Tensor("weight", "weight", (axis((1, 1)), axis((2, 1)), axis((5, 1)), axis((6, 1)))),
        Tensor("input", "input", (axis((0, 1)), axis((2, 1)),
                                  axis((3, stride), (5, dilation)),
                                  axis((4, stride), (6, dilation)))),
        Tensor("output", "output", (axis((0, 1)), axis((1, 1)), axis((3, 1)), axis((4, 1)))),
    ), op="conv")


def depthwise(n: int, c: int, p: int, q: int, r: int, s: int, stride: int = 1) -> Problem:
    """Dims N C P Q R S = 0..5; weight [C, R, S]; input [N, C, P*st + R, Q*st + S];
    output [N, C, P, Q]."""
    return Problem("dwconv", ("N", "C", "P", "Q", "R", "S"), (n, c, p, q, r, s), (
        Tensor("weight", "weight", (axis((1, 1)), axis((4, 1)), axis((5, 1)))),
        Tensor("input", "input", (axis((0, 1)), axis((1, 1)), axis((2, stride), (4, 1)),
                                  axis((3, stride), (5, 1)))),
        Tensor("output", "output", (axis((0, 1)), axis((1, 1)), axis((2, 1)), axis((3, 1)))),
    ), op="dwconv")


def matmul(m: int, n: int, k: int) -> Problem:
    """O[m, n] += A[m, k] * B[k, n] (dims M N K = 0 1 2); B has the weight role."""
    return Problem("matmul", ("M", "N", "K"), (m, n, k), (
        Tensor("A", "input", (axis((0, 1)), axis((2, 1)))),
        Tensor("B", "weight", (axis((2, 1)), axis((1, 1)))),
        Tensor("O", "output", (axis((0, 1)), axis((1, 1)))),
    ), op="matmul")


def memory(name: str, words: int | None = None, *, width: int = 16,
           holds: tuple[Role, ...] = ("input", "weight", "output"), read: float = 1.0,
           write: float = 1.0, buffering: int = 1, **extra: object) -> MemorySpec:
    return MemorySpec(name=name, size_bits=None if words is None else 16 * words,
                      word_bits=16, width_bits=width, holds=holds, read_energy_pj=read,
                      write_energy_pj=write, leakage_pj_per_cycle=extra.pop("leak", 0.0),
                      area_um2=extra.pop("area", 0.0), buffering=buffering,
                      **extra)  # type: ignore[arg-type]


def fanout(name: str, x: int, y: int = 1, dataflow: str = "free", *,
           diagonal: bool = False) -> FanoutSpec:
    return FanoutSpec(name=name, mesh_x=x, mesh_y=y, dataflow=DataflowSpec(preset=dataflow),
                      diagonal=diagonal)


def accelerator(*levels: MemorySpec | FanoutSpec, mac_pj: float = 1.0,
                mac_area: float = 0.0, mac_leak: float = 0.0,
                mac_gated: bool = True) -> AcceleratorSpec:
    return AcceleratorSpec(name="acc", word_bits=16, clock_hz=1e9, hierarchy=levels,
                           compute=ComputeSpec(name="MAC", word_bits=16, energy_pj=mac_pj,
                                               area_um2=mac_area, leakage_pj_per_cycle=mac_leak,
                                               power_gated=mac_gated))


def loops(*pairs: tuple[str, int]) -> tuple[LoopSpec, ...]:
    return tuple(LoopSpec(dim=d, factor=f) for d, f in pairs)


def level(target: str, *temporal: tuple[str, int], x: tuple[tuple[str, int], ...] = (),
          y: tuple[tuple[str, int], ...] = (), keep: tuple[str, ...] | None = None
          ) -> MappingLevelSpec:
    return MappingLevelSpec(target=target, temporal=loops(*temporal), spatial_x=loops(*x),
                            spatial_y=loops(*y), keep=keep)


def mapping(*levels: MappingLevelSpec) -> MappingSpec:
    return MappingSpec(name="m", network="n", layer="l", accelerator="acc", levels=levels)


def run(problem: Problem, acc: AcceleratorSpec, *levels: MappingLevelSpec) -> Cost:
    """The cost of a written mapping, resolved and built as `dslc eval` does."""
    arch = resolve_accelerator(acc)
    return evaluate(problem, arch, mapping_from_spec(mapping(*levels), problem, arch))


def rfu(cost: Cost, level_name: str, tensor: str) -> tuple[int, int, int]:
    """Per-instance (reads, fills, updates)."""
    found = cost.level(level_name).tensor(tensor)
    return found.reads_per_instance, found.fills_per_instance, found.updates_per_instance


ENGINES = ("numpy", "numba") if importlib.util.find_spec("numba") else ("numpy",)
"""The batched model's engines to test (numba only where it is installed)."""


@contextmanager
def batch_engine(name: str) -> Iterator[None]:
    """Run BatchEvaluator.evaluate on `name` (numpy or numba) inside the block."""
    saved = os.environ.get(DISABLE_ENV)
    os.environ[DISABLE_ENV] = "1" if name == "numpy" else ""
    try:
        yield
    finally:
        if saved is None:
            del os.environ[DISABLE_ENV]
        else:
            os.environ[DISABLE_ENV] = saved


def assert_engine(evaluator: BatchEvaluator, name: str) -> None:
    """The evaluator really runs `name` (numba falls back to numpy only for tensors whose
    multicast has no closed form)."""
    assert evaluator.engine == name or (name == "numba" and evaluator.tables is None)
