"""Small statistics shared by the engine's reports.

Example
-------
>>> [round(float(v), 3) for v in wilson_interval(8, 10)]
[0.49, 0.943]
"""

from __future__ import annotations

import numpy as np

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(successes, trials, z: float = Z95):
    """Wilson score interval ``(low, high)`` for a proportion, elementwise; NaN where there are
    no trials. Used for LF accuracies (many at once) and spot-check accuracy (one).

    >>> [round(float(v), 3) for v in wilson_interval(9, 10)]
    [0.596, 0.982]
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half
