"""Access counts checked against hand counts of small loop nests.

Every expected number is derived in the comments from the loop nest, not from the code.
conv1d: O[p] += W[r] * I[p + r] with P = 4, R = 3 (6 inputs, 3 weights, 4 outputs).
"""

from __future__ import annotations

from dslc.cost.counts import AccessCounts, access_counts
from dslc.lower.problem import Problem, Projection, Tensor
from dslc.spec.accelerator import AcceleratorSpec, ComputeSpec, FanoutSpec, MemorySpec
from dslc.spec.mapping import LoopSpec, MappingLevelSpec, MappingSpec

CONV1D = Problem("conv1d", ("P", "R"), (4, 3), (
    Tensor("weight", "weight", (Projection(((1, 1),)),)),
    Tensor("input", "input", (Projection(((0, 1), (1, 1))),)),
    Tensor("output", "output", (Projection(((0, 1),)),)),
), op="conv")


def memory(name: str, words: int | None = None) -> MemorySpec:
    return MemorySpec(name=name, size_bits=None if words is None else 16 * words, word_bits=16,
                      width_bits=16)


def accelerator(*levels: MemorySpec | FanoutSpec) -> AcceleratorSpec:
    return AcceleratorSpec(name="acc", word_bits=16, clock_hz=1e9, hierarchy=levels,
                           compute=ComputeSpec(name="MAC", word_bits=16, energy_pj=1.0))


def level(target: str, temporal: tuple[tuple[str, int], ...] = (),
          x: tuple[tuple[str, int], ...] = ()) -> MappingLevelSpec:
    return MappingLevelSpec(target=target,
                            temporal=tuple(LoopSpec(dim=d, factor=f) for d, f in temporal),
                            spatial_x=tuple(LoopSpec(dim=d, factor=f) for d, f in x))


def run(problem: Problem, acc: AcceleratorSpec, *levels: MappingLevelSpec) -> AccessCounts:
    return access_counts(problem, acc, MappingSpec(name="m", network="n", layer="l",
                                                   accelerator="acc", levels=levels))


def rfu(counts: AccessCounts, level_name: str, tensor: str) -> tuple[int, int, int]:
    found = counts.level(level_name).tensors[tensor]
    return found.reads, found.fills, found.updates


def test_one_level_conv1d_has_no_reuse() -> None:
    # DRAM [P 4, R 3] straight to the MAC: 12 MACs each read a weight and an input; each
    # writes a partial sum, and reads the old one except on the first touch of the 4 outputs.
    counts = run(CONV1D, accelerator(memory("DRAM")), level("DRAM", (("P", 4), ("R", 3))))
    assert rfu(counts, "DRAM", "weight") == (12, 0, 0)
    assert rfu(counts, "DRAM", "input") == (12, 0, 0)
    assert rfu(counts, "DRAM", "output") == (12 - 4, 0, 12)


def test_two_level_output_stationary() -> None:
    # DRAM [P 4] over RF [R 3]. RF tiles: weight R = 3 words, input P+R-1 = 3, output 1.
    # Weights: P does not index them, so they stay: 3 fills. Inputs slide by one per P step:
    # 3 + 3 x 1 = 6 fills. Outputs: a new output per P step, 4 entries, each first touched,
    # so no refill; 4 write-backs to DRAM.
    counts = run(CONV1D, accelerator(memory("DRAM"), memory("RF", 16)),
                 level("DRAM", (("P", 4),)), level("RF", (("R", 3),)))
    assert rfu(counts, "RF", "weight") == (12, 3, 0)
    assert rfu(counts, "RF", "input") == (12, 6, 0)
    assert rfu(counts, "RF", "output") == (12 - 4, 0, 12)
    assert rfu(counts, "DRAM", "weight") == (3, 0, 0)
    assert rfu(counts, "DRAM", "input") == (6, 0, 0)
    assert rfu(counts, "DRAM", "output") == (0, 0, 4)
    assert counts.level("RF").tensors["input"].tile_words == 3


def test_two_level_weight_stationary() -> None:
    # DRAM [R 3] over RF [P 4]. RF tiles: weight 1, input 4, output 4.
    # Weights: one new weight per R step: 1 + 2 = 3. Inputs: the window shifts by one per R
    # step: 4 + 2 x 1 = 6. Outputs: R does not index them, they stay: 4 entries, no refill.
    counts = run(CONV1D, accelerator(memory("DRAM"), memory("RF", 16)),
                 level("DRAM", (("R", 3),)), level("RF", (("P", 4),)))
    assert rfu(counts, "RF", "weight") == (12, 3, 0)
    assert rfu(counts, "RF", "input") == (12, 6, 0)
    assert rfu(counts, "RF", "output") == (8, 0, 12)
    assert rfu(counts, "DRAM", "output") == (0, 0, 4)


def test_sliding_window_restarts_and_partial_sums_return() -> None:
    # DRAM [R 3, P 2] over RF [P 2]: RF holds 2 outputs and 2 inputs at a time.
    # Input tiles in order (r, p-block): {0,1} {2,3} | {1,2} {3,4} | {2,3} {4,5}; new elements
    # 2, 2, 1, 2, 1, 2 = 10 fills (the overlap after an R step is one element).
    # Output tiles: {0,1} {2,3} repeated for each r: 6 residencies x 2 = 12 entries, 4 of them
    # first touches, so 8 partial sums come back from DRAM, and 12 are written back.
    counts = run(CONV1D, accelerator(memory("DRAM"), memory("RF", 16)),
                 level("DRAM", (("R", 3), ("P", 2))), level("RF", (("P", 2),)))
    assert rfu(counts, "RF", "input") == (12, 10, 0)
    assert rfu(counts, "RF", "output") == (12 - 4, 8, 12)
    assert rfu(counts, "DRAM", "output") == (8, 0, 12)
    assert rfu(counts, "DRAM", "input") == (10, 0, 0)
    # Weights: each R step brings one weight; the P-block steps inside do not: 3 fills.
    assert rfu(counts, "RF", "weight") == (12, 3, 0)


def test_three_levels_with_bypass() -> None:
    # DRAM [R 3] > GLB keeping only inputs and outputs [P 2] > RF [P 2].
    # Weights bypass GLB: the RF's weight fills are read from DRAM directly.
    # RF weight tile 1: a new weight per R step, the P-block steps inside keep it: 3 fills,
    # all 3 read at DRAM, none at GLB.
    # GLB input tile: P 4 (own 2 x RF 2), R 1: 4 words; R steps shift it by 1: 4 + 2 = 6.
    # RF input tile 2 under loops [R 3, P 2]: as in the previous test, 10 fills, read at GLB.
    acc = accelerator(memory("DRAM"), MemorySpec(name="GLB", size_bits=16 * 64, word_bits=16,
                                                 width_bits=16, holds=("input", "output")),
                      memory("RF", 16))
    counts = run(CONV1D, acc, level("DRAM", (("R", 3),)), level("GLB", (("P", 2),)),
                 level("RF", (("P", 2),)))
    assert "weight" not in counts.level("GLB").tensors
    assert rfu(counts, "DRAM", "weight") == (3, 0, 0)
    assert rfu(counts, "RF", "weight") == (12, 3, 0)
    assert rfu(counts, "GLB", "input") == (10, 6, 0)
    assert rfu(counts, "DRAM", "input") == (6, 0, 0)
    # GLB outputs (4 words) stay across R: 4 entries, all first touches; RF outputs (2 words)
    # cycle through both halves for each r: 12 entries, 8 refilled from GLB, 12 written back.
    assert rfu(counts, "GLB", "output") == (8, 0, 12)
    assert rfu(counts, "DRAM", "output") == (0, 0, 4)


def test_spatial_multicast_of_an_unindexed_input() -> None:
    # O[k, p] += W[k] * I[p], K = 4 across 4 PEs, each RF looping P 2.
    # The input does not depend on K: every PE needs the same 2 inputs, read once at DRAM.
    problem = Problem("mv", ("K", "P"), (4, 2), (
        Tensor("weight", "weight", (Projection(((0, 1),)),)),
        Tensor("input", "input", (Projection(((1, 1),)),)),
        Tensor("output", "output", (Projection(((0, 1),)), Projection(((1, 1),)))),
    ))
    acc = accelerator(memory("DRAM"), FanoutSpec(name="PE", mesh_x=4), memory("RF", 8))
    counts = run(problem, acc, level("PE", x=(("K", 4),)), level("RF", (("P", 2),)))
    rf = counts.level("RF")
    assert (rf.instances, rf.utilized_instances) == (4, 4)
    assert rfu(counts, "RF", "input") == (2, 2, 0)        # per PE
    assert rfu(counts, "DRAM", "input") == (2, 0, 0)      # multicast: 2, not 4 x 2
    assert rfu(counts, "DRAM", "weight") == (4, 0, 0)     # one distinct weight per PE
    assert rfu(counts, "DRAM", "output") == (0, 0, 8)     # 4 PEs x 2 distinct outputs


def test_spatial_reduction_counts_once_at_the_parent() -> None:
    # O[p] += W[c] * I[c, p], C = 4 across 4 PEs, each RF looping P 2: the 4 PEs produce
    # partial sums of the same 2 outputs, reduced in space: 2 updates at DRAM, not 8.
    problem = Problem("red", ("C", "P"), (4, 2), (
        Tensor("weight", "weight", (Projection(((0, 1),)),)),
        Tensor("input", "input", (Projection(((0, 1),)), Projection(((1, 1),)))),
        Tensor("output", "output", (Projection(((1, 1),)),)),
    ))
    acc = accelerator(memory("DRAM"), FanoutSpec(name="PE", mesh_x=4), memory("RF", 8))
    counts = run(problem, acc, level("PE", x=(("C", 4),)), level("RF", (("P", 2),)))
    assert rfu(counts, "RF", "output") == (0, 0, 2)       # per PE: 2 first-touch updates
    assert rfu(counts, "DRAM", "output") == (0, 0, 2)
    assert rfu(counts, "DRAM", "input") == (8, 0, 0)      # every (c, p) once


def test_temporal_loop_over_spatial_loop_of_the_same_dim() -> None:
    # DRAM [P 2] > PE spatial x [P 2] > RF [R 3]: PE0 computes p = 0 then 2, PE1 p = 1 then 3.
    # PE0's input windows are {0,1,2} then {2,3,4}: 3 + 2 = 5 fills (the temporal P step is 2,
    # because the spatial P loop sits inside it); PE1's {1,2,3} then {3,4,5}: also 5.
    # Weights do not depend on P: 3 fills per PE, and 3 DRAM reads for all PEs (multicast).
    acc = accelerator(memory("DRAM"), FanoutSpec(name="PE", mesh_x=2), memory("RF", 16))
    counts = run(CONV1D, acc, level("DRAM", (("P", 2),)), level("PE", x=(("P", 2),)),
                 level("RF", (("R", 3),)))
    assert rfu(counts, "RF", "input") == (6, 5, 0)
    assert rfu(counts, "RF", "weight") == (6, 3, 0)
    assert rfu(counts, "DRAM", "weight") == (3, 0, 0)
    # Each PE owns its outputs: 2 per PE, each first touched once; 4 write-backs in all.
    assert rfu(counts, "RF", "output") == (6 - 2, 0, 6)
    assert rfu(counts, "DRAM", "output") == (0, 0, 4)
