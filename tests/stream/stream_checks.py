"""Checks shared by the stream tests: the uniform-inclusion chi-square and state equality."""

from __future__ import annotations

import numpy as np
from scipy import stats

P_MIN = 1e-3  # chi-square p-value threshold of every statistical test here


def inclusion_p(counts: np.ndarray, runs: int, k: int) -> float:
    """p-value of per-position inclusion counts under a uniform k-of-N sample.

    Each run includes exactly k of N positions, each with q = k/N, so the counts are
    correlated: Cov = runs q (1-q) N/(N-1) (I - 11'/N). Pearson's statistic divided by
    (1-q) N/(N-1) is then chi-square with N-1 degrees of freedom.
    """
    n = len(counts)
    q = k / n
    pearson = ((counts - runs * q) ** 2 / (runs * q)).sum() / ((1 - q) * n / (n - 1))
    return float(stats.chi2.sf(pearson, n - 1))


def same(a, b):
    """Deep equality of plain states, arrays compared exactly (NaN equal to NaN)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b, (a, b)
