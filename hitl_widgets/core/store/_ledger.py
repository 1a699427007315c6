"""The one writer: every event a project records goes through a :class:`Ledger`.

A ledger is the store, the label schema and the listeners of one open project. It is the only
code that appends events, retracts them, adds items or changes settings, and every one of its
writes takes ``notify``: the kind of change listeners hear about once the write has committed,
or ``False`` for a write they do not hear about (a lease, an audit entry). A silent write is then
a choice that reads at its call site, never an accident of which module wrote.

Inside :meth:`Ledger.transaction` notices wait for the outermost block to commit, and are dropped
with it when it rolls back: a listener never hears of a write that is not in the file.

Services (quality, weak supervision, active learning, the labeling session) take a ledger, not
the :class:`~hitl_widgets.Project`; :meth:`Ledger.of` accepts either, so their public functions
work with a project as users hold it.

Example
-------
>>> from hitl_widgets.core.store import ItemRecord, LabelSchema, Ledger, Store
>>> ledger = Ledger(Store(":memory:"), LabelSchema.build(["ham", "spam"]))
>>> heard = []
>>> _ = ledger.subscribe(lambda kind, info: heard.append((kind, info["item_id"])))
>>> _ = ledger.add_items([ItemRecord("a", "text", text="win a prize")], notify=False)
>>> seq = ledger.annotate("a", "spam", annotator="ana")
>>> heard
[('annotation', 'a')]
>>> _ = ledger.append("shown", "a", annotator="ana", suggestion=["spam"], notify=False)
>>> len(heard)
1
"""

from __future__ import annotations

import logging
import numbers
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._checks import item_id as check_item_id
from .._checks import item_id_list
from ._costs import (
    BUDGET_KEY,
    DEFAULT,
    RATES_KEY,
    TIERS_KEY,
    CostView,
    check_budget,
    check_hourly,
    check_name,
)
from ._index import LabelIndex
from ._schema import LabelSchema, SchemaError, SpanSchema
from ._span_suggestions import check_suggestion, check_suggestion_ids
from ._spans import RESOLUTION_KEY, SpanError, Submitted, check_relations, check_spans
from ._store import SOURCES, ItemRecord, Store

log = logging.getLogger(__name__)

Listener = Callable[[str, dict], None]


class Ledger:
    """Store + schema + listeners: the only object that writes a project's events.

    Parameters
    ----------
    store : the open :class:`Store`.
    schema : the project's :class:`LabelSchema`; labels are validated against it.
    image_root : the only folder image paths may be read from (None: none set).
    span_schema : the project's :class:`SpanSchema`, or None when it labels no spans.
    """

    def __init__(self, store: Store, schema: LabelSchema, image_root: Path | None = None,
                 span_schema: SpanSchema | None = None):
        self.store = store
        self.schema = schema
        self.image_root = image_root
        self.span_schema = span_schema
        # The current labels and gold answers, kept up to date from the log (views read these).
        self.label_index = LabelIndex(store)
        # Money spent and the budget, kept up to date from the log the same way.
        self.costs = CostView(store)
        self._listeners: list[Listener] = []
        # Notices held back until the outermost transaction commits, per thread: another
        # thread's writes are not part of this thread's transaction.
        self._local = threading.local()
        # What poll() has seen of other connections' commits: the file's data_version (moves
        # only when another connection commits), the newest seq and the item count then.
        self._poll_lock = threading.Lock()
        self._polled = (store.data_version(), store.max_seq(), store.item_count())

    @classmethod
    def open(cls, path: str | Path, labels: Sequence[str] | None = None, *,
             multi_label: bool | None = None, keys: Any = None, guidelines: Any = None,
             image_root: Path | None = None, read_only: bool = False,
             span_labels: Sequence[str] | None = None,
             relation_labels: Sequence[str] | None = None, overlapping: bool | None = None,
             span_keys: Any = None) -> Ledger:
        """Open (or create) a project file: read its schemas and image root, and write what
        changes in one transaction. Arguments as for :class:`hitl_widgets.Project`."""
        store = Store(path, read_only=read_only)
        spans = {"labels": span_labels, "relation_labels": relation_labels,
                 "overlapping": overlapping, "keys": span_keys}
        try:
            schema, root, span_schema = _open(store, labels, multi_label, keys, guidelines,
                                              image_root, spans)
        except BaseException:
            store.close()
            raise
        return cls(store, schema, root, span_schema)

    @staticmethod
    def of(project: Any) -> Ledger:
        """The ledger of a project, or the ledger itself: what services accept."""
        if isinstance(project, Ledger):
            return project
        ledger = getattr(project, "ledger", None)
        if isinstance(ledger, Ledger):
            return ledger
        raise TypeError(f"expected a hitl_widgets.Project (or its ledger); got "
                        f"{type(project).__name__} {project!r:.60}")

    # -- listeners ------------------------------------------------------------------------
    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(kind, info)`` after each notifying write; returns the unsubscribe
        function."""
        if not callable(callback):
            raise TypeError(f"callback must be callable as callback(kind, info); got {callback!r:.60}")
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def poll(self) -> bool:
        """Tell listeners what other connections (another kernel, a script) wrote since the
        last poll: one ``external`` notice when they appended events or added items, ``info`` =
        ``{"from_seq", "to_seq"}``, the newest seq at the last poll and now (this ledger's own
        writes since the last poll may be among them). Returns whether it notified.

        Writes through this ledger notify as they happen; another process's cannot reach this
        one, so a view that follows other kernels calls this on a timer (the widgets do, on the
        kernel's loop). Each poll is three indexed reads.
        """
        with self._poll_lock:
            # The marks first, the data_version after: a version still unchanged then means no
            # other connection committed before the marks were read, so they hold only this
            # ledger's own writes (already notified) and become the new baseline quietly.
            marks = (self.store.max_seq(), self.store.item_count())
            version = self.store.data_version()
            before = self._polled
            if version == before[0]:
                self._polled = (version, *marks)
                return False
            # Another connection committed. Read again: its commit may have landed after the
            # marks above; whatever is read now is announced now. Any event it appended has a
            # seq above the last poll's newest (seqs are handed out in commit order).
            marks = (self.store.max_seq(), self.store.item_count())
            self._polled = (version, *marks)
        if marks == before[1:]:
            return False  # a commit that added neither (a lease, a setting): nothing to show
        self._notify("external", {"from_seq": before[1], "to_seq": marks[0]})
        return True

    def _notify(self, kind: str | bool, info: dict) -> None:
        if kind is False:
            return
        if not isinstance(kind, str) or not kind:
            raise TypeError(f"notify must be the kind of change (a str) or False; got {kind!r}")
        pending = getattr(self._local, "pending", None)
        if pending is not None:  # inside a transaction: after it commits
            pending.append((kind, info))
            return
        # A listener's failure must not turn a saved write into an exception for the caller.
        for callback in list(self._listeners):
            try:
                callback(kind, info)
            except Exception:
                log.exception("project listener %r failed on %s", callback, kind)

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Hold the file's write lock for a block (see :meth:`Store.transaction`); the block's
        notices go out once, in order, after the outermost block commits."""
        outer = getattr(self._local, "pending", None) is None
        if outer:
            self._local.pending = []
        try:
            with self.store.transaction() as store:
                yield store
        except BaseException:
            if outer:
                self._local.pending = None
            raise
        if outer:
            pending, self._local.pending = self._local.pending, None
            for kind, info in pending:
                self._notify(kind, info)

    # -- generic writes -------------------------------------------------------------------
    def append(self, kind: str, item_id: str, *, notify: str | bool, **fields: Any) -> int:
        """Append one event; returns its seq once durable. ``notify``: the kind of change
        listeners hear (``info`` = item_id, annotator, seq), or False."""
        seq = self.store.append(kind, item_id, **fields)
        info = {"item_id": item_id, "seq": seq}
        if fields.get("annotator") is not None:
            info["annotator"] = fields["annotator"]
        self._notify(notify, info)
        return seq

    def append_many(self, events: Sequence[dict], *, notify: str | bool,
                    info: dict | None = None) -> list[int]:
        """Append events in one transaction (all or none). Listeners hear one notice for the
        batch (``info`` = item_ids, seqs, plus ``info``); nothing when the batch is empty."""
        events = list(events)
        if not events:
            return []
        seqs = self.store.append_many(events)
        ids = list(dict.fromkeys(e["item_id"] for e in events))
        self._notify(notify, {"item_ids": ids, "seqs": seqs, **(info or {})})
        return seqs

    def retract(self, seqs: Sequence[int], *, notify: str | bool,
                annotator: str | None = None) -> list[int]:
        """Retract these events (all or none); returns the new retractions' seqs."""
        out = self.store.retract(seqs, annotator)
        if out:
            self._notify(notify, {"seqs": out, "annotator": annotator})
        return out

    def add_items(self, records: Sequence[ItemRecord], *, notify: str | bool,
                  step: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Add items (see :meth:`Store.add_items`, which calls ``step``); returns (added, already
        there)."""
        added, existing = self.store.add_items(records, step)
        if added:
            self._notify(notify, {"added": added})
        return added, existing

    def set_meta(self, key: str, value: Any, *, notify: str | bool) -> None:
        """Change a project setting."""
        self.store.set_meta(key, value)
        self._notify(notify, {"key": key})

    # -- what labeling costs --------------------------------------------------------------
    def set_rate(self, who: str, hourly: float, *, tier: bool = False) -> dict:
        """Set an hourly rate: of an annotator, of a tier (``tier=True``) or the default
        (``who="*"``); notifies ``rate``. One write. The rate applies to the events after the
        newest one now (seq order, so a clock that goes backwards cannot re-price old work);
        earlier work keeps its price. Returns the history entry written.

        >>> from hitl_widgets.core.store import LabelSchema, Store
        >>> ledger = Ledger(Store(":memory:"), LabelSchema.build(["ham", "spam"]))
        >>> ledger.set_rate("senior", 30, tier=True)
        {'seq': 0, 'who': 'senior', 'tier': True, 'hourly': 30.0}
        """
        if not isinstance(tier, bool):
            raise TypeError(f"tier must be True (who names a tier) or False; got {tier!r}")
        if who != DEFAULT or tier:
            check_name(who, "tier" if tier else "who")
        if tier and who == DEFAULT:
            raise ValueError("'*' is the default rate, not a tier: set_rate('*', hourly)")
        hourly = check_hourly(hourly)
        with self.transaction():
            # Read under the write lock: no event can land between the seq and the write.
            entry = {"seq": self.store.max_seq(), "who": who, "tier": tier, "hourly": hourly}
            self.store.set_meta(RATES_KEY, [*self.store.get_meta(RATES_KEY, []), entry])
            self._notify("rate", dict(entry))
        return entry

    def set_tier(self, annotator: str, tier: str | None) -> dict:
        """Put an annotator in a tier (None: in none), from the next event on; notifies
        ``tier``. One write. Returns the history entry written."""
        check_name(annotator)
        if tier is not None:
            check_name(tier, "tier")
            if tier == DEFAULT:
                raise ValueError("'*' names the default rate, not a tier; pick a tier name "
                                 "such as 'senior'")
        with self.transaction():
            entry = {"seq": self.store.max_seq(), "annotator": annotator, "tier": tier}
            self.store.set_meta(TIERS_KEY, [*self.store.get_meta(TIERS_KEY, []), entry])
            self._notify("tier", dict(entry))
        return entry

    def set_budget(self, amount: float | None) -> None:
        """Cap what labeling may cost (None: no cap); notifies ``budget``. One write. Once the
        money spent reaches it, sessions hand out no new items (see
        :meth:`hitl_widgets.core.labeling.LabelingSession.window`)."""
        amount = check_budget(amount)
        self.store.set_meta(BUDGET_KEY, amount)
        self._notify("budget", {"limit": amount})

    # -- an annotator's actions -----------------------------------------------------------
    def annotate(self, item_id: Any, label: str | Iterable[str], *, annotator: str,
                 source: str = "human", ms_on_item: int | None = None,
                 suggestion: str | Iterable[str] | None = None,
                 suggestion_score: float | None = None, score: float | None = None,
                 extra: dict | None = None) -> int:
        """Record a label (see :meth:`hitl_widgets.Project.annotate`); notifies ``annotation``."""
        item_id = check_item_id(item_id)
        labels = self.schema.validate(label)
        shown = None if suggestion is None else self.schema.validate(suggestion)
        check_annotator(annotator)
        check_source(source)
        return self.append("annotation", item_id, notify="annotation", annotator=annotator,
                           labels=labels, source=source, score=score, suggestion=shown,
                           suggestion_score=suggestion_score, ms_on_item=ms_on_item, extra=extra)

    def skip(self, item_id: Any, *, annotator: str, ms_on_item: int | None = None) -> int:
        """Record that the annotator passed on an item; notifies ``skip``."""
        item_id = check_item_id(item_id)
        check_annotator(annotator)
        return self.append("skip", item_id, notify="skip", annotator=annotator,
                           ms_on_item=ms_on_item)

    def resolve(self, item_id: Any, label: str | Iterable[str], *, annotator: str,
                ms_on_item: int | None = None) -> int:
        """An adjudicator's label: it settles the item (see :meth:`hitl_widgets.Project.resolve`);
        notifies ``resolution``."""
        item_id = check_item_id(item_id)
        check_annotator(annotator)
        labels = self.schema.validate(label)
        return self.append("resolution", item_id, notify="resolution", annotator=annotator,
                           labels=labels, source="human", ms_on_item=ms_on_item)

    def undo(self, *, annotator: str, item_id: Any = None) -> dict | None:
        """Retract the annotator's latest label, skip or resolution; notifies ``retraction``."""
        check_annotator(annotator)
        item_id = None if item_id is None else check_item_id(item_id)
        undone = self.store.retract_last(annotator, item_id)
        if undone is not None:
            self._notify("retraction", {"item_id": undone["item_id"], "annotator": annotator,
                                        "kind": undone["kind"]})
        return undone

    def suggest(self, item_ids: Sequence[Any], labels: Sequence[Any],
                scores: Sequence[float] | None = None, *, source: str = "model",
                version: str | None = None) -> list[int]:
        """Store model or LF suggestions (see :meth:`hitl_widgets.Project.suggest`); notifies
        ``suggestion``."""
        item_ids = item_id_list(item_ids, "item_ids")
        if isinstance(labels, (str, bytes)):
            raise TypeError(f"labels: expected one label per item, got the string {labels!r}; "
                            f"wrap it: [{labels!r}]")
        if len(labels) != len(item_ids) or (scores is not None and len(scores) != len(item_ids)):
            raise ValueError("item_ids, labels and scores must have the same length")
        check_source(source)
        extra = None if version is None else {"version": str(version)}
        events = [
            dict(kind="suggestion", item_id=i, labels=self.schema.validate(lab), source=source,
                 score=None if scores is None else scores[k], extra=extra)
            for k, (i, lab) in enumerate(zip(item_ids, labels, strict=True))
        ]
        return self.append_many(events, notify="suggestion")

    def record_shown(self, item_id: Any, *, annotator: str, suggestion: Any,
                     score: float | None = None) -> int:
        """Audit that a suggestion was on screen for an annotator. Silent: it changes no view."""
        check_annotator(annotator)
        return self.append("shown", check_item_id(item_id), notify=False, annotator=annotator,
                           suggestion=self.schema.validate(suggestion), suggestion_score=score)

    # -- spans ----------------------------------------------------------------------------
    def submit_spans(self, item_id: Any, spans: Sequence[Any], *, annotator: str,
                     relations: Sequence[Any] = (), source: str = "human",
                     ms_on_item: int | None = None, extra: dict | None = None,
                     resolution: bool = False) -> Submitted:
        """An annotator's spans on an item (see :meth:`hitl_widgets.Project.submit_spans`),
        checked whole and written in one transaction; notifies ``spans``.

        ``resolution=True``: an adjudicator's spans, which settle the item. They are an
        ordinary ``spans`` submission marked in its ``extra`` (:data:`RESOLUTION_KEY`), so undo,
        sessions and exports treat them as any other; :func:`resolution_submissions` finds them.
        """
        if not isinstance(resolution, bool):
            raise TypeError(f"resolution must be True or False, not {resolution!r}")
        if resolution:
            extra = {**(extra or {}), RESOLUTION_KEY: True}
        item_id = check_item_id(item_id)
        check_annotator(annotator)
        check_source(source)
        schema = self._spans_schema()
        record = self.store.get_items([item_id]).get(item_id)
        if record is None:
            raise KeyError(f"Unknown item id {item_id!r}; add it first with project.add_items(...)")
        # Items never change, so what is checked here is what the transaction writes against.
        checked = check_spans(record.text, spans, schema, item_id=item_id)
        links = check_relations(relations, checked, schema, item_id=item_id)
        for s in checked:
            if s["source"] is not None:
                check_source(s["source"])
        with self.transaction():
            if any(s["suggestion_id"] is not None for s in checked):
                # Read under the write lock: the suggestion named is the latest one when written.
                latest = self.store.latest_suggestions([item_id], spans=True).get(item_id)
                check_suggestion_ids(checked, latest, item_id)
            seq = self.append("spans", item_id, notify=False, annotator=annotator, source=source,
                              ms_on_item=ms_on_item, extra=extra)
            span_ids = self.append_many([dict(
                kind="span", item_id=item_id, annotator=annotator, labels=[s["label"]],
                source=s["source"] or source, score=s["score"], target=seq,
                extra={**s["extra"], "start": s["start"], "end": s["end"], "text": s["text"],
                       **({} if s["suggestion_id"] is None
                          else {"suggestion_id": s["suggestion_id"]})},
            ) for s in checked], notify=False)
            relation_ids = self.append_many([dict(
                kind="relation", item_id=item_id, annotator=annotator, labels=[label],
                source=source, target=seq,
                extra={"head": span_ids[head], "child": span_ids[child]},
            ) for head, child, label in links], notify=False)
            self._notify("spans", {"item_id": item_id, "annotator": annotator, "seq": seq,
                                   "span_ids": span_ids, "relation_ids": relation_ids})
        return Submitted(seq, tuple(span_ids), tuple(relation_ids))

    def suggest_spans(self, suggestions: Sequence[tuple[Any, Any]], *, model_version: str,
                      source: str = "model") -> list[int]:
        """Store a model's spans for several items, one ``suggestion`` event each (see
        ``_span_suggestions``), all in one transaction or none; notifies ``suggestion``.

        ``suggestions``: ``(item_id, spans)`` pairs; each item's spans are checked against its
        text and the span schema first (:func:`check_suggestion`), so a bad one writes nothing.
        Returns the events' seqs, in the order given.
        """
        if not isinstance(model_version, str) or not model_version.strip():
            raise ValueError("model_version must name the model that made the spans, e.g. "
                             f"model_version='ner-v1'; got {model_version!r}")
        check_source(source)
        schema = self._spans_schema()
        pairs = [(check_item_id(i), spans) for i, spans in suggestions]
        records = self.store.get_items([i for i, _ in pairs])
        events = []
        for item_id, spans in pairs:
            record = records.get(item_id)
            if record is None:
                raise KeyError(f"Unknown item id {item_id!r}; add it first with "
                               "project.add_items(...)")
            checked = check_suggestion(record.text, spans, schema, item_id=item_id)
            events.append(dict(kind="suggestion", item_id=item_id, source=source,
                               extra={"version": model_version, "spans": checked}))
        return self.append_many(events, notify="suggestion", info={"spans": True})

    def relate(self, head: int, child: int, label: str, *, annotator: str) -> int:
        """Add a relation between two current spans of one submission; notifies ``spans``."""
        check_annotator(annotator)
        label = self._spans_schema().validate(label, relation=True)
        with self.transaction():
            a = self._current_part(head, "span", annotator)
            b = self._current_part(child, "span", annotator)
            if a["target"] != b["target"]:
                raise SpanError(f"Spans {head} and {child} are on different items "
                                f"({a['item_id']!r}, {b['item_id']!r}); a relation links two "
                                "spans of one item")
            if a["seq"] == b["seq"]:
                raise SpanError(f"head and child are the same span {head}; a relation links "
                                "two spans")
            seq = self.append("relation", a["item_id"], notify=False, annotator=annotator,
                              labels=[label], source="human", target=a["target"],
                              extra={"head": a["seq"], "child": b["seq"]})
            self._notify("spans", {"item_id": a["item_id"], "annotator": annotator,
                                   "seq": a["target"], "relation_ids": [seq]})
        return seq

    def retract_span(self, span_id: int, *, annotator: str) -> dict:
        """Delete one current span, and in the same transaction the relations that name it;
        notifies ``retraction``. Returns what was retracted."""
        check_annotator(annotator)
        with self.transaction():
            span = self._current_part(span_id, "span", annotator)
            linked = [r["seq"] for r in self.store.live_events(["relation"], [span["item_id"]])
                      if r["target"] == span["target"]
                      and span["seq"] in (r["extra"]["head"], r["extra"]["child"])]
            self.retract([span["seq"], *linked], notify=False, annotator=annotator)
            done = {"item_id": span["item_id"], "annotator": annotator, "kind": "span",
                    "span_id": span["seq"], "relation_ids": linked}
            self._notify("retraction", done)
        return done

    def retract_relation(self, relation_id: int, *, annotator: str) -> dict:
        """Delete one current relation (its spans stay); notifies ``retraction``."""
        check_annotator(annotator)
        with self.transaction():
            rel = self._current_part(relation_id, "relation", annotator)
            self.retract([rel["seq"]], notify=False, annotator=annotator)
            done = {"item_id": rel["item_id"], "annotator": annotator, "kind": "relation",
                    "relation_id": rel["seq"]}
            self._notify("retraction", done)
        return done

    def undo_spans(self, item_id: Any, *, annotator: str) -> dict | None:
        """Retract the annotator's latest submission of spans on this item (the one before,
        if any, is current again); notifies ``retraction``. None when there is none."""
        item_id = check_item_id(item_id)
        check_annotator(annotator)
        with self.transaction():
            mine = [e for e in self.store.live_events(["spans"], [item_id])
                    if e["annotator"] == annotator]
            if not mine:
                return None
            self.retract([mine[-1]["seq"]], notify=False, annotator=annotator)
            self._notify("retraction", {"item_id": item_id, "annotator": annotator,
                                        "kind": "spans", "seq": mine[-1]["seq"]})
        return mine[-1]

    def _spans_schema(self) -> SpanSchema:
        if self.span_schema is None:
            raise SchemaError(f"{self.store.path} declares no span labels; reopen it with "
                              "Project(path, span_labels=['PER', 'ORG'])")
        return self.span_schema

    def _current_part(self, seq: Any, kind: str, annotator: str) -> dict:
        """The live span (or relation) ``seq`` among the annotator's current spans, or
        SpanError saying why it is not."""
        if isinstance(seq, bool) or not isinstance(seq, numbers.Integral):
            raise SpanError(f"a {kind} id is an int (the span_id or relation_id column); got "
                            f"{seq!r:.40}")
        event = self.store.event(int(seq))
        if event is None or event["kind"] != kind:
            raise SpanError(f"No {kind} {seq}: it is not a {kind}'s id; take ids from "
                            f"project.{kind}s()")
        if event["annotator"] != annotator:
            raise SpanError(f"{kind.capitalize()} {seq} is {event['annotator']!r}'s, not "
                            f"{annotator!r}'s; only its annotator can change it")
        if event["retracted"]:
            raise SpanError(f"{kind.capitalize()} {seq} was deleted already")
        mine = [e["seq"] for e in self.store.live_events(["spans"], [event["item_id"]])
                if e["annotator"] == annotator]
        if not mine or mine[-1] != event["target"]:
            raise SpanError(f"{kind.capitalize()} {seq} is not among {annotator!r}'s current "
                            f"spans on item {event['item_id']!r} (its submission was undone or "
                            "replaced); take ids from project.spans(annotator=...)")
        return event

    # -- reading helpers ------------------------------------------------------------------
    def label_value(self, labels: list[str]) -> str | tuple[str, ...]:
        """A stored label list as users see it: a str, or a tuple in a multi-label project."""
        return tuple(labels) if self.schema.multi_label else labels[0]


# -- opening --------------------------------------------------------------------------
def _open(store: Store, labels, multi_label, keys, guidelines, root,
          spans: dict) -> tuple[LabelSchema, Path | None, SpanSchema | None]:
    """Read the stored schemas and image root, and write what changes, in one transaction.

    Deciding and writing under one write lock is what keeps two kernels creating the same
    file with different labels from both succeeding. Nothing is locked when nothing changes.
    """
    def decide():
        span_schema, span_changes = _resolve_spans(store, **spans)
        schema, changes = _resolve_schema(store, labels, multi_label, keys, guidelines,
                                          spans_only=span_schema is not None)
        stored_root, root_changes = _resolve_root(store, root)
        return schema, stored_root, span_schema, {**changes, **root_changes, **span_changes}

    schema, stored_root, span_schema, changes = decide()
    if not changes or store.read_only:
        return schema, stored_root, span_schema
    with store.transaction():  # decide again: another kernel may have written meanwhile
        schema, stored_root, span_schema, changes = decide()
        for key, value in changes.items():
            store.set_meta(key, value)
    return schema, stored_root, span_schema


def _resolve_spans(store: Store, labels, relation_labels, overlapping,
                   keys) -> tuple[SpanSchema | None, dict]:
    """The span schema to use (None: the project labels no spans), and the meta entries to
    write for it. A project without one may be given one later; once set, its labels,
    relation labels and layering stay (keys may change), as the label schema's do."""
    stored = store.get_meta("span_schema")
    if stored is None:
        if labels is None:
            if relation_labels is not None or overlapping is not None or keys:
                raise SchemaError("relation_labels, overlapping and span_keys describe a span "
                                  "task: give its span_labels=[...] too")
            return None, {}
        if store.read_only:
            raise SchemaError(f"{store.path} holds no span schema, and it was opened "
                              "read-only, so none can be written")
        schema = SpanSchema.build(labels, relation_labels=relation_labels or (),
                                  overlapping=overlapping or False, keys=keys)
        return schema, {"span_schema": schema.to_json()}
    schema = SpanSchema.from_json(stored)
    for name, given, have in (("span_labels", labels, schema.labels),
                              ("relation_labels", relation_labels, schema.relation_labels)):
        if given is not None and list(given) != list(have):
            raise SchemaError(f"{store.path} has {name} {list(have)}, not {list(given)}; omit "
                              f"{name}= to reopen it as it is")
    if overlapping is not None and bool(overlapping) != schema.overlapping:
        raise SchemaError(f"{store.path} was created with overlapping={schema.overlapping}; "
                          "spans already stored were checked against it")
    if keys:  # presentation only: safe to change on reopen
        schema = SpanSchema.build(schema.labels, relation_labels=schema.relation_labels,
                                  overlapping=schema.overlapping, keys=keys)
        if schema.to_json() != stored:
            return schema, {"span_schema": schema.to_json()}
    return schema, {}


def _resolve_schema(store: Store, labels, multi_label, keys, guidelines,
                    spans_only: bool = False) -> tuple[LabelSchema, dict]:
    """The schema to use, and the meta entries to write for it (none when unchanged).
    ``spans_only``: a new project may then have no item labels."""
    stored = store.get_meta("schema")
    if stored is None:
        if store.read_only:
            raise SchemaError(f"{store.path} holds no label schema yet, and it was opened "
                              "read-only, so none can be written")
        if labels is None and spans_only:
            schema = LabelSchema.spans_only()
            return schema, {"schema": schema.to_json()}
        if labels is None:
            raise SchemaError(f"{store.path} is a new project: give its labels, e.g. "
                              "Project(path, labels=['ham', 'spam'])")
        schema = LabelSchema.build(labels, multi_label=bool(multi_label), keys=keys,
                                   guidelines=guidelines)
        return schema, {"schema": schema.to_json()}
    schema = LabelSchema.from_json(stored)
    if labels is not None and list(labels) != list(schema.labels):
        raise SchemaError(f"{store.path} has labels {list(schema.labels)}, not {list(labels)}; "
                          "omit labels= to reopen it as it is")
    if multi_label is not None and bool(multi_label) != schema.multi_label:
        raise SchemaError(f"{store.path} was created with multi_label={schema.multi_label}")
    if keys or guidelines:  # presentation only: safe to change on reopen
        schema = LabelSchema.build(schema.labels, multi_label=schema.multi_label,
                                   keys=keys or schema.keys,
                                   guidelines=guidelines or stored.get("guidelines"))
        if schema.to_json() != stored:
            return schema, {"schema": schema.to_json()}
    return schema, {}


def _resolve_root(store: Store, root: Path | None) -> tuple[Path | None, dict]:
    """The image root to use, and the meta entry to write for it (none when unchanged)."""
    stored = store.get_meta("image_root")
    if root is None:
        return (Path(stored) if stored else None), {}
    return root, ({} if str(root) == stored else {"image_root": str(root)})


def check_annotator(annotator: Any) -> None:
    """A usable annotator name, or an error that says what is wrong with it: the one rule for
    every name (:func:`check_name`): names are shown on dashboards, in cost reports and in
    spreadsheets, so they are non-empty, at most 200 characters, with no markup and no control
    characters.

    >>> check_annotator("ana")
    >>> check_annotator("<b>ana</b>")
    Traceback (most recent call last):
    ...
    ValueError: annotator '<b>ana</b>' holds ['<', '>']: names are shown in HTML views and spreadsheets, so markup (< > & " `) and control characters (tabs, newlines) are refused; use plain text like 'ana.b'
    """
    check_name(annotator, "annotator")


def check_source(source: Any) -> None:
    """One of the sources the store knows (human, model, lf)."""
    if source not in SOURCES:
        raise ValueError(f"Unknown source {source!r}; expected one of {list(SOURCES)}")
