"""Counting the points of affine indices (dslc.affine): the grouping of axes linked by
shared dims, worked by hand, and the distinct values of one axis against a plain set of
every sum."""

from __future__ import annotations

import itertools
import random

from dslc.affine import BOX_LIMIT, axis_values, linked_groups


def test_linked_groups_join_through_shared_keys() -> None:
    # x and w share p; y alone on q; z has no key, so it links with nothing.
    items = [({"p"}, "x"), ({"q"}, "y"), (set(), "z"), ({"p", "r"}, "w")]
    assert sorted((sorted(keys), sorted(members)) for keys, members in linked_groups(items)) \
        == [([], ["z"]), (["p", "r"], ["w", "x"]), (["q"], ["y"])]
    # v links q with r, so x, y, w and v become one group (z still alone).
    found = linked_groups([*items, ({"r", "q"}, "v")])
    assert sorted((sorted(keys), sorted(members)) for keys, members in found) \
        == [([], ["z"]), (["p", "q", "r"], ["v", "w", "x", "y"])]


def test_axis_values_against_enumeration() -> None:
    rng = random.Random(3)
    for _ in range(400):
        terms = [(rng.choice([-3, -2, -1, 1, 2, 3, 5]), rng.randint(1, 7))
                 for _ in range(rng.randint(0, 4))]
        values = {sum(c * i for (c, _), i in zip(terms, at, strict=True))
                  for at in itertools.product(*(range(n) for _, n in terms))}
        assert axis_values(terms) == len(values), terms
        assert axis_values(terms, limit=None) == len(values), terms


def test_axis_values_past_the_box_limit() -> None:
    # Three terms p + q + r over 0..9 each: the values 0..27, a box 28 wide.
    three = [(1, 10), (1, 10), (1, 10)]
    assert axis_values(three, limit=28) == 28
    assert axis_values(three, limit=27) is None
    assert axis_values(three, limit=None) == 28
    # Two terms have a closed form, counted whatever the box: 2p + 2r with P 2^25 and R 2
    # takes the even values 0..2^26, 2^25 + 1 of them, in a box 2^26 + 1 wide.
    assert BOX_LIMIT < 1 + 2 * ((1 << 25) - 1) + 2
    assert axis_values([(2, 1 << 25), (2, 2)]) == (1 << 25) + 1
