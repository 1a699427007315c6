"""Span adjudication: the items span consensus flags, served with every annotator's spans, and
the spans that settle each item.

How a resolution is stored: the adjudicator's spans are an ordinary ``spans`` submission written
through the Ledger (``Ledger.submit_spans(..., resolution=True)``), marked in its ``extra``
(``{"resolution": true}``). So it is undone, exported and counted by sessions like any other
submission, and ``project.spans()`` lists its spans under the adjudicator's name. What is not
a resolution is *the crowd*: consensus, flags and the spans an adjudicator is shown are
computed over the crowd's current submissions only, so a resolution never votes.

- :class:`SpanAdjudicationQueue`: the flagged, unresolved items, one adjudicator each (leases).
- :func:`span_review`: per item, the other annotators' spans and the consensus (what the
  SpanLabeler shows an adjudicator).
- :func:`final_spans`: per item, the adjudicator's spans where resolved, else the consensus.
- :func:`resolve_spans`: an adjudicator's spans for an item, written as its resolution.

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> p = Project(os.path.join(tempfile.mkdtemp(), "a.hitl"), span_labels=["PER", "ORG"])
>>> _ = p.add_items(["Ada met Bob"], id=["d"])
>>> _ = p.submit_spans("d", [(0, 3, "PER")], annotator="x")
>>> _ = p.submit_spans("d", [(0, 3, "ORG")], annotator="y")
>>> queue = SpanAdjudicationQueue()
>>> queue.next_ids(p, "sam", set(), 5)
['d']
>>> _ = resolve_spans(p, "d", [(0, 3, "PER"), (8, 11, "PER")], annotator="sam")
>>> final_spans(p)[["item_id", "start", "end", "label", "settled_by"]].values.tolist()
[['d', 0, 3, 'PER', 'resolution'], ['d', 8, 11, 'PER', 'resolution']]
>>> queue.next_ids(p, "sam", set(), 5)
[]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..store import Ledger, resolution_submissions, spans_frame, submissions_frame
from ._routing import LeasingQueue
from ._span_consensus import SpanConsensus, span_consensus

if TYPE_CHECKING:
    from ..store import Store, Submitted

FINAL_COLUMNS = ["item_id", "start", "end", "label", "text", "settled_by", "annotator"]


def _check_share(share: Any) -> float:
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share < 1:
        raise ValueError(f"share must be a number in [0, 1), e.g. 0.5 for a strict majority; "
                         f"got {share!r}")
    return float(share)


class SpanAdjudicationQueue(LeasingQueue):
    """Span items flagged by :func:`~hitl_widgets.core.quality.span_consensus`, oldest first,
    for a senior annotator; the span counterpart of :class:`AdjudicationQueue`.

    Sessions drawing from it reveal the other annotators' spans (the SpanLabeler's payloads
    get ``others`` and ``consensus``: this queue's sessions only) and store the adjudicator's
    submission as the item's resolution, which settles it (:func:`final_spans`). Two
    adjudicators in two kernels get different items (leases). Flags are computed again
    whenever spans were submitted or undone since the last call.

    Parameters
    ----------
    share : a span is consensus with more than this share of the item's annotators
        (default 0.5, a strict majority), as for ``span_consensus``.
    lease_s : how long an item served to an adjudicator stays theirs, in seconds
        (default None: the project's ``project.set_lease(minutes)``, 10 minutes until set).

    Examples
    --------
    >>> hw.SpanLabeler(project, annotator="sam", queue=project.span_adjudication_queue())  # doctest: +SKIP
    """

    reveals_labels = True
    resolves = True

    def __init__(self, *, share: float = 0.5, lease_s: float | None = None):
        super().__init__(lease_s)
        self.share = _check_share(share)
        self._seen = -1
        self._flagged: list[str] = []

    def next_ids(self, project: Any, annotator: str, exclude: set[str], n: int) -> list[str]:
        """Up to ``n`` flagged, unresolved items nobody else is adjudicating."""
        ledger = Ledger.of(project)
        return self._serve_pending(ledger, annotator, exclude, n, self._pending)

    def progress_counts(self, project: Any, annotator: str) -> tuple[int, int]:
        """(flagged items resolved, flagged items) for the progress line."""
        store = Ledger.of(project).store
        flagged = self._flags(store)
        return len(set(flagged) & _resolved(store)), len(flagged)

    def describe(self) -> str:
        return "span adjudication"

    def _pending(self, store: Store) -> dict[str, None]:
        resolved = _resolved(store)
        return dict.fromkeys(i for i in self._flags(store) if i not in resolved)

    def _flags(self, store: Store) -> list[str]:
        # Consensus reads every current span: only again once spans were submitted or undone.
        latest = store.max_seq(("spans", "retraction"))
        if latest != self._seen:
            self._seen = latest
            consensus = _crowd_consensus(store, self.share)
            self._flagged = [] if consensus is None else consensus.flagged
        return self._flagged


def _resolved(store: Store) -> set[str]:
    return {e["item_id"] for e in resolution_submissions(store).values()}


def _crowd(store: Store) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, dict]]:
    """(the crowd's spans, their submissions, the resolutions by seq): current spans without
    the adjudicators' resolutions."""
    resolutions = resolution_submissions(store)
    spans, subs = spans_frame(store), submissions_frame(store)
    keys = list(resolutions)
    return (spans[~spans["submission"].isin(keys)], subs[~subs["submission"].isin(keys)],
            resolutions)


def crowd_consensus(project: Any, share: float = 0.5,
                    item_ids: Sequence[str] | None = None) -> SpanConsensus | None:
    """:func:`span_consensus` over the project's current spans, resolutions left out (None
    when nobody has submitted spans on these items)."""
    return _crowd_consensus(Ledger.of(project).store, share, item_ids)


def _crowd_consensus(store: Store, share: float,
                     item_ids: Sequence[str] | None = None) -> SpanConsensus | None:
    spans, subs, _ = _crowd(store)
    if item_ids is not None:
        ids = set(item_ids)
        spans, subs = spans[spans["item_id"].isin(ids)], subs[subs["item_id"].isin(ids)]
    if subs.empty:
        return None
    return span_consensus(spans, submitted=subs, share=_check_share(share))


def span_review(project: Any, item_ids: Sequence[str], *, annotator: str | None = None,
                share: float = 0.5) -> dict[str, dict]:
    """What an adjudicator sees on these items: ``{item_id: {"reason", "consensus": [span],
    "others": {annotator: [span]}}}`` (``annotator``'s own spans left out of ``others``; items
    nobody submitted are left out). A span is ``{"start", "end", "label", "votes",
    "consensus", "text"}``; an annotator who submitted no spans has an empty list.

    >>> import tempfile, os
    >>> from hitl_widgets.core.project import Project
    >>> p = Project(os.path.join(tempfile.mkdtemp(), "r.hitl"), span_labels=["PER"])
    >>> _ = p.add_items(["Ada met Bob"], id=["d"])
    >>> _ = p.submit_spans("d", [(0, 3, "PER")], annotator="x")
    >>> _ = p.submit_spans("d", [], annotator="y")
    >>> review = span_review(p, ["d"], annotator="sam")["d"]
    >>> {k: [s["text"] for s in v] for k, v in review["others"].items()}
    {'x': ['Ada'], 'y': []}
    """
    consensus = crowd_consensus(project, share, item_ids)
    if consensus is None:
        return {}
    present = [i for i in dict.fromkeys(item_ids) if i in consensus.items.index]
    out = {}
    for entry in consensus.adjudication(present):
        out[entry["item_id"]] = {
            "reason": entry["reason"], "consensus": entry["consensus"],
            "others": {who: spans for who, spans in entry["annotators"].items()
                       if who != annotator}}
    return out


def resolve_spans(project: Any, item_id: Any, spans: Sequence[Any], *, annotator: str,
                  relations: Sequence[Any] = (), ms_on_item: int | None = None) -> Submitted:
    """An adjudicator's spans on an item, stored as its resolution (through the Ledger);
    undo them like any submission (``project.undo_spans``)."""
    return Ledger.of(project).submit_spans(item_id, spans, annotator=annotator,
                                           relations=relations, ms_on_item=ms_on_item,
                                           resolution=True)


def final_spans(project: Any, share: float = 0.5) -> pd.DataFrame:
    """The settled spans per item: the adjudicator's where the item was resolved (the newest
    resolution), else the crowd's consensus spans (an item still flagged contributes the
    spans that did reach a majority). Columns :data:`FINAL_COLUMNS`; ``settled_by`` is
    ``"resolution"`` or ``"consensus"``, ``annotator`` the adjudicator (None for consensus).
    An item settled with no spans has no rows, as in ``project.spans()``."""
    store = Ledger.of(project).store
    spans, subs, resolutions = _crowd(store)
    newest: dict[str, int] = {}
    for seq, e in sorted(resolutions.items()):
        newest[e["item_id"]] = seq
    parts = []
    if not subs.empty:
        cons = span_consensus(spans, submitted=subs, share=_check_share(share)).spans
        if "text" not in cons.columns:
            cons = cons.assign(text=None)
        cons = cons[~cons["item_id"].isin(set(newest))]
        parts.append(cons.assign(settled_by="consensus", annotator=None)[FINAL_COLUMNS])
    everything = spans_frame(store)
    settled = everything[everything["submission"].isin(set(newest.values()))]
    parts.append(settled.assign(settled_by="resolution")[FINAL_COLUMNS])
    out = pd.concat([p for p in parts if not p.empty] or [parts[-1]], ignore_index=True)
    out = out.sort_values(["item_id", "start", "end", "label"], kind="stable", ignore_index=True)
    return out.astype({"start": "int64", "end": "int64"})
