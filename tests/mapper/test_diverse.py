"""`_Search._diverse` (the starts' spread over spatial unrollings) against its definition
written as a loop: the first `count` unrollings in the order of their best candidate, each
one's candidates of ranks skip..per-1, by rank, then unrolling, then candidate order."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dslc.mapper.search import _Pool, _Search

LEVELS = 3


def _by_definition(pool: _Pool, count: int, by_use: bool, per: int, skip: int) -> list[int]:
    """The candidates `_diverse` takes, as indices into `pool`, one candidate at a time."""
    spatial = pool.factors[LEVELS:]
    used = np.prod(spatial, axis=(0, 1))
    keys = [(-int(used[b]) if by_use else 0, *(float(s) for s in pool.scores[:, b]), b)
            for b in range(pool.size) if np.isfinite(pool.scores[0, b])]
    place: dict[bytes, int] = {}
    seen: dict[bytes, int] = {}
    taken: list[tuple[int, int, int, int]] = []
    for i, key in enumerate(sorted(keys)):
        b = key[-1]
        row = spatial[:, :, b].tobytes()
        if row not in place:
            if len(place) == count:
                continue
            place[row] = len(place)
            seen[row] = 0
        rank = seen[row]
        seen[row] += 1
        if skip <= rank < per:
            taken.append((rank, place[row], i, b))
    return [b for *_, b in sorted(taken)]


@pytest.mark.parametrize("seed", range(40))
def test_diverse_takes_what_its_definition_takes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(0, 300))
    dims, spatial_slots = 4, seed % 3  # no spatial slot: every candidate one unrolling
    factors = np.ones((LEVELS + spatial_slots, dims, size), dtype=np.int64)
    # Few distinct unrollings (so that they repeat), some of equal instances used.
    factors[LEVELS:] = rng.choice([1, 2, 4], size=(spatial_slots, dims, size), p=[.6, .3, .1])
    objectives = int(rng.integers(1, 3))
    scores = rng.choice([1.0, 2.0, 3.0, 5.0, np.inf], size=(objectives, size))
    pool = _Pool(factors, np.zeros((LEVELS, dims, size), dtype=np.int64),
                 np.arange(size, dtype=np.int64), scores)
    search = SimpleNamespace(space=SimpleNamespace(nlevels=LEVELS))
    for count, by_use, per, skip in ((12, True, 1, 0), (4, False, 1, 0), (12, False, 5, 1),
                                     (3, False, 2, 0), (1, True, 3, 2), (50, False, 1, 0)):
        got = _Search._diverse(search, pool, count, by_use=by_use, per=per,  # type: ignore
                               skip=skip)
        expected = _by_definition(pool, count, by_use, per, skip)
        assert got.keeps.tolist() == expected, (count, by_use, per, skip)
        assert np.array_equal(got.factors, factors[:, :, expected])
        assert np.array_equal(got.scores, scores[:, expected])
