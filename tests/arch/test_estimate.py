"""The resolved accelerator (dslc.arch): the estimator reproduces its published table points
exactly; resolution fills gaps and keeps given figures, scales with the technology node,
and gives each model a key that changes exactly when a figure does."""

from __future__ import annotations

import dataclasses
import math

import pytest

from dslc.arch import resolve_accelerator
from dslc.arch.estimate import (
    dram_access_energy_pj,
    mac_area_um2,
    mac_energy_pj,
    sram_access_energy_pj,
    sram_area_um2,
)
from dslc.spec.accelerator import AcceleratorSpec, ComputeSpec, FanoutSpec, MemorySpec

KIB_BITS = 1024 * 8


def test_sram_energy_through_horowitz_points() -> None:
    # Horowitz, ISSCC 2014, 45 nm: 64-bit reads from 8 KB / 32 KB / 1 MB: 10 / 20 / 100 pJ.
    assert sram_access_energy_pj(8 * KIB_BITS, 64, 45) == pytest.approx(10.0)
    assert sram_access_energy_pj(32 * KIB_BITS, 64, 45) == pytest.approx(20.0)
    assert sram_access_energy_pj(1024 * KIB_BITS, 64, 45) == pytest.approx(100.0)
    # Below 8 KB, sqrt(size): 2 KB is a quarter of 8 KB, so half the energy.
    assert sram_access_energy_pj(2 * KIB_BITS, 64, 45) == pytest.approx(5.0)
    # Linear in the bits moved, and in the node.
    assert sram_access_energy_pj(8 * KIB_BITS, 16, 45) == pytest.approx(2.5)
    assert sram_access_energy_pj(8 * KIB_BITS, 64, 22.5) == pytest.approx(5.0)
    # Monotonic between the points.
    sizes = [2 ** k for k in range(8, 26)]
    energies = [sram_access_energy_pj(s, 64, 45) for s in sizes]
    assert energies == sorted(energies)


def test_dram_and_mac_tables() -> None:
    assert dram_access_energy_pj(64) == pytest.approx(1950.0)  # midpoint of 1.3-2.6 nJ
    # Integer MAC = multiply + add; 8-bit 0.2 + 0.03, 32-bit 3.1 + 0.1 (Horowitz).
    assert mac_energy_pj(8, 45) == pytest.approx(0.23)
    assert mac_energy_pj(32, 45) == pytest.approx(3.2)
    assert 0.23 < mac_energy_pj(16, 45) < 3.2
    assert mac_area_um2(8, 45) == pytest.approx(282 + 36)
    assert mac_area_um2(32, 45) == pytest.approx(3495 + 137)
    assert mac_area_um2(8, 90) == pytest.approx(4 * (282 + 36))
    # 0.346 um^2 cells at 50% array efficiency.
    assert sram_area_um2(1000, 45) == pytest.approx(692.0)


def test_resolve_fills_gaps_and_keeps_given_figures() -> None:
    acc = AcceleratorSpec(
        name="a", word_bits=16, clock_hz=2e8, technology_nm=45,
        hierarchy=(
            MemorySpec(name="DRAM", word_bits=16, width_bits=64, read_energy_pj=200.0,
                       write_energy_pj=200.0),
            MemorySpec(name="GLB", size_bits=108 * KIB_BITS, word_bits=16, width_bits=64),
            FanoutSpec(name="PE", mesh_x=14, mesh_y=12),
            MemorySpec(name="RF", size_bits=12 * 16, word_bits=16, width_bits=16,
                       update_energy_pj=0.5, area_um2=100.0),
        ),
        compute=ComputeSpec(name="MAC", word_bits=16, energy_pj=1.0))
    arch = resolve_accelerator(acc)
    dram, glb, rf = arch.levels
    assert (dram.read_energy_pj, dram.write_energy_pj, dram.update_energy_pj) == (200, 200, 200)
    assert dram.area_um2 == 0.0 and dram.off_chip and dram.size_words is None
    assert glb.read_energy_pj == pytest.approx(
        20.0 * (108 / 32) ** (math.log(5) / math.log(32)))
    assert glb.estimated == ("read_energy_pj", "write_energy_pj", "leakage_pj_per_cycle",
                             "area_um2")
    assert (glb.instances, glb.block_words, glb.size_words) == (1, 4, 108 * 512)
    assert [f.name for f in glb.fanouts] == ["PE"] and glb.fanouts[0].owner == 1
    assert (rf.instances, rf.update_energy_pj, rf.area_um2) == (168, 0.5, 100.0)
    assert rf.write_energy_pj == rf.read_energy_pj  # estimated, writes cost reads
    assert (arch.compute.instances, arch.compute.energy_pj) == (168, 1.0)
    assert arch.compute.estimated == ("area_um2",)


def test_fanout_above_every_memory_is_rejected() -> None:
    acc = AcceleratorSpec(name="a", word_bits=16, clock_hz=1e9,
                          hierarchy=(FanoutSpec(name="PE", mesh_x=2),
                                     MemorySpec(name="RF", word_bits=16, width_bits=16)),
                          compute=ComputeSpec(name="MAC", word_bits=16))
    with pytest.raises(ValueError, match="above every memory"):
        resolve_accelerator(acc)


def _two_levels(rf_read_pj: float = 1.0, word_bits: int = 16) -> AcceleratorSpec:
    return AcceleratorSpec(
        name="a", word_bits=word_bits, clock_hz=1e9,
        hierarchy=(MemorySpec(name="DRAM", word_bits=16, width_bits=64),
                   FanoutSpec(name="PE", mesh_x=4, mesh_y=2),
                   MemorySpec(name="RF", size_bits=64 * 16, word_bits=16, width_bits=16,
                              read_energy_pj=rf_read_pj)),
        compute=ComputeSpec(name="MAC", word_bits=16))


def test_hierarchy_lists_each_level_then_its_fanouts() -> None:
    arch = resolve_accelerator(_two_levels())
    assert [c.name for c in arch.hierarchy] == [c.name for c in arch.spec.hierarchy] == \
        ["DRAM", "PE", "RF"]
    assert [f.name for f in arch.fanouts] == ["PE"] and arch.fanouts[0].owner == 0
    # 4 x 2 PEs: eight RFs and eight MAC units.
    assert (arch.level("RF").instances, arch.compute.instances) == (8, 8)


def test_key_changes_exactly_when_a_figure_does() -> None:
    arch = resolve_accelerator(_two_levels())
    assert len(arch.key) == 16
    assert resolve_accelerator(_two_levels()).key == arch.key
    # A different RF read energy is a different cost.
    assert resolve_accelerator(_two_levels(rf_read_pj=2.0)).key != arch.key
    # The accelerator-wide word is not read once every memory and the MAC give their own:
    # the same figures, the same key.
    same = resolve_accelerator(_two_levels(word_bits=8))
    assert same == arch and same.key == arch.key
    # A copy with a changed figure gets its own key (computed on construction).
    faster = dataclasses.replace(arch, clock_hz=2e9)
    assert faster.key != arch.key
    assert dataclasses.replace(faster, clock_hz=1e9).key == arch.key
