"""The durable project store: one SQLite file holding items and an append-only event log.

Every human or machine action is an *event*; nothing is updated, deleted or replaced (triggers
refuse UPDATE, DELETE and an INSERT OR REPLACE over an existing row, and opening checks they are
all there). "The current label" of an item for an annotator is a query over the log: the latest
annotation that no retraction points at. A write returns only after SQLite has committed it
(WAL, ``synchronous=FULL``), so whatever a caller was told is saved survives a killed process;
an interrupted write is rolled back whole. Anyone with write access to the file can still drop
the triggers or rewrite it: that is detected (missing triggers) or not at all (a rewritten file).

Example
-------
>>> store = Store(":memory:")
>>> store.add_items([ItemRecord("a", "text", text="hello")])
(1, 0)
>>> seq = store.append("annotation", "a", annotator="ana", labels=["spam"])
>>> [(r["item_id"], r["labels"]) for r in store.current_labels()]
[('a', ['spam'])]
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._migrations import (
    APPLICATION_ID,
    ForeignFileError,
    classify,
    header,
    migrate,
    missing_triggers,
)

log = logging.getLogger(__name__)

# The quality workflow's kinds (see core/quality): a gold answer set by
# the user, a lease on an item for an annotator, a request for one more label, a flag for
# adjudication, an adjudicator's resolution, a per-item overlap.
QUALITY_KINDS = ("gold", "assignment", "request", "flag", "resolution", "overlap")
# Span tasks (see core/store/_spans.py): a submission of an item's spans, and its parts.
SPAN_KINDS = ("spans", "span", "relation")
EVENT_KINDS = ("annotation", "retraction", "skip", "suggestion", "shown", *QUALITY_KINDS,
               *SPAN_KINDS)
SOURCES = ("human", "model", "lf")
ADD_CHUNK = 10_000  # items per INSERT batch in add_items: the progress granularity
_EVENT_COLUMNS = (
    "seq, kind, item_id, annotator, labels, source, score, suggestion, suggestion_score, "
    "ms_on_item, target, extra, created_at"
)
# Annotations, span submissions, skips and resolutions (an annotator's undoable actions) no
# retraction points at. A submission of spans answers its item as a label does, so progress,
# leases and queues count it; it has no item label, so the label index leaves it out.
_ANSWERS = "('annotation', 'spans')"
_LIVE = (
    "e.kind IN ('annotation', 'spans', 'skip', 'resolution') AND NOT EXISTS "
    "(SELECT 1 FROM events r WHERE r.kind = 'retraction' AND r.target = e.seq)"
)


# An assignment ``a`` still leases its item: no live action of its annotator on it follows.
_LEASE_LIVE = (
    "NOT EXISTS (SELECT 1 FROM events e WHERE e.item_id = a.item_id AND "
    f"e.annotator = a.annotator AND e.seq > a.seq AND {_LIVE})"
)


# How long a lease holds an item when the project sets nothing (project.set_lease).
DEFAULT_LEASE_MINUTES = 10.0
# A lease taken more than this many seconds "after now" was taken on a clock that has since gone
# back (or another machine's, ahead of ours): it counts as lapsed, so its item is never stuck.
CLOCK_SLACK_S = 5.0


def _lease_live(expires: float | None, taken: float | None, now: float) -> bool:
    """A lease holds from when it was taken until it expires; one taken on a clock ahead of
    ours (see CLOCK_SLACK_S) holds no longer. Leases written before ``taken`` was kept have none."""
    return expires is not None and expires > now and (taken is None or taken <= now + CLOCK_SLACK_S)


class StoreError(RuntimeError):
    """The project file cannot be used as asked."""


@dataclass(frozen=True)
class ItemRecord:
    """One item as stored. ``kind`` is ``text``, ``image``, ``image_path`` or ``record``."""

    item_id: str
    kind: str
    text: str | None = None
    image: bytes | None = None
    path: str | None = None
    mime: str | None = None
    fields: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    content_hash: str = ""


class Store:
    """A project's SQLite file. Thread-safe: one connection behind a lock.

    ``read_only=True`` opens an existing file for reading only (nothing is written to it, not
    even a migration); a file that cannot be written (a read-only disk or folder) opens that way
    by itself. Writes then raise :class:`StoreError` saying why.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = str(path)
        self._lock = threading.RLock()
        self._depth = 0  # how many _write blocks this connection is inside (0: none)
        self._item_count, self._counted_to = 0, 0  # see item_count()
        self.read_only_reason = _read_only_reason(self.path, read_only)
        with self._lock:
            if self.read_only_reason is None:
                self._conn = _open_for_writing(self.path)
            else:
                self._conn = _open_for_reading(self.path)

    @property
    def read_only(self) -> bool:
        """True when this store refuses writes (see ``read_only_reason``)."""
        return self.read_only_reason is not None

    # -- plumbing -------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, all or nothing; BEGIN IMMEDIATE so writers queue, not deadlock.

        Nested blocks (inside :meth:`transaction`) are savepoints: a failing inner block undoes
        only its own writes. The transaction is opened inside the ``try`` that rolls it back, so
        an interrupt (SIGINT from "Interrupt kernel") landing anywhere, including just after
        BEGIN returns while another process held the lock, leaves no transaction open; the depth
        is counted here rather than read from ``in_transaction``, which a leaked transaction
        would also make true. A caller's ``return`` inside the block happens after the COMMIT.
        """
        with self._lock:
            if self.read_only_reason is not None:
                raise StoreError(
                    f"{self.path} was opened read-only because {self.read_only_reason}; nothing "
                    "was written. Copy it somewhere writable to label it"
                )
            depth = self._depth
            if depth == 0:
                self._end_stray_transaction()
            elif not self._conn.in_transaction:
                raise StoreError(
                    "The enclosing transaction was already rolled back by an earlier error; "
                    "nothing more is written in it. Let the error propagate, then retry the block"
                )
            savepoint = f"hitl_w{depth}"
            try:
                self._depth = depth + 1
                self._conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {savepoint}")
                yield self._conn
                if depth == 0:
                    if not self._conn.in_transaction:
                        raise StoreError("The transaction was rolled back by an error inside it; "
                                         "nothing was written. Retry the operation")
                    self._conn.execute("COMMIT")
                else:
                    self._conn.execute(f"RELEASE {savepoint}")
            except BaseException as exc:
                self._undo(depth, savepoint)
                disk = _disk_error(exc, self.path)
                if disk is not None:
                    raise disk from exc
                raise
            finally:
                self._depth = depth

    def _undo(self, depth: int, savepoint: str) -> None:
        """Roll back what the block at ``depth`` wrote, if SQLite has not already."""
        if not self._conn.in_transaction:
            return  # BEGIN never ran, COMMIT went through, or SQLite rolled back by itself
        try:
            if depth == 0:
                self._conn.execute("ROLLBACK")
            else:
                self._conn.execute(f"ROLLBACK TO {savepoint}")
                self._conn.execute(f"RELEASE {savepoint}")
        except sqlite3.Error as exc:
            if "no such savepoint" in str(exc):
                # An interrupt just after RELEASE: the inner block had finished, and what it
                # wrote is now the outer block's to commit or roll back.
                return
            log.warning("could not roll back to %s in %s", savepoint, self.path, exc_info=True)

    def _end_stray_transaction(self) -> None:
        """Roll back a transaction no block of ours is in (one an interrupt left behind).

        Nothing in it was acknowledged (ids are returned after COMMIT), and joining it would
        mean writes that are never committed while every other process waits on its lock.
        """
        if self._depth == 0 and self._conn.in_transaction:
            log.warning("%s: rolling back a transaction left open by an interrupted write; "
                        "nothing in it had been acknowledged", self.path)
            self._conn.execute("ROLLBACK")

    def _query(self, sql: str, params: Sequence = (), *, tuples: bool = False) -> list:
        """Rows of a read; ``tuples=True`` gives plain tuples, about 3x faster to build than
        ``sqlite3.Row`` for long results read by position."""
        with self._lock:
            self._end_stray_transaction()
            cursor = self._conn.cursor()
            if tuples:
                cursor.row_factory = None
            return cursor.execute(sql, params).fetchall()

    def data_version(self) -> int:
        """Changes when *another* connection (another kernel, another process) commits."""
        return self._query("PRAGMA data_version")[0][0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()  # rolls back anything uncommitted
            self._closed = True

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran; every query then fails."""
        return self.__dict__.get("_closed", False)

    # -- metadata -------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def meta_keys(self, prefix: str = "") -> list[str]:
        """The meta keys that start with ``prefix``, sorted."""
        rows = self._query("SELECT key FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key",
                           (len(prefix), prefix))
        return [r[0] for r in rows]

    def get_meta_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """Several settings in one read: key -> value, for the keys that are set."""
        keys = list(keys)
        if not keys:
            return {}
        marks = ", ".join("?" * len(keys))
        rows = self._query(f"SELECT key, value FROM meta WHERE key IN ({marks})", keys)
        return {r[0]: json.loads(r[1]) for r in rows}

    def set_meta(self, key: str, value: Any) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    # -- items ----------------------------------------------------------------------------
    def add_items(self, records: Sequence[ItemRecord],
                  step: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Insert new items; identical re-adds are skipped. Returns (added, already there).

        Raises StoreError, writing nothing, when an id already holds different content. One
        transaction however many items: ``step(done)`` is called after each chunk of
        ``ADD_CHUNK`` records written, and an exception it raises (an interrupt) rolls back
        every chunk of the call.
        """
        now = time.time()
        with self._write() as conn:
            existing = _existing_hashes(conn, [r.item_id for r in records])
            conflicts = [r.item_id for r in records if existing.get(r.item_id, r.content_hash) != r.content_hash]
            if conflicts:
                raise StoreError(
                    f"{len(conflicts)} item id(s) already hold different content, e.g. "
                    f"{conflicts[:5]}; nothing was added. Give these items new ids, or let "
                    "hitl_widgets derive ids from content (omit id=)."
                )
            new = [r for r in records if r.item_id not in existing]
            for start in range(0, len(new), ADD_CHUNK):
                conn.executemany(
                    "INSERT INTO items(item_id, kind, text, image, path, mime, fields, meta, "
                    "provenance, content_hash, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [_item_row(r, now) for r in new[start:start + ADD_CHUNK]],
                )
                if step is not None:
                    step(min(start + ADD_CHUNK, len(new)))
        return len(new), len(records) - len(new)

    def item_count(self) -> int:
        """How many items the file holds, in time independent of the project's size.

        Items are never removed (triggers refuse it) and their seq only grows, so the count is
        kept and topped up with the items past the last seq counted: one indexed range read,
        which also sees what other connections added. Inside a write block the count may include
        items a rollback will remove, so it is counted afresh there and not kept.
        """
        with self._lock:
            if self._depth:
                return self._query("SELECT COUNT(*) FROM items")[0][0]
            new, top = self._query("SELECT COUNT(*), MAX(seq) FROM items WHERE seq > ?",
                                   (self._counted_to,), tuples=True)[0]
            if new:
                self._item_count, self._counted_to = self._item_count + new, top
            return self._item_count

    def get_items(self, item_ids: Sequence[str]) -> dict[str, ItemRecord]:
        """The records for these ids (missing ids are left out)."""
        out: dict[str, ItemRecord] = {}
        for chunk in _chunks(list(item_ids), 500):
            marks = ",".join("?" * len(chunk))
            for row in self._query(f"SELECT * FROM items WHERE item_id IN ({marks})", chunk):
                out[row["item_id"]] = _record(row)
        return out

    def item_hashes(self) -> dict[str, str]:
        """Every item's content hash by id: one read of two columns (no bytes, no JSON)."""
        return dict(self._query("SELECT item_id, content_hash FROM items", tuples=True))

    def item_ids_from(self, seq: int, limit: int) -> list[tuple[int, str]]:
        """(seq, item_id) of items in insertion order, starting at ``seq``."""
        return self._query("SELECT seq, item_id FROM items WHERE seq >= ? ORDER BY seq LIMIT ?",
                           (seq, limit), tuples=True)

    def items_table(self) -> list[sqlite3.Row]:
        return self._query(
            "SELECT seq, item_id, kind, text, path, mime, fields, meta, provenance, added_at "
            "FROM items ORDER BY seq"
        )

    # -- events ---------------------------------------------------------------------------
    def append(
        self,
        kind: str,
        item_id: str,
        *,
        annotator: str | None = None,
        labels: Sequence[str] | None = None,
        source: str | None = None,
        score: float | None = None,
        suggestion: Sequence[str] | None = None,
        suggestion_score: float | None = None,
        ms_on_item: int | None = None,
        target: int | None = None,
        extra: dict | None = None,
    ) -> int:
        """Append one event and return its sequence number once it is committed."""
        row = _event_row(kind, item_id, annotator, labels, source, score, suggestion,
                         suggestion_score, ms_on_item, target, extra)
        with self._write() as conn:
            _require_item(conn, item_id)
            seq = _insert_event(conn, row)
        return seq  # only now: the block above has committed

    def append_many(self, events: Iterable[dict]) -> list[int]:
        """Append several events in one transaction (all or none)."""
        rows = [_event_row(**e) for e in events]
        with self._write() as conn:
            for row in rows:
                _require_item(conn, row[1])
            seqs = [_insert_event(conn, row) for row in rows]
        return seqs

    def retract_last(self, annotator: str, item_id: str | None = None) -> dict | None:
        """Retract the annotator's latest live annotation, submission of spans, skip or
        resolution; return it, or None.

        With ``item_id``, refuse (StoreError) unless that latest action is on that item, so a
        stale undo from a view that is behind cannot retract something else.
        """
        with self._write() as conn:
            row = conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.annotator = ? AND {_LIVE} "
                "ORDER BY e.seq DESC LIMIT 1",
                (annotator,),
            ).fetchone()
            if row is None:
                return None
            if item_id is not None and row["item_id"] != item_id:
                raise StoreError(
                    f"Nothing to undo on item {item_id!r}: {annotator!r}'s latest action is on "
                    f"{row['item_id']!r}"
                )
            _insert_event(conn, _event_row("retraction", row["item_id"], annotator, None, None,
                                           None, None, None, None, row["seq"], None))
            return _event_dict(row)

    def event(self, seq: int) -> dict | None:
        """One event by its seq, with ``retracted``: whether a retraction points at it."""
        rows = self._query(
            f"SELECT {_EVENT_COLUMNS}, EXISTS (SELECT 1 FROM events r WHERE r.kind = "
            "'retraction' AND r.target = e.seq) AS retracted FROM events e WHERE e.seq = ?",
            (int(seq),))
        if not rows:
            return None
        out = _event_dict(rows[0])
        out["retracted"] = bool(out["retracted"])
        return out

    def events(self, since: int = 0) -> list[dict]:
        """The whole log in order (``since`` = only events with a larger seq)."""
        rows = self._query(f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq", (since,))
        return [_event_dict(r) for r in rows]

    def item_events(self, item_ids: Sequence[str], kinds: Sequence[str] | None = None,
                    after: int = 0, upto: int | None = None) -> list[dict]:
        """Every event on these items (retracted ones too), oldest first: optionally only
        ``kinds``, and only seqs in ``(after, upto]``. Read through the per-item index, so an
        item's history costs its own events, not the log's."""
        sql = f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.seq > ?"
        params: list[Any] = [int(after)]
        if upto is not None:
            sql += " AND e.seq <= ?"
            params.append(int(upto))
        if kinds is not None:
            sql += f" AND e.kind IN ({','.join('?' * len(kinds))})"
            params += list(kinds)
        out: list[dict] = []
        for chunk in _chunks(list(dict.fromkeys(item_ids)), 500):
            marks = ",".join("?" * len(chunk))
            out += [_event_dict(r) for r in self._query(f"{sql} AND e.item_id IN ({marks})",
                                                        [*params, *chunk])]
        return sorted(out, key=lambda e: e["seq"])

    def label_events_after(self, seq: int, limit: int = -1) -> list[tuple]:
        """The annotations, retractions and gold answers after ``seq``, oldest first, as tuples
        (seq, kind, item_id, annotator, labels JSON, source, created_at, ms_on_item, target),
        at most ``limit`` of them (-1: all): what :class:`LabelIndex` reads to keep up. Reads
        the seq range only (the unary ``+`` keeps SQLite off the kind index, which would visit
        every annotation in the file)."""
        return self._query(
            "SELECT seq, kind, item_id, annotator, labels, source, created_at, ms_on_item, target "
            "FROM events WHERE seq > ? AND +kind IN ('annotation', 'retraction', 'gold') "
            "ORDER BY seq LIMIT ?", (seq, limit), tuples=True)

    def charge_events_after(self, seq: int, limit: int = -1) -> list[tuple]:
        """The events that are paid time (annotations, span submissions, resolutions, skips)
        after ``seq``, oldest first, as tuples (seq, kind, item_id, annotator, source,
        ms_on_item, created_at, labels JSON), at most ``limit`` (-1: all): what the cost view
        (``_costs``) reads to keep up. Reads the seq range only, as :meth:`label_events_after`."""
        return self._query(
            "SELECT seq, kind, item_id, annotator, source, ms_on_item, created_at, labels "
            "FROM events WHERE seq > ? AND +kind IN ('annotation', 'spans', 'resolution', "
            "'skip') ORDER BY seq LIMIT ?", (seq, limit), tuples=True)

    def current_labels(self, annotator: str | None = None) -> list[dict]:
        """The latest live annotation per (item, annotator), in the order they were made."""
        where, params = ("AND e.annotator = ?", (annotator,)) if annotator is not None else ("", ())
        rows = self._query(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq IN (SELECT MAX(e.seq) FROM events e "
            f"WHERE e.kind = 'annotation' AND {_LIVE} {where} GROUP BY e.item_id, e.annotator) "
            "ORDER BY seq",
            params,
        )
        return [_event_dict(r) for r in rows]

    def annotator_state(self, annotator: str, item_ids: Iterable[str] | None = None,
                        ) -> tuple[set[str], dict[str, int]]:
        """(items the annotator has labeled or submitted spans on, items skipped and not labeled
        → seq of the skip).

        With ``item_ids``, the same for those items only: an item's state depends on nothing
        but the annotator's events on it and the retractions of those.
        """
        sql = (f"SELECT e.item_id, e.kind, MAX(e.seq) FROM events e WHERE e.annotator = ? "
               f"AND {_LIVE} ")
        if item_ids is None:
            rows = self._query(sql + "GROUP BY e.item_id, e.kind", (annotator,), tuples=True)
        else:
            rows = []
            for chunk in _chunks(list(item_ids), 500):
                marks = ",".join("?" * len(chunk))
                rows += self._query(f"{sql} AND e.item_id IN ({marks}) GROUP BY e.item_id, e.kind",
                                    [annotator, *chunk], tuples=True)
        done = {r[0] for r in rows if r[1] in ("annotation", "spans")}
        skipped = {r[0]: r[2] for r in rows if r[1] == "skip" and r[0] not in done}
        return done, skipped

    def annotator_changes(self, annotator: str, since: int) -> tuple[int, set[str], bool]:
        """What changed for ``annotator`` after event ``since``: (the newest seq, the items on
        which they labeled, skipped or resolved, or had such an event retracted, whether any
        event at all was retracted).

        One statement, so one snapshot: an event not seen here has a larger seq than the first
        value (writers take turns, and seqs only grow). It reads the events after ``since`` by
        seq, not the annotator's whole history, so its cost follows what is new; the unary
        ``+`` keeps SQLite on that seq range rather than on the kind or annotator indexes,
        which would visit every event of that kind or annotator.
        """
        rows = self._query(
            "SELECT 1, NULL, COALESCE(MAX(seq), 0) FROM events UNION ALL "
            "SELECT 0, CASE WHEN e.kind = 'retraction' THEN (SELECT t.item_id FROM events t "
            "WHERE t.seq = e.target AND t.annotator = ?2) ELSE e.item_id END, "
            "e.kind = 'retraction' FROM events e WHERE e.seq > ?1 AND (+e.kind = 'retraction' "
            "OR (+e.annotator = ?2 AND +e.kind IN ('annotation', 'spans', 'skip', 'resolution')))",
            (since, annotator), tuples=True)
        top = next(value for is_top, _, value in rows if is_top)
        touched = {item_id for is_top, item_id, _ in rows if not is_top and item_id is not None}
        return top, touched, any(not is_top and value for is_top, _, value in rows)

    def latest_suggestions(self, item_ids: Sequence[str], *, spans: bool = False,
                           ) -> dict[str, dict]:
        """The newest model / LF suggestion of a label per item, for those that have one; with
        ``spans``, the newest suggestion of spans instead (one has labels, the other none)."""
        which = "IS NULL" if spans else "IS NOT NULL"
        out: dict[str, dict] = {}
        for chunk in _chunks(list(item_ids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq IN (SELECT MAX(seq) FROM events "
                f"WHERE kind = 'suggestion' AND labels {which} AND item_id IN ({marks}) "
                "GROUP BY item_id)",
                chunk,
            )
            out.update({r["item_id"]: _event_dict(r) for r in rows})
        return out

    # -- quality workflow -----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Hold the file's write lock for a block.

        What the block reads, no other kernel changes until it ends, and the events it appends
        commit together or not at all: how two kernels are kept from taking the same last slot.
        """
        with self._write():
            yield self

    def live_events(self, kinds: Sequence[str], item_ids: Sequence[str] | None = None) -> list[dict]:
        """Events of these kinds that no retraction points at, oldest first."""
        kind_marks = ",".join("?" * len(kinds))
        sql = (f"SELECT {_EVENT_COLUMNS} FROM events e WHERE e.kind IN ({kind_marks}) AND NOT EXISTS "
               "(SELECT 1 FROM events r WHERE r.kind = 'retraction' AND r.target = e.seq)")
        if item_ids is None:
            return [_event_dict(r) for r in self._query(sql + " ORDER BY e.seq", list(kinds))]
        out: list[dict] = []
        for chunk in _chunks(list(item_ids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._query(f"{sql} AND e.item_id IN ({marks})", [*kinds, *chunk])
            out.extend(_event_dict(r) for r in rows)
        return sorted(out, key=lambda e: e["seq"])

    def latest_live(self, kind: str, item_ids: Sequence[str] | None = None) -> dict[str, dict]:
        """The newest live event of ``kind`` per item (a gold answer, a per-item overlap)."""
        return {e["item_id"]: e for e in self.live_events([kind], item_ids)}

    def labelers(self, item_ids: Sequence[str]) -> dict[str, set[str]]:
        """Who holds a live annotation on each of these items (items with none are left out)."""
        out: dict[str, set[str]] = {}
        for chunk in _chunks(list(item_ids), 500):
            marks = ",".join("?" * len(chunk))
            for item_id, annotator in self._query(
                f"SELECT e.item_id, e.annotator FROM events e WHERE e.kind IN {_ANSWERS} AND "
                f"e.item_id IN ({marks}) AND {_LIVE} GROUP BY e.item_id, e.annotator", chunk
            ):
                out.setdefault(item_id, set()).add(annotator)
        return out

    def labeled_by(self, annotator: str, item_ids: Sequence[str]) -> set[str]:
        """Which of these items the annotator holds a live annotation on."""
        out: set[str] = set()
        for chunk in _chunks(list(item_ids), 500):
            marks = ",".join("?" * len(chunk))
            out.update(r[0] for r in self._query(
                f"SELECT DISTINCT e.item_id FROM events e WHERE e.annotator = ? AND "
                f"e.kind IN {_ANSWERS} AND e.item_id IN ({marks}) AND {_LIVE}", [annotator, *chunk]))
        return out

    def leases(self, item_ids: Sequence[str], now: float) -> dict[str, dict[str, float]]:
        """Live leases on these items: item → {annotator: expiry time}.

        A lease is an annotator's latest assignment on an item, while it has not expired and no
        live label, skip or resolution of theirs on that item follows it: labeling, skipping or
        releasing (an assignment that expires at once) ends it; undoing the label revives it.
        """
        out: dict[str, dict[str, float]] = {}
        for chunk in _chunks(list(item_ids), 500):
            marks = ",".join("?" * len(chunk))
            for item_id, annotator, expires, taken in self._query(
                "SELECT a.item_id, a.annotator, json_extract(a.extra, '$.expires'), "
                "json_extract(a.extra, '$.taken') FROM events a "
                "WHERE a.seq IN (SELECT MAX(seq) FROM events WHERE kind = 'assignment' AND "
                f"item_id IN ({marks}) GROUP BY item_id, annotator) AND {_LEASE_LIVE}",
                chunk,
            ):
                if _lease_live(expires, taken, now):
                    out.setdefault(item_id, {})[annotator] = expires
        return out

    def held_leases(self, annotator: str, now: float) -> dict[str, float]:
        """The annotator's live leases (see :meth:`leases`), in the order first taken: item → expiry."""
        rows = self._query(
            "SELECT a.item_id, json_extract(a.extra, '$.expires') AS expires, "
            "json_extract(a.extra, '$.taken') FROM events a "
            "JOIN (SELECT MAX(seq) AS last, MIN(seq) AS first FROM events WHERE annotator = ? "
            "AND kind = 'assignment' GROUP BY item_id) f ON a.seq = f.last "
            f"WHERE expires > ? AND {_LEASE_LIVE} ORDER BY f.first",
            (annotator, now),
        )
        return {r[0]: r[1] for r in rows if _lease_live(r[1], r[2], now)}

    def lease_seconds(self) -> float:
        """How long a lease holds an item: the project's setting (``project.set_lease``), in
        seconds; 10 minutes when none is set."""
        return 60.0 * float(self.get_meta("lease_minutes", DEFAULT_LEASE_MINUTES))

    def request_counts(self, item_ids: Sequence[str] | None = None) -> dict[str, int]:
        """Extra labels asked for by live requests, per item (a request asks ``n``, default 1)."""
        counts: dict[str, int] = {}
        for e in self.live_events(["request"], item_ids):
            counts[e["item_id"]] = counts.get(e["item_id"], 0) + (e["extra"] or {}).get("n", 1)
        return {i: n for i, n in counts.items() if n > 0}

    def overlap_default(self) -> int:
        """The project's k: how many annotators label each item (1 until set)."""
        return int(self.get_meta("overlap", 1))

    def retract(self, seqs: Sequence[int], annotator: str | None = None) -> list[int]:
        """Retract these events (ones already retracted are left as they are); all or none."""
        with self._write() as conn:
            done = {r[0] for r in conn.execute(
                "SELECT target FROM events WHERE kind = 'retraction' AND target IS NOT NULL")}
            out = []
            for seq in seqs:
                row = conn.execute("SELECT item_id FROM events WHERE seq = ?", (seq,)).fetchone()
                if row is None:
                    raise KeyError(f"No event {seq}")
                if seq not in done:
                    out.append(_insert_event(conn, _event_row(
                        "retraction", row[0], annotator, target=int(seq))))
                    done.add(seq)
            return out

    def max_seq(self, kinds: Sequence[str] | None = None) -> int:
        """The newest event's seq (of these kinds), 0 when there is none."""
        if kinds is None:
            return self._query("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0]
        # One MAX per kind: each is a single lookup in events_by_kind_seq, where an IN list
        # would read every event of those kinds.
        kinds = list(dict.fromkeys(kinds))
        if not kinds:
            return 0
        per_kind = " UNION ALL ".join(["SELECT MAX(seq) AS m FROM events WHERE kind = ?"] * len(kinds))
        return self._query(f"SELECT COALESCE(MAX(m), 0) FROM ({per_kind})", kinds)[0][0]


# -- helpers ----------------------------------------------------------------------------------
def _read_only_reason(path: str, asked: bool) -> str | None:
    """Why this file must be opened read-only, or None when it can be written."""
    if path == ":memory:":
        return None
    p = Path(path)
    if asked:
        if not p.is_file():
            raise StoreError(f"{p} does not exist; read_only=True opens an existing project only")
        return "read_only=True was asked for"
    if not p.is_file():
        return None  # a new file, or a name _check_is_project_file refuses with advice
    try:
        if os.statvfs(p).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    except (OSError, AttributeError):  # no statvfs (Windows): os.access below still answers
        pass
    if not os.access(p, os.W_OK):
        return "the file is not writable"
    if not os.access(p.parent, os.W_OK | os.X_OK):  # WAL keeps its -wal and -shm files beside it
        return f"its folder {p.parent} is not writable"
    return None


def _open_for_writing(path: str) -> sqlite3.Connection:
    """Open (or create) a project file; refuse anything else before writing to it."""
    if path != ":memory:":
        _check_is_project_file(Path(path))
    conn = None
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, nothing is opened behind us.
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        # Read-only first: another application's file is refused with nothing written to it.
        classify(*header(conn))
        migrate(conn)  # re-checks the header inside its write transaction
        if path != ":memory:":
            _enable_wal(conn)  # only now that the file is known to be ours
        missing = missing_triggers(conn)
        if missing:
            raise StoreError(
                f"{path} has lost the triggers that keep its log append-only ({', '.join(missing)}): "
                "it was edited outside hitl_widgets and its history may have been rewritten. "
                "Restore it from a backup, or open it with read_only=True to read and export it"
            )
    except BaseException as exc:
        error = _opening_failed(conn, path, exc)
        if error is exc:
            raise
        raise error from exc
    return conn


def _open_for_reading(path: str) -> sqlite3.Connection:
    """Open an existing project file so that nothing can be written to it.

    A WAL file needs its -shm index; on a read-only disk where a clean close removed it, SQLite
    can only read the file as immutable, which is safe only when no -wal file holds newer pages.
    """
    _check_is_project_file(Path(path))
    uri = Path(path).resolve().as_uri()
    conn = None
    try:
        try:
            conn = _connect_uri(f"{uri}?mode=ro")
            found = header(conn)
        except sqlite3.OperationalError:
            if conn is not None:
                conn.close()
                conn = None
            wal = Path(path + "-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreError(
                    f"Cannot read {path}: its last writes are still in {wal.name}, which cannot "
                    "be read from here. Open the project once where it is writable, then copy it"
                ) from None
            conn = _connect_uri(f"{uri}?mode=ro&immutable=1")
            found = header(conn)
        app_id, version, objects = found
        if classify(app_id, version, objects) == "new":
            raise StoreError(f"{path} is empty: it is not a project yet, so there is nothing to read")
        missing = missing_triggers(conn, version)
        if missing:
            log.warning("%s has lost the triggers that keep its log append-only (%s); its history "
                        "may have been rewritten", path, ", ".join(missing))
    except BaseException as exc:
        error = _opening_failed(conn, path, exc)
        if error is exc:
            raise
        raise error from exc
    return conn


def _opening_failed(conn: sqlite3.Connection | None, path: str, exc: BaseException) -> BaseException:
    """Close a half-opened connection; the error to raise for ``exc``, saying what the file is."""
    if conn is not None:
        conn.close()
    if isinstance(exc, (ForeignFileError, sqlite3.OperationalError)):
        return StoreError(f"Cannot open {path}: {exc}")
    if isinstance(exc, sqlite3.DatabaseError):
        return StoreError(f"{path} is not a hitl_widgets project file ({exc})")
    return exc  # ours (a StoreError), or an interrupt: raised as it is


def _connect_uri(uri: str) -> sqlite3.Connection:
    conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def _disk_error(exc: BaseException, path: str) -> StoreError | None:
    """A write that failed because the disk is full (or failing), said plainly; else None."""
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    text = str(exc).lower()
    full = primary == sqlite3.SQLITE_FULL or "disk is full" in text
    if not full and (primary == sqlite3.SQLITE_IOERR or "disk i/o error" in text):
        try:  # an I/O error while the disk has no room left is a full disk
            full = shutil.disk_usage(Path(path).parent).free < _FULL_BELOW
        except OSError:
            full = False
        if not full:
            return StoreError(f"A disk I/O error while writing {path} ({exc}); nothing was "
                              "written. Check the disk, then retry")
    if not full:
        return None
    return StoreError(f"The disk holding {path} is full; nothing was written. Free some space, "
                      "then retry")


_FULL_BELOW = 1 << 20  # bytes free under which an I/O error is put down to a full disk


def _enable_wal(conn: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """Switch to WAL, waiting while another kernel creates the same file.

    Changing the journal mode returns "database is locked" at once, without SQLite's busy wait,
    while another connection holds the write lock; so wait here, as the busy timeout would.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _check_is_project_file(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"{path} is a directory; give a file name such as 'spam.hitl'")
    if not path.exists() or path.stat().st_size == 0:
        if not path.parent.exists():
            raise StoreError(f"Folder {path.parent} does not exist; create it first")
        return
    with path.open("rb") as fh:
        head = fh.read(100)
    if not head.startswith(b"SQLite format 3\x00"):
        raise StoreError(f"{path} exists and is not a hitl_widgets project file; choose another name")
    app_id = int.from_bytes(head[68:72], "big")
    if app_id not in (0, APPLICATION_ID):
        raise StoreError(f"{path} is an SQLite file of another application; choose another name")


def _existing_hashes(conn: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
    out = {}
    for chunk in _chunks(ids, 500):
        marks = ",".join("?" * len(chunk))
        out.update(conn.execute(
            f"SELECT item_id, content_hash FROM items WHERE item_id IN ({marks})", chunk).fetchall())
    return out


def _require_item(conn: sqlite3.Connection, item_id: str) -> None:
    if conn.execute("SELECT 1 FROM items WHERE item_id = ?", (item_id,)).fetchone() is None:
        raise KeyError(f"Unknown item id {item_id!r}; add it first with project.add_items(...)")


def _item_row(r: ItemRecord, now: float) -> tuple:
    return (r.item_id, r.kind, r.text, r.image, r.path, r.mime, json.dumps(r.fields),
            json.dumps(r.meta), json.dumps(r.provenance), r.content_hash, now)


def _record(row: sqlite3.Row) -> ItemRecord:
    return ItemRecord(
        item_id=row["item_id"], kind=row["kind"], text=row["text"], image=row["image"],
        path=row["path"], mime=row["mime"], fields=json.loads(row["fields"]),
        meta=json.loads(row["meta"]), provenance=json.loads(row["provenance"]),
        content_hash=row["content_hash"],
    )


def _event_row(kind, item_id, annotator=None, labels=None, source=None, score=None,
               suggestion=None, suggestion_score=None, ms_on_item=None, target=None,
               extra=None) -> tuple:
    if kind not in EVENT_KINDS:
        raise ValueError(f"Unknown event kind {kind!r}; expected one of {list(EVENT_KINDS)}")
    if source is not None and source not in SOURCES:
        raise ValueError(f"Unknown source {source!r}; expected one of {list(SOURCES)}")
    return (
        kind, str(item_id), annotator,
        None if labels is None else json.dumps(list(labels)),
        source, _opt_float(score),
        None if suggestion is None else json.dumps(list(suggestion)),
        _opt_float(suggestion_score),
        None if ms_on_item is None else int(ms_on_item),
        target, None if extra is None else json.dumps(extra),
        time.time(),
    )


def _insert_event(conn: sqlite3.Connection, row: tuple) -> int:
    cur = conn.execute(
        "INSERT INTO events(kind, item_id, annotator, labels, source, score, suggestion, "
        "suggestion_score, ms_on_item, target, extra, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        row,
    )
    return cur.lastrowid


def _event_dict(row: sqlite3.Row) -> dict:
    d = {k: row[k] for k in row.keys()}
    for key in ("labels", "suggestion", "extra"):
        if d.get(key) is not None:
            d[key] = json.loads(d[key])
    return d


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if value != value else value  # NaN means "no score"


def _chunks(seq: list, size: int) -> Iterator[list]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
