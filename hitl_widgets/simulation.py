"""Teaching mode: show why active learning works by running the loop with an oracle.

``hw.simulate`` labels a data set whose answers are already known, once per strategy and seed,
and returns a :class:`SimulationResult`: the learning curves, their mean ± 95 % confidence band
and a plotly figure comparing each strategy with random sampling.

Example
-------
>>> import hitl_widgets as hw
>>> from sklearn.datasets import load_digits
>>> from sklearn.linear_model import LogisticRegression
>>> X, y = load_digits(return_X_y=True)
>>> result = hw.simulate(X / 16, y, model=LogisticRegression(max_iter=1000),
...                      strategies=["random", "margin"], seeds=2, budget=40)
>>> result.curves.shape
(16, 4)
>>> df, fig = result          # the issue's "a DataFrame plus a figure"
>>> df is result.curves, type(fig).__name__
(True, 'Figure')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .core.active import DEFAULT_STRATEGIES, SimulationRun, run_simulation


@dataclass(repr=False)
class SimulationResult(SimulationRun):
    """What :func:`simulate` measured, with its figure.

    Attributes
    ----------
    curves : DataFrame ``strategy, seed, n_labels, accuracy`` (one row per round).
    summary : DataFrame ``strategy, n_labels, mean, ci_low, ci_high, std, seeds``: the mean over
        seeds and its 95 % Student-t interval.
    figure : plotly Figure, mean ± CI per strategy, random sampling grey and dashed.
    fallbacks : rounds that had a single class labelled (they picked at random).
    order : ``(strategy, seed) ->`` rows of ``X`` in the order they were labelled.
    notes : plain-words remarks (a held-out test split, fits that did not converge, fallbacks).

    ``labels_to_reach(target)`` gives, per strategy, the labels needed to first reach an accuracy
    (default: random sampling's accuracy at the full budget).

    Unpacking gives the curves and the figure, ``df, fig = hw.simulate(...)``; in a notebook the
    result displays as its figure.
    """

    @cached_property
    def figure(self) -> Any:
        from .plots import learning_curves

        return learning_curves(self.summary)

    def __iter__(self):
        return iter((self.curves, self.figure))

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        bundle = dict(self.figure._repr_mimebundle_(include, exclude, **kwargs))
        bundle.setdefault("text/plain", repr(self))
        return bundle

    def __repr__(self) -> str:
        last = self.summary[self.summary.n_labels == self.summary.n_labels.max()]
        seeds = int(last["seeds"].max()) if len(last) else 0
        parts = [f"{r.strategy} {r.mean:.3f}" for r in last.itertuples()]
        return (f"<SimulationResult: {len(parts)} strategies x {seeds} seeds; accuracy at "
                f"{self.budget} labels: {', '.join(parts)}>")


def simulate(X, y, *, model=None, strategies: Sequence[str] = DEFAULT_STRATEGIES,
             seeds: int | Sequence[int] = 5, budget: int = 300, initial: int = 10, step: int = 10,
             test: tuple[Any, Any] | None = None, explore: float = 0.0, stratify: bool = False,
             n_jobs: int | None = None, progress=None) -> SimulationResult:
    """Simulate active learning with an oracle: accuracy vs labels, per strategy, over seeds.

    For each strategy and seed: draw ``initial`` random items as the first labels (the same
    items for every strategy of a seed), then repeat: fit a clone of ``model`` on the labels so
    far (your object is never fitted), record its accuracy on ``test``, and add the ``step``
    items the strategy picks from the unlabeled rest, with their true ``y``, until ``budget``
    labels. The picks are made by the live loop's own code: each round ranks the pool as
    ``hw.ActiveLearning(strategy=..., seed=seed, batch_size=step, explore=explore)`` does after
    a retrain (:func:`~hitl_widgets.core.active.asking_order`), and takes the first ``step``
    unlabeled items of that order.

    Parameters
    ----------
    X, y : features (2-D numeric array, DataFrame or scipy sparse matrix such as TF-IDF; no
        NaN) and the true labels.
    model : a scikit-learn-style classifier with ``predict_proba``; default
        ``LogisticRegression(max_iter=1000)``. A ``random_state`` left at None is set to each
        seed on the copy, so runs repeat.
    strategies : any of ``hitl_widgets.core.active.STRATEGIES``: ``"random"``,
        ``"least_confidence"``, ``"margin"``, ``"entropy"`` (the scores in
        :mod:`hitl_widgets.core.active`), ``"diverse"`` (margin scores, batch chosen by k-center
        greedy on ``X`` with :func:`~hitl_widgets.core.active.diverse_batch`) and ``"bald"``
        (MC dropout; a ``TorchClassifier`` with ``dropout > 0``).
    seeds : how many repeats (seeds ``0 .. seeds-1``) or a list of seeds.
    budget : labels at the end, counting the ``initial`` ones.
    initial, step : size of the first random set, and of each batch after it.
    test : ``(X_test, y_test)`` to measure accuracy on. With None, a stratified 25 % of the rows
        (seed 0) is held out for that and the rest is the pool; ``result.notes`` says so.
    explore : the probability that a place in the asking order goes to a random item instead
        (about that share of each batch), as in ``hw.ActiveLearning``.
    stratify : draw the initial set with every class in proportion (needs ``initial`` >= the
        number of classes).
    n_jobs : worker processes for the (strategy, seed) runs (joblib); results do not depend on it.
    progress : a bar over the (strategy, seed) runs when they add up to ``SIM_BAR_FROM`` labels
        or more (the default run does); True, False, or a function ``progress(runs_done,
        runs)`` (see :mod:`hitl_widgets.core.progress`). Nothing is kept between calls, so an
        interrupt leaves nothing behind.

    Returns
    -------
    SimulationResult
        ``.curves``, ``.summary``, ``.figure``, ``.labels_to_reach(target)``, ``.notes``;
        unpacks as ``curves, figure``.

    Raises
    ------
    TypeError : the model has no ``predict_proba``.
    ValueError : X and y differ in length, X has NaN, ``y`` has one class, an unknown strategy
        (or ``"bald"`` for a model without dropout), ``budget < initial``, ``seeds < 1``, or a
        budget larger than the pool.
    """
    run = run_simulation(X, y, model=model, strategies=strategies, seeds=seeds, budget=budget,
                         initial=initial, step=step, test=test, explore=explore,
                         stratify=stratify, n_jobs=n_jobs, progress=progress)
    return SimulationResult(curves=run.curves, fallbacks=run.fallbacks, notes=run.notes,
                            budget=run.budget, order=run.order)
