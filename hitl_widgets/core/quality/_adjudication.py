"""The adjudication queue: flagged items, one adjudicator each, with the others' labels shown.

Example
-------
>>> import hitl_widgets as hw                                                # doctest: +SKIP
>>> hw.Labeler(project, annotator="sam", queue=project.adjudication_queue())  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._checks import check_rate
from ..store import Ledger
from ._routing import LeasingQueue
from ._workflow import check_method, flag_disagreements

if TYPE_CHECKING:
    from ..store import Store


class AdjudicationQueue(LeasingQueue):
    """Items flagged for adjudication, oldest flag first, for a senior annotator.

    Sessions drawing from it show each item's labels from the other annotators (``others`` in
    the item payload: this queue's sessions only) and record the adjudicator's label as a
    ``resolution``, which settles the item. Two adjudicators in two kernels get different items.
    Flags are refreshed from the current labels whenever new labels have arrived.

    Parameters
    ----------
    threshold, method : passed to :func:`hitl_widgets.core.quality.flag_disagreements`.
    lease_s : how long an item served to an adjudicator stays theirs, in seconds
        (default None: the project's ``project.set_lease(minutes)``, 10 minutes until set).

    Examples
    --------
    >>> hw.Labeler(project, annotator="sam", queue=project.adjudication_queue())  # doctest: +SKIP
    """

    reveals_labels = True
    resolves = True

    def __init__(self, *, threshold: float = 0.75, method: str = "majority",
                 lease_s: float | None = None):
        super().__init__(lease_s)
        self.threshold = check_rate(threshold, "threshold")
        self.method = check_method(method)
        self._seen = -1

    def next_ids(self, project: Any, annotator: str, exclude: set[str], n: int) -> list[str]:
        """Up to ``n`` flagged, unresolved items nobody else is adjudicating."""
        ledger = Ledger.of(project)
        self._refresh_flags(ledger)
        return self._serve_pending(ledger, annotator, exclude, n, self._pending)

    def progress_counts(self, project: Any, annotator: str) -> tuple[int, int]:
        """(flagged items resolved, flagged items) for the progress line."""
        flagged = project.store.latest_live("flag")
        resolved = set(project.store.latest_live("resolution")) & set(flagged)
        return len(resolved), len(flagged)

    def _pending(self, store: Store) -> list[str]:
        flagged = store.latest_live("flag")
        resolved = store.latest_live("resolution")
        return [i for i in sorted(flagged, key=lambda i: flagged[i]["seq"]) if i not in resolved]

    def _refresh_flags(self, ledger: Ledger) -> None:
        latest = ledger.store.max_seq(("annotation", "retraction", "overlap", "request"))
        if latest != self._seen:
            self._seen = latest  # first: listeners of the new flags may ask for a window again
            flag_disagreements(ledger, threshold=self.threshold, method=self.method)
