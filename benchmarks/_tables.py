"""Seed intervals and Markdown tables shared by the workforce benchmarks.

Usage: ``from _tables import fmt, interval, table`` (benchmarks/ on ``sys.path``, as it is when a
benchmark runs as a script).

>>> fmt([1.0, 2.0, 3.0])
'2.0 [-0.5, 4.5]'
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def interval(values) -> tuple[float, float, float]:
    """Mean and the 95 % t-interval over seeds (NaN bounds with fewer than two values)."""
    x = np.asarray(values, float)
    m = float(x.mean())
    if len(x) < 2:
        return m, float("nan"), float("nan")
    h = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m, m - h, m + h


def fmt(values, scale: float = 1.0, digits: int = 1) -> str:
    """``mean [low, high]``, or the mean alone for a single value."""
    m, lo, hi = (v * scale for v in interval(values))
    if np.isnan(lo):
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, first column left-aligned, the rest right-aligned."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
