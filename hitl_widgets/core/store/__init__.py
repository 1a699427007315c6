"""The durable log and its one writer.

- :class:`Store`: one SQLite file holding items and an append-only event log (schema
  migrations, triggers that refuse rewrites, durable commits).
- :class:`Ledger`: the store, the label schema and the listeners of an open project: the only
  code that writes events, each write saying whether listeners hear of it.
- :class:`LabelSchema`: the labels, their keys and guidelines; :class:`SpanSchema`: span and
  relation labels, and whether spans may overlap.
- spans: a submission of an item's spans is checked whole (:class:`SpanError` otherwise) and
  read back with :func:`spans_frame`, :func:`relations_frame` and :func:`submissions_frame`;
  a model's spans for an item are one ``suggestion`` event (:func:`check_suggestion`,
  :func:`span_suggestions`), each suggested span named by :func:`suggestion_id`.
- :class:`CostView` (``ledger.costs``): money spent so far at the rates and tiers in force for
  each event (set with :meth:`Ledger.set_rate`, :meth:`Ledger.set_tier`) against the budget
  (:meth:`Ledger.set_budget`), kept up to date from the log; :meth:`CostView.charges` prices
  every paid event (:class:`Charge`).
- :func:`build_records`: what ``Project.add_items`` accepts, checked and turned into items.
- media helpers: images are sniffed, checked and only read below the project's image root.

Example
-------
>>> from hitl_widgets.core.store import Store, ItemRecord
>>> store = Store(":memory:")
>>> store.add_items([ItemRecord("a", "text", text="hello")])
(1, 0)
"""

from .._moved import old_names
from ._costs import Charge, CostView
from ._index import LabelIndex, LabelRow
from ._items import ItemError, build_records
from ._ledger import Ledger, check_annotator, check_source
from ._media import MediaError, read_below, sniff_mime
from ._migrations import ForeignFileError
from ._schema import Guideline, LabelSchema, SchemaError, SpanSchema
from ._span_suggestions import (
    check_suggestion,
    parse_suggestion_id,
    span_suggestion_events,
    span_suggestions,
    submitted_spans,
    suggestion_id,
)
from ._spans import (
    FRAME_COLUMNS,
    RESOLUTION_KEY,
    SpanError,
    Submitted,
    relations_frame,
    resolution_submissions,
    spans_frame,
    submissions_frame,
)
from ._store import EVENT_KINDS, SOURCES, ItemRecord, Store, StoreError

__all__ = ["EVENT_KINDS", "FRAME_COLUMNS", "SOURCES", "Charge", "CostView", "ForeignFileError", "Guideline", "ItemError",
           "ItemRecord", "LabelIndex", "LabelRow", "LabelSchema", "Ledger", "MediaError", "RESOLUTION_KEY",
           "SchemaError", "SpanError", "SpanSchema", "Store", "StoreError", "Submitted",
           "build_records", "check_annotator", "check_source", "check_suggestion",
           "parse_suggestion_id", "read_below", "relations_frame", "resolution_submissions", "sniff_mime",
           "span_suggestion_events", "span_suggestions", "spans_frame", "submissions_frame",
           "submitted_spans", "suggestion_id"]

# Errors name their public home in tracebacks (``hitl_widgets.core.store.X``), not the private
# module they are defined in.
for _error in (ForeignFileError, ItemError, MediaError, SchemaError, SpanError, StoreError,):
    _error.__module__ = __name__
del _error

# Names the old single-file module (core/store.py) held that live elsewhere now: still found, with
# a warning naming their home, for one release.
__getattr__ = old_names(__name__, {
    "APPLICATION_ID": "hitl_widgets.core.store._migrations",
    "QUALITY_KINDS": "hitl_widgets.core.store._store",
    "classify": "hitl_widgets.core.store._migrations",
    "header": "hitl_widgets.core.store._migrations",
    "migrate": "hitl_widgets.core.store._migrations",
    "missing_triggers": "hitl_widgets.core.store._migrations",
})
