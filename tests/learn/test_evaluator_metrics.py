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
