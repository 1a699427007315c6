"""Acquisition: which items a human should label next.

Scores are pure functions of predicted probabilities: ``(n, k)`` probabilities in (numpy or
torch), ``(n,)`` scores out, **higher = ask a human sooner**. Ranking, ties and exploration live in
:func:`rank`, which takes a seeded :class:`numpy.random.Generator`; nothing here uses a global RNG.

Example
-------
>>> import numpy as np
>>> proba = np.array([[0.9, 0.1], [0.55, 0.45], [0.5, 0.5]])
>>> margin(proba).round(2)
array([0.2, 0.9, 1. ])
>>> rank(margin(proba), 2, np.random.default_rng(0)).tolist()
[2, 1]
"""

from __future__ import annotations

from typing import Any

import numpy as np

STRATEGIES = ("least_confidence", "margin", "entropy", "random")


def _check_proba(proba: Any) -> None:
    if getattr(proba, "ndim", None) != 2:
        raise ValueError("proba must be a 2-D (n_items, n_classes) array of probabilities, "
                         f"got shape {getattr(proba, 'shape', None)}")


def least_confidence(proba):
    """1 − the top class's probability.

    >>> least_confidence(np.array([[0.7, 0.2, 0.1]])).round(3)
    array([0.3])
    """
    _check_proba(proba)
    top = proba.max(axis=1) if isinstance(proba, np.ndarray) else proba.max(dim=1).values
    return 1.0 - top


def margin(proba):
    """1 − (top probability − runner-up): 1 when the two best classes tie.

    >>> margin(np.array([[0.7, 0.2, 0.1]])).round(3)
    array([0.5])
    """
    _check_proba(proba)
    if proba.shape[1] < 2:  # one class seen so far: every item is as (un)certain as the next
        return least_confidence(proba) * 0.0 + 1.0
    if isinstance(proba, np.ndarray):
        top2 = -np.partition(-proba, 1, axis=1)[:, :2]
        return 1.0 - (top2[:, 0] - top2[:, 1])
    top2 = proba.topk(2, dim=1).values
    return 1.0 - (top2[:, 0] - top2[:, 1])


def entropy(proba):
    """Shannon entropy in nats, −Σ p log p, with 0 log 0 = 0.

    >>> entropy(np.array([[0.5, 0.5]])).round(4)
    array([0.6931])
    """
    _check_proba(proba)
    if isinstance(proba, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(proba > 0, proba * np.log(proba), 0.0)
        return -terms.sum(axis=1)
    import torch

    return -torch.special.xlogy(proba, proba).sum(dim=1)


SCORERS = {"least_confidence": least_confidence, "margin": margin, "entropy": entropy}


def rank(scores, n: int, rng: np.random.Generator, *, explore: float = 0.0) -> np.ndarray:
    """Indices of the ``n`` items to ask about first, best first.

    Ties are broken at random by ``rng`` (so a seed gives one order); ``explore`` is the share of
    the ``n`` picks drawn uniformly from the rest of the pool instead of by score.

    >>> rank(np.array([0.1, 0.9, 0.5]), 2, np.random.default_rng(0)).tolist()
    [1, 2]
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rank needs a numpy Generator, e.g. np.random.default_rng(0)")
    if not 0.0 <= explore <= 1.0:
        raise ValueError(f"explore is a share of the picks, between 0 and 1; got {explore}")
    scores = _to_numpy(scores).astype(np.float64, copy=False)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; check the model's probabilities")
    n = max(0, min(int(n), scores.size))
    n_random = int(round(n * explore))
    n_top = n - n_random
    # Random tie-break: sort by (score desc, random key).
    tiebreak = rng.random(scores.size)
    order = np.lexsort((tiebreak, -scores))
    top = order[:n_top]
    if n_random:
        rest = order[n_top:]
        top = np.concatenate([top, rng.choice(rest, size=n_random, replace=False)])
    return top


def _to_numpy(values) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values
    if hasattr(values, "detach"):  # a torch tensor, wherever it lives
        return values.detach().cpu().numpy()
    return np.asarray(values)
