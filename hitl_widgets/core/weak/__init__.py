"""Weak supervision: labeling functions, the L matrix, LF analysis, label models, project glue.

The L matrix follows Snorkel's contract: ``(n_items, n_lfs)`` ints, ``-1`` abstains. Snorkel's
own ``@labeling_function`` objects work as they are (row by row, each row a light read-only
object); the vectorised LFs (:func:`vectorized_lf`, :func:`keyword_lf`, :func:`regex_lf`,
:func:`threshold_lf`) run once on the whole frame.

Then :func:`apply_lfs` (cached by :class:`LFCache`, failures in :class:`LFReport`),
:func:`lf_summary`, :func:`lf_rows`, :func:`majority_vote`, :func:`fit_label_model`,
:func:`compare_label_models`; and for a project :func:`apply_to_project`, :func:`human_labels`,
:func:`store_weak_labels` and :class:`WeakLabelQueue`; for a live view, :class:`LiveHumanLabels` and
:class:`LiveSummary` keep Y and the LF accuracies up to date from what changed.

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"text": ["Subscribe to my channel", "great song"]})
>>> apply_lfs(df, [keyword_lf("subscribe", ["subscribe"], "spam", labels=["ham", "spam"])]).tolist()
[[1], [-1]]
"""

from .._moved import old_names
from ._analysis import (
    ROW_KINDS,
    TIE_POLICIES,
    check_L,
    compare_label_models,
    fit_label_model,
    lf_rows,
    lf_summary,
    majority_vote,
)
from ._apply import LFChange, LFError, LFReport, apply_lfs, check_lfs, lf_name
from ._cache import FrameDigests, LFCache, frame_version, lf_fingerprint
from ._lfs import (
    ABSTAIN,
    AppliedLFs,
    VectorizedLF,
    WeakLabelQueue,
    apply_to_project,
    human_labels,
    keyword_lf,
    regex_lf,
    store_weak_labels,
    threshold_lf,
    vectorized_lf,
)
from ._live import LiveHumanLabels, LiveSummary

__all__ = [
    "ABSTAIN", "ROW_KINDS", "TIE_POLICIES", "AppliedLFs", "FrameDigests", "LFCache", "LFChange",
    "LFError", "LFReport", "LiveHumanLabels", "LiveSummary", "VectorizedLF", "WeakLabelQueue", "apply_lfs", "apply_to_project",
    "check_L", "check_lfs", "compare_label_models", "fit_label_model", "frame_version",
    "human_labels", "keyword_lf", "lf_fingerprint", "lf_name", "lf_rows", "lf_summary",
    "majority_vote", "regex_lf", "store_weak_labels", "threshold_lf", "vectorized_lf",
]

# Names the old single-file module (core/weak.py) held that live elsewhere now: still found, with
# a warning naming their home, for one release.
__getattr__ = old_names(__name__, {
    "Queue": "hitl_widgets.core.labeling",
    "SequentialQueue": "hitl_widgets.core.labeling",
    "torch_threads": "hitl_widgets.core.device",
    "wilson_interval": "hitl_widgets.core.stats",
})
