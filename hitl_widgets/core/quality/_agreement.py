"""Agreement between annotators: Cohen's kappa, Fleiss' kappa, Krippendorff's alpha.

``ratings`` is either an items x raters array with ``NaN`` (or ``None``) for a missing rating,
or a long DataFrame with columns ``item``, ``annotator``, ``label``. In the long form an annotator
who labelled an item twice counts once, with the latest row (callers pass current labels).
Labels may be strings; they are coded in sorted order, or in the order given by ``labels=`` /
``order=``, which also fixes the allowed set (a label outside it is an error, not dropped).

Every statistic is computed from one matrix of rating pairs within items, built with
``np.bincount`` (no per-item Python loop), so a million items take well under a second. Values
equal scikit-learn's ``cohen_kappa_score``, statsmodels' ``fleiss_kappa`` and the
``krippendorff`` package's ``alpha`` to floating-point precision.

Undefined cases return ``NaN`` with an :class:`UndefinedAgreementWarning` that says why: every
rating in one category (expected agreement 1, kappa is 0/0), or a label set with one member.
Input that cannot be scored at all raises ``ValueError`` with advice: no item rated twice, or,
for Fleiss' kappa, items with different numbers of ratings. Items with a single rating add no
pairable values to Krippendorff's alpha (as in the reference) and are otherwise ignored.

Example
-------
>>> import numpy as np
>>> ratings = np.array([[1, 1, 1], [2, 2, 1], [3, 3, 3], [1, 2, np.nan]])
>>> round(krippendorff_alpha(ratings), 3)
0.487
>>> round(fleiss_kappa(ratings[:3]), 3)
0.654
>>> round(cohen_kappa(["a", "b", "b", "a"], ["a", "b", "a", "a"]), 3)
0.5
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

LEVELS = ("nominal", "ordinal", "interval", "ratio")
_CHUNK = 1 << 22  # cells of an items x labels count block: bounds memory with many labels


class UndefinedAgreementWarning(RuntimeWarning):
    """The statistic is 0/0 for these ratings (e.g. one category everywhere); NaN returned."""


def _undefined(name: str, why: str) -> float:
    warnings.warn(f"{name} is undefined: {why}; returning NaN", UndefinedAgreementWarning,
                  stacklevel=3)
    return float("nan")


# -- coding: any ratings -> an items x slots matrix of label codes (-1 = missing) ---------------
def _code(values: np.ndarray, labels: Sequence | None) -> tuple[np.ndarray, Any]:
    """Codes 0..V-1 of present ``values`` and the domain they index (sorted, or ``labels``)."""
    if labels is not None:
        domain = pd.Index(list(labels))
        if domain.has_duplicates:
            raise ValueError(f"labels/order has repeated entries: {list(labels)}")
        codes = domain.get_indexer(values)
        if (codes < 0).any():
            bad = sorted({str(v) for v in values[codes < 0]})[:5]
            raise ValueError(f"Labels {bad} are not in the given labels/order {list(labels)}; "
                             "add them there or fix the ratings")
        return codes, np.asarray(domain)
    if values.dtype.kind in "fiub":
        if values.dtype.kind in "iuf" and values.size and np.all(values == np.round(values)):
            lo, hi = values.min(), values.max()
            if hi - lo < 1 << 20:  # small integers: code by offset, no sort needed
                offs = (values - lo).astype(np.int64)
                present = np.bincount(offs) > 0
                lookup = np.cumsum(present) - 1
                return lookup[offs], np.flatnonzero(present) + lo
        domain, codes = np.unique(values, return_inverse=True)
        return codes, domain
    codes, uniques = pd.factorize(values)
    try:
        perm = np.argsort(np.asarray(uniques, dtype=object), kind="stable")
    except TypeError as err:
        raise ValueError("Labels of mixed types cannot be ordered; pass labels=/order= to say "
                         "which labels exist") from err
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size)
    return inverse[codes], np.asarray(uniques, dtype=object)[perm]


def _long_frame(df: pd.DataFrame) -> pd.DataFrame:
    missing = {"item", "annotator", "label"} - set(df.columns)
    if missing:
        raise ValueError(f"A long ratings DataFrame needs columns item, annotator, label; "
                         f"missing {sorted(missing)}")
    # The latest row of an (item, annotator) pair is the annotator's current label.
    df = df.drop_duplicates(["item", "annotator"], keep="last")
    return df[df["label"].notna()]


def _slots(ratings: Any, labels: Sequence | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(S, domain)``: S is items x slots of label codes, -1 where there is no rating."""
    if isinstance(ratings, pd.DataFrame):
        df = _long_frame(ratings)
        items, _ = pd.factorize(df["item"])
        codes, domain = _code(df["label"].to_numpy(), labels)
        order = np.argsort(items, kind="stable")
        items, codes = items[order], codes[order]
        per_item = np.bincount(items)
        rank = np.arange(items.size) - np.repeat(np.cumsum(per_item) - per_item, per_item)
        slots = np.full((per_item.size, per_item.max(initial=0)), -1, dtype=np.int64)
        slots[items, rank] = codes
        return slots, domain
    arr = np.asarray(ratings)
    if arr.ndim != 2:
        raise ValueError("ratings must be an items x raters array (NaN = missing) or a long "
                         f"DataFrame with columns item, annotator, label; got shape {arr.shape}")
    missing = np.isnan(arr) if arr.dtype.kind == "f" else pd.isna(arr)
    codes, domain = _code(arr[~missing], labels)
    slots = np.full(arr.shape, -1, dtype=np.int64)
    slots[~missing] = codes
    return slots, domain


def _pair_matrix(slots: np.ndarray, n_values: int, weights: np.ndarray | None) -> np.ndarray:
    """sum over items of ``weight * (ordered pairs of distinct ratings with labels c, k)``."""
    n_items, m = slots.shape
    if m * (m - 1) // 2 <= 2 * n_values:  # few raters: one bincount per pair of columns
        acc = np.zeros(n_values * n_values)
        for i in range(m):
            for j in range(i + 1, m):
                ok = (slots[:, i] >= 0) & (slots[:, j] >= 0)
                key = slots[ok, i] * n_values + slots[ok, j]
                w = None if weights is None else weights[ok]
                acc += np.bincount(key, weights=w, minlength=n_values * n_values)
        pairs = acc.reshape(n_values, n_values)
        return pairs + pairs.T
    out = np.zeros((n_values, n_values))
    step = max(1, _CHUNK // n_values)
    for start in range(0, n_items, step):  # many raters: items x labels counts, block by block
        block = slots[start:start + step]
        rows, cols = np.nonzero(block >= 0)
        counts = np.bincount(rows * n_values + block[rows, cols],
                             minlength=block.shape[0] * n_values).reshape(-1, n_values)
        counts = counts.astype(float)
        w = np.ones(block.shape[0]) if weights is None else weights[start:start + step]
        out += (counts * w[:, None]).T @ counts
        out -= np.diag(w @ counts)
    return out


# -- the statistics -------------------------------------------------------------------------------
def cohen_kappa(a: Sequence, b: Sequence, labels: Sequence | None = None,
                weights: str | None = None) -> float:
    """Cohen's kappa between two annotators' labels of the same items.

    Pairs where either label is missing (None/NaN) are left out. ``labels`` fixes the label set
    and order (a label outside it raises); ``weights`` is None, ``"linear"`` or ``"quadratic"``
    (distances between positions in the label order), as in scikit-learn.

    >>> cohen_kappa([0, 1, 1, 2], [0, 1, 2, 2])
    0.6363636363636364
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic'; got {weights!r}")
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D and of one length; got shapes {a.shape}, {b.shape}")
    both = np.stack([a, b], axis=1) if a.dtype.kind in "fiub" and b.dtype.kind in "fiub" else \
        np.stack([a.astype(object), b.astype(object)], axis=1)
    slots, domain = _slots(both, labels)
    slots = slots[(slots >= 0).all(axis=1)]
    v = len(domain)
    if slots.shape[0] == 0:
        raise ValueError("cohen_kappa needs at least one item labelled by both annotators")
    confusion = np.bincount(slots[:, 0] * v + slots[:, 1], minlength=v * v).reshape(v, v)
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / confusion.sum()
    pos = np.arange(v)
    dist = {None: (pos[:, None] != pos[None, :]).astype(float),
            "linear": np.abs(pos[:, None] - pos[None, :]).astype(float),
            "quadratic": (pos[:, None] - pos[None, :]).astype(float) ** 2}[weights]
    denom = (dist * expected).sum()
    if denom == 0:
        return _undefined("Cohen's kappa", "both annotators used one and the same label "
                          "throughout (expected agreement is 1)")
    return float(1 - (dist * confusion).sum() / denom)


def _fleiss_parts(ratings: Any, labels: Sequence | None) -> tuple[np.ndarray, np.ndarray, int]:
    slots, domain = _slots(ratings, labels)
    m_items = (slots >= 0).sum(axis=1)
    slots = slots[m_items > 0]  # a row with no rating at all is not an item of the study
    m_items = m_items[m_items > 0]
    if slots.shape[0] == 0:
        raise ValueError("fleiss_kappa got no ratings")
    m = int(m_items.max())
    if m_items.min() != m:
        raise ValueError(
            f"fleiss_kappa needs the same number of ratings on every item; got between "
            f"{m_items.min()} and {m}. Keep only the complete items, or use krippendorff_alpha, "
            "which allows missing ratings")
    if m < 2:
        raise ValueError("fleiss_kappa needs at least two ratings per item; each item has one")
    pairs = _pair_matrix(slots, len(domain), None)
    totals = np.bincount(slots[slots >= 0], minlength=len(domain)).astype(float)
    return pairs, totals, m


def _fleiss(pairs: np.ndarray, totals: np.ndarray, m: int) -> float:
    n_items = totals.sum() / m
    p_obs = np.trace(pairs) / (n_items * m * (m - 1))
    p_cat = totals / totals.sum()
    p_exp = float((p_cat**2).sum())
    if p_exp >= 1 - 1e-15:
        return _undefined("Fleiss' kappa", "every rating is in one category (expected "
                          "agreement is 1)")
    return float((p_obs - p_exp) / (1 - p_exp))


def fleiss_kappa(ratings: Any, labels: Sequence | None = None) -> float:
    """Fleiss' kappa: agreement of a fixed number of raters per item (raters may differ).

    Every item must have the same number of ratings (rows of an array with no rating at all are
    ignored); otherwise use :func:`krippendorff_alpha`.

    >>> round(fleiss_kappa([["a", "a", "b"], ["b", "b", "b"], ["a", "a", "a"]]), 3)
    0.55
    """
    return _fleiss(*_fleiss_parts(ratings, labels))


def _distances(level: str, domain: np.ndarray, n_v: np.ndarray) -> np.ndarray:
    if level == "nominal":
        return 1.0 - np.eye(len(domain))
    if level == "ordinal":
        # Krippendorff's ordinal metric: pairable values between c and k, ends counted half.
        cum = np.concatenate([[0.0], np.cumsum(n_v)])
        lo, hi = np.minimum.outer(np.arange(len(domain)), np.arange(len(domain))), \
            np.maximum.outer(np.arange(len(domain)), np.arange(len(domain)))
        return (cum[hi + 1] - cum[lo] - (n_v[lo] + n_v[hi]) / 2) ** 2
    numeric = domain.dtype.kind in "fiub"  # else an order= of names: positions are the values
    values = domain.astype(float) if numeric else np.arange(len(domain), dtype=float)
    diff = np.subtract.outer(values, values)
    if level == "interval":
        return diff**2
    total = np.add.outer(values, values)
    return np.divide(diff, total, out=np.zeros_like(diff), where=total != 0) ** 2


def _coincidences(ratings: Any, level: str, order: Any) -> tuple[np.ndarray, np.ndarray]:
    if level not in LEVELS:
        raise ValueError(f"Unknown level {level!r}; expected one of {list(LEVELS)}")
    slots, domain = _slots(ratings, order)
    if level != "nominal" and order is None and domain.dtype.kind not in "fiub":
        raise ValueError(f"level={level!r} needs numeric labels or an explicit order=[...] "
                         f"of the labels; got labels {list(domain[:5])}")
    m_items = (slots >= 0).sum(axis=1)
    if not (m_items >= 2).any():
        raise ValueError("krippendorff_alpha needs at least one item rated by two or more "
                         "annotators; no item here is")
    keep = m_items >= 2  # single ratings are not pairable: they add nothing to o
    weights = 1.0 / (m_items[keep] - 1)
    return _pair_matrix(slots[keep], len(domain), weights), domain


def _alpha(o: np.ndarray, dist: np.ndarray) -> float:
    n_v = o.sum(axis=0)
    n = n_v.sum()
    expected = n_v @ dist @ n_v / (n - 1)
    if expected == 0:
        return _undefined("Krippendorff's alpha", "all pairable ratings have one value "
                          "(expected disagreement is 0)")
    return float(1 - (o * dist).sum() / expected)


def krippendorff_alpha(ratings: Any, level: str = "nominal", order: Sequence | None = None) -> float:
    """Krippendorff's alpha with missing ratings, at a ``level`` of measurement.

    ``level`` is ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"``. The last three
    need ordered labels: numbers, or ``order=[...]`` listing the labels from low to high (with
    interval/ratio, positions in ``order`` are the values). For nominal data, ``order`` just
    fixes the allowed labels.

    >>> round(krippendorff_alpha([[1, 1], [2, 2], [3, 2]], level="interval"), 3)
    0.706
    """
    o, domain = _coincidences(ratings, level, order)
    return _alpha(o, _distances(level, domain, o.sum(axis=0)))


# -- tables: per label, per annotator pair --------------------------------------------------------
def per_label(ratings: Any, metric: str = "krippendorff_alpha",
              labels: Sequence | None = None) -> pd.DataFrame:
    """One-vs-rest agreement per label: ``metric`` on "this label or not" ratings.

    ``metric`` is ``"krippendorff_alpha"`` (nominal) or ``"fleiss_kappa"``. Returns a DataFrame
    indexed by label with columns ``value`` (NaN where a label is never or always used) and
    ``n_ratings``. One pair matrix serves every label: collapsing it to 2 x 2 is the binary
    matrix of that label, so this costs about one call of the metric.

    >>> per_label([["a", "a"], ["b", "b"], ["a", "b"]])["value"].round(3).tolist()
    [0.444, 0.444]
    """
    if metric == "krippendorff_alpha":
        pairs, domain = _coincidences(ratings, "nominal", labels)
        slots = _slots(ratings, labels)[0]
        totals = np.bincount(slots[slots >= 0], minlength=len(domain)).astype(float)
    elif metric == "fleiss_kappa":
        pairs, totals, m = _fleiss_parts(ratings, labels)
        domain = _slots(ratings, labels)[1]
    else:
        raise ValueError(f"Unknown metric {metric!r}; expected 'krippendorff_alpha' or "
                         "'fleiss_kappa'")
    values = []
    for c in range(len(domain)):
        r_c = pairs[c].sum()
        other = r_c - pairs[c, c]
        binary = np.array([[pairs[c, c], other], [other, pairs.sum() - 2 * r_c + pairs[c, c]]])
        with warnings.catch_warnings():  # a label never/always used: NaN in the table is enough
            warnings.simplefilter("ignore", UndefinedAgreementWarning)
            values.append(_alpha(binary, 1.0 - np.eye(2)) if metric == "krippendorff_alpha"
                          else _fleiss(binary, np.array([totals[c], totals.sum() - totals[c]]), m))
    return pd.DataFrame({"value": values, "n_ratings": totals.astype(int)},
                        index=pd.Index(list(domain), name="label"))


def pairwise_kappa(df: pd.DataFrame, labels: Sequence | None = None) -> pd.DataFrame:
    """Cohen's kappa of every pair of annotators on the items both labelled.

    ``df`` is long (item, annotator, label). Returns one row per pair with at least one shared
    item: ``annotator_a``, ``annotator_b`` (a < b), ``n_items``, ``agreement`` (observed share)
    and ``kappa`` (NaN where undefined). All pairs come from one self-join and one bincount.
    ``.pivot(index="annotator_a", columns="annotator_b", values="kappa")`` gives the square table.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "annotator": ["x", "y"] * 3,
    ...                    "label": ["a", "a", "b", "b", "a", "b"]})
    >>> pairwise_kappa(df)[["annotator_a", "annotator_b", "n_items", "kappa"]].round(3).values.tolist()
    [['x', 'y', 3, 0.4]]
    """
    df = _long_frame(df)
    codes, domain = _code(df["label"].to_numpy(), labels)
    who, names = pd.factorize(df["annotator"], sort=True)
    items, _ = pd.factorize(df["item"])
    left = pd.DataFrame({"item": items, "who": who, "code": codes})
    joined = left.merge(left, on="item", suffixes=("_a", "_b"))
    joined = joined[joined["who_a"] < joined["who_b"]]
    v, n_who = len(domain), len(names)
    pair = joined["who_a"].to_numpy() * n_who + joined["who_b"].to_numpy()
    pair_ids, pair_idx = np.unique(pair, return_inverse=True)
    key = (pair_idx * v + joined["code_a"].to_numpy()) * v + joined["code_b"].to_numpy()
    conf = np.bincount(key, minlength=len(pair_ids) * v * v).reshape(-1, v, v).astype(float)
    n = conf.sum(axis=(1, 2))
    observed = np.trace(conf, axis1=1, axis2=2) / n
    expected = (conf.sum(axis=2) * conf.sum(axis=1)).sum(axis=1) / n**2
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(expected < 1, (observed - expected) / (1 - expected), np.nan)
    return pd.DataFrame({"annotator_a": names[pair_ids // n_who], "annotator_b":
                         names[pair_ids % n_who], "n_items": n.astype(int),
                         "agreement": observed, "kappa": kappa})


# -- bootstrap ------------------------------------------------------------------------------------
class Interval(NamedTuple):
    """A statistic with its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    n: int


_METRICS: dict[str, Callable] = {
    "cohen_kappa": lambda r, **kw: cohen_kappa(r[:, 0], r[:, 1], **kw),
    "fleiss_kappa": fleiss_kappa,
    "krippendorff_alpha": krippendorff_alpha,
}


def bootstrap_ci(metric: str | Callable, ratings: Any, n: int = 1000,
                 rng: np.random.Generator | int | None = None, confidence: float = 0.95,
                 **kwargs: Any) -> Interval:
    """Percentile bootstrap interval of an agreement statistic, resampling items.

    ``metric`` is ``"cohen_kappa"`` (on the first two columns), ``"fleiss_kappa"``,
    ``"krippendorff_alpha"`` or any callable taking an items x raters array; ``kwargs`` go to
    it (e.g. ``level="interval"``). ``rng`` is a Generator or a seed; ``None`` means seed 0, so
    a repeated call gives the same interval. Resamples where the statistic is undefined are left
    out of the percentiles (a warning says how many).

    >>> ci = bootstrap_ci("krippendorff_alpha", [[1, 1], [2, 2], [3, 3], [1, 2]] * 5, n=200)
    >>> round(ci.estimate, 3), ci.low < ci.estimate < ci.high
    (0.629, True)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a whole number of resamples, at least 1; got {n!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1; got {confidence!r}")
    fn = _METRICS.get(metric) if isinstance(metric, str) else metric
    if fn is None:
        raise ValueError(f"Unknown metric {metric!r}; expected one of {list(_METRICS)} or a "
                         "callable")
    if isinstance(ratings, pd.DataFrame):  # long -> items x annotators, labels kept as they are
        ratings = _long_frame(ratings).pivot(index="item", columns="annotator", values="label")
    arr = np.asarray(ratings)
    rng = np.random.default_rng(0 if rng is None else rng)
    estimate = fn(arr, **kwargs)
    draws = rng.integers(0, arr.shape[0], size=(n, arr.shape[0]))
    values = np.empty(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedAgreementWarning)
        for k in range(n):
            try:
                values[k] = fn(arr[draws[k]], **kwargs)
            except ValueError:  # e.g. a resample with no item rated twice
                values[k] = np.nan
    bad = int(np.isnan(values).sum())
    if bad == n:
        raise ValueError("the statistic is undefined on every resample; more items are needed")
    if bad:
        warnings.warn(f"{bad} of {n} resamples gave an undefined statistic and were left out",
                      UndefinedAgreementWarning, stacklevel=2)
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high), confidence, n)
