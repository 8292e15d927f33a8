"""The designs a co-design searches: every point of its network and accelerator spaces.

In: an elaborated `Program` and the space names a `CoDesignSpec` lists. Out: `Design`
values (space name, index in the space's mixed-radix order, the point as (param, value)
pairs, a digest of the instantiated spec that keys cached results), enumerated in a fixed
order or sampled with a seed, and their concrete specs. It does not evaluate anything
(dslc.codesign.evaluate) nor choose what to evaluate (dslc.codesign.planner).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dslc.sema.program import Program, instantiate_accelerator, instantiate_network
from dslc.spec.accelerator import AcceleratorSpec
from dslc.spec.base import ParamValue, Point
from dslc.spec.network import NetworkSpec


@dataclass(frozen=True, slots=True)
class Design:
    """One point of a network or accelerator space."""

    kind: str
    """`network` or `accelerator`."""
    space: str
    index: int
    """Position in the space's mixed-radix order (last parameter fastest)."""
    point: Point
    """(param, value) pairs sorted by name; empty for a fixed network or accelerator."""
    texts: tuple[str, ...] = ()
    """How each value of `point` is written in the source (`64KiB`), in the same order."""

    @property
    def label(self) -> str:
        """`name` or `name(p=v, ...)`: how reports name the design."""
        if not self.point:
            return self.space
        texts = self.texts or tuple(_text(v) for _, v in self.point)
        pairs = (f"{key}={text}" for (key, _), text in zip(self.point, texts, strict=True))
        return f"{self.space}({', '.join(pairs)})"

    def params(self) -> dict[str, ParamValue]:
        return dict(self.point)


def _text(value: ParamValue) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True, slots=True)
class DesignSpace:
    """Every design of one kind that a co-design request names, in a fixed order."""

    kind: str
    designs: tuple[Design, ...]

    def __len__(self) -> int:
        return len(self.designs)

    def sample(self, count: int, seed: int, exclude: Sequence[Design] = ()) -> tuple[Design, ...]:
        """`count` distinct designs drawn with `seed` (all of them when there are fewer),
        none of `exclude`, in space order."""
        excluded = set(exclude)
        pool = [d for d in self.designs if d not in excluded]
        if count >= len(pool):
            return tuple(pool)
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(len(pool), size=count, replace=False).tolist())
        return tuple(pool[i] for i in chosen)


def design_space(program: Program, kind: str, names: Sequence[str]) -> DesignSpace:
    """Every point of the named spaces (`kind` is network or accelerator), names in the
    request's order, points in mixed-radix order."""
    table = program.networks if kind == "network" else program.accelerators
    designs = []
    for name in names:
        entry = table[name]
        labels = {param.name: dict(zip(param.values, param.labels, strict=True))
                  for param in entry.params()}
        for index in range(entry.size):
            point = entry.point_spec(entry.point_at(index))
            texts = tuple(labels[key].get(value, _text(value)) for key, value in point)
            designs.append(Design(kind, name, index, point, texts))
    return DesignSpace(kind, tuple(designs))


@dataclass(slots=True)
class Instances:
    """Concrete specs of designs, built once each (instantiation elaborates the source)."""

    program: Program
    networks: dict[Design, NetworkSpec] = field(default_factory=dict)
    accelerators: dict[Design, AcceleratorSpec] = field(default_factory=dict)

    def network(self, design: Design) -> NetworkSpec:
        found = self.networks.get(design)
        if found is None:
            found = self.networks[design] = instantiate_network(self.program, design.space,
                                                                design.point)
        return found

    def accelerator(self, design: Design) -> AcceleratorSpec:
        found = self.accelerators.get(design)
        if found is None:
            found = self.accelerators[design] = instantiate_accelerator(
                self.program, design.space, design.point)
        return found


def spec_digest(spec: NetworkSpec | AcceleratorSpec, extra: str = "") -> str:
    """A digest of everything about a concrete spec that can change its results."""
    return hashlib.sha256((spec.model_dump_json() + extra).encode()).hexdigest()[:20]
