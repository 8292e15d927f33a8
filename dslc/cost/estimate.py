"""Energy and area estimator, and the resolved architecture IR (`ArchModel`) of the cost model.

In: an `AcceleratorSpec` whose memories and MAC may leave energies, leakage or area as None.
Out: `resolve_energies(accelerator) -> ArchModel`, the same accelerator with every figure the
cost model needs filled in: per memory level its instances, the fanouts directly below it,
capacity and block size in words, read/write/update energy per block access, leakage per
cycle, bandwidth, buffering, area and the roles it may hold; and the MAC's energy and area.
Figures given in the spec always win; the tables below only fill gaps, and `estimated` on
each level records which figures were filled in.

It does not count accesses or apply a mapping (dslc.cost.model does), and it is a first-order
model in the spirit of Accelergy's table plug-ins, not a circuit simulator.

Tables and their sources (also in docs/design/cost-model.md):

- SRAM read energy per 64-bit access at 45 nm, 0.9 V: 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ
  (M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014).
  Between the points: log-log interpolation (exact at the three points). Below 8 KB:
  energy ~ sqrt(size), the CACTI-like bitline/wordline-length law, which also fits the first
  two points exactly (4x the size, 2x the energy). Above 1 MB: the slope of the last segment.
  Per access of `width_bits`: linear in the bits moved. Writes and updates are charged like
  reads (Horowitz gives reads only).
- DRAM: 1.3-2.6 nJ per 64-bit access (Horowitz, ISSCC 2014); we use the midpoint, 1.95 nJ per
  64 bits, i.e. 30.47 pJ/bit, for a memory without a size (unbounded = off-chip DRAM). DRAM
  energy is not scaled with the logic technology node.
- Integer multiply / add at 45 nm: 8-bit 0.2 / 0.03 pJ, 32-bit 3.1 / 0.1 pJ (Horowitz, ISSCC
  2014). A MAC of b bits = multiply + add of b bits; power law through the 8- and 32-bit points.
- Integer multiply / add area at 45 nm: 8-bit 282 / 36 um^2, 32-bit 3495 / 137 um^2 (the area
  column of Horowitz's ISSCC 2014 cost table, as reproduced in Han et al., "EIE", ISCA 2016);
  same power-law fit.
- SRAM area: 0.346 um^2 per 6T bit cell at 45 nm (Intel 45 nm, Bhattacharya et al., Intel
  Technology Journal 12(2), 2008), divided by an assumed 50% array efficiency (periphery,
  sense amplifiers, decoders) = 0.692 um^2 per bit. DRAM has no on-chip area.
- SRAM leakage: 12 uA per Mb at 0.5 V (Wang et al., a 1 Mb SRAM in Intel 65 nm ULP
  technology, JSSC 2008), i.e. 5.72 pW per bit; per cycle = power / clock. A low-leakage
  retention figure: treat leakage as a lower bound. Not node-scaled.
- Technology scaling from 45 nm: dynamic energy x (node / 45), area x (node / 45)^2 (first
  order: capacitance scales with feature size at roughly constant supply voltage after 45 nm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dslc.spec.accelerator import (
    AcceleratorSpec,
    DataflowSpec,
    FanoutSpec,
    MemorySpec,
    Role,
)

REFERENCE_NODE_NM = 45.0
"""The node of the Horowitz tables; other nodes are scaled from it."""

SRAM_READ_PJ_PER_64_BITS: tuple[tuple[float, float], ...] = (
    (8 * 1024 * 8, 10.0),
    (32 * 1024 * 8, 20.0),
    (1024 * 1024 * 8, 100.0),
)
"""(capacity in bits, pJ per 64-bit read) at 45 nm: Horowitz, ISSCC 2014."""

SRAM_SMALL_SIZE_EXPONENT = 0.5
"""Energy ~ size^0.5 below the smallest table point (CACTI-like wire-length law)."""

DRAM_PJ_PER_BIT = 1950.0 / 64
"""Midpoint of Horowitz's 1.3-2.6 nJ per 64-bit DRAM access, per bit."""

INT_MULTIPLY_PJ: tuple[tuple[float, float], ...] = ((8, 0.2), (32, 3.1))
INT_ADD_PJ: tuple[tuple[float, float], ...] = ((8, 0.03), (32, 0.1))
"""(operand bits, pJ) at 45 nm: Horowitz, ISSCC 2014."""

INT_MULTIPLY_AREA_UM2: tuple[tuple[float, float], ...] = ((8, 282.0), (32, 3495.0))
INT_ADD_AREA_UM2: tuple[tuple[float, float], ...] = ((8, 36.0), (32, 137.0))
"""(operand bits, um^2) at 45 nm: Horowitz's ISSCC 2014 area column (via Han et al. 2016)."""

SRAM_CELL_UM2 = 0.346
"""6T SRAM bit cell at Intel 45 nm (Intel Technology Journal 12(2), 2008)."""

SRAM_ARRAY_EFFICIENCY = 0.5
"""Assumed fraction of an SRAM macro's area that is bit cells."""

SRAM_LEAKAGE_W_PER_BIT = 0.5 * 12e-6 / (1 << 20)
"""12 uA/Mb at 0.5 V (Wang et al., JSSC 2008, 65 nm ULP 1 Mb SRAM), in watts per bit."""


@dataclass(frozen=True, slots=True)
class FanoutModel:
    """A spatial fanout: an X x Y mesh replicating everything below it."""

    name: str
    mesh_x: int
    mesh_y: int
    dataflow: DataflowSpec
    owner: int
    """Index of the memory level directly above (whose mapping entry holds its loops)."""

    @property
    def instances(self) -> int:
        return self.mesh_x * self.mesh_y


@dataclass(frozen=True, slots=True)
class LevelModel:
    """One memory level with every figure resolved. Energies are per access of one block."""

    name: str
    index: int
    instances: int
    """Instances of this level: the product of the meshes of every fanout above it."""
    fanouts: tuple[FanoutModel, ...]
    """Fanouts directly below this level (before the next memory or the MAC)."""
    size_words: int | None
    """Capacity in words; None is unbounded."""
    word_bits: int
    width_bits: int
    block_words: int
    read_energy_pj: float
    write_energy_pj: float
    update_energy_pj: float
    leakage_pj_per_cycle: float
    read_bandwidth_words: float | None
    write_bandwidth_words: float | None
    shared_bandwidth: bool
    buffering: int
    area_um2: float
    """Area of one instance."""
    holds: tuple[Role, ...]
    off_chip: bool
    """Unbounded (no size): treated as DRAM by the estimator."""
    estimated: tuple[str, ...] = ()
    """The figures that came from the estimator rather than the spec."""

    @property
    def fanout_instances(self) -> int:
        return math.prod(f.instances for f in self.fanouts)


@dataclass(frozen=True, slots=True)
class ComputeModel:
    """The MAC units below the innermost level."""

    name: str
    instances: int
    word_bits: int
    energy_pj: float
    area_um2: float
    leakage_pj_per_cycle: float
    estimated: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArchModel:
    """An accelerator with every figure the cost model needs (memory levels outermost first)."""

    name: str
    clock_hz: float
    technology_nm: float
    levels: tuple[LevelModel, ...]
    compute: ComputeModel
    spec: AcceleratorSpec = field(compare=False, repr=False)

    @property
    def fanouts(self) -> tuple[FanoutModel, ...]:
        return tuple(f for level in self.levels for f in level.fanouts)

    def level(self, name: str) -> LevelModel:
        for level in self.levels:
            if level.name == name:
                return level
        raise KeyError(name)


def _loglog(points: tuple[tuple[float, float], ...], x: float,
            small_exponent: float | None = None) -> float:
    """Piecewise power-law interpolation through `points` (sorted by x).

    Below the first point the exponent is `small_exponent` (or the first segment's); above the
    last point, the last segment's."""
    if x <= 0:
        return 0.0
    if len(points) == 1:
        return points[0][1]

    def exponent(i: int) -> float:
        (x0, y0), (x1, y1) = points[i], points[i + 1]
        return math.log(y1 / y0) / math.log(x1 / x0)

    if x <= points[0][0]:
        k = small_exponent if small_exponent is not None else exponent(0)
        return float(points[0][1] * (x / points[0][0]) ** k)
    for i in range(len(points) - 1):
        if x <= points[i + 1][0]:
            return float(points[i][1] * (x / points[i][0]) ** exponent(i))
    last = len(points) - 2
    return float(points[-1][1] * (x / points[-1][0]) ** exponent(last))


def sram_access_energy_pj(size_bits: int, width_bits: int, technology_nm: float) -> float:
    """Energy of one access of `width_bits` to an SRAM of `size_bits` (read, write or update)."""
    per_64 = _loglog(SRAM_READ_PJ_PER_64_BITS, float(size_bits), SRAM_SMALL_SIZE_EXPONENT)
    return per_64 * width_bits / 64 * technology_nm / REFERENCE_NODE_NM


def dram_access_energy_pj(width_bits: int) -> float:
    """Energy of one DRAM access of `width_bits` (off-chip: not node-scaled)."""
    return DRAM_PJ_PER_BIT * width_bits


def mac_energy_pj(word_bits: int, technology_nm: float) -> float:
    """Integer multiply plus add of `word_bits`-bit operands."""
    dynamic = _loglog(INT_MULTIPLY_PJ, word_bits) + _loglog(INT_ADD_PJ, word_bits)
    return dynamic * technology_nm / REFERENCE_NODE_NM


def mac_area_um2(word_bits: int, technology_nm: float) -> float:
    """Area of an integer multiplier plus adder of `word_bits` bits."""
    area = _loglog(INT_MULTIPLY_AREA_UM2, word_bits) + _loglog(INT_ADD_AREA_UM2, word_bits)
    return area * (technology_nm / REFERENCE_NODE_NM) ** 2


def sram_area_um2(size_bits: int, technology_nm: float) -> float:
    return size_bits * SRAM_CELL_UM2 / SRAM_ARRAY_EFFICIENCY * \
        (technology_nm / REFERENCE_NODE_NM) ** 2


def sram_leakage_pj_per_cycle(size_bits: int, clock_hz: float) -> float:
    return SRAM_LEAKAGE_W_PER_BIT * size_bits / clock_hz * 1e12


def _memory_model(memory: MemorySpec, index: int, instances: int,
                  fanouts: tuple[FanoutModel, ...], accelerator: AcceleratorSpec) -> LevelModel:
    estimated: list[str] = []
    node = accelerator.technology_nm
    off_chip = memory.size_bits is None
    if off_chip:
        access_pj = dram_access_energy_pj(memory.width_bits)
    else:
        assert memory.size_bits is not None
        access_pj = sram_access_energy_pj(memory.size_bits, memory.width_bits, node)
    read_pj = memory.read_energy_pj
    if read_pj is None:
        read_pj = access_pj
        estimated.append("read_energy_pj")
    write_pj = memory.write_energy_pj
    if write_pj is None:
        write_pj = access_pj
        estimated.append("write_energy_pj")
    # An unspecified update costs a write (Timeloop's ERT falls back the same way).
    update_pj = memory.update_energy_pj if memory.update_energy_pj is not None else write_pj
    leakage = memory.leakage_pj_per_cycle
    if leakage is None:
        leakage = 0.0 if memory.size_bits is None else \
            sram_leakage_pj_per_cycle(memory.size_bits, accelerator.clock_hz)
        estimated.append("leakage_pj_per_cycle")
    area = memory.area_um2
    if area is None:
        area = 0.0 if memory.size_bits is None else sram_area_um2(memory.size_bits, node)
        estimated.append("area_um2")
    return LevelModel(
        name=memory.name, index=index, instances=instances, fanouts=fanouts,
        size_words=None if memory.size_bits is None else memory.size_bits // memory.word_bits,
        word_bits=memory.word_bits, width_bits=memory.width_bits,
        block_words=memory.block_words, read_energy_pj=read_pj, write_energy_pj=write_pj,
        update_energy_pj=update_pj, leakage_pj_per_cycle=leakage,
        read_bandwidth_words=memory.read_bandwidth_words,
        write_bandwidth_words=memory.write_bandwidth_words,
        shared_bandwidth=memory.shared_bandwidth, buffering=memory.buffering, area_um2=area,
        holds=memory.holds, off_chip=off_chip, estimated=tuple(estimated))


def resolve_energies(accelerator: AcceleratorSpec) -> ArchModel:
    """The accelerator with every energy, leakage and area figure filled in.

    Raises ValueError when the hierarchy has no memory or a fanout above the first memory
    (there would be no level to hold its spatial loops)."""
    memories: list[tuple[int, MemorySpec]] = []
    below: dict[int, list[FanoutSpec]] = {}
    instances_above: list[int] = []
    replicated = 1
    for component in accelerator.hierarchy:
        if isinstance(component, MemorySpec):
            memories.append((len(memories), component))
            instances_above.append(replicated)
            below[len(memories) - 1] = []
        else:
            if not memories:
                raise ValueError(f"fanout `{component.name}` stands above every memory; a "
                                 "fanout needs a memory above it to distribute from")
            below[len(memories) - 1].append(component)
            replicated *= component.instances
    if not memories:
        raise ValueError(f"accelerator `{accelerator.name}` has no memory level")
    levels = []
    for index, memory in memories:
        fanouts = tuple(FanoutModel(f.name, f.mesh_x, f.mesh_y, f.dataflow, index)
                        for f in below[index])
        levels.append(_memory_model(memory, index, instances_above[index], fanouts,
                                    accelerator))
    spec = accelerator.compute
    estimated: list[str] = []
    energy = spec.energy_pj
    if energy is None:
        energy = mac_energy_pj(spec.word_bits, accelerator.technology_nm)
        estimated.append("energy_pj")
    area = spec.area_um2
    if area is None:
        area = mac_area_um2(spec.word_bits, accelerator.technology_nm)
        estimated.append("area_um2")
    compute = ComputeModel(spec.name, replicated, spec.word_bits, energy, area,
                           spec.leakage_pj_per_cycle, tuple(estimated))
    return ArchModel(accelerator.name, accelerator.clock_hz, accelerator.technology_nm,
                     tuple(levels), compute, accelerator)
