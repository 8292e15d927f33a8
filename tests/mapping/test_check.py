"""Dataflow presets derived from tensor roles (validity itself: tests/mapping/test_mapping.py)."""

from __future__ import annotations

from dslc.lower.problem import Problem, Projection, Tensor
from dslc.mapping.check import allowed_dims, dim_classes
from dslc.spec.accelerator import (
    AcceleratorSpec,
    ComputeSpec,
    DataflowSpec,
    FanoutSpec,
    MemorySpec,
)
from dslc.spec.mapping import LoopSpec, MappingLevelSpec, MappingSpec

# conv1d: O[k, p] += W[k, c, r] * I[c, p + r], K=4, C=2, P=8, R=3 (dims K C P R = 0 1 2 3).
CONV1D = Problem("conv1d", ("K", "C", "P", "R"), (4, 2, 8, 3), (
    Tensor("weight", "weight", (Projection(((0, 1),)), Projection(((1, 1),)),
                                Projection(((3, 1),)))),
    Tensor("input", "input", (Projection(((1, 1),)), Projection(((2, 1), (3, 1))))),
    Tensor("output", "output", (Projection(((0, 1),)), Projection(((2, 1),)))),
), op="conv")


def accelerator(buffer_words: int, buffering: int = 1,
                dataflow: DataflowSpec | None = None) -> AcceleratorSpec:
    return AcceleratorSpec(
        name="acc", word_bits=16, clock_hz=1e9,
        hierarchy=(
            MemorySpec(name="DRAM", word_bits=16, width_bits=16),
            MemorySpec(name="BUF", size_bits=16 * buffer_words, word_bits=16, width_bits=16,
                       buffering=buffering),
            FanoutSpec(name="PE", mesh_x=4, mesh_y=1,
                       dataflow=dataflow or DataflowSpec(preset="free")),
            MemorySpec(name="RF", size_bits=16 * 64, word_bits=16, width_bits=16),
        ),
        compute=ComputeSpec(name="MAC", word_bits=16, energy_pj=1.0))


def mapping(*levels: MappingLevelSpec) -> MappingSpec:
    return MappingSpec(name="m", network="n", layer="conv1d", accelerator="acc",
                       levels=levels)


def loops(*pairs: tuple[str, int]) -> tuple[LoopSpec, ...]:
    return tuple(LoopSpec(dim=d, factor=f) for d, f in pairs)


VALID = mapping(
    MappingLevelSpec(target="DRAM", temporal=loops(("P", 2))),
    MappingLevelSpec(target="BUF", temporal=loops(("C", 2))),
    MappingLevelSpec(target="PE", spatial_x=loops(("K", 4))),
    MappingLevelSpec(target="RF", temporal=loops(("P", 4), ("R", 3))),
)


def test_dataflow_presets_from_roles() -> None:
    assert dim_classes(CONV1D) == {"reduction": frozenset({"C", "R"}),
                                   "weight_output": frozenset({"K"}),
                                   "output_only": frozenset({"P"})}
    ws = allowed_dims(DataflowSpec(preset="weight_stationary"), CONV1D)
    assert ws == (frozenset({"C", "R"}), frozenset({"K"}))
    assert allowed_dims(DataflowSpec(preset="free"), CONV1D) == (None, None)
    explicit = allowed_dims(DataflowSpec(x=("C",), y=("K",)), CONV1D)
    assert explicit == (frozenset({"C"}), frozenset({"K"}))
