"""Resolving an accelerator spec: `resolve_accelerator(spec) -> ArchModel`.

In: an `AcceleratorSpec` whose memories and MAC may leave energies, leakage or area as None.
Out: the `ArchModel`, the same accelerator with every figure the cost model needs filled in:
per memory level its instances, the fanouts directly below it (with their `diagonal`
multicast flag), capacity and block size in words, read/write/update energy per block access,
leakage per cycle and whether idle instances are power gated, bandwidth, buffering, area and
the roles it may hold; and the MAC's energy, area, leakage and power gating. Figures given
in the spec always win; the estimator tables (dslc.arch.estimate) only fill gaps, and
`estimated` on each level records which figures were filled in.

Resolve once per accelerator and pass the model on: the mapping IR, the cost model and the
mapper take only the `ArchModel`. It does not check a spec beyond what the walk needs
(dslc.sema.accelerator diagnoses spec mistakes), count accesses nor apply a mapping.
"""

from __future__ import annotations

from dslc.arch.estimate import (
    dram_access_energy_pj,
    mac_area_um2,
    mac_energy_pj,
    sram_access_energy_pj,
    sram_area_um2,
    sram_leakage_pj_per_cycle,
)
from dslc.arch.model import ArchModel, ComputeModel, FanoutModel, LevelModel
from dslc.spec.accelerator import AcceleratorSpec, FanoutSpec, MemorySpec


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
        holds=memory.holds, off_chip=off_chip, estimated=tuple(estimated),
        power_gated=memory.power_gated)


def resolve_accelerator(accelerator: AcceleratorSpec) -> ArchModel:
    """The accelerator with every energy, leakage, area and capacity figure filled in.

    Raises ValueError when the hierarchy has no memory, a fanout above the first memory
    (there would be no level to hold its spatial loops) or a `diagonal` fanout directly
    below a memory (there is no fanout above it to share with)."""
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
            if component.diagonal and not below[len(memories) - 1]:
                raise ValueError(f"fanout `{component.name}` is diagonal but stands directly "
                                 "below a memory; diagonal sharing joins the fanout above it")
            below[len(memories) - 1].append(component)
            replicated *= component.instances
    if not memories:
        raise ValueError(f"accelerator `{accelerator.name}` has no memory level")
    levels = []
    for index, memory in memories:
        fanouts = tuple(FanoutModel(f.name, f.mesh_x, f.mesh_y, f.dataflow, index,
                                    f.diagonal) for f in below[index])
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
                           spec.leakage_pj_per_cycle, tuple(estimated), spec.power_gated)
    return ArchModel(accelerator.name, accelerator.clock_hz, accelerator.technology_nm,
                     tuple(levels), compute, accelerator)
