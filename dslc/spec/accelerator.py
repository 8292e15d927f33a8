"""Accelerator spec models: memory hierarchies, fanouts, dataflows, the compute unit.

An `AcceleratorSpec` is one concrete design: `hierarchy` lists memories and fanouts outermost
first (DRAM first), and `compute` is the MAC below the innermost level. A `FanoutSpec` splits
everything below it into mesh_x x mesh_y instances. Energies and areas left as None are
filled in from technology, size and width when the accelerator is resolved
(dslc.arch.resolve_accelerator). Quantities
are in base units named in the field (bits, pJ, Hz, um2, words per cycle).
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, model_validator

from dslc.spec.base import Point, Spec
from dslc.spec.constraints import MapConstraints
from dslc.spec.limits import (
    MAX_AREA_UM2,
    MAX_BANDWIDTH_WORDS,
    MAX_BUFFERING,
    MAX_CLOCK_HZ,
    MAX_ENERGY_PJ,
    MAX_INSTANCES,
    MAX_MEMORY_BITS,
    MAX_MESH_EXTENT,
    MAX_WORD_BITS,
    MIN_BANDWIDTH_WORDS,
    MIN_CLOCK_HZ,
)

Role = Literal["input", "weight", "output"]
ROLES: tuple[Role, ...] = ("input", "weight", "output")

DataflowPreset = Literal["weight_stationary", "output_stationary", "input_stationary",
                         "row_stationary", "free"]
DATAFLOW_PRESETS: tuple[DataflowPreset, ...] = get_args(DataflowPreset)


class MemorySpec(Spec):
    """A storage level: DRAM, a global buffer, a register file."""

    kind: Literal["memory"] = "memory"
    name: str
    """The level's name (unique in the accelerator)."""
    size_bits: int | None = Field(default=None, gt=0, le=MAX_MEMORY_BITS)
    """Capacity in bits; None is unbounded (DRAM)."""
    word_bits: int = Field(gt=0, le=MAX_WORD_BITS)
    """Bits per data word held here (the accelerator's word unless overridden)."""
    width_bits: int = Field(gt=0, le=MAX_MEMORY_BITS)
    """Bits moved per access; block = width / word words share one access's energy."""
    read_energy_pj: float | None = Field(default=None, ge=0, le=MAX_ENERGY_PJ)
    """Energy of one read access of a full block, in pJ; None is estimated."""
    write_energy_pj: float | None = Field(default=None, ge=0, le=MAX_ENERGY_PJ)
    """Energy of one write (fill) access of a full block, in pJ; None is estimated."""
    update_energy_pj: float | None = Field(default=None, ge=0, le=MAX_ENERGY_PJ)
    """Energy of one partial-sum update access; None uses the write energy."""
    leakage_pj_per_cycle: float | None = Field(default=None, ge=0, le=MAX_ENERGY_PJ)
    """Static energy per cycle per instance, in pJ; None is estimated."""
    read_bandwidth_words: float | None = Field(default=None, ge=MIN_BANDWIDTH_WORDS,
                                               le=MAX_BANDWIDTH_WORDS)
    """Words read per cycle per instance; None is unlimited."""
    write_bandwidth_words: float | None = Field(default=None, ge=MIN_BANDWIDTH_WORDS,
                                                le=MAX_BANDWIDTH_WORDS)
    """Words written (filled or updated) per cycle per instance; None is unlimited."""
    shared_bandwidth: bool = False
    """Whether reads and writes share one port (bandwidth counted on their sum)."""
    buffering: int = Field(default=1, ge=1, le=MAX_BUFFERING)
    """Multiple buffering: each kept tile occupies this many copies (2 = double buffered)."""
    area_um2: float | None = Field(default=None, ge=0, le=MAX_AREA_UM2)
    """Area of one instance in um^2; None is estimated."""
    holds: tuple[Role, ...] = ROLES
    """Tensor roles this level may keep; the others bypass it."""
    power_gated: bool = True
    """Whether idle instances are power gated: leakage is charged on the instances a mapping
    uses (Timeloop's rule); False charges every instance, used or not."""

    @property
    def block_words(self) -> int:
        return max(1, self.width_bits // self.word_bits)


class DataflowSpec(Spec):
    """Constraints on the spatial loops at a fanout."""

    preset: DataflowPreset | None = None
    """The preset it came from (weight_stationary, ...), or None when written explicitly."""
    x: tuple[str, ...] | None = None
    """Loop dims that may be unrolled across X (None: any)."""
    y: tuple[str, ...] | None = None
    """Loop dims that may be unrolled across Y (None: any)."""
    stationary: Role | None = None
    """The tensor kept stationary in the PEs, if the dataflow fixes one."""


class FanoutSpec(Spec):
    """A spatial fanout: the levels below it are replicated into an X x Y mesh."""

    kind: Literal["fanout"] = "fanout"
    name: str
    """The fanout's name (the mapping refers to its spatial loops by it)."""
    mesh_x: int = Field(gt=0, le=MAX_MESH_EXTENT)
    """Instances along X."""
    mesh_y: int = Field(default=1, gt=0, le=MAX_MESH_EXTENT)
    """Instances along Y."""
    dataflow: DataflowSpec = DataflowSpec(preset="free")
    """Which loops may be unrolled on X and Y."""
    diagonal: bool = False
    """Whether this fanout forwards data across the fanout directly above it (no memory
    between): their instances then share data as one multicast block, so data equal across
    the combined instances (diagonal input sharing) is read once. False (Timeloop's rule):
    multicast is resolved per fanout."""

    @property
    def instances(self) -> int:
        return self.mesh_x * self.mesh_y


class ComputeSpec(Spec):
    """The multiply-accumulate unit below the innermost level."""

    name: str
    """The unit's name."""
    energy_pj: float | None = Field(default=None, ge=0, le=MAX_ENERGY_PJ)
    """Energy of one MAC in pJ; None is estimated from the word size and technology."""
    word_bits: int = Field(gt=0, le=MAX_WORD_BITS)
    """Operand precision in bits."""
    area_um2: float | None = Field(default=None, ge=0, le=MAX_AREA_UM2)
    """Area of one MAC unit in um^2; None is estimated."""
    leakage_pj_per_cycle: float = Field(default=0.0, ge=0, le=MAX_ENERGY_PJ)
    """Static energy per cycle per MAC unit, in pJ."""
    power_gated: bool = True
    """Whether idle MAC units are power gated: leakage is charged on the units a mapping
    uses (Timeloop's rule); False charges every unit."""


class AcceleratorSpec(Spec):
    """One concrete accelerator (no free parameters)."""

    name: str
    """The accelerator's name."""
    word_bits: int = Field(gt=0, le=MAX_WORD_BITS)
    """Default word size in bits."""
    clock_hz: float = Field(ge=MIN_CLOCK_HZ, le=MAX_CLOCK_HZ)
    """Clock frequency in Hz (cycles to seconds)."""
    technology_nm: float = Field(default=45.0, ge=1, le=1000)
    """Process node in nm, used by the energy and area estimator."""
    hierarchy: tuple[MemorySpec | FanoutSpec, ...]
    """Memories and fanouts, outermost (DRAM) first."""
    compute: ComputeSpec
    """The MAC unit."""
    point: Point = ()
    """The parameter values this design was instantiated with (empty for a fixed design)."""
    constraints: MapConstraints = MapConstraints()
    """Map-space constraints every mapping on this accelerator obeys (its `constraints`
    block; empty: none)."""

    @model_validator(mode="after")
    def _instances_within_limit(self) -> AcceleratorSpec:
        if self.mac_units > MAX_INSTANCES:
            raise ValueError(f"{self.mac_units:,} compute instances, more than the limit of "
                             f"{MAX_INSTANCES:,}")
        return self

    @property
    def memories(self) -> tuple[MemorySpec, ...]:
        return tuple(level for level in self.hierarchy if isinstance(level, MemorySpec))

    @property
    def fanouts(self) -> tuple[FanoutSpec, ...]:
        return tuple(level for level in self.hierarchy if isinstance(level, FanoutSpec))

    @property
    def mac_units(self) -> int:
        total = 1
        for fanout in self.fanouts:
            total *= fanout.instances
        return total
