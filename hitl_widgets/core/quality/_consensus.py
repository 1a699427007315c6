"""Consensus labels from several annotators: majority vote and Dawid-Skene.

Both take a long DataFrame with columns ``item``, ``annotator``, ``label``. An annotator who
labelled an item twice counts once, with the latest row: callers pass current labels (the
store's log keeps every earlier answer for the audit). Rows with a missing label are ignored.
Labels are ordered as ``sorted`` orders them, and **ties go to the smallest label** in that
order, in the vote and in the posteriors alike, so the same input always gives the same answer.

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"item": ["a", "a", "a", "b", "b"], "annotator": ["x", "y", "z", "x", "y"],
...                    "label": ["spam", "spam", "ham", "ham", "spam"]})
>>> majority_vote(df, threshold=0.75)[["label", "n_votes", "flagged"]].values.tolist()
[['spam', 3, True], ['ham', 2, True]]
>>> dawid_skene(df).labels.tolist()
['spam', 'ham']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..progress import Progress, progress_bar

DS_BAR_FROM = 1_000_000  # labels from which dawid_skene shows a bar by default (seconds of EM)
_EPS = 1e-10  # floor of a confusion-matrix cell a worker has used, as in Dawid & Skene's EM


@dataclass
class _Coded:
    """A crowd as integer arrays: one row per (item, annotator) label."""

    item: np.ndarray
    who: np.ndarray
    label: np.ndarray
    items: pd.Index
    annotators: pd.Index
    classes: pd.Index


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes in sorted order of the values (first-appearance order if they cannot be sorted)."""
    raw = values.to_numpy()
    if raw.dtype.kind in "iu" and raw.size:
        lo = raw.min()
        span = int(raw.max()) - int(lo)
        if span < 4 * raw.size + 1024:  # dense integer ids: a bincount, no hashing or sorting
            offset = (raw - lo).astype(np.int64)
            present = np.bincount(offset) > 0
            return (np.cumsum(present) - 1)[offset], pd.Index(np.flatnonzero(present) + lo)
    try:
        codes, uniques = pd.factorize(raw, sort=True)
    except TypeError:  # mixed types cannot be sorted: keep the order of first appearance
        codes, uniques = pd.factorize(raw)
    return codes, pd.Index(uniques)


def _has_repeats(key: np.ndarray, size: int) -> bool:
    """Whether any (item, annotator) key occurs twice; a bitmap when it fits in ~64 MB."""
    if size > 1 << 26:
        return bool(pd.Index(key).has_duplicates)
    seen = np.zeros(size, dtype=np.bool_)
    seen[key] = True
    return int(np.count_nonzero(seen)) < key.size


def _coded(df: Any) -> _Coded:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"Expected a long DataFrame with columns item, annotator, label; got "
                        f"{type(df).__name__}")
    missing = {"item", "annotator", "label"} - set(df.columns)
    if missing:
        raise ValueError(f"The labels DataFrame needs columns item, annotator, label; missing "
                         f"{sorted(missing)}")
    if df["label"].isna().any():
        df = df[df["label"].notna()]
    item, items = _factorize(df["item"])
    who, annotators = _factorize(df["annotator"])
    key = item.astype(np.int64) * len(annotators) + who
    if _has_repeats(key, len(items) * len(annotators)):
        # The latest label of an (item, annotator) pair counts: drop the earlier rows.
        latest = ~pd.Index(key).duplicated(keep="last")
        df, item, who = df[latest], item[latest], who[latest]
    label, classes = _factorize(df["label"])
    return _Coded(item, who, label, items.rename("item"), annotators.rename("annotator"),
                  classes.rename("label"))


def _vote_counts(c: _Coded) -> np.ndarray:
    v = len(c.classes)
    return np.bincount(c.item * v + c.label, minlength=len(c.items) * v).reshape(-1, v)


def majority_vote(df: pd.DataFrame, threshold: float | None = None) -> pd.DataFrame:
    """The most frequent label of each item, with its share of the votes.

    Returns a DataFrame indexed by item (sorted) with columns ``label``, ``confidence`` (the
    winning label's share of the item's votes), ``n_votes`` and ``flagged`` (confidence below
    ``threshold``; never, without one). A tie goes to the smallest label.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1], "annotator": ["x", "y"], "label": ["b", "a"]})
    >>> vote = majority_vote(df)
    >>> vote.loc[1, "label"], float(vote.loc[1, "confidence"])
    ('a', 0.5)
    """
    if threshold is not None and (isinstance(threshold, bool) or not 0 <= threshold <= 1):
        raise ValueError(f"threshold must be a share between 0 and 1, or None; got {threshold!r}")
    c = _coded(df)
    if len(c.item) == 0:
        return pd.DataFrame({"label": [], "confidence": [], "n_votes": [], "flagged": []},
                            index=c.items)
    counts = _vote_counts(c)
    n_votes = counts.sum(axis=1)
    best = counts.argmax(axis=1)  # the first maximum: the smallest label wins a tie
    confidence = counts[np.arange(len(best)), best] / np.maximum(n_votes, 1)
    flagged = confidence < threshold if threshold is not None else np.zeros(len(best), bool)
    return pd.DataFrame({"label": c.classes.take(best),
                         "confidence": confidence, "n_votes": n_votes, "flagged": flagged},
                        index=c.items)


@dataclass
class DawidSkeneResult:
    """What :func:`dawid_skene` found.

    Attributes
    ----------
    labels : Series indexed by item, the most probable true label (ties: the smallest label).
    posteriors : DataFrame item x label, P(true label | all the labels); rows sum to 1.
    skills : Series indexed by annotator, the expected share of their labels that are right
        (the mean posterior of the label they gave).
    priors : Series indexed by label, the estimated share of items with each true label.
    n_iter : EM iterations run; ``converged`` says whether the tolerance stopped them.
    confusions : dict annotator -> DataFrame (true label x given label), rows summing to 1:
        P(annotator gives column | the true label is row). Built on first access.
    """

    labels: pd.Series
    posteriors: pd.DataFrame
    skills: pd.Series
    priors: pd.Series
    n_iter: int
    converged: bool
    loss_history: list[float] = field(repr=False)
    errors_: np.ndarray = field(repr=False)  # annotator x given x true

    def __repr__(self) -> str:
        return (f"DawidSkeneResult({len(self.labels)} items, {len(self.skills)} annotators, "
                f"labels {list(self.posteriors.columns)}, n_iter={self.n_iter}, "
                f"converged={self.converged})")

    @cached_property
    def confusions(self) -> dict[Any, pd.DataFrame]:
        classes = self.posteriors.columns
        return {who: pd.DataFrame(self.errors_[k].T, index=classes.rename("true"),
                                  columns=classes.rename("given"))
                for k, who in enumerate(self.skills.index)}


def _m_step(by_cell: Any, post: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Confusion matrices (annotator x given x true) from the posteriors, each true-label
    column normalised over the given labels the annotator actually used."""
    n_who, v = used.shape
    errors = np.asarray(by_cell @ post).reshape(n_who, v, v)
    errors = np.where(used[..., None], np.maximum(errors, _EPS), 0.0)
    return errors / errors.sum(axis=1, keepdims=True)


def _log_likelihoods(by_item: Any, errors: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Per item and true label: the sum of log P(given label | true label) over its labels."""
    log_err = np.log(np.where(used[..., None], errors, 1.0))  # unused cells are never read
    return np.asarray(by_item @ log_err.reshape(-1, log_err.shape[-1]))


def _row_max(x: np.ndarray) -> np.ndarray:
    # Column by column: ~10x faster than x.max(axis=1) when rows hold a handful of labels.
    top = x[:, 0].copy()
    for k in range(1, x.shape[1]):
        np.maximum(top, x[:, k], out=top)
    return top


def _posteriors(loglik: np.ndarray) -> np.ndarray:
    post = np.exp(loglik - _row_max(loglik)[:, None])  # scale before exp: no 0/0
    return post / (post @ np.ones(post.shape[1]))[:, None]


def _elbo(post: np.ndarray, loglik: np.ndarray, n_labels: np.ndarray, log_prior: np.ndarray,
          n_rows: int) -> float:
    """Evidence lower bound per label: E[log joint] + entropy of the posteriors."""
    joint = (post * loglik).sum() + n_labels @ post @ log_prior
    clipped = np.maximum(post, _EPS)
    return float((joint - (clipped * np.log(clipped)).sum()) / n_rows)


def dawid_skene(df: pd.DataFrame, n_iter: int = 100, tol: float = 1e-5, *,
                progress: Progress = None) -> DawidSkeneResult:
    """Dawid & Skene (1979): EM over true labels and per-annotator confusion matrices.

    Starts from the majority vote's shares; each iteration computes the posteriors of the true
    labels from the confusion matrices and priors (E), then re-estimates those from the
    posteriors (M), and stops after ``n_iter`` iterations or once the evidence lower bound per
    label improves by less than ``tol``. The steps, the stopping rule and the tie rule follow
    crowd-kit's ``DawidSkene``, whose labels this reproduces; all of it is numpy (bincount and
    reduceat over the label rows), with no per-item or per-annotator Python loop.

    ``progress``: a bar over the iterations from ``DS_BAR_FROM`` labels by default; True, False,
    or a function ``progress(iteration, n_iter)`` (see :mod:`~hitl_widgets.core.progress`).
    Nothing is kept between calls, so an interrupt leaves nothing behind.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 1, 2, 2, 2], "annotator": list("xyzxyz"),
    ...                    "label": ["a", "a", "b", "b", "b", "b"]})
    >>> result = dawid_skene(df)
    >>> result.labels.tolist(), result.skills.round(2).tolist()
    (['a', 'b'], [1.0, 1.0, 0.5])
    >>> result
    DawidSkeneResult(2 items, 3 annotators, labels ['a', 'b'], n_iter=5, converged=True)
    """
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise ValueError(f"n_iter must be a whole number, at least 1; got {n_iter!r}")
    from scipy import sparse

    c = _coded(df)
    v, n_who = len(c.classes), len(c.annotators)
    if len(c.item) == 0:
        raise ValueError("dawid_skene got no labels; pass at least one (item, annotator, label)")
    # One sparse (item x annotator-label cell) incidence matrix carries both steps: E sums log
    # confusions over an item's labels (by_item @ log E), M sums posteriors per cell (by_cell @ T).
    cell = c.who * v + c.label
    order = np.argsort(c.item, kind="stable")  # linear when the rows come grouped by item
    indptr = np.concatenate([[0], np.cumsum(np.bincount(c.item, minlength=len(c.items)))])
    by_item = sparse.csr_matrix((np.ones(len(cell)), cell[order], indptr),
                                shape=(len(c.items), n_who * v))
    by_cell = by_item.T  # a CSC view: no copy, and its products are the fastest here
    used = np.bincount(cell, minlength=n_who * v).reshape(n_who, v) > 0
    counts = _vote_counts(c)
    n_labels = counts.sum(axis=1)
    post = counts / n_labels[:, None]
    priors = post.mean(axis=0)
    errors = _m_step(by_cell, post, used)
    loglik = _log_likelihoods(by_item, errors, used)
    loss, history, converged = -np.inf, [], False
    # The bar counts iterations, but whether the work is large depends on the label count.
    bar = progress_bar(n_iter, "dawid_skene", progress,
                       large=0 if len(cell) >= DS_BAR_FROM else n_iter + 1, unit="iter")
    with bar:
        for _ in range(n_iter):
            post = _posteriors(loglik + np.log(np.maximum(priors, _EPS)))
            priors = post.mean(axis=0)
            errors = _m_step(by_cell, post, used)
            loglik = _log_likelihoods(by_item, errors, used)  # also the next E-step's
            log_prior = np.log(np.maximum(priors, _EPS))
            history.append(_elbo(post, loglik, n_labels, log_prior, len(cell)))
            bar.advance(1)
            if history[-1] - loss < tol:
                converged = True
                break
            loss = history[-1]
    best = post.argmax(axis=1)  # the first maximum: the smallest label wins a tie
    right = post[c.item, c.label]
    skills = np.bincount(c.who, weights=right, minlength=n_who) / np.bincount(c.who)
    return DawidSkeneResult(
        labels=pd.Series(c.classes.take(best), index=c.items, name="label"),
        posteriors=pd.DataFrame(post, index=c.items, columns=c.classes),
        skills=pd.Series(skills, index=c.annotators, name="skill"),
        priors=pd.Series(priors, index=c.classes, name="prior"),
        n_iter=len(history), converged=converged, loss_history=history, errors_=errors)
