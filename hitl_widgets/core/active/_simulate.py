"""Simulated active learning: the labeling loop with an oracle instead of a person.

For each strategy and seed the loop starts from a seeded random labelled set, then repeatedly fits a
clone of the model, measures accuracy on a test set and "asks" the oracle (the known ``y``) for the
next ``step`` items the strategy picks from the unlabelled pool, until ``budget`` labels. Every
strategy sees the same initial set for a given seed, so curves differ only by what was picked.

The picks are the live loop's: each round scores the pool and puts it in asking order with the
same :class:`~hitl_widgets.core.active.PoolScorer` and ranking policy
(:func:`~hitl_widgets.core.active.asking_order`) that ``ActiveLearning`` uses after each
retrain, seeded the way ``ActiveLearning(seed=seed)`` seeds it, and takes the first ``step``
unlabelled items, as the Labeler would serve them.

This module is the engine only (numpy, pandas, scikit-learn, scipy); the figure lives in
:mod:`hitl_widgets.plots` and the public entry point is :func:`hitl_widgets.simulate`.

Example
-------
>>> from sklearn.datasets import load_iris
>>> from sklearn.linear_model import LogisticRegression
>>> X, y = load_iris(return_X_y=True)
>>> run = run_simulation(X, y, model=LogisticRegression(max_iter=500), strategies=["random", "margin"],
...                      seeds=2, budget=30, initial=10, step=10)
>>> run.curves.columns.tolist()
['strategy', 'seed', 'n_labels', 'accuracy']
>>> sorted(run.curves.n_labels.unique().tolist())
[10, 20, 30]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..progress import Progress, check_progress, progress_bar
from . import _ranking as active
from ._models import check_estimator, fit_clone

DEFAULT_STRATEGIES = tuple(s for s in active.STRATEGIES if s != "bald")  # BALD needs dropout
CURVE_COLUMNS = ["strategy", "seed", "n_labels", "accuracy"]
HOLDOUT_SHARE = 0.25
SIM_BAR_FROM = 1_000  # labels simulated (runs x budget) from which simulate shows a bar
HOLDOUT_SEED = 0


@dataclass
class SimulationRun:
    """What a simulation measured.

    Attributes
    ----------
    curves : DataFrame
        Long format, one row per strategy, seed and labelled-set size:
        ``strategy, seed, n_labels, accuracy``.
    fallbacks : DataFrame
        Rounds where the strategy could not be used (the labelled set held a single class, so no
        model could be fitted): ``strategy, seed, n_labels, reason``. Those rounds picked at random
        and scored the constant prediction.
    notes : list of str
        Plain-words remarks, e.g. that a test split was held out because none was given.
    budget : int
        The number of labels each run ended with.
    order : dict
        ``(strategy, seed) ->`` the rows of ``X`` in the order they were labelled (initial set
        first), to see what a strategy asked for.
    """

    curves: pd.DataFrame
    fallbacks: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["strategy", "seed", "n_labels", "reason"]))
    notes: list[str] = field(default_factory=list)
    budget: int = 0
    order: dict = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        """Mean accuracy and its 95 % t-interval over seeds, per strategy and ``n_labels``."""
        return summarize(self.curves)

    def labels_to_reach(self, target: float | None = None) -> pd.DataFrame:
        """Labels each strategy needed to reach ``target`` accuracy (see :func:`labels_to_reach`).

        ``target=None`` uses random sampling's mean accuracy at the full budget.
        """
        return labels_to_reach(self.curves, target, budget=self.budget)


def summarize(curves: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean accuracy per strategy and ``n_labels`` with a Student-t confidence interval over seeds.

    With a single seed there is no spread to measure: ``ci_low``/``ci_high`` are NaN.

    >>> df = pd.DataFrame({"strategy": ["m"] * 3, "seed": [0, 1, 2], "n_labels": [10] * 3,
    ...                    "accuracy": [0.5, 0.6, 0.7]})
    >>> summarize(df)[["mean", "ci_low", "ci_high"]].round(3).values.tolist()
    [[0.6, 0.352, 0.848]]
    """
    from scipy import stats

    grouped = curves.groupby(["strategy", "n_labels"], sort=False)["accuracy"]
    out = grouped.agg(mean="mean", std="std", seeds="count").reset_index()
    sem = out["std"] / np.sqrt(out["seeds"])
    with np.errstate(invalid="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2, out["seeds"] - 1) * sem
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out[["strategy", "n_labels", "mean", "ci_low", "ci_high", "std", "seeds"]]


def labels_to_reach(curves: pd.DataFrame, target: float | None = None, *,
                    budget: int | None = None) -> pd.DataFrame:
    """Per strategy: the labels needed before accuracy first reaches ``target``.

    For each seed, the smallest ``n_labels`` whose accuracy is ``>= target``; ``labels`` is the mean
    over seeds and is NaN unless every seed got there (``seeds_reached`` says how many did).
    ``labels_mean_curve`` reads the same off the mean curve instead. ``target=None`` takes random
    sampling's mean accuracy at the largest ``n_labels``.

    >>> df = pd.DataFrame({"strategy": ["a"] * 4, "seed": [0, 0, 1, 1], "n_labels": [10, 20] * 2,
    ...                    "accuracy": [0.8, 0.9, 0.9, 0.95]})
    >>> labels_to_reach(df, 0.85)[["labels", "seeds_reached"]].values.tolist()
    [[15.0, 2.0]]
    """
    budget = int(budget or curves["n_labels"].max())
    if target is None:
        random = curves[(curves.strategy == "random") & (curves.n_labels == curves.n_labels.max())]
        if random.empty:
            raise ValueError("target=None means 'random sampling's accuracy at the budget', but "
                             "the simulation has no 'random' strategy; pass a target accuracy")
        target = float(random["accuracy"].mean())
    rows = []
    for strategy, runs in curves.groupby("strategy", sort=False):
        hits = runs[runs.accuracy >= target].groupby("seed")["n_labels"].min()
        n_seeds = runs["seed"].nunique()
        mean_curve = runs.groupby("n_labels")["accuracy"].mean()
        reached = mean_curve[mean_curve >= target]
        labels = float(hits.mean()) if len(hits) == n_seeds else np.nan
        rows.append({
            "strategy": strategy, "target": target, "labels": labels,
            "share_of_budget": labels / budget, "seeds_reached": int(len(hits)),
            "seeds": int(n_seeds),
            "labels_mean_curve": float(reached.index.min()) if len(reached) else np.nan,
        })
    return pd.DataFrame(rows)


def run_simulation(X, y, *, model=None, strategies: Sequence[str] = DEFAULT_STRATEGIES,
                   seeds: int | Sequence[int] = 5, budget: int = 300, initial: int = 10,
                   step: int = 10, test: tuple[Any, Any] | None = None, explore: float = 0.0,
                   stratify: bool = False, n_jobs: int | None = None,
                   progress: Progress = None) -> SimulationRun:
    """Run the oracle loop for every strategy and seed; see :func:`hitl_widgets.simulate`."""
    check_progress(progress)
    model = _default_model() if model is None else model
    check_estimator(model)  # TypeError with advice when there is no predict_proba
    strategies = _check_strategies(strategies, model)
    seed_list = _check_seeds(seeds)
    _check_sizes(budget, initial, step, explore)
    X, y = _check_xy(X, y, "X", "y")
    notes: list[str] = []
    rows = np.arange(len(y))  # rows of the caller's X that make up the pool
    if test is None:
        rows, test_rows = _holdout(y)
        X_test, y_test, X, y = X[test_rows], y[test_rows], X[rows], y[rows]
        notes.append(
            f"No test set given: held out {len(y_test)} rows ({HOLDOUT_SHARE:.0%}, stratified, "
            f"seed {HOLDOUT_SEED}) to measure accuracy; the pool is the other {len(y)} rows.")
    else:
        X_test, y_test = _check_test(test, X.shape[1])
    if budget > len(y):
        raise ValueError(f"budget={budget} is more labels than the pool has ({len(y)} rows); "
                         "lower the budget or pass more data")
    if stratify and initial < len(np.unique(y)):
        raise ValueError(f"stratify=True needs initial >= the number of classes "
                         f"({len(np.unique(y))}); got initial={initial}")
    jobs = [(s, seed) for seed in seed_list for s in strategies]
    args = dict(X=X, y=y, X_test=X_test, y_test=y_test, model=model, budget=budget,
                initial=initial, step=step, explore=explore, stratify=stratify)
    # The bar counts runs; whether the work is large depends on the labels they simulate.
    large = 0 if len(jobs) * budget >= SIM_BAR_FROM else len(jobs) + 1
    with progress_bar(len(jobs), "simulate", progress, large=large, unit="run") as bar:
        results = []
        for res in _map(jobs, args, n_jobs):
            results.append(res)
            bar.advance(1)
    curves = pd.DataFrame([r for res in results for r in res[0]], columns=CURVE_COLUMNS)
    fallbacks = pd.DataFrame([f for res in results for f in res[1]],
                             columns=["strategy", "seed", "n_labels", "reason"])
    unconverged = sum(res[2] for res in results)
    order = {job: rows[res[3]] for job, res in zip(jobs, results, strict=True)}
    if unconverged:
        notes.append(f"{unconverged} of {len(curves)} fits stopped before converging "
                     "(ConvergenceWarning); scaling the features or raising max_iter helps.")
    if len(fallbacks):
        notes.append(f"{len(fallbacks)} round(s) had a single class labelled; they picked at "
                     "random and scored the constant prediction (see .fallbacks).")
    return SimulationRun(curves=curves, fallbacks=fallbacks, notes=notes, budget=budget,
                         order=order)


def _map(jobs, args, n_jobs):
    """Each (strategy, seed) job's result, in order, as it finishes; in worker processes when
    ``n_jobs`` asks for them.

    Jobs share nothing and each seeds its own Generators, so the result does not depend on n_jobs.
    """
    if n_jobs in (None, 1) or len(jobs) == 1:
        return (_run_one(strategy, seed, **args) for strategy, seed in jobs)
    from joblib import Parallel, delayed

    # A generator: results arrive one by one (for the bar); closing it early stops the workers.
    return Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_run_one)(s, seed, **args) for s, seed in jobs)


def _run_one(strategy, seed, **args):
    """One learning curve with BLAS held to one thread.

    The fits are small (hundreds of rows), where BLAS threads cost more than they give: on two
    busy cores one thread made LogisticRegression on digits about 4x faster.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _curve(strategy, seed, **args)


def _curve(strategy, seed, *, X, y, X_test, y_test, model, budget, initial, step, explore,
           stratify):
    """One learning curve: (curve rows, fallback rows, unconverged fits, labelling order)."""
    labelled = _initial_set(y, initial, seed, stratify)
    # The picks get their own stream, so every strategy starts from the same initial set; it is
    # the stream ActiveLearning(seed=seed) ranks with. Diverse batches are one round's step.
    scorer = active.PoolScorer(strategy, rng=np.random.default_rng([seed, 1]), explore=explore,
                               batch_size=step, head=step)
    taken = np.zeros(len(y), bool)
    rows, falls, unconverged = [], [], 0
    while True:
        n = len(labelled)
        fitted, converged = _fit(model, X[labelled], y[labelled], seed)
        unconverged += not converged
        if fitted is None:  # one class labelled: nothing to learn from, guess that class
            accuracy = float(np.mean(y_test == y[labelled][0]))
            falls.append((strategy, seed, n, "single class labelled"))
        else:
            accuracy = float(np.mean(fitted.predict(X_test) == y_test))
        rows.append((strategy, seed, n, accuracy))
        if n >= budget:
            return rows, falls, unconverged, labelled
        taken[labelled] = True
        # No model yet (one class labelled): a seeded random order, as in the live loop.
        scorer.rescore(fitted, X, exclude=taken, progress=False)  # the run's bar counts
        labelled = np.concatenate([labelled, scorer.next(min(step, budget - n), exclude=taken)])


def _fit(model, X, y, seed):
    """(fitted clone of ``model`` or None with a single class, whether the fit converged)."""
    if len(np.unique(y)) < 2:
        return None, True
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    params = model.get_params(deep=False) if hasattr(model, "get_params") else {}
    if "random_state" in params and params["random_state"] is None:
        # An unseeded model would make runs unrepeatable: seed the copy like the rest of the run.
        model = clone(model).set_params(random_state=seed)
    # Counted and reported once in the notes instead of a warning per round.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fitted = fit_clone(model, X, y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return fitted, converged


def _initial_set(y, initial, seed, stratify):
    rng = np.random.default_rng(seed)
    if not stratify:
        return rng.choice(len(y), size=initial, replace=False)
    from sklearn.model_selection import train_test_split

    picked, _ = train_test_split(np.arange(len(y)), train_size=initial, stratify=y,
                                 random_state=seed)
    return np.asarray(picked)


def _holdout(y):
    """(pool rows, test rows): seeded, and stratified when every class has two rows or more."""
    from sklearn.model_selection import train_test_split

    counts = np.unique(y, return_counts=True)[1]
    strat = y if counts.min() >= 2 else None
    pool, test = train_test_split(np.arange(len(y)), test_size=HOLDOUT_SHARE,
                                  random_state=HOLDOUT_SEED, stratify=strat)
    return pool, test


def _default_model():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


# -- input checks: each says what was wrong and what to do ------------------------------------


def _check_strategies(strategies, model):
    if isinstance(strategies, str):
        strategies = [strategies]
    strategies = list(dict.fromkeys(strategies))
    unknown = [s for s in strategies if s not in active.STRATEGIES]
    if unknown or not strategies:
        raise ValueError(f"Unknown strategy {unknown or strategies!r}; expected some of "
                         f"{list(active.STRATEGIES)}")
    for strategy in strategies:
        active.check_strategy(strategy, model)
    return strategies


def _check_seeds(seeds):
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds is how many repeats to average over; needs >= 1, got {seeds}")
        return list(range(int(seeds)))
    seeds = [int(s) for s in seeds]
    if any(s < 0 for s in seeds):
        raise ValueError(f"seeds must be non-negative ints (numpy seeds); got {seeds}")
    if not seeds:
        raise ValueError("seeds is empty; pass a count (e.g. seeds=5) or a list of ints")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds repeat ({seeds}); repeats would count one run twice")
    return seeds


def _check_sizes(budget, initial, step, explore):
    for name, value in (("budget", budget), ("initial", initial), ("step", step)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive whole number of labels, got {value!r}")
    if budget < initial:
        raise ValueError(f"budget={budget} is below initial={initial}: the budget counts the "
                         "initial labels too, so raise the budget or lower initial")
    if not 0.0 <= explore <= 1.0:
        raise ValueError(f"explore is a share of each batch, between 0 and 1; got {explore}")


def _as_features(X, name):
    if hasattr(X, "tocsr"):  # scipy sparse (TF-IDF of texts): kept sparse, rows sliced as CSR
        return _sparse_features(X, name)
    X = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, features), got shape {X.shape}; "
                         "flatten images first, e.g. images.reshape(len(images), -1)")
    try:
        X = X.astype(np.float64, copy=False)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric features; encode text or categories "
                         "first (e.g. TfidfVectorizer, OneHotEncoder)") from None
    if np.isnan(X).any():
        rows = np.flatnonzero(np.isnan(X).any(axis=1))
        raise ValueError(f"{name} has NaN in {len(rows)} row(s) (first: {rows[:5].tolist()}); "
                         "impute them (sklearn.impute.SimpleImputer) or drop those rows")
    return X


def _sparse_features(X, name):
    X = X.tocsr().astype(np.float64)  # scipy sparse matrices are always 2-D
    if np.isnan(X.data).any():
        rows = np.unique(np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[np.isnan(X.data)])
        raise ValueError(f"{name} has NaN in {len(rows)} row(s) (first: {rows[:5].tolist()}); "
                         "impute them or drop those rows")
    return X


def _check_xy(X, y, xname, yname):
    X = _as_features(X, xname)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{yname} must be 1-D (one label per row), got shape {y.shape}")
    if len(y) != X.shape[0]:
        raise ValueError(f"{xname} has {X.shape[0]} rows but {yname} has {len(y)} labels; "
                         "they must match row for row")
    if xname == "X" and len(np.unique(y)) < 2:
        raise ValueError(f"y has a single class ({y[0]!r}); a classifier needs at least two")
    return X, y


def _check_test(test, n_features):
    if not (isinstance(test, (tuple, list)) and len(test) == 2):
        raise ValueError("test must be a pair (X_test, y_test), or None to hold out 25 % of X")
    X_test, y_test = _check_xy(test[0], test[1], "X_test", "y_test")
    if X_test.shape[1] != n_features:
        raise ValueError(f"X_test has {X_test.shape[1]} features but X has {n_features}; "
                         "use the same columns for both")
    return X_test, y_test
