"""Acquisition: which items a human should label next.

This module holds the scores, the one ranking policy (:func:`asking_order`) and
:class:`PoolScorer`, which keeps a pool's scores and order between retrains; the live loop
(``ActiveLearning``), the teaching simulation (``hw.simulate``) and the benchmarks all rank
through them, with the one list of strategy names, ``STRATEGIES``.

Scores are pure functions of predicted probabilities: ``(n, k)`` probabilities in (numpy or
torch), ``(n,)`` scores out, **higher = ask a human sooner**. Ranking, ties, exclusion,
exploration and diverse batches live in :func:`asking_order` (built on :func:`rank` and
:func:`diverse_batch`), which takes a seeded :class:`numpy.random.Generator`; nothing here uses
a global RNG.

Example
-------
>>> import numpy as np

from ..progress import Progress, progress_bar
>>> proba = np.array([[0.9, 0.1], [0.55, 0.45], [0.5, 0.5]])
>>> margin(proba).round(2)
array([0.2, 0.9, 1. ])
>>> rank(margin(proba), 2, np.random.default_rng(0)).tolist()
[2, 1]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..progress import Progress, progress_bar

# Every strategy name the engine knows, in one list: ActiveLearning, PoolScorer and
# hw.simulate accept these (check_strategy) and the docs list them in this order.
STRATEGIES = ("random", "least_confidence", "margin", "entropy", "diverse", "bald")
RESCORE_BAR_FROM = 1_000_000  # pool rows from which PoolScorer.rescore shows a bar by default
PROBA_ROW_SUM_TOL = 1e-3  # calibrated models' rows may sum to 1 only approximately
PROBA_RANGE_TOL = 1e-6  # float rounding just outside [0, 1]
_HOW = ("wrap the model in CalibratedClassifierCV(model, ensemble=False), or use a model whose "
        "predict_proba returns them (e.g. LogisticRegression())")
_ADVICE = "it must return probabilities: " + _HOW


class ModelOutputError(ValueError):
    """A model's output is not what the engine needs: probabilities, one column per class."""


def check_proba(proba: Any, n_rows: int, n_classes: int | None = None,
                model_name: str = "the model") -> Any:
    """Refuse what a model returned unless it is probabilities; return it as floats.

    Every path by which a model's ``predict_proba`` enters the engine (pool scoring,
    suggestions, auto-labels, the learning curve, the simulation) passes through here, so a
    model returning raw scores, NaN or the wrong columns is stopped before anything is ranked,
    suggested or written. ``proba`` must be ``(n_rows, n_classes)`` (any number of columns
    when ``n_classes`` is None), finite, within [0, 1], each row summing to 1 within
    ``PROBA_ROW_SUM_TOL``. Numpy arrays come back as a float array (float32 stays float32);
    torch tensors are checked where they live and returned as they are.

    Raises
    ------
    ModelOutputError : (a ValueError) naming what was wrong and what to do.

    >>> check_proba(np.array([[0.2, 0.8]]), 1, 2).tolist()
    [[0.2, 0.8]]
    >>> check_proba(np.array([[-1.3, 3.2]]), 1, 2, "SVC")
    Traceback (most recent call last):
    ...
    hitl_widgets.core.active.ModelOutputError: predict_proba of SVC returned values outside [0, 1] (min -1.3, max 3.2); it must return probabilities: wrap the model in CalibratedClassifierCV(model, ensemble=False), or use a model whose predict_proba returns them (e.g. LogisticRegression())
    """
    what = f"predict_proba of {model_name}"
    is_tensor = hasattr(proba, "detach")
    if not is_tensor:
        try:
            proba = np.asarray(proba)
            if proba.dtype.kind != "f":  # float32 stays float32: scores match the pure functions
                proba = proba.astype(np.float64)
        except (TypeError, ValueError):
            raise ModelOutputError(f"{what} returned non-numeric values; {_ADVICE}") from None
    shape = tuple(int(d) for d in getattr(proba, "shape", ()))
    columns = "n_classes" if n_classes is None else n_classes
    if len(shape) != 2 or shape[0] != n_rows or (n_classes is not None and shape[1] != n_classes):
        raise ModelOutputError(
            f"{what} returned shape {shape} for {n_rows} rows"
            + ("" if n_classes is None else f" and {n_classes} classes in classes_")
            + f"; it must return ({n_rows}, {columns}) probabilities: one row per item, one "
            "column per class in the order of classes_")
    if shape[0] == 0:
        return proba
    if is_tensor:
        import torch

        finite = torch.isfinite(proba)
        bad_rows = (~finite.all(dim=1)).nonzero().flatten().cpu().numpy()
        clean = torch.where(finite, proba, torch.zeros_like(proba))
        low, high = float(clean.min()), float(clean.max())
        sums = clean.sum(dim=1).double().cpu().numpy()
    else:
        finite = np.isfinite(proba)
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        clean = np.where(finite, proba, 0.0)
        low, high = float(clean.min()), float(clean.max())
        sums = clean.sum(axis=1)
    if bad_rows.size:
        raise ModelOutputError(
            f"{what} returned NaN or infinite values in {bad_rows.size} of {n_rows} rows (first "
            f"at row {int(bad_rows[0])}); it must return finite probabilities: check that the "
            "fit converged and that the features hold no extreme values")
    if low < -PROBA_RANGE_TOL or high > 1 + PROBA_RANGE_TOL:
        raise ModelOutputError(f"{what} returned values outside [0, 1] (min {low:.3g}, max "
                               f"{high:.3g}); {_ADVICE}")
    off = np.abs(sums - 1.0)
    worst = int(off.argmax())
    if off[worst] > PROBA_ROW_SUM_TOL:
        raise ModelOutputError(
            f"{what} returned rows that do not sum to 1 (row {worst} sums to "
            f"{float(sums[worst]):.4g}; {int((off > PROBA_ROW_SUM_TOL).sum())} of {n_rows} rows "
            f"are off by more than {PROBA_ROW_SUM_TOL:g}); it must return one probability per "
            "class in classes_, summing to 1 per row: " + _HOW)
    return proba


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


def rank(scores, n: int, rng: np.random.Generator, *, exclude=None) -> np.ndarray:
    """Indices of the ``n`` items to ask about first, best first.

    The order is (score descending, tie key ascending), where the tie key of item ``i`` is a
    64-bit hash of ``i`` mixed with one number drawn from ``rng``: equal scores come out in a
    random order that a seed repeats. :func:`rank_reference` sorts the whole pool by that rule;
    ``rank`` gives the same answer without sorting it (a threshold from a strided sample, then
    a sort of the few items above it), so 1M scores take about a millisecond for n = 1..100.

    ``exclude`` (a boolean mask or an index array, e.g. the items already labeled) is never
    picked. Scores may be numpy or torch (on any device). Exploration and diverse batches are
    steps of the policy built on this, :func:`asking_order`.

    >>> rank(np.array([0.1, 0.9, 0.5]), 2, np.random.default_rng(0)).tolist()
    [1, 2]
    >>> rank(np.array([0.1, 0.9, 0.5]), 2, np.random.default_rng(0), exclude=[1]).tolist()
    [2, 0]
    """
    n, salt = _rank_setup(rng, n)
    if _is_device_tensor(scores):
        excluded = _Excluded(exclude, scores.shape[0])
        cand, cand_scores = _device_candidates(scores, n, excluded)
    else:
        values = _checked_scores(scores)
        excluded = _Excluded(exclude, values.size)
        cand, cand_scores = _candidates(values, excluded, n)
    return cand[_score_then_key(cand, cand_scores, salt)[:n]].astype(np.intp, copy=False)


def rank_reference(scores, n: int, rng: np.random.Generator, *, exclude=None) -> np.ndarray:
    """:func:`rank` by a full sort of the pool: the rule written out, for tests and checks.

    >>> s = np.array([0.5, 0.5, 0.5, 0.9])
    >>> rank_reference(s, 3, np.random.default_rng(7)).tolist()
    [3, 2, 0]
    >>> rank(s, 3, np.random.default_rng(7)).tolist()
    [3, 2, 0]
    """
    n, salt = _rank_setup(rng, n)
    values = _checked_scores(scores)
    excluded = _Excluded(exclude, values.size)
    idx = np.flatnonzero(~excluded.mask())
    ordered = idx[np.lexsort((_tie_keys(idx, salt), -values[idx]))]
    return ordered[:n].astype(np.intp, copy=False)


def _rank_setup(rng, n: int) -> tuple[int, np.uint64]:
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rank needs a numpy Generator, e.g. np.random.default_rng(0)")
    # One draw per call whatever the pool size: the tie keys are hashes of (index, salt).
    return max(0, int(n)), np.uint64(rng.integers(0, 2**63))


def _checked_scores(scores) -> np.ndarray:
    values = _to_numpy(scores)
    if values.dtype.kind not in "fc":
        values = values.astype(np.float64)
    if values.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("scores contain NaN; check the model's probabilities")
    return values


class _Excluded:
    """The items not to pick, given as a boolean mask or as indices; cheap to ask about a few
    items without building a pool-sized mask (a handful of labeled items in a 1M pool)."""

    def __init__(self, exclude, size: int):
        self.size = size
        self._mask = self._idx = None
        if exclude is None:
            self._idx = np.zeros(0, np.int64)
        else:
            ex = (np.fromiter(exclude, dtype=np.int64, count=len(exclude))
                  if isinstance(exclude, (set, frozenset)) else _to_numpy(exclude))
            if ex.dtype == bool:
                if ex.shape != (size,):
                    raise ValueError(f"exclude mask has shape {ex.shape}; the pool has {size} "
                                     "items")
                self._mask = ex
            else:
                ex = np.asarray(ex, dtype=np.int64).ravel()
                if ex.size and (ex.min() < -size or ex.max() >= size):
                    raise ValueError(f"exclude holds indices outside the pool of {size} items")
                self._idx = np.unique(np.where(ex < 0, ex + size, ex))
        self.count = (int(np.count_nonzero(self._mask)) if self._mask is not None
                      else self._idx.size)
        self.available = size - self.count

    def mask(self) -> np.ndarray:
        if self._mask is None:
            self._mask = np.zeros(self.size, dtype=bool)
            self._mask[self._idx] = True
        return self._mask

    def contains(self, idx: np.ndarray) -> np.ndarray:
        if self._mask is not None:
            return self._mask[idx]
        return np.isin(idx, self._idx, assume_unique=False)

    def positions_in(self, step: int, sample_size: int) -> np.ndarray:
        """Positions, in ``values[::step]``, of the excluded items that sample hits."""
        if self._mask is not None:
            return np.flatnonzero(self._mask[::step])
        hit = self._idx[self._idx % step == 0] // step
        return hit[hit < sample_size]


def _exclude_mask(exclude, size: int) -> np.ndarray | None:
    """A boolean mask of the items not to pick, or None when nothing is excluded."""
    return None if exclude is None else _Excluded(exclude, size).mask()


def _candidates(values: np.ndarray, excluded: _Excluded, n: int):
    """Every item whose score could be among the best ``n`` (all ties at the edge included)."""
    size = values.size
    if n <= 0 or excluded.available == 0:
        return np.zeros(0, np.intp), values[:0]
    step = size // max(4096, 256 * n)
    cand = None
    if step >= 2:
        # The n-th best non-excluded score of a sample is <= the n-th best of the pool, so
        # everything at or above it holds the true top n. One pass over the pool, no sort.
        sample = values[::step].copy()
        sample[excluded.positions_in(step, sample.size)] = -np.inf
        if sample.size >= n:
            threshold = np.partition(sample, sample.size - n)[sample.size - n]
            if threshold > -np.inf:
                cand = np.flatnonzero(values >= threshold)
    if cand is None:  # small pool, or most of the sample excluded: look at everything
        cand = np.arange(size)
    cand = cand[~excluded.contains(cand)] if excluded.count else cand
    cand_scores = values[cand]
    if cand.size > 4 * n:  # narrow to the exact n-th best before sorting
        edge = np.partition(cand_scores, cand.size - n)[cand.size - n]
        keep = cand_scores >= edge
        cand, cand_scores = cand[keep], cand_scores[keep]
    return cand, cand_scores


def _device_candidates(scores, n: int, excluded: _Excluded):
    """:func:`_candidates` for a tensor on a GPU: threshold with ``torch.topk`` there."""
    import torch

    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {tuple(scores.shape)}")
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN; check the model's probabilities")
    if n <= 0 or excluded.available == 0:
        return np.zeros(0, np.intp), np.zeros(0)
    values = scores
    if excluded.count:
        mask = torch.from_numpy(excluded.mask()).to(scores.device)
        values = scores.masked_fill(mask, float("-inf"))
    threshold = torch.topk(values, min(n, excluded.available)).values[-1]
    cand = torch.nonzero(values >= threshold).flatten()
    cand_np, vals_np = cand.cpu().numpy(), values[cand].cpu().numpy()
    if excluded.count:
        keep = ~excluded.contains(cand_np)
        cand_np, vals_np = cand_np[keep], vals_np[keep]
    return cand_np, vals_np


def _score_then_key(cand: np.ndarray, cand_scores: np.ndarray, salt: np.uint64) -> np.ndarray:
    """Positions of ``cand`` by (score descending, tie key ascending), the order of
    ``rank_reference``'s lexsort: with few ties, one stable sort by score and then the tie keys
    of the tied runs only (less than half a lexsort's time on 1M scores)."""
    pos = np.argsort(-cand_scores, kind="stable")
    ordered = cand_scores[pos]
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return pos
    tied = np.flatnonzero(np.r_[same, False] | np.r_[False, same])
    if tied.size > cand.size // 4:  # mostly ties (e.g. rounded scores): one lexsort is faster
        return np.lexsort((_tie_keys(cand, salt), -cand_scores))
    run = np.cumsum(np.r_[True, ~same])  # which run of equal scores each place is in
    within = np.lexsort((_tie_keys(cand[pos[tied]], salt), run[tied]))
    pos[tied] = pos[tied[within]]
    return pos


def _tie_keys(idx: np.ndarray, salt: np.uint64) -> np.ndarray:
    """splitmix64(index xor salt): a fixed pseudo-random key per item for one call."""
    z = np.asarray(idx, dtype=np.uint64) ^ salt
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _is_device_tensor(values) -> bool:
    device = getattr(values, "device", None)
    return hasattr(values, "detach") and getattr(device, "type", "cpu") != "cpu"


def _to_numpy(values) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values
    if hasattr(values, "detach"):  # a torch tensor, wherever it lives
        return values.detach().cpu().numpy()
    return np.asarray(values)


def bald(mc_proba):
    """BALD: mutual information between the prediction and the weights, from MC dropout.

    ``mc_proba`` is ``(T, n, k)``: ``T`` stochastic forward passes (dropout on) over ``n`` items.
    The score is the entropy of the mean prediction minus the mean entropy of the passes: high
    when the passes disagree with each other, not merely when each is unsure.

    >>> passes = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # two passes, sure and opposite
    >>> bald(passes).round(4)
    array([0.6931])
    """
    if getattr(mc_proba, "ndim", None) != 3:
        raise ValueError("bald needs (T, n_items, n_classes) probabilities from T stochastic "
                         f"passes, got shape {getattr(mc_proba, 'shape', None)}")
    mean = mc_proba.mean(axis=0) if isinstance(mc_proba, np.ndarray) else mc_proba.mean(dim=0)
    per_pass = entropy(mc_proba.reshape(-1, mc_proba.shape[2])).reshape(mc_proba.shape[:2])
    mean_entropy = (per_pass.mean(axis=0) if isinstance(per_pass, np.ndarray)
                    else per_pass.mean(dim=0))
    return entropy(mean) - mean_entropy


def diverse_batch(embeddings, scores, n: int, rng: np.random.Generator, *, exclude=None,
                  candidates: int | None = None, weighted: bool = True) -> np.ndarray:
    """A batch of ``n`` items that are uncertain *and* unlike each other (k-center greedy).

    Takes the best ``candidates`` items by score (default ``max(10 n, 100)``, ranked by
    :func:`rank`, so ties follow its seeded rule), starts with the best one, then repeatedly adds
    the candidate farthest from everything picked so far. With ``weighted`` that distance is
    multiplied by the candidate's score scaled to [0.5, 1], so between two equally far points
    the more uncertain one wins. A batch of ten is then not ten near-duplicates of one
    confusing example.

    >>> emb = np.array([[0.0], [0.01], [5.0]])
    >>> diverse_batch(emb, np.array([0.9, 0.8, 0.1]), 2, np.random.default_rng(0)).tolist()
    [0, 2]
    """
    n = max(0, int(n))
    n_cand = max(10 * n, 100) if candidates is None else int(candidates)
    if n_cand < n:
        raise ValueError(f"candidates={n_cand} is fewer than the batch of {n}")
    if embeddings.shape[0] != len(scores):
        raise ValueError(f"embeddings have {embeddings.shape[0]} rows for {len(scores)} scores")
    cand = rank(scores, n_cand, rng, exclude=exclude)
    if cand.size <= n:
        return cand
    emb = _dense_rows(embeddings, cand)
    cand_scores = _to_numpy(scores)[cand].astype(np.float64)
    weight = np.ones(cand.size)
    spread = cand_scores.max() - cand_scores.min()
    if weighted and spread > 0:
        weight = 0.5 + 0.5 * (cand_scores - cand_scores.min()) / spread
    sq_norms = np.einsum("ij,ij->i", emb, emb)
    nearest = np.full(cand.size, np.inf)
    picked = [0]
    for _ in range(n - 1):
        last = emb[picked[-1]]
        dist = sq_norms - 2.0 * emb @ last + last @ last
        nearest = np.minimum(nearest, np.maximum(dist, 0.0))
        nearest[picked[-1]] = -1.0  # never pick the same point twice
        picked.append(int(np.argmax(np.sqrt(np.maximum(nearest, 0.0)) * weight
                                    - (nearest < 0))))
    return cand[np.asarray(picked)]


def _dense_rows(embeddings, rows: np.ndarray) -> np.ndarray:
    """Selected rows as a float64 numpy array (sparse, torch and numpy inputs)."""
    if hasattr(embeddings, "detach"):
        import torch

        idx = torch.as_tensor(rows, device=embeddings.device)
        return embeddings.index_select(0, idx).detach().cpu().double().numpy()
    sub = embeddings[rows]
    if hasattr(sub, "toarray"):  # scipy sparse (TF-IDF)
        sub = sub.toarray()
    return np.asarray(sub, dtype=np.float64).reshape(len(rows), -1)


def check_strategy(strategy: str, model: Any = None) -> str:
    """Refuse a strategy name the engine does not know, or ``"bald"`` for a model without
    dropout; return the name. ActiveLearning, :class:`PoolScorer` and ``hw.simulate`` all
    check here, so they accept the same names and say the same thing about a wrong one.

    >>> check_strategy("margin")
    'margin'
    >>> check_strategy("margn")
    Traceback (most recent call last):
    ...
    ValueError: Unknown strategy 'margn'; expected one of ['random', 'least_confidence', 'margin', 'entropy', 'diverse', 'bald']
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"Unknown strategy {strategy!r}; expected one of {list(STRATEGIES)}")
    if strategy == "bald" and model is not None and not getattr(model, "dropout", 0):
        raise ValueError("strategy='bald' samples the model's dropout: use "
                         "TorchClassifier(dropout=0.2) (from hitl_widgets.core.active), "
                         f"not {type(model).__name__}")
    return strategy


def asking_order(scores, rng: np.random.Generator, *, strategy: str = "margin",
                 explore: float = 0.0, exclude=None, features=None, batch_size: int = 10,
                 head: int = 200) -> np.ndarray:
    """The ranking policy: every item of the pool, in the order to ask a human about it.

    This is the one place where "which item next" is decided. The live loop
    (:class:`~hitl_widgets.core.active.ActiveLearning`) calls it after each retrain and
    serves the order until the next one; ``hw.simulate`` calls it in every round of its oracle
    loop, and :class:`PoolScorer` (which both use) keeps its result. The order is:

    1. by ``scores``, best first, ties by :func:`rank`'s seeded rule; with ``strategy="random"``
       (or ``scores=None``, no model yet) a seeded random permutation;
    2. for ``"diverse"``, the first ``head`` places are filled batch by batch with
       :func:`diverse_batch` on ``features`` (``batch_size`` items each, none of ``exclude``),
       the rest following by score;
    3. with ``explore``, each place is a random item instead with that probability (an item
       keeps its first place).

    ``exclude`` (the items labeled already) only keeps diverse batches fresh: every item stays
    in the order at its place, so an item whose label is undone can be served again, and
    callers skip the items labeled when they serve (:meth:`PoolScorer.next`).

    ``rng`` gives one draw per call, which seeds the three steps' own streams: the first
    batch does not depend on ``head``, and a caller's stream advances by the same amount
    whatever the pool size or strategy.

    >>> asking_order(np.array([0.1, 0.9, 0.5]), np.random.default_rng(0)).tolist()
    [1, 2, 0]
    >>> emb = np.array([[0.0], [0.01], [5.0], [5.01]])
    >>> asking_order(np.array([0.9, 0.8, 0.7, 0.1]), np.random.default_rng(0),
    ...              strategy="diverse", features=emb, batch_size=2, head=2).tolist()
    [0, 2, 1, 3]
    """
    check_strategy(strategy)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("asking_order needs a numpy Generator, e.g. np.random.default_rng(0)")
    if not 0.0 <= explore <= 1.0:
        raise ValueError(f"explore is a share of the places, between 0 and 1; got {explore}")
    ties, batches, places = (np.random.default_rng(s) for s in
                             np.random.SeedSequence(int(rng.integers(2**63))).spawn(3))
    if scores is None or strategy == "random":
        size = len(scores) if scores is not None else 0
        order = ties.permutation(size).astype(np.intp)
    else:
        order = rank(scores, len(scores), ties)
        if strategy == "diverse" and features is not None:
            order = _diverse_head(features, scores, order, exclude, batch_size, head, batches)
    return _explore_places(order, explore, places) if explore else order


def _diverse_head(features, scores, order: np.ndarray, exclude, batch_size: int, head: int,
                  rng: np.random.Generator) -> np.ndarray:
    """The first ``head`` places of ``order`` filled batch by batch with :func:`diverse_batch`."""
    mask = _exclude_mask(exclude, len(order))
    chosen = np.zeros(len(order), bool) if mask is None else mask.copy()
    rows: list[np.ndarray] = []
    placed = 0
    while placed < head and not chosen.all():
        batch = diverse_batch(features, scores, batch_size, rng, exclude=chosen)
        if not len(batch):
            break
        chosen[batch] = True
        rows.append(batch)
        placed += len(batch)
    if not rows:
        return order
    head_rows = np.concatenate(rows)
    return np.concatenate([head_rows, order[~np.isin(order, head_rows)]]).astype(np.intp)


def _explore_places(order: np.ndarray, explore: float, rng: np.random.Generator) -> np.ndarray:
    """Each place random with probability ``explore``; an item keeps its first place."""
    n = len(order)
    random_place = rng.random(n) < explore
    perm = rng.permutation(n)
    merged = np.where(random_place, perm[np.cumsum(random_place) - 1],
                      order[np.cumsum(~random_place) - 1])
    _, first = np.unique(merged, return_index=True)
    kept = merged[np.sort(first)]
    rest = order[~np.isin(order, kept)]
    return np.concatenate([kept, rest]).astype(np.intp)


class PoolScorer:
    """The pool's scores and asking order, kept between retrains: the next items cost no model
    call.

    ``rescore(model, X, exclude=...)`` runs the model over the whole pool once, in chunks (in
    torch on the model's device for a :class:`~hitl_widgets.core.active.TorchClassifier`,
    chunked ``predict_proba`` otherwise), keeps each item's score, top label (``pred``) and top
    probability (``proba_top``), and puts the pool in asking order with :func:`asking_order`,
    the one ranking policy. ``next(n, exclude=...)`` then reads the first ``n`` items of that
    order that are not excluded. The live loop (``ActiveLearning``) and ``hw.simulate`` both
    rank through here. A rescore builds new arrays and swaps them in at the end, so a
    background thread may rescore while another thread keeps calling ``next``.

    Parameters
    ----------
    strategy : one of ``STRATEGIES``: ``random`` (a seeded random order; given a model, its
        predictions are still kept), ``least_confidence``, ``margin``, ``entropy``,
        ``diverse`` (margin scores, the head of the order in batches by :func:`diverse_batch`
        on the features) or ``bald`` (MC dropout; a TorchClassifier with dropout).
    rng, seed : a numpy Generator, or a seed for one (default seed 0); never the global RNG.
    explore : the probability that a place in the order goes to a random item instead.
    batch_size, head : for ``diverse``: the batch, and how many places are filled by batches.
    device : torch device for a torch model's scoring (default: the model's own).
    chunk : rows per ``predict_proba`` call, bounding memory on big pools.
    mc_passes : forward passes for ``bald``.

    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [0.45], [0.5], [1.0]])
    >>> model = LogisticRegression().fit(X[[0, 3]], [0, 1])
    >>> scorer = PoolScorer("margin", seed=0)
    >>> scorer.rescore(model, X, exclude=[0, 3]).version
    1
    >>> scorer.next(2, exclude=[0, 3]).tolist()
    [2, 1]
    """

    def __init__(self, strategy: str = "margin", *, rng: np.random.Generator | None = None,
                 seed: int | None = None, explore: float = 0.0, batch_size: int = 10,
                 head: int = 200, device: Any = None, chunk: int = 65536, mc_passes: int = 20):
        check_strategy(strategy)
        if rng is not None and seed is not None:
            raise TypeError("pass rng= or seed=, not both")
        if not 0.0 <= explore <= 1.0:
            raise ValueError(f"explore is a share of the places, between 0 and 1; got {explore}")
        if int(chunk) < 1:
            raise ValueError(f"chunk is a number of rows, at least 1; got {chunk}")
        self.strategy = strategy
        self.rng = rng if rng is not None else np.random.default_rng(0 if seed is None else seed)
        if not isinstance(self.rng, np.random.Generator):
            raise TypeError("rng must be a numpy Generator, e.g. np.random.default_rng(0)")
        self.explore = explore
        self.batch_size, self.head = int(batch_size), int(head)
        self.device = device
        self.chunk = int(chunk)
        self.mc_passes = int(mc_passes)
        # (scores, pred, proba_top, order, version): replaced as a whole, read as a whole
        self._state: tuple = (None, None, None, None, 0)

    # -- what is kept ---------------------------------------------------------------------
    scores = property(lambda self: self._state[0], doc="(n,) kept scores; higher = ask sooner")
    pred = property(lambda self: self._state[1], doc="(n,) top label per item, or None")
    proba_top = property(lambda self: self._state[2], doc="(n,) top probability, or None")
    order = property(lambda self: self._state[3], doc="(n,) every item, in asking order")
    version = property(lambda self: self._state[4], doc="how many rescores have landed")

    def __len__(self) -> int:
        scores = self._state[0]
        return 0 if scores is None else len(scores)

    # -- the slow path: after a retrain ---------------------------------------------------
    def rescore(self, model: Any, X, exclude=None, *, progress: Progress = None) -> PoolScorer:
        """Score the pool ``X`` with ``model`` (an estimator, a TorchClassifier, a callable
        ``proba(X_chunk)``, or ``None`` for a seeded random order), rank it with
        :func:`asking_order` (``exclude``: the items labeled so far) and keep the result.

        ``progress``: a bar over the chunks from ``RESCORE_BAR_FROM`` rows by default; True,
        False, or a function ``progress(rows_done, n)`` (see :mod:`~hitl_widgets.core.progress`).
        The result is swapped in only at the end, so an interrupt keeps the previous one."""
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        with progress_bar(n, "rescoring pool", progress, large=RESCORE_BAR_FROM,
                          unit="row") as bar:
            if model is None:
                scores, pred, top = np.zeros(n), None, None
            elif self.strategy == "bald":
                scores, pred, top = self._bald(model, X, n, bar.set)
            elif hasattr(model, "proba_tensor"):
                scores, pred, top = self._score_torch(model, X, n, bar.set)
            else:
                scores, pred, top = self._score_numpy(model, X, n, bar.set)
        strategy = "random" if model is None else self.strategy
        order = asking_order(scores, self.rng, strategy=strategy, explore=self.explore,
                             exclude=exclude, features=X, batch_size=self.batch_size,
                             head=self.head)
        self._state = (scores, pred, top, order, self._state[4] + 1)
        return self

    def rank_scores(self, scores, X=None, exclude=None) -> PoolScorer:
        """Keep scores computed elsewhere (higher = ask sooner: a span model's uncertainty per
        text, say) and put the pool in asking order with :func:`asking_order`, as
        :meth:`rescore` does with a classifier's. ``X`` (optional) serves ``"diverse"``.

        >>> PoolScorer("margin", seed=0).rank_scores([0.2, 0.9, 0.5]).next(2).tolist()
        [1, 2]
        """
        values = _checked_scores(scores)
        if not np.isfinite(values).all():
            raise ModelOutputError("uncertainty scores must be finite numbers; got "
                                   f"{int((~np.isfinite(values)).sum())} infinite")
        strategy = "margin" if self.strategy == "diverse" and X is None else self.strategy
        order = asking_order(values, self.rng, strategy=strategy, explore=self.explore,
                             exclude=exclude, features=X, batch_size=self.batch_size,
                             head=self.head)
        self._state = (values, None, None, order, self._state[4] + 1)
        return self

    def _scorer(self):
        return SCORERS["margin" if self.strategy in ("diverse", "random") else self.strategy]

    def _score_numpy(self, model, X, n, step):
        proba_fn = model.predict_proba if hasattr(model, "predict_proba") else model
        if not callable(proba_fn):
            raise TypeError(f"{type(model).__name__} has no predict_proba; pass a fitted "
                            "classifier or a function returning probabilities")
        scorer = self._scorer()
        name, n_classes = _model_name(model), _n_classes(model)
        scores, pred, top = np.empty(n), np.empty(n, np.intp), np.empty(n)
        for start in range(0, n, self.chunk):
            stop = min(start + self.chunk, n)
            proba = check_proba(proba_fn(X[start:stop]), stop - start, n_classes, name)
            arg, best, second = _top_two(proba)
            pred[start:stop], top[start:stop] = arg, best
            if scorer is margin and second is not None:  # same arithmetic as margin()
                scores[start:stop] = 1.0 - (best - second)
            elif scorer is least_confidence:
                scores[start:stop] = 1.0 - best
            else:
                scores[start:stop] = scorer(proba)
            step(stop)
        return scores, _labels(model, pred), top

    def _score_torch(self, model, X, n, step):
        import torch

        scorer = self._scorer()
        name, n_classes = _model_name(model), _n_classes(model)
        parts: list[tuple] = []
        with torch.no_grad():
            for start in range(0, n, self.chunk):
                stop = min(start + self.chunk, n)
                proba = check_proba(model.proba_tensor(X[start:stop], device=self.device),
                                    stop - start, n_classes, name)
                best = proba.max(dim=1)
                parts.append((scorer(proba), best.indices, best.values))
                step(stop)
        if not parts:
            return np.zeros(0), _labels(model, np.zeros(0, np.intp)), np.zeros(0)
        scores, pred, top = (torch.cat(p).cpu().double().numpy() for p in zip(*parts, strict=True))
        return scores, _labels(model, pred.astype(np.intp)), top

    def _bald(self, model, X, n, step):
        from ._models import mc_dropout_proba

        name, n_classes = _model_name(model), _n_classes(model)
        scores, pred, top = np.empty(n), np.empty(n, np.intp), np.empty(n)
        for start in range(0, n, self.chunk):
            stop = min(start + self.chunk, n)
            passes = mc_dropout_proba(model, X[start:stop], self.mc_passes, self.device)
            for one in passes:
                check_proba(one, stop - start, n_classes, name)
            mean = passes.mean(axis=0)
            scores[start:stop] = bald(passes)
            pred[start:stop] = mean.argmax(axis=1)
            top[start:stop] = mean.max(axis=1)
            step(stop)
        return scores, _labels(model, pred), top

    # -- the fast path: between retrains --------------------------------------------------
    def next(self, n: int, exclude=None) -> np.ndarray:
        """The first ``n`` items of the kept order that are not in ``exclude`` (a boolean mask
        or indices, e.g. the items labeled since the rescore); no model call, no ranking."""
        order = self._state[3]
        if order is None:
            raise ValueError("nothing scored yet; call rescore(model, X), or rescore(None, X) "
                             "for a seeded random order until a model exists")
        n = max(0, int(n))
        if exclude is None:
            return order[:n].copy()
        excluded = _Excluded(exclude, len(order))
        head = order[:n + excluded.count]  # holds n open items, or every open item there is
        return head[~excluded.contains(head)][:n] if excluded.count else head[:n].copy()


def _top_two(proba: np.ndarray):
    """(argmax, top, runner-up) per row, a column at a time: for the few classes of a labeling
    task this is several times faster than argmax plus partition along rows. The runner-up is
    None with one class."""
    if proba.shape[1] > 16:
        arg = proba.argmax(axis=1)
        part = -np.partition(-proba, 1, axis=1)[:, :2] if proba.shape[1] > 1 else None
        return arg, proba.max(axis=1), None if part is None else part[:, 1]
    best = proba[:, 0].copy()
    arg = np.zeros(proba.shape[0], np.intp)
    second = np.full(proba.shape[0], -np.inf, proba.dtype) if proba.shape[1] > 1 else None
    for j in range(1, proba.shape[1]):
        col = proba[:, j]
        higher = col > best  # strict: the first of equal maxima wins, as in argmax
        np.maximum(second, np.where(higher, best, col), out=second)
        arg[higher] = j
        np.maximum(best, col, out=best)
    return arg, best, second


def _model_name(model) -> str:
    """The estimator's class name; for a probability function, its owner's or its own name."""
    owner = getattr(model, "__self__", None)  # a bound method such as model.predict_proba
    if owner is not None:
        return type(owner).__name__
    if hasattr(model, "fit") or not hasattr(model, "__name__"):
        return type(model).__name__
    return model.__name__


def _n_classes(model) -> int | None:
    """How many columns the model's probabilities must have: one per class in ``classes_``."""
    classes = getattr(model, "classes_", None)
    return None if classes is None else len(classes)


def _labels(model, pred: np.ndarray) -> np.ndarray:
    """Class labels for predicted column indices when the model names its classes."""
    classes = getattr(model, "classes_", None)
    return pred if classes is None else np.asarray(classes)[pred]
