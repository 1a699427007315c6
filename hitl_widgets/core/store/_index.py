"""The current labels, kept from the log as it grows instead of recomputed from all of it.

"The current label" of an item for an annotator is a query over the log: their latest annotation
that no retraction points at (:meth:`Store.current_labels`). Answering it from scratch reads every
annotation (2.9 s at 150k labels), which views that redraw on each change cannot afford. A
:class:`LabelIndex` holds the answer in memory and brings it up to date by reading only the
events after the newest one it has seen -- written here or by another kernel, one code path -- so
its cost follows what is new. The log stays the one source of truth: :meth:`LabelIndex.check`
rebuilds from it and compares.

It also keeps each item's gold answer (the latest ``gold`` event no retraction points at), and
which items changed after a given point, so a view can update what depends on those items only.

Example
-------
>>> from hitl_widgets.core.store import ItemRecord, Store
>>> store = Store(":memory:")
>>> _ = store.add_items([ItemRecord("a", "text", text="hi"), ItemRecord("b", "text", text="yo")])
>>> index = LabelIndex(store)
>>> first = store.append("annotation", "a", annotator="ana", labels=["spam"])
>>> second = store.append("annotation", "a", annotator="ana", labels=["ham"])
>>> [(r.item_id, r.labels) for r in index.rows()]
[('a', ('ham',))]
>>> version = index.version
>>> _ = store.retract([second])  # the earlier label is current again
>>> [(r.item_id, r.labels) for r in index.rows()], index.changed_since(version)
([('a', ('spam',))], {'a'})
"""

from __future__ import annotations

import bisect
import gc
import json
import threading
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from ._store import Store


CHUNK = 50_000  # events read from the log at a time; a sync of more pauses the cyclic collector


class LabelRow(NamedTuple):
    """One current label: the annotation event it comes from."""

    seq: int
    item_id: str
    annotator: str
    labels: tuple[str, ...]
    source: str | None
    created_at: float
    ms_on_item: int | None


class LabelIndex:
    """The current label per (item, annotator) and the gold answer per item, kept up to date
    from the events after the newest one seen. Thread-safe: a worker thread may bring it up to
    date while the kernel's thread reads it.

    Parameters
    ----------
    store : the project's :class:`Store`; the index reads it, never writes.
    """

    def __init__(self, store: Store):
        self._store = store
        self._lock = threading.RLock()
        self.version = 0  # the newest seq applied
        # item -> annotator -> that annotator's live annotations on it, oldest first (the last
        # is current; an undo of it brings the one before back)
        self._labels: dict[str, dict[str, list[LabelRow]]] = {}
        self._gold: dict[str, list[tuple[int, tuple[str, ...]]]] = {}  # item -> live gold answers
        self._changed_seq: list[int] = []  # when each item in _changed_item changed, ascending
        self._changed_item: list[str] = []
        self._parsed: dict[str, tuple[str, ...]] = {}  # labels JSON -> tuple: few distinct ones
        self._names: dict[str | None, str | None] = {}  # annotators and sources, one copy each

    # -- keeping up -----------------------------------------------------------------------------
    def sync(self) -> int:
        """Apply the events written after :attr:`version` (by anyone); returns how many."""
        with self._lock:
            rows = self._store.label_events_after(self.version, CHUNK)
            if len(rows) < CHUNK:  # the common case: a few new events
                self._apply_chunk(rows)
                return len(rows)
            # A first load makes millions of small objects; the cyclic collector would walk them
            # all again and again meanwhile (it took 40 % of a 300k-label load). None of them can
            # form a cycle, so it waits until they are built. The log is read a chunk at a time:
            # a million rows at once held about 400 MB of tuples until applied.
            pause = gc.isenabled()
            if pause:
                gc.disable()
            try:
                applied = 0
                while rows:
                    self._apply_chunk(rows)
                    applied += len(rows)
                    if len(rows) < CHUNK:
                        break
                    rows = self._store.label_events_after(self.version, CHUNK)
            finally:
                if pause:
                    gc.enable()
            return applied

    def _apply_chunk(self, rows: list[tuple]) -> None:
        self._apply_all(rows)
        if rows:
            self.version = rows[-1][0]

    def _apply_all(self, rows: list[tuple]) -> None:
        # Annotations are nearly all of a log: they take the short path, with the lookups bound
        # once (a first load applies a million of them); the rest go through _apply.
        labels_of, parsed, parse = self._labels, self._parsed, self._parse
        changed_seq, changed_item = self._changed_seq.append, self._changed_item.append
        # SQLite hands out a new string per row; a log has few annotators and sources, so one
        # copy of each is kept (a tenth of the index's memory at 100k labels).
        names = self._names
        for row in rows:
            seq, kind, item_id, annotator, labels, source, created_at, ms_on_item, _ = row
            if kind != "annotation":
                self._apply(row)
                continue
            annotator = names.setdefault(annotator, annotator)
            source = names.setdefault(source, source)
            label = parsed.get(labels) or parse(labels)
            per = labels_of.get(item_id)
            if per is None:
                per = labels_of[item_id] = {}
            kept = per.get(annotator)
            new = LabelRow(seq, item_id, annotator, label, source, created_at, ms_on_item)
            if kept is None:
                per[annotator] = [new]
            else:
                kept.append(new)
            changed_seq(seq)
            changed_item(item_id)

    def _apply(self, row: tuple) -> None:
        seq, kind, item_id, annotator, labels, source, created_at, ms_on_item, target = row
        if kind == "annotation":
            self._labels.setdefault(item_id, {}).setdefault(annotator, []).append(LabelRow(
                seq, item_id, annotator, self._parse(labels), source, created_at, ms_on_item))
        elif kind == "gold":
            self._gold.setdefault(item_id, []).append((seq, self._parse(labels)))
        elif not self._retract(item_id, target):
            return  # it retracted something else (a skip, a request): nothing here changed
        self._changed_seq.append(seq)
        self._changed_item.append(item_id)

    def _retract(self, item_id: str, target: int | None) -> bool:
        """Drop the retracted annotation or gold answer; False when it was neither."""
        # A retraction is written on its target's item, so only that item's lists are searched.
        for annotator, rows in self._labels.get(item_id, {}).items():
            for k, r in enumerate(rows):
                if r.seq == target:
                    del rows[k]
                    if not rows:
                        del self._labels[item_id][annotator]
                        if not self._labels[item_id]:
                            del self._labels[item_id]
                    return True
        answers = self._gold.get(item_id, [])
        for k, (seq, _) in enumerate(answers):
            if seq == target:
                del answers[k]
                if not answers:
                    del self._gold[item_id]
                return True
        return False

    def _parse(self, labels: str | None) -> tuple[str, ...]:
        if labels is None:
            return ()
        parsed = self._parsed.get(labels)
        if parsed is None:
            parsed = self._parsed[labels] = tuple(json.loads(labels))
        return parsed

    # -- reading --------------------------------------------------------------------------------
    def rows(self, annotator: str | None = None) -> list[LabelRow]:
        """The current labels (of one annotator, or all), oldest first: the rows of
        :meth:`Store.current_labels`."""
        self.sync()
        with self._lock:
            out = [rows[-1] for per in self._labels.values() for who, rows in per.items()
                   if annotator is None or who == annotator]
        out.sort()  # by seq: rows are tuples whose first field is the seq
        return out

    def item(self, item_id: str) -> dict[str, LabelRow]:
        """The current label of each annotator who labeled this item (after :meth:`sync`)."""
        with self._lock:
            return {who: rows[-1] for who, rows in self._labels.get(item_id, {}).items()}

    def gold(self) -> dict[str, tuple[str, ...]]:
        """item -> its gold answer, for items that have one (after :meth:`sync`)."""
        with self._lock:
            return {item: answers[-1][1] for item, answers in self._gold.items()}

    def changed_since(self, version: int) -> set[str]:
        """The items whose current labels or gold answer changed after ``version`` (an earlier
        :attr:`version`), up to the last :meth:`sync`."""
        with self._lock:
            start = bisect.bisect_right(self._changed_seq, version)
            return set(self._changed_item[start:])

    def check(self) -> None:
        """Rebuild from the whole log and compare; AssertionError names the first difference.
        For tests and for a user who doubts a view: the log is the source of truth."""
        with self._lock:
            self.sync()
            fresh = LabelIndex(self._store)
            fresh.sync()
            mine, theirs = self.rows(), fresh.rows()
            if mine != theirs:
                diff = next((a, b) for a, b in zip(mine + [None], theirs + [None], strict=False)
                            if a != b)
                raise AssertionError(f"the kept labels differ from the log's: {diff}")
            if self.gold() != fresh.gold():
                raise AssertionError("the kept gold answers differ from the log's")
