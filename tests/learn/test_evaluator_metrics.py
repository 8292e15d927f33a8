"""The evaluator's quality figures on hand-made arrays: Spearman, Kendall tau-b (the
co-design metrics the evaluator reports with) and the mean absolute percentage error."""

from __future__ import annotations

import numpy as np
import pytest

from dslc.codesign.dance.evaluator import mape
from dslc.codesign.metrics import kendall, spearman


def test_mape_is_the_mean_relative_error() -> None:
    # |110-100|/100 = 0.1, |90-100|/100 = 0.1, |3-2|/2 = 0.5: mean 0.7/3
    assert mape(np.array([110.0, 90.0, 3.0]), np.array([100.0, 100.0, 2.0])) == \
        pytest.approx(0.7 / 3)
    assert mape(np.array([5.0, 7.0]), np.array([5.0, 7.0])) == 0.0


def test_spearman_on_one_swap() -> None:
    # ranks 1 2 3 4 against 1 3 2 4: sum d^2 = 2, 1 - 6 * 2 / (4 * 15) = 0.8
    assert spearman(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 30.0, 20.0, 40.0])) == \
        pytest.approx(0.8)
    assert spearman(np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])) == \
        pytest.approx(-1.0)


def test_kendall_on_one_swap() -> None:
    # 6 pairs, one discordant: (5 - 1) / 6
    assert kendall(np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 30.0, 20.0, 40.0])) == \
        pytest.approx(4 / 6)
    # a tie on one side: tau-b = (concordant - discordant) / sqrt(n0 n1 ...): pairs of
    # a = [1, 2, 3], b = [1, 1, 2]: (1,2) tied in b, (1,3) and (2,3) concordant:
    # 2 / sqrt(3 * 2)
    assert kendall(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 2.0])) == \
        pytest.approx(2 / np.sqrt(6))


def _pairwise_kendall(a: np.ndarray, b: np.ndarray) -> float:
    """tau-b by its definition, over every pair (as it was computed: n x n matrices)."""
    sa = np.sign(a[:, None] - a[None, :])
    sb = np.sign(b[:, None] - b[None, :])
    upper = np.triu_indices(len(a), k=1)
    sa, sb = sa[upper], sb[upper]
    denominator = np.sqrt(float(np.sum(sa != 0)) * float(np.sum(sb != 0)))
    return 1.0 if denominator == 0 else float(np.sum(sa * sb)) / denominator


def test_kendall_in_n_log_n_equals_the_pairwise_definition() -> None:
    # Random arrays with heavy ties on both sides, and joint ties: the same float.
    rng = np.random.default_rng(7)
    for _ in range(500):
        n = int(rng.integers(0, 30))
        a = rng.integers(0, int(rng.integers(1, 6)), n).astype(float)
        b = rng.integers(0, int(rng.integers(1, 6)), n).astype(float) if rng.random() < 0.7 \
            else rng.normal(size=n)
        assert kendall(a, b) == _pairwise_kendall(a, b)
    assert np.isnan(kendall(np.array([1.0, np.nan]), np.array([1.0, 2.0])))


def test_kendall_of_a_hundred_thousand_pairs_in_linear_memory() -> None:
    # `heldout_pairs` may be 10^5 and more: the n x n sign matrices were 80 GB each. A
    # permutation with known inversions: the reversed first 1,000 of 100,000 make
    # 1000 * 999 / 2 discordant pairs.
    n = 100_000
    a = np.arange(n, dtype=float)
    b = a.copy()
    b[:1000] = b[:1000][::-1]
    pairs = n * (n - 1) // 2
    discordant = 1000 * 999 // 2
    assert kendall(a, b) == pytest.approx((pairs - 2 * discordant) / pairs, rel=1e-15)
