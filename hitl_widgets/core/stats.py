"""Small statistics shared by the engine's reports.

One Wilson score interval serves every report (LF accuracies, label-model accuracy, the
spot-checked accuracy of auto-labels); statsmodels computes it.

Example
-------
>>> [round(v, 3) for v in wilson_interval(8, 10)]
[0.49, 0.943]
"""

from __future__ import annotations

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(successes, trials, z: float = Z95):
    """Wilson score interval ``(low, high)`` of a proportion, at ``z`` (1.96: 95 %).

    Two counts in, a ``(low, high)`` tuple of floats out, or ``None`` when ``trials`` is 0
    (there is no proportion to bound). Arrays in (many proportions at once, e.g. one per LF),
    two arrays out, NaN where ``trials`` is 0. Computed by statsmodels'
    ``proportion_confint(method="wilson")``.

    >>> [round(v, 3) for v in wilson_interval(9, 10)]
    [0.596, 0.982]
    >>> wilson_interval(0, 0) is None
    True
    >>> [v.round(3).tolist() for v in wilson_interval([9, 0], [10, 0])]
    [[0.596, nan], [0.982, nan]]
    """
    k, n = np.broadcast_arrays(np.asarray(successes, dtype=float),
                               np.asarray(trials, dtype=float))
    bad = ~((0 <= k) & (k <= n) & np.isfinite(n))  # also catches NaN
    if bad.any():
        first = np.flatnonzero(bad.ravel())[0]
        raise ValueError(
            f"wilson_interval needs 0 <= successes <= trials; got {k.ravel()[first]:g} "
            f"successes of {n.ravel()[first]:g} trials. Pass counts (how many were right, how "
            "many were judged), not shares")
    if not np.isfinite(z) or z <= 0:
        raise ValueError(f"z must be a positive normal quantile (1.96 for 95 %); got {z!r}")
    if k.ndim == 0:
        if n == 0:
            return None
        low, high = _wilson(k, n, z)
        return float(low), float(high)
    low = np.full(k.shape, np.nan)
    high = np.full(k.shape, np.nan)
    some = n > 0
    if some.any():
        low[some], high[some] = _wilson(k[some], n[some], z)
    return low, high


def _wilson(k: np.ndarray, n: np.ndarray, z: float):
    from scipy.stats import norm  # statsmodels takes alpha; z is the quantile it implies
    from statsmodels.stats.proportion import proportion_confint  # ~1 s: only when needed

    return proportion_confint(k, n, alpha=2 * norm.sf(z), method="wilson")
