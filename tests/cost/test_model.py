"""The scalar cost model against hand counts of small loop nests.

Every expected number is derived in the comments from the loop nest and the counting rules
(Timeloop's, see docs/design/cost-model.md), not from the code. Notation: a level's tile is
what its own loops and every loop below it span; "entries" are the words entering a tile.
"""

from __future__ import annotations

import math

import pytest
from helpers_cost import (
    accelerator,
    conv1d,
    conv2d,
    depthwise,
    fanout,
    level,
    mapping,
    matmul,
    memory,
    rfu,
    run,
)

from dslc.arch import resolve_accelerator
from dslc.cost.model import InvalidMappingError, evaluate
from dslc.diagnostics.diagnostic import CannotRunError
from dslc.export import cost_to_json
from dslc.mapping.mapping import mapping_from_spec
from dslc.spec.accelerator import AcceleratorSpec

CONV1D = conv1d(4, 3)  # O[p] += W[r] * I[p + r]: 4 outputs, 3 weights, 6 inputs


def test_one_level_conv1d_has_no_reuse() -> None:
    # DRAM [P 4, R 3] straight to the MAC: each of the 12 MACs reads a weight and an input;
    # each writes a partial sum and reads the old one, except on the first touch of each of
    # the 4 outputs. Block = 1 word, 2 pJ per access, 1 pJ per MAC:
    # (12 + 12 + 8) reads x 2 + 12 updates x 2 + 12 MACs x 1 = 100 pJ.
    acc = accelerator(memory("DRAM", read=2.0, write=2.0))
    cost = run(CONV1D, acc, level("DRAM", ("P", 4), ("R", 3)))
    assert rfu(cost, "DRAM", "weight") == (12, 0, 0)
    assert rfu(cost, "DRAM", "input") == (12, 0, 0)
    assert rfu(cost, "DRAM", "output") == (12 - 4, 0, 12)
    assert cost.energy_pj == 100.0
    assert (cost.cycles, cost.compute_cycles, cost.macs) == (12, 12, 12)
    assert cost.utilization == 1.0


def test_two_level_output_stationary() -> None:
    # DRAM [P 4] over RF [R 3]. RF tiles: weight 3 (R), input 3 (P 1 + R 3 - 1), output 1.
    # Weights: P does not index them, the tile stays: 3 fills. Inputs: the window slides by one
    # per P step: 3 + 3 x 1 = 6 fills. Outputs: each P step brings a new output, first
    # touched, so nothing is read back; 4 write-backs. The RF serves 12 of each operand.
    acc = accelerator(memory("DRAM"), memory("RF", 16))
    cost = run(CONV1D, acc, level("DRAM", ("P", 4)), level("RF", ("R", 3)))
    assert rfu(cost, "RF", "weight") == (12, 3, 0)
    assert rfu(cost, "RF", "input") == (12, 6, 0)
    assert rfu(cost, "RF", "output") == (12 - 4, 0, 12)
    assert rfu(cost, "DRAM", "weight") == (3, 0, 0)
    assert rfu(cost, "DRAM", "input") == (6, 0, 0)
    assert rfu(cost, "DRAM", "output") == (0, 0, 4)
    assert cost.level("RF").tensor("input").tile_words == 3


def test_two_level_weight_stationary() -> None:
    # DRAM [R 3] over RF [P 4]. RF tiles: weight 1, input 4, output 4.
    # Weights: one new weight per R step: 3. Inputs: the 4-wide window shifts by one per R
    # step: 4 + 2 x 1 = 6. Outputs: R does not index them, they stay: 4 entries, all first
    # touches, so no refill and 4 write-backs; at the RF 12 updates, 12 - 4 reads.
    acc = accelerator(memory("DRAM"), memory("RF", 16))
    cost = run(CONV1D, acc, level("DRAM", ("R", 3)), level("RF", ("P", 4)))
    assert rfu(cost, "RF", "weight") == (12, 3, 0)
    assert rfu(cost, "RF", "input") == (12, 6, 0)
    assert rfu(cost, "RF", "output") == (8, 0, 12)
    assert rfu(cost, "DRAM", "output") == (0, 0, 4)


def test_sliding_window_of_sixteen_steps() -> None:
    # A 3-wide input window moved 16 times along P: 3 + 15 x 1 = 18 fills, not 48.
    cost = run(conv1d(16, 3), accelerator(memory("DRAM"), memory("RF", 16)),
               level("DRAM", ("P", 16)), level("RF", ("R", 3)))
    assert rfu(cost, "RF", "input") == (48, 18, 0)


def test_window_restarts_when_an_outer_loop_moves_it_discontinuously() -> None:
    # DRAM [R 3, P 2] over RF [P 2]: the RF holds a 2-wide input window and 2 outputs.
    # Windows in order (r, p-block): {0,1} {2,3} | {1,2} {3,4} | {2,3} {4,5}. Inside an r the
    # window jumps by +2 (no overlap: 2 new words); when r advances it jumps back by -1, a
    # different stride, so the whole window is fetched again (Timeloop keeps a residue only
    # while the tile keeps moving by the same translation). Every window costs 2: 12 fills.
    # Outputs: tiles {0,1} {2,3} for each r: 6 residencies x 2 = 12 entries, 4 of them first
    # touches: 8 partial sums come back from DRAM, 12 go up.
    cost = run(CONV1D, accelerator(memory("DRAM"), memory("RF", 16)),
               level("DRAM", ("R", 3), ("P", 2)), level("RF", ("P", 2)))
    assert rfu(cost, "RF", "input") == (12, 12, 0)
    assert rfu(cost, "DRAM", "input") == (12, 0, 0)
    assert rfu(cost, "RF", "output") == (12 - 4, 8, 12)
    assert rfu(cost, "DRAM", "output") == (8, 0, 12)
    # Weights: each R step brings one weight; the P-block steps inside it do not: 3 fills.
    assert rfu(cost, "RF", "weight") == (12, 3, 0)


def test_split_sliding_loop_follows_timeloop_extrapolation() -> None:
    # P = 16 split as DRAM [P 4] > GLB [P 4] > RF [R 3]. Timeloop runs iterations #0 and #1
    # of each loop and extrapolates #1 to the others: GLB's P loop is last seen at index 1, so
    # when DRAM's P loop moves the window goes from {1,2,3} to {4,5,6}: +3, not the +1 the
    # inner loop slides by, and the window is fetched whole. Per DRAM step: 3 + 3 x 1; DRAM's
    # #1 (weight 3) repeats it: (3 + 3) + 3 x (3 + 3) = 24 (an exact walk would give 18).
    acc = accelerator(memory("DRAM"), memory("GLB", 64), memory("RF", 16))
    cost = run(conv1d(16, 3), acc, level("DRAM", ("P", 4)), level("GLB", ("P", 4)),
               level("RF", ("R", 3)))
    assert rfu(cost, "RF", "input") == (48, 24, 0)
    # The GLB window (P 4 + R 3 - 1 = 6 wide) slides by 4 per DRAM step: 6 + 3 x 4 = 18.
    assert rfu(cost, "GLB", "input") == (24, 18, 0)


def test_three_levels_with_bypass() -> None:
    # DRAM [R 3] > GLB, which keeps only inputs and outputs, [P 2] > RF [P 2].
    # Weights bypass the GLB: the RF's weight tile (1 word) changes with each R step and
    # stays over the P-block steps inside it: 3 fills, read at DRAM (none at the GLB).
    # GLB inputs: tile P 4 x R 1 = 4 words; R steps slide it by 1: 4 + 2 = 6 fills = DRAM
    # reads. RF inputs: 2-wide window under [R 3, P 2] as in the restart test: 12 fills,
    # read at the GLB.
    acc = accelerator(memory("DRAM"), memory("GLB", 64, holds=("input", "output")),
                      memory("RF", 16))
    cost = run(CONV1D, acc, level("DRAM", ("R", 3)), level("GLB", ("P", 2)),
               level("RF", ("P", 2)))
    assert [t.name for t in cost.level("GLB").tensors] == ["input", "output"]
    assert rfu(cost, "DRAM", "weight") == (3, 0, 0)
    assert rfu(cost, "RF", "weight") == (12, 3, 0)
    assert rfu(cost, "GLB", "input") == (12, 6, 0)
    assert rfu(cost, "DRAM", "input") == (6, 0, 0)
    # Outputs: the GLB tile (4 outputs) stays across R: 4 entries, all first touches. The RF
    # tile (2 outputs) alternates halves: 12 entries (as above), 8 refilled from the GLB.
    assert rfu(cost, "GLB", "output") == (12 - 4, 0, 12)
    assert rfu(cost, "RF", "output") == (12 - 4, 8, 12)
    assert rfu(cost, "DRAM", "output") == (0, 0, 4)


def test_spatial_multicast_of_an_unindexed_operand() -> None:
    # O[m, n] += A[m, k] B[k, n] with M = 1, N = 4, K = 2: N across 4 PEs, each RF loops K 2.
    # A does not depend on N: all PEs need the same 2 words, read once at DRAM (multicast).
    problem = matmul(1, 4, 2)
    acc = accelerator(memory("DRAM"), fanout("PE", 4), memory("RF", 8))
    cost = run(problem, acc, level("PE", x=(("N", 4),)), level("RF", ("K", 2)))
    rf = cost.level("RF")
    assert (rf.instances, rf.utilized_instances) == (4, 4)
    assert rfu(cost, "RF", "A") == (2, 2, 0)        # per PE
    assert rfu(cost, "DRAM", "A") == (2, 0, 0)      # not 4 x 2
    assert rfu(cost, "DRAM", "B") == (8, 0, 0)      # each PE its own column of B
    assert rfu(cost, "DRAM", "O") == (0, 0, 4)      # one output per PE
    assert cost.level("RF").tensor("A").fills == 8  # total over the 4 PEs


def test_spatial_reduction_counts_once_at_the_parent() -> None:
    # O[m, n] += A[m, k] B[k, n] with M = 2, N = 1, K = 4: K across 4 PEs, each RF loops M 2.
    # The 4 PEs produce partial sums of the same 2 outputs, reduced in space: 2 updates at
    # DRAM, not 8. Each PE first-touches its 2 outputs: no RF reads or refills.
    problem = matmul(2, 1, 4)
    acc = accelerator(memory("DRAM"), fanout("PE", 4), memory("RF", 8))
    cost = run(problem, acc, level("PE", x=(("K", 4),)), level("RF", ("M", 2)))
    assert rfu(cost, "RF", "O") == (0, 0, 2)
    assert rfu(cost, "DRAM", "O") == (0, 0, 2)
    assert rfu(cost, "DRAM", "A") == (8, 0, 0)      # every (m, k) once
    assert cost.compute.utilized_instances == 4


def test_diagonal_multicast_across_two_mesh_axes() -> None:
    # conv1d P = 4, R = 3 with P across X and R across Y of a 4 x 3 mesh, one MAC step per PE.
    # PE (p, r) needs input p + r: PEs on a diagonal need the same word, so DRAM reads only
    # the 6 distinct inputs (Eyeriss's diagonal multicast), the 3 weights (shared along X) and
    # writes the 4 outputs once each (reduced along Y).
    acc = accelerator(memory("DRAM"), fanout("PE", 4, 3), memory("RF", 4))
    cost = run(CONV1D, acc, level("PE", x=(("P", 4),), y=(("R", 3),)))
    assert rfu(cost, "DRAM", "input") == (6, 0, 0)
    assert rfu(cost, "DRAM", "weight") == (3, 0, 0)
    assert rfu(cost, "DRAM", "output") == (0, 0, 4)
    assert rfu(cost, "RF", "input") == (1, 1, 0)


def test_temporal_loop_over_spatial_loop_of_the_same_dim() -> None:
    # DRAM [P 2] > PE x [P 2] > RF [R 3]: PE0 computes p = 0 then 2, PE1 p = 1 then 3.
    # PE0's windows {0,1,2} then {2,3,4}: 3 + 2 = 5 fills (the temporal P step is 2 because
    # the spatial P loop sits inside it). Weights: 3 fills per PE, 3 DRAM reads (multicast).
    # Inputs at DRAM: the two PEs' windows differ, so both are served: 2 x 5 = 10.
    acc = accelerator(memory("DRAM"), fanout("PE", 2), memory("RF", 16))
    cost = run(CONV1D, acc, level("DRAM", ("P", 2)), level("PE", x=(("P", 2),)),
               level("RF", ("R", 3)))
    assert rfu(cost, "RF", "input") == (6, 5, 0)
    assert rfu(cost, "DRAM", "input") == (10, 0, 0)
    assert rfu(cost, "RF", "weight") == (6, 3, 0)
    assert rfu(cost, "DRAM", "weight") == (3, 0, 0)
    # Each PE owns 2 outputs, each first touched once; 4 write-backs in all.
    assert rfu(cost, "RF", "output") == (6 - 2, 0, 6)
    assert rfu(cost, "DRAM", "output") == (0, 0, 4)


def test_strided_conv2d() -> None:
    # N 1, K 2, C 1, P 2, Q 2, R 3, S 3, stride 2: input rows 2p + r span 0..4: 5 x 5 words.
    # DRAM [K 2, P 2, Q 2] > RF [R 3, S 3]. RF tiles: input 3 x 3 = 9, weight 9, output 1.
    # Input windows in loop order (k, p, q): a q step moves the window 2 columns right
    # (1 column overlaps: 6 new words); a p step moves it down 2 rows and back 2 columns (the
    # stride changed: 9 new words); a k step moves it back to the start (9). Windows:
    # 9, 6, 9, 6 for k = 0 and again for k = 1: 60 fills, all read at DRAM.
    problem = conv2d(1, 2, 1, 2, 2, 3, 3, stride=2)
    assert problem.tensor_size(problem.tensor("input")) == 25
    acc = accelerator(memory("DRAM"), memory("RF", 64))
    cost = run(problem, acc, level("DRAM", ("K", 2), ("P", 2), ("Q", 2)),
               level("RF", ("R", 3), ("S", 3)))
    assert rfu(cost, "RF", "input") == (72, 60, 0)
    assert rfu(cost, "DRAM", "input") == (60, 0, 0)
    # Weights: K (outermost) indexes them, P and Q inside do not: 9 x 2 = 18.
    assert rfu(cost, "RF", "weight") == (72, 18, 0)
    # Outputs: every DRAM loop indexes them: 8 one-word tiles, all first touches.
    assert rfu(cost, "RF", "output") == (72 - 8, 0, 72)
    assert rfu(cost, "DRAM", "output") == (0, 0, 8)


def test_depthwise_conv() -> None:
    # C 4, P 2, Q 2, R 2, S 2 (N 1): DRAM [C 4, P 2] > RF [Q 2, R 2, S 2].
    # RF input tile: 1 channel x (1 + 2 - 1) rows x (2 + 2 - 1) columns = 6 words. Per
    # channel the rows {0,1} then {1,2}: 6 + 3 = 9; a new channel refetches: 4 x 9 = 36.
    problem = depthwise(1, 4, 2, 2, 2, 2)
    acc = accelerator(memory("DRAM"), memory("RF", 64))
    cost = run(problem, acc, level("DRAM", ("C", 4), ("P", 2)),
               level("RF", ("Q", 2), ("R", 2), ("S", 2)))
    assert rfu(cost, "RF", "input") == (64, 36, 0)
    # Weights: 2 x 2 per channel, kept across the P steps: 4 x 4 = 16.
    assert rfu(cost, "RF", "weight") == (64, 16, 0)
    # Outputs: 2 per tile, a new tile per (c, p): 16 entries, all first touches.
    assert rfu(cost, "RF", "output") == (64 - 16, 0, 64)
    assert rfu(cost, "DRAM", "output") == (0, 0, 16)


def test_matmul_on_a_2x2_array() -> None:
    # O[4x4] += A[4x8] B[8x4]: DRAM [K 2] > GLB [M 2, N 2] > PE x [M 2] y [N 2] > RF [K 4].
    problem = matmul(4, 4, 8)
    acc = accelerator(memory("DRAM"), memory("GLB", 256), fanout("PE", 2, 2),
                      memory("RF", 16))
    cost = run(problem, acc, level("DRAM", ("K", 2)), level("GLB", ("M", 2), ("N", 2)),
               level("PE", x=(("M", 2),), y=(("N", 2),)), level("RF", ("K", 4)))
    # RF tiles: A 1 x 4, B 4 x 1, O 1. Loops above the RF: K 2, M 2, N 2 (outer to inner).
    # A changes with k and m; the innermost N loop keeps it: 4 tiles x 4 = 16 fills.
    assert rfu(cost, "RF", "A") == (32, 16, 0)
    # B changes with k and n, and the M loop between them forces refetches: 8 x 4 = 32.
    assert rfu(cost, "RF", "B") == (32, 32, 0)
    # O: 8 residencies of 1 word; each PE owns 16 / 4 = 4 outputs, visited once per k:
    # 4 first touches, 4 refills. 32 MAC updates per PE, 32 - 4 reads.
    assert rfu(cost, "RF", "O") == (28, 4, 32)
    # GLB serves A to 2 distinct rows of PEs (the N direction shares it): 16 x 2 = 32 reads;
    # B to 2 distinct columns: 32 x 2 = 64; receives partial sums from 4 distinct PEs:
    # 8 x 4 = 32 updates, of which 16 first touches (its whole 4 x 4 output).
    assert rfu(cost, "GLB", "A") == (32, 32, 0)
    assert rfu(cost, "GLB", "B") == (64, 32, 0)
    assert rfu(cost, "GLB", "O") == (16, 0, 32)
    # GLB tiles: A 4 x 4 = 16 and B 4 x 4 = 16, refetched per DRAM k step: 32 each.
    assert rfu(cost, "DRAM", "A") == (32, 0, 0)
    assert rfu(cost, "DRAM", "O") == (0, 0, 16)
    assert cost.level("RF").utilized_instances == 4


def test_block_rounding_and_update_energy() -> None:
    # Two levels, DRAM width 64 b = 4 words per access, RF width 16 b. DRAM [P 4] > RF [R 3]:
    # DRAM reads weight 3, input 6, output updates 4 -> ceil(3/4) + ceil(6/4) = 1 + 2 read
    # accesses x 10 pJ = 30, ceil(4/4) = 1 update x 7 pJ (update energy) = 7.
    # RF (1-word blocks, 1 pJ each): reads 12 + 12 + 8, fills 3 + 6, updates 12: 53 pJ.
    # MACs: 12 x 0.5 = 6. Total 30 + 7 + 53 + 6 = 96.
    acc = accelerator(memory("DRAM", width=64, read=10.0, write=5.0, update_energy_pj=7.0),
                      memory("RF", 16), mac_pj=0.5)
    cost = run(CONV1D, acc, level("DRAM", ("P", 4)), level("RF", ("R", 3)))
    dram = cost.level("DRAM")
    assert dram.tensor("weight").energy_pj + dram.tensor("input").energy_pj == 30.0
    assert dram.tensor("output").energy_pj == 7.0
    assert cost.level("RF").energy_pj == 53.0
    assert cost.compute.energy_pj == 6.0
    assert cost.energy_pj == 96.0


def test_bandwidth_bound_cycles_leakage_and_area() -> None:
    # One level, DRAM [P 4, R 3]: per cycle 1 word read, 0.5 words written. Reads
    # 12 + 12 + 8 = 32 -> 32 cycles; writes 12 updates -> 24 cycles; compute 12 cycles.
    # Cycles = 32; utilisation 12 / (32 x 1). Leakage 0.25 pJ/cycle x 32 = 8 pJ.
    acc = accelerator(memory("DRAM", read_bandwidth_words=1.0, write_bandwidth_words=0.5,
                             leak=0.25, area=1000.0), mac_area=500.0)
    cost = run(CONV1D, acc, level("DRAM", ("P", 4), ("R", 3)))
    assert cost.cycles == 32
    assert cost.level("DRAM").cycles == 32
    assert cost.utilization == 12 / 32
    assert cost.level("DRAM").leakage_energy_pj == 8.0
    assert cost.area_mm2 == (1000.0 + 500.0) / 1e6
    # Shared port: (32 + 12) words at 2 words per cycle = 22 cycles, above compute's 12.
    shared = accelerator(memory("DRAM", read_bandwidth_words=2.0, shared_bandwidth=True))
    assert run(CONV1D, shared, level("DRAM", ("P", 4), ("R", 3))).cycles == 22


def test_energy_parts_sum_exactly_to_the_totals() -> None:
    # Awkward energies (not exactly representable) still sum exactly: parts are quantised.
    problem = conv2d(1, 4, 3, 4, 4, 3, 3)
    acc = accelerator(memory("DRAM", width=64, read=123.456, write=98.7654, leak=0.1),
                      memory("GLB", 2048, width=64, read=6.1, write=6.3, leak=0.01),
                      fanout("PE", 4, 3), memory("RF", 64, read=0.37, write=0.41),
                      mac_pj=0.713)
    cost = run(problem, acc, level("DRAM", ("C", 3)), level("GLB", ("P", 4), ("Q", 4)),
               level("PE", x=(("K", 4),), y=(("R", 3),)), level("RF", ("S", 3)))
    for lv in cost.levels:
        assert sum(t.energy_pj for t in lv.tensors) + lv.leakage_energy_pj == lv.energy_pj
        assert math.fsum(t.energy_pj for t in lv.tensors) == lv.access_energy_pj
    total = sum(lv.energy_pj for lv in cost.levels) + cost.compute.energy_pj
    assert total == cost.energy_pj
    assert sum(reversed([lv.energy_pj for lv in cost.levels])) + cost.compute.energy_pj == \
        cost.energy_pj
    data = cost_to_json(cost)
    parts = [t["energy_pj"] for lv in data["levels"] for t in lv["tensors"].values()]
    parts += [lv["leakage_energy_pj"] for lv in data["levels"]]
    parts += [data["compute"]["energy_pj"]]
    assert sum(parts) == data["energy_pj"]


def test_json_shape() -> None:
    acc = accelerator(memory("DRAM"), memory("RF", 16))
    data = cost_to_json(run(CONV1D, acc, level("DRAM", ("P", 4)), level("RF", ("R", 3))))
    # docs/cli.md, `dslc eval`: "one object; keys in this order", each level's and the
    # compute's keys as listed there.
    assert list(data) == ["layer", "accelerator", "macs", "cycles", "compute_cycles",
                          "latency_s", "utilization", "energy_pj", "area_mm2", "levels",
                          "compute"]
    assert [lv["name"] for lv in data["levels"]] == ["DRAM", "RF"]
    rf = data["levels"][1]
    for lv in data["levels"]:
        assert set(lv) == {"name", "instances", "utilized_instances", "energy_pj",
                           "access_energy_pj", "leakage_energy_pj", "cycles",
                           "capacity_words", "used_words", "area_um2", "tensors"}
        assert lv["energy_pj"] == lv["access_energy_pj"] + lv["leakage_energy_pj"]
    assert data["levels"][0]["capacity_words"] is None  # DRAM: unbounded
    assert rf["capacity_words"] == 16
    assert set(data["compute"]) == {"name", "instances", "utilized_instances", "macs",
                                    "energy_per_mac_pj", "mac_energy_pj", "leakage_energy_pj",
                                    "energy_pj", "area_um2"}
    assert set(rf["tensors"]) == {"weight", "input", "output"}
    assert rf["tensors"]["input"] == {
        "reads": 12, "fills": 6, "updates": 0, "reads_per_instance": 12,
        "fills_per_instance": 6, "updates_per_instance": 0, "tile_words": 3,
        "distinct_words": 6, "energy_pj": 18.0}
    assert data["compute"]["macs"] == 12 and "area_mm2" in data


def test_invalid_mapping_is_rejected_with_reasons() -> None:
    acc = accelerator(memory("DRAM"), memory("RF", 2))
    with pytest.raises(InvalidMappingError) as error:
        run(CONV1D, acc, level("DRAM", ("P", 4)), level("RF", ("R", 3)))
    assert "need 7 words (weight 3, input 3, output 1), it holds 2: 5 words over" in \
        error.value.reasons[0]
    assert isinstance(error.value, CannotRunError) and not isinstance(error.value, ValueError)
    arch = resolve_accelerator(acc)
    written = mapping(level("DRAM", ("P", 4)), level("RF", ("R", 3)))
    cost = evaluate(CONV1D, arch, mapping_from_spec(written, CONV1D, arch), check=False)
    assert rfu(cost, "RF", "input") == (12, 6, 0)


# ---- Multicast per spatial level (Timeloop), and the diagonal option ----------------------


def _two_fanouts(diagonal: bool) -> AcceleratorSpec:
    # DRAM > COL (4 columns along X) > ROW (3 PEs along Y per column) > RF: two fanouts below
    # one memory, as Timeloop writes an Eyeriss-style array (with a bypassed level between).
    return accelerator(memory("DRAM"), fanout("COL", 4), fanout("ROW", 1, 3, diagonal=diagonal),
                       memory("RF", 4))


def test_multicast_is_resolved_per_fanout() -> None:
    # conv1d P = 4, R = 3 with P across the 4 columns and R across the 3 PEs of each column,
    # one MAC per PE: PE (p, r) needs input p + r. Timeloop resolves multicast per spatial
    # level: the columns' tiles (inputs p..p+2) are 4 distinct translations, so 4 are
    # served; inside a column the 3 PEs need 3 distinct words: 1 x 4 x 3 = 12 DRAM reads.
    # The 6 words PEs on a diagonal share across columns (p + r equal) are not credited.
    # Weights do not depend on P: one column's worth, 3 distinct words across the PEs: 3.
    # Outputs: 4 distinct columns; the 3 PEs of a column reduce one output: 4 updates.
    cost = run(CONV1D, _two_fanouts(False), level("COL", x=(("P", 4),)),
               level("ROW", y=(("R", 3),)))
    assert rfu(cost, "DRAM", "input") == (12, 0, 0)
    assert rfu(cost, "DRAM", "weight") == (3, 0, 0)
    assert rfu(cost, "DRAM", "output") == (0, 0, 4)
    # Each PE: one word of each operand comes in and is read once; its one output is first
    # touched (partition 4 x 1 // 4 through COL, then 1 x 1 // 1 through ROW: 1), so it is
    # updated once and never read back.
    assert rfu(cost, "RF", "input") == (1, 1, 0)
    assert rfu(cost, "RF", "output") == (0, 0, 1)
    assert cost.level("RF").tensor("output").distinct_words == 1
    # DRAM (1 pJ a word): 12 + 3 reads, 4 updates; 12 RFs x 5 accesses; 12 MACs.
    assert cost.energy_pj == 19 + 60 + 12


def test_diagonal_fanout_shares_across_the_fanout_above() -> None:
    # The same nest with ROW `diagonal`: COL and ROW form one multicast block, whose
    # children need inputs p + r: 4 + 3 - 1 = 6 distinct words (row-stationary diagonal
    # forwarding), as one 4 x 3 mesh would (test_diagonal_multicast_across_two_mesh_axes).
    # Weights and outputs do not change: 3 and 4.
    cost = run(CONV1D, _two_fanouts(True), level("COL", x=(("P", 4),)),
               level("ROW", y=(("R", 3),)))
    assert rfu(cost, "DRAM", "input") == (6, 0, 0)
    assert rfu(cost, "DRAM", "weight") == (3, 0, 0)
    assert rfu(cost, "DRAM", "output") == (0, 0, 4)
    assert rfu(cost, "RF", "output") == (0, 0, 1)
    assert cost.energy_pj == 13 + 60 + 12


def test_diagonal_joins_only_the_fanout_directly_above() -> None:
    # COL (P 4) > MID (2 wide, unused) > ROW (R 3, diagonal): ROW shares with MID, not with
    # COL, so the inputs are 4 x 3 = 12 DRAM reads, not 6. Half the PEs idle: 12 of 24.
    acc = accelerator(memory("DRAM"), fanout("COL", 4), fanout("MID", 2),
                      fanout("ROW", 1, 3, diagonal=True), memory("RF", 4))
    assert resolve_accelerator(acc).multicast_blocks == ((0,), (1, 2))
    cost = run(CONV1D, acc, level("COL", x=(("P", 4),)), level("ROW", y=(("R", 3),)))
    assert rfu(cost, "DRAM", "input") == (12, 0, 0)
    rf = cost.level("RF")
    assert (rf.instances, rf.utilized_instances) == (24, 12)


def test_eyeriss_style_columns_then_pes_on_a_vgg_layer() -> None:
    # VGG-16 conv3 (3x3, 256 -> 256 channels, 56 x 56) on DRAM > GLB (inputs, outputs) >
    # 14 columns > 12 PEs per column > RF, Q across the columns, S and K across a column's
    # PEs (Timeloop's Eyeriss row-stationary mapping shape):
    #   DRAM [K 64, C 64, P 4] > GLB [P 14, Q 4] > COL x [Q 14] > PE y [S 3, K 4] > RF [C 4, R 3]
    # Inputs (axis q + s) at the GLB: per fanout, the columns' tiles are 14 distinct
    # translations and a column's PEs hold 3 (K does not index inputs): 14 x 3 = 42 GLB
    # reads per word entering an RF. As one diagonal block: q + s takes 14 + 3 - 1 = 16
    # values: 16. Only the K multicast survives per fanout: 42 / 16 = 2.625x the reads
    # (issue 13's gap; exercise 06's published Timeloop output has the same shape and
    # agrees with the per-fanout rule: tests/interop/test_timeloop_outputs.py).
    problem = conv2d(1, 256, 256, 56, 56, 3, 3)
    mapping_levels = (level("DRAM", ("K", 64), ("C", 64), ("P", 4)),
                      level("GLB", ("P", 14), ("Q", 4)), level("COL", x=(("Q", 14),)),
                      level("PE", y=(("S", 3), ("K", 4))), level("RF", ("C", 4), ("R", 3)))
    costs = {}
    for diagonal in (False, True):
        acc = accelerator(memory("DRAM"), memory("GLB", 55296, holds=("input", "output")),
                          fanout("COL", 14), fanout("PE", 1, 12, diagonal=diagonal),
                          memory("RF", 256))
        costs[diagonal] = run(problem, acc, *mapping_levels)
    per_fanout, diagonal_block = costs[False], costs[True]
    entering = per_fanout.level("RF").tensor("input").fills_per_instance
    assert entering == diagonal_block.level("RF").tensor("input").fills_per_instance
    assert per_fanout.level("GLB").tensor("input").reads_per_instance == 42 * entering
    assert diagonal_block.level("GLB").tensor("input").reads_per_instance == 16 * entering
    # Weights bypass the GLB: one column's worth (Q does not index them), S x K = 12
    # distinct per column; outputs (q, k) are 14 x 4 = 56 distinct children. Both rules
    # agree on them.
    for name in ("weight", "output"):
        for lv in ("DRAM", "GLB", "RF"):
            if name in {t.name for t in per_fanout.level(lv).tensors}:
                assert rfu(per_fanout, lv, name) == rfu(diagonal_block, lv, name)
    weight_fills = per_fanout.level("RF").tensor("weight").fills_per_instance
    assert per_fanout.level("DRAM").tensor("weight").reads_per_instance == 12 * weight_fills


# ---- Leakage on the instances in use -------------------------------------------------------


def _half_used(gated: bool) -> AcceleratorSpec:
    # DRAM > GLB (0.125 pJ/cycle) > 4 PEs > RF (0.5 pJ/cycle), MACs leaking 0.25 pJ/cycle.
    return accelerator(memory("DRAM"), memory("GLB", 64, leak=0.125), fanout("PE", 4),
                       memory("RF", 8, leak=0.5, power_gated=gated), mac_leak=0.25,
                       mac_gated=gated)


def test_leakage_is_charged_on_the_instances_in_use() -> None:
    # O[1, 2] += A[1, 2] B[2, 2]: N across 2 of the 4 PEs, each RF loops K 2: 2 cycles.
    # Leakage per level = per cycle x cycles x utilised instances (Timeloop): GLB
    # 0.125 x 2 x 1 = 0.25; RF 0.5 x 2 x 2 = 2.0 (the two idle PEs are power gated); MACs
    # 0.25 x 2 x 2 = 1.0. Utilisation 4 MACs / (2 cycles x 4 units) = 0.5.
    problem = matmul(1, 2, 2)
    cost = run(problem, _half_used(True), level("PE", x=(("N", 2),)),
               level("RF", ("K", 2)))
    assert cost.cycles == 2 and cost.utilization == 0.5
    assert cost.level("GLB").leakage_energy_pj == 0.25
    assert (cost.level("RF").instances, cost.level("RF").utilized_instances) == (4, 2)
    assert cost.level("RF").leakage_energy_pj == 2.0
    assert cost.compute.leakage_energy_pj == 1.0
    # Not power gated (`power_gated = false`): every instance leaks, used or not: RF
    # 0.5 x 2 x 4 = 4.0, MACs 0.25 x 2 x 4 = 2.0; the GLB (one instance) is unchanged.
    ungated = run(problem, _half_used(False), level("PE", x=(("N", 2),)),
                  level("RF", ("K", 2)))
    assert ungated.level("RF").leakage_energy_pj == 4.0
    assert ungated.compute.leakage_energy_pj == 2.0
    assert ungated.level("GLB").leakage_energy_pj == 0.25
    assert ungated.energy_pj - cost.energy_pj == 2.0 + 1.0
