"""One annotator's labeling session: what to show next, and the actions taken on it.

The session is what the Labeler widget drives, but it knows nothing about widgets: scripts and
tests call it directly. It keeps the annotator's done / skipped sets in memory for speed and
reloads them whenever another connection (another kernel) has written to the file.

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> project = Project(os.path.join(tempfile.mkdtemp(), "s.hitl"), labels=["a", "b"])
>>> _ = project.add_items(["one", "two", "three"], id=["1", "2", "3"])
>>> session = LabelingSession(project, "ana", prefetch=2)
>>> session.window()
['1', '2']
>>> _ = session.submit("1", ["a"])
>>> session.window()
['2', '3']
"""

from __future__ import annotations

import math
import numbers
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..store import Ledger, MediaError, read_below, sniff_mime
from ._queue import ExcludedIds, Queue, SequentialQueue

__all__ = ["LabelingSession", "Queue", "SequentialQueue"]

MAX_TEXT_CHARS = 100_000  # beyond this the view gets the head and a note; the store keeps all
RATE_WINDOW = 20  # annotations that the items-per-minute figure looks back over
RATE_MAX_AGE_S = 15 * 60  # a break longer than this does not drag the rate down
# A reload reads the annotator's whole state again once more events are new than the items they
# hold (times the ratio), and at least the minimum: a full read costs about as much per event of
# theirs as catching up does per new event of anyone's (BENCHMARKS.md, "A session catches up"),
# and below the minimum catching up takes under a millisecond anyway.
FULL_RELOAD_RATIO, FULL_RELOAD_MIN = 1.0, 1_000


class LabelingSession:
    """The items one annotator sees next and the actions they take on them.

    ``queue`` chooses the order (default: a :class:`SequentialQueue`). It is a :class:`Queue`,
    or any object with ``next_ids``, adapted once here (see :class:`Queue`); ``self.queue`` is
    the :class:`Queue` the session uses.
    """

    def __init__(self, project: Any, annotator: str, *, queue: Queue | None = None,
                 prefetch: int = 8):
        if not isinstance(annotator, str) or not annotator.strip():
            raise ValueError(f"annotator must be a non-empty name, e.g. 'ana'; got {annotator!r}")
        if "<" in annotator or ">" in annotator:
            # The name is shown in widgets and reports: markup in it is refused where a labeler
            # starts (views escape it too, for names written by other means).
            raise ValueError(f"annotator must be a plain name without '<' or '>'; got {annotator!r}")
        if not isinstance(prefetch, int) or prefetch < 1:
            raise ValueError(f"prefetch must be a positive int, not {prefetch!r}")
        self.project = project
        self.ledger = Ledger.of(project)  # every write goes through it
        self.annotator = annotator
        self.queue = Queue.adapt(queue if queue is not None else SequentialQueue())
        self.prefetch = prefetch
        self._front: list[str] = []  # undone items, shown before the queue's choice
        self._times: deque[float] = deque(maxlen=RATE_WINDOW)
        self._acting = False  # True while this session writes, so its own events don't reload
        self._window: list[str] = []  # the latest window: what close() releases
        self._seen: int | None = None  # the newest event _reload has read (None: none yet)
        self._reload()
        self._unsubscribe = self.ledger.subscribe(self._on_project_change)

    # -- what to show ---------------------------------------------------------------------
    def window(self) -> list[str]:
        """The next ``prefetch`` item ids for this annotator, the one to show first."""
        self._sync()
        ids = [i for i in self._front if i not in self._done][: self.prefetch]
        if len(ids) < self.prefetch:
            # A view over the session's sets, not a copy of them: its cost does not grow with
            # the annotator's labels.
            exclude = ExcludedIds(self._done, self._skipped.keys(), ids)
            ids += self.queue.next_ids(self.project, self.annotator, exclude,
                                       self.prefetch - len(ids))
        if len(ids) < self.prefetch:  # skipped items come back once the rest are done
            later = sorted(self._skipped, key=self._skipped.__getitem__)
            later = [i for i in later if i not in ids]
            # an overlap queue may have filled them since
            later = self.queue.still_open(self.project, self.annotator, later)
            ids += later[: self.prefetch - len(ids)]
        self._window = ids
        return ids

    def payloads(self, item_ids: Sequence[str]) -> tuple[list[dict], list[bytes]]:
        """What the view needs to draw these items: JSON payloads plus image buffers."""
        records = self.ledger.store.get_items(item_ids)
        # A blind queue's sessions send no suggestions: they may echo others' labels.
        suggestions = {} if self.queue.blind else self.ledger.store.latest_suggestions(list(records))
        others = self._others(list(records)) if self.queue.reveals_labels else None
        payloads, buffers = [], []
        for item_id in item_ids:
            if item_id in records:
                payload, image = _payload(records[item_id], suggestions.get(item_id),
                                          self.ledger.image_root)
                if others is not None:  # adjudication only: never in a labeling session
                    payload["others"] = others.get(item_id, [])
                if image is not None:
                    payload["image_buffer"] = len(buffers)
                    buffers.append(image)
                payloads.append(payload)
        return payloads, buffers

    def progress(self) -> dict:
        """done / total for this annotator, items per minute, seconds left."""
        counts = self.queue.progress_counts(self.project, self.annotator)
        if counts is None:
            counts = len(self._done), self.ledger.store.item_count()
        done, total = counts
        rate = self._per_minute()
        eta = (total - done) / rate * 60 if rate else None
        out = {"done": done, "total": total, "per_minute": rate, "eta_seconds": eta}
        words = str(self.queue.describe())[:80]  # e.g. active learning: "model m3, retraining"
        if words:
            out["queue"] = words
        return out

    # -- actions --------------------------------------------------------------------------
    def submit(self, item_id: str, labels: Sequence[str], *, ms_on_item: int | None = None,
               suggestion: Sequence[str] | None = None, suggestion_score: float | None = None,
               suggestion_version: str | None = None) -> int:
        """Label an item; returns the event id once durable.

        ``suggestion``, its score and the version of the model that made it are what was on
        screen; they go into the audit log beside the label.
        """
        _check_item_id(item_id)
        _check_ms(ms_on_item)
        _check_score(suggestion_score, "suggestion_score")
        if suggestion_version is not None and not isinstance(suggestion_version, str):
            raise TypeError("suggestion_version must be a model version string like 'm3' or "
                            f"None; got {type(suggestion_version).__name__}")
        with self._own_write():
            if self.queue.resolves:  # an adjudicator's label settles the item
                seq = self.ledger.resolve(item_id, labels, annotator=self.annotator,
                                           ms_on_item=ms_on_item)
            else:
                seq = self.ledger.annotate(item_id, labels, annotator=self.annotator,
                                            ms_on_item=ms_on_item, suggestion=suggestion or None,
                                            suggestion_score=suggestion_score,
                                            extra=_suggestion_extra(suggestion, suggestion_version))
        self._answered(item_id)
        return seq

    def _answered(self, item_id: str) -> None:
        self._done.add(item_id)
        self._skipped.pop(item_id, None)
        self._drop_front(item_id)
        self._times.append(time.time())

    def submit_spans(self, item_id: str, spans: Sequence[Any], *, relations: Sequence[Any] = (),
                     ms_on_item: int | None = None, extra: dict | None = None) -> int:
        """Answer an item with spans (and relations) in one submission; returns its event id
        once durable. Checked whole by the ledger (offsets, labels, layering): a bad span
        writes nothing. An empty list is the answer "nothing to mark". On a queue that
        ``resolves`` (span adjudication) the submission is the adjudicator's resolution."""
        _check_item_id(item_id)
        _check_ms(ms_on_item)
        with self._own_write():
            done = self.ledger.submit_spans(item_id, spans, annotator=self.annotator,
                                            relations=relations, ms_on_item=ms_on_item,
                                            extra=extra, resolution=self.queue.resolves)
        self._answered(item_id)
        return done.seq

    def skip(self, item_id: str, *, ms_on_item: int | None = None) -> int:
        """Pass on an item for now; it returns after the rest."""
        _check_item_id(item_id)
        _check_ms(ms_on_item)
        if item_id in self._done:
            raise ValueError(f"Item {item_id!r} is already labeled by {self.annotator!r}; "
                             "undo the label to change it")
        with self._own_write():
            seq = self.ledger.skip(item_id, annotator=self.annotator, ms_on_item=ms_on_item)
        self._skipped[item_id] = seq
        self._drop_front(item_id)
        return seq

    def undo(self, item_id: str | None = None) -> dict | None:
        """Retract the latest label or skip and bring its item to the front.

        With ``item_id``, refuse unless the latest action is on that item (a stale undo).
        """
        if item_id is not None:
            _check_item_id(item_id)
        with self._own_write():
            undone = self.ledger.undo(annotator=self.annotator, item_id=item_id)
        if undone is not None:
            self._reload()
            self._front.insert(0, undone["item_id"])
            if undone["kind"] == "annotation" and self._times:
                self._times.pop()
        return undone

    def record_shown(self, item_id: str, suggestion: Sequence[str], score=None) -> int:
        """Audit that a suggestion was on screen for this annotator."""
        _check_item_id(item_id)
        _check_score(score, "score")
        return self.ledger.record_shown(item_id, annotator=self.annotator,
                                         suggestion=suggestion, score=score)

    def close(self) -> None:
        """Stop listening to the project, and release the slots this window held (a queue
        with leases frees them for other annotators at once)."""
        self._unsubscribe()
        window, self._window = [i for i in self._window if i not in self._done], []
        if window and not self.ledger.store.closed:
            self.queue.release(self.project, self.annotator, window)

    # -- state ----------------------------------------------------------------------------
    @contextmanager
    def _own_write(self) -> Iterator[None]:
        self._acting = True
        try:
            yield
        finally:
            self._acting = False

    def _on_project_change(self, kind: str, info: dict) -> None:
        """Another caller (a cell, a script) labeled for this annotator: reload from the log."""
        if not self._acting and info.get("annotator") == self.annotator:
            self._reload()

    @property
    def acting(self) -> bool:
        """True while this session is writing (listeners can ignore its own events)."""
        return self._acting

    def _reload(self) -> None:
        """Bring the annotator's labels and skips up to date with the file. After an undo (here
        or in another connection) the queue forgets its place for this annotator, so the undone
        item is served again (the Queue contract); other writes leave its place alone.

        Only the items touched since the last event read are read again (an item's state
        depends on its own events alone), so a reload costs what is new, not the annotator's
        whole history. The first load, and one after more new events than the annotator holds
        items (and than ``FULL_RELOAD_MIN``), read everything.
        """
        store = self.ledger.store
        self._version = store.data_version()
        top = store.max_seq()
        held = len(self._done) + len(self._skipped) if self._seen is not None else 0
        if self._seen is None or top - self._seen > max(FULL_RELOAD_MIN, FULL_RELOAD_RATIO * held):
            retracted = self._seen is None or store.max_seq(("retraction",)) > self._seen
            self._seen = top  # read before the state: what lands between is read again next time
            self._done, self._skipped = store.annotator_state(self.annotator)
        else:
            self._seen, touched, retracted = store.annotator_changes(self.annotator, self._seen)
            self._update(touched)
        if retracted:
            self.queue.reset(self.annotator)

    def _update(self, touched: set[str]) -> None:
        """Read the state of these items again, and only theirs."""
        if not touched:
            return
        done, skipped = self.ledger.store.annotator_state(self.annotator, touched)
        self._done = (self._done - touched) | done
        for item_id in touched:
            self._skipped.pop(item_id, None)
        self._skipped.update(skipped)

    def _sync(self) -> None:
        if self.ledger.store.data_version() != self._version:
            self._reload()

    def _others(self, item_ids: list[str]) -> dict[str, list[dict]]:
        """The other annotators' current labels on these items, for an adjudicator."""
        latest: dict[tuple[str, str], dict] = {}  # live_events is oldest first: latest wins
        for r in self.ledger.store.live_events(["annotation"], item_ids):
            if r["annotator"] != self.annotator:
                latest[(r["item_id"], r["annotator"])] = r
        out: dict[str, list[dict]] = {}
        for r in sorted(latest.values(), key=lambda r: r["seq"]):
            out.setdefault(r["item_id"], []).append({"annotator": r["annotator"], "labels": r["labels"]})
        return out

    def _drop_front(self, item_id: str) -> None:
        self._front = [i for i in self._front if i != item_id]

    def _per_minute(self) -> float | None:
        now = time.time()
        times = [t for t in self._times if now - t < RATE_MAX_AGE_S]
        if len(times) < 2 or times[-1] <= times[0]:
            return None
        return (len(times) - 1) / (times[-1] - times[0]) * 60


def _check_item_id(item_id) -> None:
    if not isinstance(item_id, str) or not item_id:
        raise TypeError(f"item_id must be an item id string as in window(), e.g. 'i0'; "
                        f"got {item_id!r:.80} ({type(item_id).__name__})")


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_ms(ms_on_item) -> None:
    if ms_on_item is None:
        return
    if not _is_real(ms_on_item):
        raise TypeError(f"ms_on_item must be a number of milliseconds or None; "
                        f"got {type(ms_on_item).__name__}")
    if not math.isfinite(ms_on_item) or not 0 <= ms_on_item < 2**53:
        raise ValueError(f"ms_on_item must be a number of milliseconds from 0 to 2**53 or None; "
                         f"got {ms_on_item!r}")


def _check_score(score, name: str) -> None:
    if score is None:
        return
    if not _is_real(score):
        raise TypeError(f"{name} must be a number or None; got {type(score).__name__}")
    if not math.isfinite(score):
        raise ValueError(f"{name} must be a finite number or None; got {score!r}")


def _suggestion_extra(suggestion, version) -> dict | None:
    # The model version travels with the suggestion that was on screen, so the audit log can say
    # which model's advice a human accepted or overrode.
    if not suggestion or version is None:
        return None
    return {"suggestion_version": str(version)[:64]}


def _payload(record, suggestion: dict | None, image_root) -> tuple[dict, bytes | None]:
    payload: dict = {"item_id": record.item_id, "kind": record.kind, "fields": record.fields,
                     "suggestion": None}
    image = None
    if record.kind == "text":
        text = record.text or ""
        payload["text"] = text[:MAX_TEXT_CHARS]
        if len(text) > MAX_TEXT_CHARS:
            payload["truncated"] = {"shown": MAX_TEXT_CHARS, "total": len(text)}
    elif record.kind == "image":
        image, payload["mime"] = record.image, record.mime
    elif record.kind == "image_path":
        payload["kind"] = "image"
        image = _read_image(record.path, image_root, payload)
    if suggestion is not None:
        payload["suggestion"] = {"labels": suggestion["labels"], "score": suggestion["score"],
                                 "source": suggestion["source"],
                                 "version": (suggestion.get("extra") or {}).get("version")}
    return payload, image


def _read_image(relative: str, image_root, payload: dict) -> bytes | None:
    if image_root is None:
        payload["image_error"] = "no image_root is set for this project; reopen it with image_root="
        return None
    try:
        data = read_below(image_root, relative)
    except MediaError as exc:
        payload["image_error"] = str(exc)
        return None
    payload["mime"] = sniff_mime(data)
    if payload["mime"] is None:
        payload["image_error"] = f"{relative!r} is not a PNG, JPEG, GIF, BMP or WebP image"
        return None
    return data
