"""The designs a co-design searches: every point of its network and accelerator spaces.

In: the `DesignSpace`s (dslc.space) a `CoDesignSpec` names. Out: `Design` values (space
name, index in the space's mixed-radix order, the point as (param, value) pairs, how each
value is written), gathered per kind into `Designs` in a fixed order or sampled with a seed;
`Instances` builds each design's concrete spec once. It does not evaluate anything
(dslc.codesign.evaluate) nor choose what to evaluate (dslc.codesign.planner).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from dslc.space import DesignSpace, S, SpaceKind, value_text
from dslc.spec.accelerator import AcceleratorSpec
from dslc.spec.base import ParamValue, Point
from dslc.spec.network import NetworkSpec


@dataclass(frozen=True, slots=True)
class Design:
    """One point of a network or accelerator space."""

    kind: SpaceKind
    """`network` or `accelerator`."""
    space: str
    index: int
    """Position in the space's mixed-radix order (last parameter fastest)."""
    point: Point
    """(param, value) pairs sorted by name; empty for a fixed network or accelerator."""
    texts: tuple[str, ...] = ()
    """How each value of `point` is written in the source (`64KiB`), in the same order."""
    dimensions: tuple[str, ...] = field(default=(), compare=False)
    """Each value's dimension (`size`: in bits; empty for plain numbers and symbols), in the
    same order; it follows from the space, so it takes no part in equality."""

    @property
    def label(self) -> str:
        """`name` or `name(p=v, ...)`: how reports name the design."""
        if not self.point:
            return self.space
        texts = self.texts or tuple(value_text(v) for _, v in self.point)
        pairs = (f"{key}={text}" for (key, _), text in zip(self.point, texts, strict=True))
        return f"{self.space}({', '.join(pairs)})"

    def params(self) -> dict[str, ParamValue]:
        return dict(self.point)

    def dimension(self, name: str) -> str:
        """The dimension of parameter `name` (empty when plain or unknown)."""
        found = dict(zip((key for key, _ in self.point), self.dimensions, strict=False))
        return found.get(name, "")


@dataclass(frozen=True, slots=True)
class Designs:
    """Every design of one kind that a co-design request names, in a fixed order."""

    kind: SpaceKind
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


def designs_of(spaces: Sequence[DesignSpace[NetworkSpec]] | Sequence[DesignSpace[AcceleratorSpec]],
               kind: SpaceKind) -> Designs:
    """Every point of the spaces, spaces in the given (the request's) order, points in
    mixed-radix order."""
    found = []
    for space in spaces:
        for index, point in enumerate(space.points()):
            found.append(Design(kind, space.name, index, point, space.texts_at(index),
                                space.dimensions(point)))
    return Designs(kind, tuple(found))


@dataclass(slots=True)
class Instances:
    """Concrete specs of designs, built once each (building evaluates the declaration), by
    the design's index in its space: a point's values are never matched against the
    domains again (values within `DesignSpace.resolve`'s tolerance of each other would
    build one design for both, and each match scans the domain)."""

    networks: Mapping[str, DesignSpace[NetworkSpec]]
    accelerators: Mapping[str, DesignSpace[AcceleratorSpec]]
    built_networks: dict[Design, NetworkSpec] = field(default_factory=dict)
    built_accelerators: dict[Design, AcceleratorSpec] = field(default_factory=dict)

    def network(self, design: Design) -> NetworkSpec:
        found = self.built_networks.get(design)
        if found is None:
            found = self.built_networks[design] = \
                _space_at(self.networks[design.space], design)
        return found

    def accelerator(self, design: Design) -> AcceleratorSpec:
        found = self.built_accelerators.get(design)
        if found is None:
            found = self.built_accelerators[design] = \
                _space_at(self.accelerators[design.space], design)
        return found


def _space_at(space: DesignSpace[S], design: Design) -> S:
    """The spec of `design`, built from its index (`designs_of` numbers designs as their
    space does)."""
    assert space.point_at(design.index) == design.point, design
    return space.instantiate_at(design.index)


def spec_digest(spec: NetworkSpec | AcceleratorSpec, extra: str = "") -> str:
    """A digest of everything about a concrete spec that can change its results."""
    return hashlib.sha256((spec.model_dump_json() + extra).encode()).hexdigest()[:20]
