"""Active learning: which items a human should label next, and the loop that keeps asking.

- scores, pure functions of predicted probabilities (higher = ask sooner):
  :func:`least_confidence`, :func:`margin`, :func:`entropy`, :func:`bald`;
- the one ranking policy, :func:`asking_order` (ties, exclusion, exploration, diverse batches;
  built on :func:`rank` and :func:`diverse_batch`), and :class:`PoolScorer`, which keeps a
  pool's order between retrains; ``STRATEGIES`` names every strategy;
- :class:`ActiveLearning`: the live loop, a queue that retrains in the background;
  :class:`SpanActiveLearning`: the same loop for span tasks, ranking texts by a span model's
  uncertainty (:func:`least_confident_token`, :func:`min_span_score`, :func:`entropy_mean`;
  :class:`TokenTagger` is a small span model);
- models and features: :func:`fit_clone`, :class:`TorchClassifier`, :func:`mc_dropout_proba`,
  :func:`pixels`, :func:`tfidf`, :func:`embed`, :func:`features_for`;
- :func:`run_simulation`: the loop with an oracle, for teaching (``hw.simulate`` draws it).

Example
-------
>>> import numpy as np
>>> proba = np.array([[0.9, 0.1], [0.55, 0.45], [0.5, 0.5]])
>>> margin(proba).round(2)
array([0.2, 0.9, 1. ])
"""

from .._moved import old_names
from ._features import IMAGE_KINDS, embed, features_for, pixels, tfidf
from ._learning import ActiveLearning
from ._models import (
    NotEnoughClasses,
    TorchClassifier,
    check_estimator,
    check_finite,
    fit_clone,
    mc_dropout_proba,
)
from ._ranking import (
    SCORERS,
    STRATEGIES,
    ModelOutputError,
    PoolScorer,
    asking_order,
    bald,
    check_proba,
    check_strategy,
    diverse_batch,
    entropy,
    least_confidence,
    margin,
    rank,
    rank_reference,
)
from ._simulate import DEFAULT_STRATEGIES, SimulationRun, labels_to_reach, run_simulation, summarize
from ._span_learning import SpanActiveLearning
from ._span_models import (
    SPAN_REDUCTIONS,
    TokenTagger,
    bio_tags,
    entropy_mean,
    least_confident_token,
    min_span_score,
)

__all__ = [
    "DEFAULT_STRATEGIES", "IMAGE_KINDS", "SCORERS", "SPAN_REDUCTIONS", "STRATEGIES",
    "ActiveLearning", "ModelOutputError", "NotEnoughClasses", "PoolScorer", "SimulationRun",
    "SpanActiveLearning", "TokenTagger", "TorchClassifier", "asking_order", "bald", "bio_tags",
    "check_estimator", "check_finite", "check_proba", "check_strategy", "diverse_batch", "embed",
    "entropy", "entropy_mean", "features_for", "fit_clone", "labels_to_reach",
    "least_confidence", "least_confident_token", "margin", "mc_dropout_proba", "min_span_score",
    "pixels", "rank", "rank_reference", "run_simulation", "summarize", "tfidf",
]

# Errors name their public home in tracebacks (``hitl_widgets.core.active.X``), not the private
# module they are defined in.
for _error in (ModelOutputError, NotEnoughClasses,):
    _error.__module__ = __name__
del _error

# Names the old single-file module (core/active.py) held that live elsewhere now: still found, with
# a warning naming their home, for one release.
__getattr__ = old_names(__name__, {
    "PROBA_RANGE_TOL": "hitl_widgets.core.active._ranking",
    "PROBA_ROW_SUM_TOL": "hitl_widgets.core.active._ranking",
})
