"""The `Cost` of one mapping.

In: built by dslc.cost.model (per level and tensor access counts, energies, cycles, area).
Out: `Cost` (slotted frozen dataclasses); its JSON form is `dslc.export.cost_to_json`.

Energy conservation is exact: every energy part is rounded to a multiple of
ENERGY_QUANTUM_PJ (2^-10 pJ, about 1 fJ), so sums of parts are exact in binary floating point
in any order (up to ~8 J), and each total here is the sum of its parts. This module does no
counting and no formatting (dslc.export and dslc.report do).
"""

from __future__ import annotations

from dataclasses import dataclass

ENERGY_QUANTUM_PJ = 2.0 ** -10
"""Energies are multiples of this (pJ): sums of parts are then exact in float64."""


def quantize_pj(energy_pj: float) -> float:
    """Round an energy to the quantum (round half to even, like numpy's `round`)."""
    return round(energy_pj / ENERGY_QUANTUM_PJ) * ENERGY_QUANTUM_PJ


@dataclass(frozen=True, slots=True)
class TensorCost:
    """One tensor at one level: counts per instance and in total (x utilised instances)."""

    name: str
    reads_per_instance: int
    fills_per_instance: int
    updates_per_instance: int
    reads: int
    fills: int
    updates: int
    tile_words: int
    """Words of this tensor's tile at this level (per instance, one copy)."""
    distinct_words: int
    """Distinct elements one instance ever holds (partition size; first touches of outputs)."""
    energy_pj: float
    """Access energy of this tensor at this level, all utilised instances."""


@dataclass(frozen=True, slots=True)
class LevelCost:
    """One memory level."""

    name: str
    instances: int
    utilized_instances: int
    tensors: tuple[TensorCost, ...]
    """Kept tensors, in problem order."""
    access_energy_pj: float
    leakage_energy_pj: float
    energy_pj: float
    """access + leakage."""
    cycles: int
    """Cycles this level's traffic needs at its bandwidth (0 when unlimited)."""
    capacity_words: int | None
    used_words: int
    """Words its kept tiles occupy per instance, multiple buffering included."""
    area_um2: float
    """All instances."""

    def tensor(self, name: str) -> TensorCost:
        for tensor in self.tensors:
            if tensor.name == name:
                return tensor
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class ComputeCost:
    """The MAC units."""

    name: str
    instances: int
    utilized_instances: int
    macs: int
    energy_per_mac_pj: float
    mac_energy_pj: float
    leakage_energy_pj: float
    energy_pj: float
    """mac + leakage."""
    area_um2: float


@dataclass(frozen=True, slots=True)
class Cost:
    """Energy, cycles, utilisation and area of one mapping of one layer on one accelerator."""

    layer: str
    accelerator: str
    macs: int
    compute_cycles: int
    """Cycles if only the MACs limited: the product of every temporal factor."""
    cycles: int
    """max(compute_cycles, every level's bandwidth-bound cycles)."""
    clock_hz: float
    utilization: float
    """MACs / (cycles x MAC units)."""
    energy_pj: float
    levels: tuple[LevelCost, ...]
    compute: ComputeCost
    area_mm2: float

    @property
    def latency_s(self) -> float:
        return self.cycles / self.clock_hz

    def level(self, name: str) -> LevelCost:
        for level in self.levels:
            if level.name == name:
                return level
        raise KeyError(name)
