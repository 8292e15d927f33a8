"""The resolved accelerator's value types: what the mapping IR, the cost model and the
mapper read about an accelerator.

In: nothing (dslc.arch.resolve builds these from an `AcceleratorSpec`). Out: `ArchModel`,
its memory levels (`LevelModel`, outermost first), the fanouts below each level
(`FanoutModel`) and the MAC units (`ComputeModel`), with every energy, leakage, area and
capacity a number: nothing here is optional or estimated later. Frozen and slotted: one
value is shared by every search and evaluation on the accelerator, and `ArchModel.key`
identifies it for caches.

It does not estimate figures (dslc.arch.estimate) nor walk a spec (dslc.arch.resolve).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from dslc.spec.accelerator import AcceleratorSpec, DataflowSpec, Role


@dataclass(frozen=True, slots=True)
class FanoutModel:
    """A spatial fanout: an X x Y mesh replicating everything below it."""

    name: str
    mesh_x: int
    mesh_y: int
    dataflow: DataflowSpec
    owner: int
    """Index of the memory level directly above (whose mapping entry holds its loops)."""
    diagonal: bool = False
    """Resolves multicast together with the fanout directly above it (same owner): data equal
    across their combined instances is read once. False: its own multicast block (Timeloop)."""

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
    power_gated: bool = True
    """Idle instances are power gated: leakage is charged on the instances a mapping uses
    (Timeloop); False charges all `instances`."""

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
    power_gated: bool = True
    """Idle MAC units are power gated: leakage is charged on the units a mapping uses
    (Timeloop); False charges all `instances`."""


@dataclass(frozen=True, slots=True)
class ArchModel:
    """An accelerator with every figure the cost model needs (memory levels outermost first)."""

    name: str
    clock_hz: float
    technology_nm: float
    levels: tuple[LevelModel, ...]
    compute: ComputeModel
    spec: AcceleratorSpec = field(compare=False, repr=False)
    """The spec it was resolved from (provenance; the cost model and mapper never read it)."""
    key: str = field(init=False, compare=False, repr=False)
    """A digest of every field above but `spec`: of everything that can change a cost
    (the name too: a cost names its accelerator). Equal models have equal keys; the
    mapper's caches key on it. Computed once, on construction (so a `dataclasses.replace`
    copy gets its own)."""

    def __post_init__(self) -> None:
        # repr is exact for every field (floats round-trip) and stable within a version.
        figures = repr((self.name, self.clock_hz, self.technology_nm, self.levels,
                        self.compute))
        object.__setattr__(self, "key", hashlib.sha256(figures.encode()).hexdigest()[:16])

    @property
    def fanouts(self) -> tuple[FanoutModel, ...]:
        return tuple(f for level in self.levels for f in level.fanouts)

    @property
    def multicast_blocks(self) -> tuple[tuple[int, ...], ...]:
        """The fanouts (indices into `fanouts`, hierarchy order) grouped into multicast
        blocks, outermost first: each fanout is its own block (Timeloop resolves multicast
        per spatial level) unless it is `diagonal`, which joins the block of the fanout
        directly above it. A block's fanouts share one owner."""
        blocks: list[list[int]] = []
        for index, fanout in enumerate(self.fanouts):
            if fanout.diagonal and blocks and \
                    self.fanouts[blocks[-1][-1]].owner == fanout.owner:
                blocks[-1].append(index)
            else:
                blocks.append([index])
        return tuple(tuple(block) for block in blocks)

    @property
    def area_mm2(self) -> float:
        """Every level instance and MAC unit, summed in the cost model's order (so that the
        figure equals a `Cost.area_mm2` of this accelerator exactly)."""
        area_um2 = sum(level.area_um2 * level.instances for level in self.levels) + \
            self.compute.area_um2 * self.compute.instances
        return area_um2 / 1e6

    @property
    def hierarchy(self) -> tuple[LevelModel | FanoutModel, ...]:
        """Memories and fanouts in the spec's order: each level, then its fanouts."""
        components: list[LevelModel | FanoutModel] = []
        for level in self.levels:
            components.append(level)
            components.extend(level.fanouts)
        return tuple(components)

    def level(self, name: str) -> LevelModel:
        for level in self.levels:
            if level.name == name:
                return level
        raise KeyError(name)
