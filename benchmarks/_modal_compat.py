"""Import modAL's ActiveLearner on today's scikit-learn.

Why: modAL 0.4.2.1 (its latest release) calls ``sklearn.utils.check_X_y(...,
force_all_finite=...)`` whenever a learner gets training data; scikit-learn 1.6 renamed that
argument ``ensure_all_finite`` and 1.8 removed the old name, so ``ActiveLearner(X_training=...)``
raises TypeError. On such a scikit-learn this module gives modAL's learners module a
``check_X_y`` that passes the value under the new name; nothing else of modAL changes, so its
query strategies are measured as released.

Usage: ``from _modal_compat import ActiveLearner`` (benchmarks/ on ``sys.path``).
"""

from __future__ import annotations

import inspect

import sklearn.utils
from modAL.models import ActiveLearner, learners

__all__ = ["ActiveLearner", "PATCHED"]

_check_X_y = sklearn.utils.check_X_y


def _check_X_y_renamed(*args, force_all_finite=True, **kwargs):
    kwargs.setdefault("ensure_all_finite", force_all_finite)
    return _check_X_y(*args, **kwargs)


PATCHED = "force_all_finite" not in inspect.signature(_check_X_y).parameters
if PATCHED:
    learners.check_X_y = _check_X_y_renamed
