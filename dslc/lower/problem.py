"""Problem: one layer as a perfectly nested loop nest (the hot-path IR of the cost model).

A `Problem` has ordered dims with bounds and tensors, each with a role and, per tensor axis,
an affine projection of the dims (`p*stride + r*dilation`). The MAC count is the product of
the bounds. Problems are slotted frozen dataclasses, hashable, with a canonical `key` under
which identical layers (same dims, bounds, projections, up to names) are evaluated once.
Conventions for built-in operators follow Timeloop: N batch, K output channels, C input
channels, P/Q output rows/columns, R/S filter rows/columns, G groups.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

Role = Literal["input", "weight", "output"]


@dataclass(frozen=True, slots=True)
class Projection:
    """One tensor axis as an affine function of the dims: sum(coef * dim) (dims by index)."""

    terms: tuple[tuple[int, int], ...]
    """(dim index, coefficient) pairs with non-zero coefficients, sorted by dim index."""

    def extent(self, bounds: tuple[int, ...]) -> int:
        """Index span (bounding box) when every dim d ranges over 0..bounds[d]-1.

        This is how Timeloop sizes tiles: a strided 1x1 convolution's input tile counts the
        skipped rows too. It is exact for unit-stride sliding windows.
        """
        return 1 + sum(abs(c) * (bounds[d] - 1) for d, c in self.terms)


@dataclass(frozen=True, slots=True)
class Tensor:
    """A tensor of a problem."""

    name: str
    role: Role
    axes: tuple[Projection, ...]

    def dims(self) -> frozenset[int]:
        """Indices of the dims that index this tensor (its 'relevant' dims)."""
        return frozenset(d for axis in self.axes for d, _ in axis.terms)


@dataclass(frozen=True, slots=True)
class Problem:
    """A loop nest: dims with bounds and the tensors they index."""

    name: str
    dims: tuple[str, ...]
    bounds: tuple[int, ...]
    tensors: tuple[Tensor, ...]
    op: str = "einsum"
    key: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", canonical_key(self))

    @property
    def macs(self) -> int:
        total = 1
        for bound in self.bounds:
            total *= bound
        return total

    def dim_index(self, name: str) -> int:
        return self.dims.index(name)

    def tensor(self, role_or_name: str) -> Tensor:
        for tensor in self.tensors:
            if tensor.name == role_or_name or tensor.role == role_or_name:
                return tensor
        raise KeyError(role_or_name)

    @property
    def output(self) -> Tensor:
        return next(t for t in self.tensors if t.role == "output")

    def tensor_size(self, tensor: Tensor) -> int:
        """Number of elements of a tensor over the full problem."""
        size = 1
        for axis in tensor.axes:
            size *= axis.extent(self.bounds)
        return size


def canonical_key(problem: Problem) -> str:
    """A name-independent key: equal for problems that are the same loop nest.

    Dims keep their names (they carry the dataflow semantics: K, C, P, ...) but tensor and
    layer names are dropped, so ResNet's repeated 3x3 convolutions share one key.
    """
    parts = [problem.op, ",".join(f"{d}={b}" for d, b in zip(problem.dims, problem.bounds,
                                                               strict=True))]
    for tensor in sorted(problem.tensors, key=lambda t: (t.role, t.axes.__repr__())):
        axes = ";".join("+".join(f"{c}*{problem.dims[d]}" for d, c in axis.terms)
                        for axis in tensor.axes)
        parts.append(f"{tensor.role}[{axes}]")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]
