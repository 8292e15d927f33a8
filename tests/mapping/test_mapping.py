"""The mapping IR: construction from a written MappingSpec, and validity reasons.

Tile sizes in the assertions are computed by hand from the loop factors (Timeloop's rule:
a memory's tile spans its loops, the spatial loops below it and every level below).
"""

from __future__ import annotations

import pytest

from dslc.arch import ArchModel, resolve_accelerator
from dslc.lower.problem import Problem, Projection, Tensor
from dslc.mapping.mapping import (
    Loop,
    MappingError,
    SpatialLoop,
    check_mapping,
    mapping_from_spec,
    mapping_issues,
    tile_extents,
)
from dslc.spec.accelerator import (
    AcceleratorSpec,
    ComputeSpec,
    DataflowSpec,
    FanoutSpec,
    MemorySpec,
    Role,
)
from dslc.spec.mapping import LoopSpec, MappingLevelSpec, MappingSpec

# conv1d: O[k, p] += W[k, c, r] * I[c, p + r], K=4, C=2, P=8, R=3 (dims K C P R = 0 1 2 3).
CONV1D = Problem("conv1d", ("K", "C", "P", "R"), (4, 2, 8, 3), (
    Tensor("weight", "weight", (Projection(((0, 1),)), Projection(((1, 1),)),
                                Projection(((3, 1),)))),
    Tensor("input", "input", (Projection(((1, 1),)), Projection(((2, 1), (3, 1))))),
    Tensor("output", "output", (Projection(((0, 1),)), Projection(((2, 1),)))),
), op="conv")


def accelerator(buffer_words: int, buffering: int = 1, dataflow: str = "free",
                holds: tuple[Role, ...] = ("input", "weight", "output")) -> ArchModel:
    return resolve_accelerator(AcceleratorSpec(
        name="acc", word_bits=16, clock_hz=1e9,
        hierarchy=(
            MemorySpec(name="DRAM", word_bits=16, width_bits=16),
            MemorySpec(name="BUF", size_bits=16 * buffer_words, word_bits=16, width_bits=16,
                       buffering=buffering, holds=holds),
            FanoutSpec(name="PE", mesh_x=4, mesh_y=2, dataflow=DataflowSpec(preset=dataflow)),
            MemorySpec(name="RF", size_bits=16 * 64, word_bits=16, width_bits=16),
        ),
        compute=ComputeSpec(name="MAC", word_bits=16, energy_pj=1.0)))


def loops(*pairs: tuple[str, int]) -> tuple[LoopSpec, ...]:
    return tuple(LoopSpec(dim=d, factor=f) for d, f in pairs)


def spec(*levels: MappingLevelSpec) -> MappingSpec:
    return MappingSpec(name="m", network="n", layer="conv1d", accelerator="acc", levels=levels)


VALID = spec(
    MappingLevelSpec(target="DRAM", temporal=loops(("P", 2))),
    MappingLevelSpec(target="BUF", temporal=loops(("C", 2))),
    MappingLevelSpec(target="PE", spatial_x=loops(("K", 4))),
    MappingLevelSpec(target="RF", temporal=loops(("P", 4), ("R", 3))),
)


def reasons(mapping_spec: MappingSpec, acc: ArchModel) -> tuple[str, ...]:
    return check_mapping(mapping_from_spec(mapping_spec, CONV1D, acc), CONV1D, acc)


def codes(mapping_spec: MappingSpec, acc: ArchModel) -> list[tuple[str, str, str]]:
    """(code, level, hint) of each issue."""
    found = mapping_issues(mapping_from_spec(mapping_spec, CONV1D, acc), CONV1D, acc)
    return [(issue.code, issue.level, issue.hint) for issue in found]


def test_ir_from_spec() -> None:
    mapping = mapping_from_spec(VALID, CONV1D, accelerator(52))
    assert [lv.name for lv in mapping.levels] == ["DRAM", "BUF", "RF"]
    assert mapping.level("DRAM").temporal == (Loop(2, 2),)
    assert mapping.level("BUF").spatial == (SpatialLoop(0, 4, "PE", "x"),)
    assert mapping.level("RF").temporal == (Loop(2, 4), Loop(3, 3))
    assert mapping.level("BUF").keep == frozenset({"weight", "input", "output"})
    # BUF tile: K 4 (spatial below), C 2, P 4, R 3; RF tile: P 4, R 3.
    assert tile_extents(mapping, 4) == ((4, 2, 8, 3), (4, 2, 4, 3), (1, 1, 4, 3))


def test_omitted_levels_keep_what_they_hold_and_have_no_loops() -> None:
    acc = accelerator(1000, holds=("input", "output"))
    mapping = mapping_from_spec(spec(
        MappingLevelSpec(target="DRAM", temporal=loops(("K", 4), ("C", 2), ("P", 8), ("R", 3),
                                                       ("R", 1)))), CONV1D, acc)
    assert mapping.level("BUF").temporal == () and mapping.level("BUF").spatial == ()
    assert mapping.level("BUF").keep == frozenset({"input", "output"})
    assert len(mapping.level("DRAM").temporal) == 4  # the factor-1 loop is dropped
    keep_roles = mapping_from_spec(spec(
        MappingLevelSpec(target="RF", keep=("weight", "output"))), CONV1D, acc)
    assert keep_roles.level("RF").keep == frozenset({"weight", "output"})


@pytest.mark.parametrize(("levels", "message"), [
    ((MappingLevelSpec(target="GLB"),), "`GLB`, which is not a level"),
    ((MappingLevelSpec(target="DRAM", temporal=loops(("Z", 2))),), "`Z` is not a dim"),
    ((MappingLevelSpec(target="PE", temporal=loops(("K", 2))),), "fanout"),
    ((MappingLevelSpec(target="RF", spatial_x=loops(("K", 2))),), "is a memory"),
    ((MappingLevelSpec(target="RF", keep=("psum",)),), "`psum`, which is not a tensor"),
])
def test_structural_mistakes_raise(levels: tuple[MappingLevelSpec, ...], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        mapping_from_spec(spec(*levels), CONV1D, accelerator(100))


def test_valid_mapping_fits() -> None:
    # BUF tile: K 4 (spatial below), C 2, P 4, R 3 -> weight 4*2*3 = 24, input 2*(4+3-1) = 12,
    # output 4*4 = 16: 52 words.
    assert reasons(VALID, accelerator(52)) == ()


def test_capacity_with_double_buffering() -> None:
    found = reasons(VALID, accelerator(103, buffering=2))
    assert found == ("tiles kept at `BUF` need 104 words (weight 24, input 12, output 16 x2 "
                     "buffering), it holds 103: 1 word over",)
    assert reasons(VALID, accelerator(104, buffering=2)) == ()
    assert codes(VALID, accelerator(103, buffering=2)) == [
        ("E605", "BUF", "move loops to outer levels, or bypass a tensor with `keep`")]
    # Bypassing the weights at BUF frees 24 words per copy: (12 + 16) x 2 = 56.
    bypass = spec(*VALID.levels[:1], MappingLevelSpec(target="BUF", temporal=loops(("C", 2)),
                                                      keep=("input", "output")),
                  *VALID.levels[2:])
    assert reasons(bypass, accelerator(56, buffering=2)) == ()


def test_factors_must_cover_bounds() -> None:
    short = spec(*VALID.levels[1:])
    assert reasons(short, accelerator(1000)) == (
        "the factors of `P` multiply to 4, but its bound is 8",)
    assert codes(short, accelerator(1000)) == [
        ("E603", "DRAM", "add `P 2` to a level (e.g. `DRAM`)")]


def test_spatial_beyond_mesh_and_outside_the_dataflow() -> None:
    wide = spec(
        MappingLevelSpec(target="PE", spatial_x=loops(("K", 4), ("C", 2))),
        MappingLevelSpec(target="RF", temporal=loops(("P", 8), ("R", 3))),
    )
    assert reasons(wide, accelerator(1000)) == (
        "spatial loops across X of `PE` need 8 instances, the mesh has 4",)
    # Output stationary allows only dims that index the output but not the weight (P) on X.
    assert reasons(VALID, accelerator(1000, dataflow="output_stationary")) == (
        "the dataflow of `PE` does not unroll `K` across X",)
    assert codes(VALID, accelerator(1000, dataflow="output_stationary")) == [
        ("E604", "PE", "allowed on X: P")]
    assert [code for code, _, _ in codes(wide, accelerator(1000))] == ["E604"]


def test_keep_beyond_holds_and_tensors_kept_nowhere() -> None:
    acc = accelerator(1000, holds=("input", "output"))
    keeps_weight = spec(*VALID.levels[:1], MappingLevelSpec(target="BUF", temporal=loops(
        ("C", 2)), keep=("weight",)), *VALID.levels[2:])
    assert reasons(keeps_weight, acc) == ("`BUF` cannot keep `weight`",)
    assert codes(keeps_weight, acc) == [("E606", "BUF", "it holds only input, output; add the "
                                         "role to its `holds`, or keep the tensor elsewhere")]
    nowhere = spec(MappingLevelSpec(target="DRAM", temporal=loops(("P", 2)), keep=("input",
                                                                                   "output")),
                   *VALID.levels[1:2],
                   *VALID.levels[2:3],
                   MappingLevelSpec(target="RF", temporal=loops(("P", 4), ("R", 3)),
                                    keep=("input", "output")))
    found = reasons(nowhere, accelerator(1000, holds=("input", "output")))
    assert "no level keeps `weight`" in found


def test_outermost_keeper_must_hold_the_whole_tensor() -> None:
    # DRAM bypasses the input: BUF is its backing store, but its tile (12 words) is not the
    # whole input (2 x 10 = 20 words).
    no_backing = spec(MappingLevelSpec(target="DRAM", temporal=loops(("P", 2)),
                                       keep=("weight", "output")), *VALID.levels[1:])
    assert reasons(no_backing, accelerator(1000)) == (
        "`BUF` is the outermost level keeping `input`, so its tile must hold the whole tensor "
        "(20 words), not 12",)
    assert [code for code, _, _ in codes(no_backing, accelerator(1000))] == ["E606"]
