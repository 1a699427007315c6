"""The one Wilson score interval every report uses, against published and closed-form values."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import norm

import hitl_widgets.core.active._learning as learning
import hitl_widgets.core.weak._analysis as weak_analysis
from hitl_widgets.core import stats
from hitl_widgets.core.stats import wilson_interval

# Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison of seven
# methods", Statistics in Medicine 17, 857-872, Table II, method 3 (Wilson score, no continuity
# correction), 95 %: (successes, trials) -> (low, high) to four decimals.
NEWCOMBE_1998 = {
    (81, 263): (0.2553, 0.3662),
    (15, 148): (0.0624, 0.1605),
    (0, 20): (0.0000, 0.1611),
    (1, 29): (0.0061, 0.1718),
}


def closed_form(k: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson (1927): the roots in p of (k/n - p)^2 = z^2 p (1 - p) / n."""
    z = norm.ppf(0.5 + confidence / 2)
    centre = 2 * k + z * z
    half = z * math.sqrt(z * z + 4 * k * (n - k) / n)
    return (centre - half) / (2 * (n + z * z)), (centre + half) / (2 * (n + z * z))


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE_1998.items())
def test_wilson_interval_reproduces_newcombes_worked_examples(counts, published):
    low, high = wilson_interval(*counts)
    assert (round(low, 4), round(high, 4)) == published
    assert closed_form(*counts) == pytest.approx((low, high), abs=1e-12)


def test_wilson_interval_equals_the_closed_form_for_many_counts_and_levels():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 5000, size=200)
    k = rng.integers(0, n + 1)
    for confidence in (0.8, 0.95, 0.99):
        z = norm.ppf(0.5 + confidence / 2)
        low, high = wilson_interval(k, n, z=z)
        expected = np.array([closed_form(a, b, confidence) for a, b in zip(k, n, strict=True)])
        np.testing.assert_allclose(low, expected[:, 0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(high, expected[:, 1], rtol=0, atol=1e-12)


def test_no_trials_gives_none_for_one_proportion_and_nan_in_an_array_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert wilson_interval(0, 0) is None
        assert wilson_interval(np.int64(0), np.int64(0)) is None
        low, high = wilson_interval(np.array([3, 0, 4]), np.array([5, 0, 4]))
    assert np.isnan(low[1]) and np.isnan(high[1])
    assert [low[0], high[0]] == pytest.approx(closed_form(3, 5))
    assert [low[2], high[2]] == pytest.approx(closed_form(4, 4))
    low, high = wilson_interval(np.array([], dtype=int), np.array([], dtype=int))
    assert low.shape == high.shape == (0,)


@pytest.mark.parametrize("n", [1, 7, 263])
def test_none_and_all_correct_reach_the_ends_of_zero_to_one(n):
    z2 = stats.Z95**2
    low, high = wilson_interval(0, n)
    assert low == pytest.approx(0.0, abs=1e-15)
    assert high == pytest.approx(z2 / (n + z2), rel=1e-12)
    low, high = wilson_interval(n, n)
    assert low == pytest.approx(n / (n + z2), rel=1e-12)
    assert high == pytest.approx(1.0, abs=1e-15)


def test_one_proportion_comes_back_as_plain_floats():
    low, high = wilson_interval(np.int64(9), np.int64(10))
    assert type(low) is float and type(high) is float


@pytest.mark.parametrize(("successes", "trials"), [(6, 5), (-1, 5), (1, -2), (float("nan"), 3),
                                                   ([1, 4], [2, 3])])
def test_counts_outside_zero_to_trials_are_refused_with_what_to_pass(successes, trials):
    with pytest.raises(ValueError, match=r"0 <= successes <= trials.*Pass counts"):
        wilson_interval(successes, trials)


@pytest.mark.parametrize("z", [0, -1.96, float("nan")])
def test_a_z_that_is_not_a_positive_quantile_is_refused(z):
    with pytest.raises(ValueError, match="z must be a positive normal quantile"):
        wilson_interval(3, 5, z=z)


def test_every_report_uses_the_one_interval():
    assert learning.wilson_interval is stats.wilson_interval
    assert weak_analysis.wilson_interval is stats.wilson_interval
