"""Has a window of data drifted from a reference? One row per feature, tested and corrected.

Numeric features: the two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``), the
Wasserstein distance (``scipy.stats.wasserstein_distance``) and the population stability index
over the reference's deciles. Categorical features: a chi-square test of the 2 x K table of
counts (``scipy.stats.chi2_contingency``) and the PSI over the categories. With many features
some drift by chance, so the p-values are corrected together (``statsmodels``'
``multipletests``; Benjamini-Hochberg by default, which keeps the expected share of false alarms
among the features flagged at ``alpha``).

The statistics are scipy's and statsmodels' own; what is ours is the table, the PSI, the
checks on what comes in, and the monitor that runs it over a stream (:mod:`._monitor`).

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"x": rng.normal(size=2000), "colour": rng.choice(["r", "g"], 2000)})
>>> now = pd.DataFrame({"x": rng.normal(0.5, 1, 500), "colour": rng.choice(["r", "g"], 500)})
>>> table = compare(ref, now)
>>> table.set_index("feature")["drifted"].to_dict()
{'x': True, 'colour': False}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

CORRECTIONS = ("fdr_bh", "fdr_by", "bonferroni", "holm", "none")
PSI_FLOOR = 1e-4  # a bin's share is at least this: an empty bin would make the PSI infinite
KS_EXACT_UP_TO = 10_000  # scipy's ks_2samp computes exact p-values up to this sample size
COLUMNS = ["feature", "kind", "test", "statistic", "p_value", "p_adjusted", "drifted", "psi",
           "wasserstein", "n_reference", "n_current"]


class DriftError(ValueError):
    """Input a drift check cannot use; the message says which and what to do."""


def compare(reference: Any, current: Any, *, features: Sequence[str] | None = None,
            categorical: Sequence[str] | None = None, alpha: float = 0.05,
            correction: str = "fdr_bh", nan_policy: str = "raise", psi_bins: int = 10):
    """Test each feature of ``current`` against ``reference``; a DataFrame, one row per feature
    (columns: ``COLUMNS``).

    Parameters
    ----------
    reference, current : DataFrames (or 2-d arrays, features then named ``"0"``, ``"1"``, ...).
    features : the columns to test (default: every column of ``reference``).
    categorical : columns tested as categories (default: non-numeric columns).
    alpha : the level the corrected p-values are compared with.
    correction : ``"fdr_bh"`` (Benjamini-Hochberg), ``"fdr_by"``, ``"bonferroni"``, ``"holm"``
        or ``"none"``.
    nan_policy : ``"raise"`` (a missing value is an error naming the feature) or ``"omit"``
        (left out of that feature's test; ``n_reference`` / ``n_current`` say how many rest).
    psi_bins : numeric PSI over this many reference quantile bins.
    """
    cur = _frame(current, "current")
    base = Reference(reference, features=features, categorical=categorical,
                     nan_policy=nan_policy, psi_bins=psi_bins)
    return base.compare(cur, alpha=alpha, correction=correction)


class Reference:
    """What a drift check needs of the reference, prepared once: each numeric feature sorted
    and its PSI bins, each categorical feature's counts. A monitor compares many windows with
    one reference; scipy's functions would sort it again for every window and every statistic.

    Arguments as for :func:`compare`. ``Reference(ref).compare(window)`` equals
    ``compare(ref, window)``.
    """

    def __init__(self, reference: Any, *, features: Sequence[str] | None = None,
                 categorical: Sequence[str] | None = None, nan_policy: str = "raise",
                 psi_bins: int = 10) -> None:
        ref = _frame(reference, "reference")
        if nan_policy not in ("raise", "omit"):
            raise DriftError(f"nan_policy must be 'raise' or 'omit', not {nan_policy!r}")
        if isinstance(psi_bins, bool) or not isinstance(psi_bins, int) or psi_bins < 2:
            raise DriftError(f"psi_bins must be an int of 2 or more, not {psi_bins!r}")
        self.features = _features(ref, features)
        self.kinds = _kinds(ref, self.features, categorical)
        self.nan_policy = nan_policy
        self._prepared = {}
        for name in self.features:
            values = _values(ref[name], name, "reference", nan_policy)
            if self.kinds[name] == "numeric":
                a = np.sort(values.astype(float))
                edges = np.unique(np.quantile(a, np.linspace(0, 1, psi_bins + 1)[1:-1]))
                self._prepared[name] = (a, edges, _shares(edges, a))
            else:
                import pandas as pd

                self._prepared[name] = (pd.Series(values).value_counts(), len(values))

    def compare(self, current: Any, *, alpha: float = 0.05, correction: str = "fdr_bh"):
        """:func:`compare` of ``current`` with this reference."""
        import pandas as pd

        cur = _frame(current, "current")
        _features(cur, self.features)  # the same columns, or an error naming the missing
        check_options(alpha, correction)
        rows = []
        for name in self.features:
            b = _values(cur[name], name, "current", self.nan_policy)
            if self.kinds[name] == "numeric":
                rows.append(_numeric(name, *self._prepared[name], b.astype(float)))
            else:
                rows.append(_categorical(name, *self._prepared[name], b))
        table = pd.DataFrame(rows, columns=[c for c in COLUMNS
                                            if c not in ("p_adjusted", "drifted")])
        table["p_adjusted"], table["drifted"] = adjust(table["p_value"].to_numpy(), alpha,
                                                       correction)
        return table[COLUMNS]


def check_options(alpha: float, correction: str) -> None:
    """Refuse an ``alpha`` outside (0, 1) or an unknown correction, saying what is allowed."""
    if correction not in CORRECTIONS:
        raise DriftError(f"correction must be one of {list(CORRECTIONS)}, not {correction!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise DriftError(f"alpha must be a number between 0 and 1, not {alpha!r}")


def adjust(p_values: np.ndarray, alpha: float, correction: str) -> tuple[np.ndarray, np.ndarray]:
    """Corrected p-values and which are below ``alpha`` (statsmodels' ``multipletests``)."""
    p = np.asarray(p_values, dtype=float)
    if correction == "none" or not len(p):
        return p.copy(), p < alpha
    from statsmodels.stats.multitest import multipletests

    reject, adjusted, _, _ = multipletests(p, alpha=alpha, method=correction)
    return adjusted, reject


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """The population stability index of two vectors of shares (each summing to 1):
    ``sum((c - r) * ln(c / r))``, every share floored at ``PSI_FLOOR``.

    >>> round(psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])), 6)
    0.0
    """
    r = np.maximum(np.asarray(reference, dtype=float), PSI_FLOOR)
    c = np.maximum(np.asarray(current, dtype=float), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


# -- one feature ------------------------------------------------------------------------------------
def _numeric(name: str, a: np.ndarray, edges: np.ndarray, shares_a: np.ndarray,
             b: np.ndarray) -> list:
    """KS, PSI and Wasserstein of ``b`` against the sorted reference ``a``: the formulas of
    ``scipy.stats.ks_2samp`` and ``wasserstein_distance``, on arrays sorted once."""
    from scipy import stats

    b = np.sort(b)
    n1, n2 = len(a), len(b)
    both = np.sort(np.concatenate([a, b]), kind="stable")  # two sorted runs: a merge
    cdf_a = np.searchsorted(a, both, side="right") / n1
    cdf_b = np.searchsorted(b, both, side="right") / n2
    diffs = cdf_a - cdf_b
    d = float(max(np.clip(-diffs.min(), 0, 1), diffs.max()))
    if max(n1, n2) <= KS_EXACT_UP_TO:  # scipy's exact test (it rounds D to its lattice too)
        test = stats.ks_2samp(a, b)
        d, p_value = float(test.statistic), float(test.pvalue)
    else:  # what ks_2samp computes for large samples (Smirnov's asymptotic distribution)
        m, n = max(n1, n2), min(n1, n2)
        p_value = float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
    # Wasserstein-1: the area between the two CDFs (scipy's _cdf_distance with p=1).
    w = float(np.sum(np.abs(cdf_a[:-1] - cdf_b[:-1]) * np.diff(both)))
    return [name, "numeric", "ks", d, p_value, psi(shares_a, _shares(edges, b)), w, n1, n2]


def _shares(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each bin's share of ``values``; bins open at both ends, so every value has one."""
    return np.bincount(np.searchsorted(edges, values, side="right"),
                       minlength=len(edges) + 1) / len(values)


def _categorical(name: str, counts_a, n_a: int, b: np.ndarray) -> list:
    import pandas as pd
    from scipy import stats

    counts = pd.DataFrame({"reference": counts_a,
                           "current": pd.Series(b).value_counts()}).fillna(0)
    table = counts.to_numpy().T  # 2 x K
    if table.shape[1] < 2:  # one category on both sides: nothing can have moved
        return [name, "categorical", "chi2", 0.0, 1.0, 0.0, np.nan, n_a, len(b)]
    test = stats.chi2_contingency(table)
    return [name, "categorical", "chi2", float(test.statistic), float(test.pvalue),
            psi(table[0] / n_a, table[1] / len(b)), np.nan, n_a, len(b)]


# -- checking what comes in -------------------------------------------------------------------------
def _frame(data: Any, what: str):
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, np.ndarray) and data.ndim == 2:
        frame = pd.DataFrame(data, columns=[str(k) for k in range(data.shape[1])])
    else:
        raise DriftError(f"{what} must be a pandas DataFrame or a 2-d numpy array; got "
                         f"{type(data).__name__}")
    if frame.columns.duplicated().any():
        raise DriftError(f"{what} has duplicated column names "
                         f"{list(frame.columns[frame.columns.duplicated()])}")
    return frame


def _features(frame, features) -> list:
    names = list(frame.columns) if features is None else list(features)
    if not names:
        raise DriftError("no features to test: the reference has no columns, or features=[]")
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise DriftError(f"the data lacks the features {missing}; give the reference and the "
                         "window the same columns, or pass features=[...]")
    return names


def _kinds(ref, names: list, categorical) -> dict:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    chosen = set(categorical or ())
    unknown = chosen - set(names)
    if unknown:
        raise DriftError(f"categorical names {sorted(map(str, unknown))}, which are not among the "
                         "features tested")
    return {n: "categorical" if n in chosen or not is_numeric_dtype(ref[n])
            or is_bool_dtype(ref[n]) else "numeric" for n in names}


def _values(column, name, what: str, nan_policy: str) -> np.ndarray:
    missing = column.isna().to_numpy()
    values = column.to_numpy()
    if missing.any():
        if nan_policy == "raise":
            raise DriftError(f"{what} feature {name!r} has {int(missing.sum())} missing values; "
                             "fill them, or pass nan_policy='omit' to test what is there")
        values = values[~missing]
    if column.dtype.kind == "f" and np.isinf(values).any():
        raise DriftError(f"{what} feature {name!r} holds infinite values; drop or clip them")
    if len(values) < 2:
        raise DriftError(f"{what} feature {name!r} has {len(values)} value(s) to test; a drift "
                         "test needs at least 2 on each side")
    return values
