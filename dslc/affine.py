"""Counting the points of affine tensor indices, shared by the operator registry
(dslc.ops.einsum: whether an einsum's output can be counted) and the cost model
(dslc.cost.model: multicast; dslc.cost.bounds: touched words), which may not import each
other: the grouping of axes linked by shared dims (`linked_groups`) and the number of
distinct values one axis takes (`axis_values`). Plain integers and sets; no dslc imports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar, overload

K = TypeVar("K")
V = TypeVar("V")

BOX_LIMIT = 1 << 26
"""Widest box (max - min + 1) `axis_values` counts the values of by default, as the bits of
one integer, for an axis of three or more terms."""


def linked_groups(items: Sequence[tuple[set[K], V]]) -> list[tuple[set[K], list[V]]]:
    """The items grouped by their keys: two items whose key sets share a key, directly or
    through other items, are in one group; each group with the union of its keys. Counts
    that multiply over independent parts (loops moving disjoint tensor axes, axes indexed
    by disjoint dims) take one factor per group."""
    groups: list[tuple[set[K], list[V]]] = []
    for keys, item in items:
        joined, members = set(keys), [item]
        for group in [g for g in groups if g[0] & joined]:
            groups.remove(group)
            joined |= group[0]
            members = group[1] + members
        groups.append((joined, members))
    return groups


@overload
def axis_values(terms: Sequence[tuple[int, int]], limit: None) -> int: ...
@overload
def axis_values(terms: Sequence[tuple[int, int]], limit: int = BOX_LIMIT) -> int | None: ...
def axis_values(terms: Sequence[tuple[int, int]], limit: int | None = BOX_LIMIT) -> int | None:
    """How many distinct values sum(c * i) takes, each term (c, n) an independent i in
    0..n-1; None when three or more terms span a box wider than `limit` (a `limit` of None
    counts every box).

    No term: one value; one term: n (its coefficient is taken to be non-zero); two terms by
    the closed form (equal sums form chains, as in the multicast count); more as the bits of
    an integer, each term's progression added by doubling (a term shifts the set by 0, |c|,
    .., (n - 1)|c|; a negative c reflects the set, which keeps the count)."""
    if len(terms) <= 1:
        return math.prod(n for _, n in terms)
    if len(terms) == 2:
        (c1, f1), (c2, f2) = terms
        w1, w2 = abs(c1), abs(c2)
        g = math.gcd(w1, w2)
        return f1 * f2 - max(0, f1 - w2 // g) * max(0, f2 - w1 // g)
    box = 1 + sum(abs(c) * (n - 1) for c, n in terms)
    if limit is not None and box > limit:
        return None
    values = 1
    for c, n in terms:
        step, left = abs(c), n
        block, length, done, found = values, 1, 0, 0
        while left:
            if left & 1:
                found |= block << (done * step)
                done += length
            block |= block << (length * step)
            length *= 2
            left >>= 1
        values = found
    return values.bit_count()
