"""Mapping validity: factor coverage, mesh and dataflow limits, capacity with buffering.

Tile sizes in the assertions are computed by hand from the loop factors (Timeloop's rule:
a memory's tile spans the loops at that level and below, and the spatial loops below it).
"""

from __future__ import annotations

from dslc.lower.problem import Problem, Projection, Tensor
from dslc.mapping.check import allowed_dims, check_mapping_spec, dim_classes
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


def test_valid_mapping_fits() -> None:
    # BUF tile: K 4 (spatial below), C 2, P 4, R 3 -> weight 4*2*3 = 24, input 2*(4+3-1) = 12,
    # output 4*4 = 16: 52 words.
    assert check_mapping_spec(VALID, CONV1D, accelerator(52)) == ()


def test_capacity_with_double_buffering() -> None:
    issues = check_mapping_spec(VALID, CONV1D, accelerator(103, buffering=2))
    assert [(i.code, i.level) for i in issues] == [("E605", "BUF")]
    assert "need 104 words, it holds 103" in issues[0].message
    assert check_mapping_spec(VALID, CONV1D, accelerator(104, buffering=2)) == ()


def test_factors_must_cover_bounds() -> None:
    short = mapping(
        MappingLevelSpec(target="BUF", temporal=loops(("C", 2))),
        MappingLevelSpec(target="PE", spatial_x=loops(("K", 4))),
        MappingLevelSpec(target="RF", temporal=loops(("P", 4), ("R", 3))),
    )
    issues = check_mapping_spec(short, CONV1D, accelerator(1000))
    assert [(i.code, i.message) for i in issues] == [
        ("E603", "the factors of `P` multiply to 4, but its bound is 8")]
    assert "`P 2`" in issues[0].hint


def test_spatial_beyond_mesh_and_dataflow() -> None:
    wide = mapping(
        MappingLevelSpec(target="DRAM", temporal=loops(("P", 1))),
        MappingLevelSpec(target="PE", spatial_x=loops(("K", 4), ("C", 2))),
        MappingLevelSpec(target="RF", temporal=loops(("P", 8), ("R", 3))),
    )
    issues = check_mapping_spec(wide, CONV1D, accelerator(1000))
    assert [i.code for i in issues] == ["E604"]
    assert "need 8 instances, the mesh has 4" in issues[0].message
    # Output stationary allows only dims that index the output but not the weight (P) on X.
    os_issues = check_mapping_spec(VALID, CONV1D, accelerator(
        1000, dataflow=DataflowSpec(preset="output_stationary")))
    assert [i.code for i in os_issues] == ["E604"]
    assert "`K`" in os_issues[0].message


def test_dataflow_presets_from_roles() -> None:
    assert dim_classes(CONV1D) == {"reduction": frozenset({"C", "R"}),
                                   "weight_output": frozenset({"K"}),
                                   "output_only": frozenset({"P"})}
    ws = allowed_dims(DataflowSpec(preset="weight_stationary"), CONV1D)
    assert ws == (frozenset({"C", "R"}), frozenset({"K"}))
    assert allowed_dims(DataflowSpec(preset="free"), CONV1D) == (None, None)
    explicit = allowed_dims(DataflowSpec(x=("C",), y=("K",)), CONV1D)
    assert explicit == (frozenset({"C"}), frozenset({"K"}))
