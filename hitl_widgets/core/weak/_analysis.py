"""What the L matrix says: per-LF statistics, majority vote, Snorkel's label model, and which to trust.

Everything here is vectorised over rows (numpy passes over L, no Python loop per row), and equals
Snorkel on the same L: :func:`lf_summary` = ``LFAnalysis(L, lfs).lf_summary(Y)``,
:func:`majority_vote` = ``MajorityLabelVoter(cardinality).predict(L, tie_break_policy=...)``.

Example
-------
>>> import numpy as np
>>> L = np.array([[0, 0, -1], [-1, 0, 1], [1, -1, 0]])
>>> majority_vote(L, 2).tolist()
[0, -1, -1]
>>> lf_summary(L)["Coverage"].round(3).tolist()
[0.667, 0.667, 0.667]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..device import torch_threads
from ..stats import wilson_interval

TIE_POLICIES = ("abstain", "random")


def check_L(L: Any, cardinality: int | None = None) -> np.ndarray:
    """L as a 2-D int array; ValueError when its shape or values are not Snorkel's contract."""
    arr = np.asarray(L)
    if arr.ndim != 2:
        raise ValueError(f"L must be a 2-D (n_rows, n_lfs) int array, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"L must hold ints (-1 = abstain), not {arr.dtype}; use apply_lfs")
    if arr.size:
        low, high = int(arr.min()), int(arr.max())
        if low < -1 or (cardinality is not None and high >= cardinality):
            top = "" if cardinality is None else f" and < cardinality {cardinality}"
            raise ValueError(f"L holds values from {low} to {high}; they must be >= -1{top}")
    return arr


def _names(lfs, m: int) -> list | None:
    if lfs is None:
        return None
    names = [lf if isinstance(lf, str) else lf.name for lf in lfs]
    if len(names) != m:
        raise ValueError(f"Number of LFs ({len(names)}) and number of LF matrix columns ({m}) "
                         "are different")
    return names


def lf_summary(L, lfs: Sequence | None = None, Y=None):
    """Per-LF statistics with Snorkel's column names and values, plus the evidence behind accuracy.

    Parameters
    ----------
    L : (n, m) ints, -1 = abstain.
    lfs : the LFs (or their names) for the index; adds Snorkel's ``j`` column.
    Y : (n,) human labels, -1 where there is none yet. Correct / Incorrect / Emp. Acc. count
        only rows with a label (Snorkel needs every row labeled; on a full Y the values are
        Snorkel's). An LF with no labeled votes has Emp. Acc. 0, as in Snorkel, and n 0.

    Returns
    -------
    DataFrame with Polarity, Coverage, Overlaps, Conflicts and, given Y, Correct, Incorrect,
    Emp. Acc., ``Emp. Acc. n`` (the votes it rests on) and its Wilson 95 % interval
    ``Emp. Acc. low`` / ``Emp. Acc. high`` (NaN when n is 0).

    Example
    -------
    >>> L = np.array([[0, 0, -1], [-1, 0, 1], [1, -1, 0]])
    >>> lf_summary(L, Y=np.array([0, 1, -1]))[["Correct", "Incorrect", "Emp. Acc. n"]].values.tolist()
    [[1, 0, 1], [1, 1, 2], [1, 0, 1]]
    """
    import pandas as pd

    L = check_L(L)
    n, m = L.shape
    names = _names(lfs, m)
    index = names if names is not None else list(range(m))
    cols = _by_column(L)
    voted = [c != -1 for c in cols.T]  # one contiguous pass per LF, never per row
    per_row = _row_sum(voted, n)
    overlapped = per_row > 1
    # A row conflicts when its smallest and largest non-abstain labels differ.
    # Seen unsigned, abstain (-1) is the largest value, so a plain minimum skips it.
    unsigned = cols.view(np.uint8 if cols.dtype == np.int8 else np.uint64)
    lowest = _row_reduce(np.minimum, list(unsigned.T), n, 0).astype(np.int64)
    highest = _row_reduce(np.maximum, list(cols.T), n, -1)
    conflicted = overlapped & (lowest != highest)
    with np.errstate(divide="ignore", invalid="ignore"):
        d: dict[str, Any] = {}
        if names is not None:
            d["j"] = list(range(m))
        k = int(cols.max()) + 1 if cols.size else 0
        d["Polarity"] = [_polarity(c, k) for c in cols.T]
        d["Coverage"] = np.array([np.count_nonzero(v) for v in voted], dtype=np.int64) / n
        d["Overlaps"] = _count_and(voted, overlapped) / n
        d["Conflicts"] = _count_and(voted, conflicted) / n
        if Y is not None:
            d.update(_accuracy_columns(cols, voted, check_Y(Y, n)))
    return pd.DataFrame(d, index=index)


def _by_column(L: np.ndarray) -> np.ndarray:
    """L in column order, as int8 when its labels fit: each LF's votes contiguous and small."""
    small = L.size == 0 or int(L.max()) < 127
    # Cast, then transpose: one combined step is ten times slower in numpy.
    return np.asfortranarray(L.astype(np.int8 if small else np.int64, copy=False))


def _row_sum(masks: list[np.ndarray], n: int) -> np.ndarray:
    total = np.zeros(n, dtype=np.int32)
    for mask in masks:
        total += mask
    return total


def _row_reduce(op, columns: list[np.ndarray], n: int, empty) -> np.ndarray:
    if not columns:
        return np.full(n, empty)
    out = columns[0].copy()
    for column in columns[1:]:
        op(out, column, out=out)
    return out


def _count_and(masks: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    return np.array([np.count_nonzero(mask & rows) for mask in masks], dtype=np.int64)


def _polarity(column: np.ndarray, k: int) -> list[int]:
    """The sorted labels an LF emits (Snorkel's polarity)."""
    if k <= 16:  # a few short-circuiting scans beat a bincount's int64 copy
        return [c for c in range(k) if (column == c).any()]
    return np.flatnonzero(np.bincount(column.astype(np.int64) + 1)[1:]).tolist()


ROW_KINDS = ("labeled", "overlaps", "conflicts", "disagrees")


def lf_rows(L, j: int, kind: str = "labeled", Y=None) -> np.ndarray:
    """Row positions to page through for LF ``j``: where it votes (``"labeled"``), where another
    LF votes too (``"overlaps"``), where another LF votes differently (``"conflicts"``), or where
    it disagrees with the human label ``Y`` (``"disagrees"``; -1 in Y = no label yet).

    >>> L = np.array([[0, 0], [1, 0], [-1, 1], [1, -1]])
    >>> lf_rows(L, 0, "conflicts").tolist(), lf_rows(L, 0, "disagrees", Y=[0, 0, 1, -1]).tolist()
    ([1], [1])
    """
    L = check_L(L)
    if not isinstance(j, (int, np.integer)) or not 0 <= j < L.shape[1]:
        raise ValueError(f"j must be an LF's column, 0..{L.shape[1] - 1}; got {j!r}")
    if kind not in ROW_KINDS:
        raise ValueError(f"kind must be one of {ROW_KINDS}, not {kind!r}")
    mine = L[:, j]
    voted = mine != -1
    others = np.delete(L, j, axis=1)
    if kind == "labeled":
        hit = voted
    elif kind == "overlaps":
        hit = voted & (others != -1).any(axis=1)
    elif kind == "conflicts":
        hit = voted & ((others != -1) & (others != mine[:, None])).any(axis=1)
    else:
        if Y is None:
            raise ValueError("kind='disagrees' needs Y, the human labels (-1 = none yet)")
        Y = check_Y(Y, L.shape[0])
        hit = voted & (Y != -1) & (mine != Y)
    return np.flatnonzero(hit)


def check_Y(Y, n: int) -> np.ndarray:
    """Human labels ``Y`` as a 1-d int array of length ``n`` (-1 = none), or a clear error."""
    Y = np.asarray(Y)
    if Y.ndim == 2 and Y.shape[1] == 1:
        Y = Y[:, 0]
    if Y.shape != (n,):
        raise ValueError(f"Y must have one label per row of L ({n}), got shape {Y.shape}; "
                         "use -1 for rows without a human label")
    if Y.size and Y.dtype.kind not in "iu":
        raise TypeError(f"Y must hold int labels (-1 = no label yet), not {Y.dtype}")
    return Y


def _accuracy_columns(cols: np.ndarray, voted: list[np.ndarray], Y: np.ndarray) -> dict:
    labeled = Y != -1
    Y_small = Y.astype(cols.dtype) if Y.size and int(Y.max()) <= np.iinfo(cols.dtype).max else Y
    judged = [v & labeled for v in voted]
    correct = np.array([np.count_nonzero(j & (c == Y_small)) for j, c in
                        zip(judged, cols.T, strict=True)], dtype=np.int64)
    incorrect = np.array([np.count_nonzero(j) for j in judged], dtype=np.int64) - correct
    return accuracy_from_counts(correct, incorrect)


def accuracy_from_counts(correct: np.ndarray, incorrect: np.ndarray) -> dict:
    """lf_summary's accuracy columns from each LF's correct / incorrect votes (int64 arrays)."""
    votes = correct + incorrect
    # Snorkel's formula, 0.5 * (mean of +1/-1 + 1), so values match it to the last bit.
    with np.errstate(divide="ignore", invalid="ignore"):  # an LF without labeled votes: 0
        acc = np.nan_to_num(0.5 * ((correct - incorrect) / votes + 1))
    low, high = wilson_interval(correct, votes)
    return {"Correct": correct, "Incorrect": incorrect, "Emp. Acc.": acc, "Emp. Acc. n": votes,
            "Emp. Acc. low": low, "Emp. Acc. high": high}


# -- majority vote --------------------------------------------------------------------------
def _class_counts(L: np.ndarray, cardinality: int) -> np.ndarray:
    cols = _by_column(L)
    counts = np.zeros((cardinality, L.shape[0]), dtype=np.int16 if L.shape[1] < 32_000
                      else np.int32)
    for c in range(cardinality):
        for column in cols.T:
            counts[c] += column == c
    return counts


def majority_vote(L, cardinality: int = 2, tie_break_policy: str = "abstain",
                  return_probs: bool = False):
    """Each row's most voted label; ties (and rows no LF labels) follow ``tie_break_policy``.

    Equals Snorkel's ``MajorityLabelVoter(cardinality).predict(L, tie_break_policy=...)``:
    ``"abstain"`` gives -1 on ties, ``"random"`` picks among the tied labels with Snorkel's
    deterministic hash of the row number (so the same rows break the same way). With
    ``return_probs``, also Snorkel's probabilities (1 / number of tied labels on each).

    >>> majority_vote(np.array([[1, 1, 0], [0, 1, -1]]), 2, "random").tolist()
    [1, 1]
    """
    if tie_break_policy not in TIE_POLICIES:
        raise ValueError(f"tie_break_policy must be one of {TIE_POLICIES}, "
                         f"not {tie_break_policy!r}")
    _check_cardinality(cardinality)
    counts = _class_counts(check_L(L, cardinality), cardinality)  # (k, n): rows contiguous
    top = counts.max(axis=0, initial=0)
    is_top = counts == top
    n_top = is_top.sum(axis=0)
    preds = np.argmax(is_top, axis=0).astype(np.int64)
    tied = np.flatnonzero(n_top > 1)
    if tie_break_policy == "abstain":
        preds[tied] = -1
    else:
        for i in tied:  # only tied rows: Snorkel's sha1 of the row number picks one
            options = np.flatnonzero(is_top[:, i])
            preds[i] = options[_snorkel_hash(int(i)) % len(options)]
    if return_probs:
        return preds, (is_top / n_top).T
    return preds


def _snorkel_hash(i: int) -> int:
    return int(hashlib.sha1(str(i).encode("utf-8")).hexdigest(), 16)


def _check_cardinality(cardinality) -> None:
    if not isinstance(cardinality, (int, np.integer)) or cardinality < 2:
        raise ValueError(f"cardinality must be an int >= 2 (the number of labels), "
                         f"not {cardinality!r}")


# -- Snorkel's label model ------------------------------------------------------------------
def fit_label_model(L_train, cardinality: int = 2, *, seed: int = 0, n_epochs: int = 500,
                    **fit_kwargs):
    """Snorkel's ``LabelModel`` fitted on ``L_train`` (on one torch thread), returned.

    ``fit_kwargs`` go to ``LabelModel.fit`` (``lr``, ``l2``, ``class_balance``, ...).
    """
    from snorkel.labeling.model import LabelModel

    _check_cardinality(cardinality)
    L_train = check_L(L_train, cardinality)
    if L_train.shape[0] == 0 or L_train.shape[1] < 3:
        raise ValueError(f"The label model needs rows and at least 3 LFs; L has shape "
                         f"{L_train.shape}. Use majority_vote with fewer LFs.")
    with torch_threads(1):
        model = LabelModel(cardinality=int(cardinality), verbose=False)
        model.fit(L_train, n_epochs=n_epochs, seed=seed, progress_bar=False, **fit_kwargs)
    return model


def compare_label_models(L, Y_dev, cardinality: int = 2, *, label_model=None, seed: int = 0,
                         n_epochs: int = 500):
    """Majority vote and the label model side by side on the rows humans labeled.

    ``Y_dev`` has one entry per row of ``L``, -1 where no human label exists yet. The label
    model is fitted on all of ``L`` unless a fitted ``label_model`` is given. Ties are broken as
    Snorkel's tutorial scores them (``"random"``, its deterministic hash).

    Returns a DataFrame, one row per model: ``accuracy`` on the human-labeled rows, ``n`` (how
    many), its Wilson 95 % interval, ``coverage`` (share of all rows with a non-tied
    prediction) and ``accuracy_covered`` (accuracy on labeled rows the model does not guess).
    """
    import pandas as pd

    L = check_L(L, cardinality)
    Y = check_Y(Y_dev, L.shape[0])
    labeled = Y != -1
    if not labeled.any():
        raise ValueError("Y_dev has no human labels (all -1): label some items first")
    if label_model is None:
        label_model = fit_label_model(L, cardinality, seed=seed, n_epochs=n_epochs)
    with torch_threads(1):
        lm_probs = label_model.predict_proba(L)
    mv_pred, mv_probs = majority_vote(L, cardinality, "random", return_probs=True)
    rows = []
    for name, probs, pred in [("majority vote", mv_probs, mv_pred),
                              ("label model", lm_probs, _probs_to_preds(lm_probs))]:
        decided = _decided(probs)
        right = pred[labeled] == Y[labeled]
        low, high = wilson_interval(right.sum(), labeled.sum())
        covered = decided[labeled]
        rows.append({"model": name, "accuracy": right.mean(), "n": int(labeled.sum()),
                     "accuracy low": float(low), "accuracy high": float(high),
                     "coverage": decided.mean(),
                     "accuracy_covered": right[covered].mean() if covered.any() else np.nan})
    return pd.DataFrame(rows).set_index("model")


def _decided(probs: np.ndarray, tol: float = 1e-5) -> np.ndarray:
    top = probs.max(axis=1)
    return (np.abs(probs - top[:, None]) < tol).sum(axis=1) == 1


def _probs_to_preds(probs: np.ndarray, tol: float = 1e-5) -> np.ndarray:
    """Snorkel's probs_to_preds(..., "random"), vectorised except for tied rows."""
    near = np.abs(probs - probs.max(axis=1)[:, None]) < tol
    preds = np.argmax(near, axis=1).astype(np.int64)
    for i in np.flatnonzero(near.sum(axis=1) > 1):
        options = np.flatnonzero(near[i])
        preds[i] = options[_snorkel_hash(int(i)) % len(options)]
    return preds
