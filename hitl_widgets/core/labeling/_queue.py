"""The queue contract: what a labeling session asks of whatever chooses the next items.

Every queue in the package subclasses :class:`Queue`: :class:`SequentialQueue` (here, the
default), ``WeakLabelQueue`` (core/weak), ``OverlapQueue``, ``RouterQueue``, ``RoundRobinQueue``,
``AdjudicationQueue`` and
``SpanAdjudicationQueue`` (core/quality) and ``ActiveLearning`` (core/active). ``tests/labeling/test_queue_conformance.py``
runs one suite over all of them. It imports only the store, so a queue depends on the contract, not on the
session that uses it.

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> class Newest(Queue):
...     def next_ids(self, project, annotator, exclude, n):
...         ids = reversed(project.items()["item_id"].tolist())
...         return [i for i in ids if i not in exclude][:n]
>>> project = Project(os.path.join(tempfile.mkdtemp(), "q.hitl"), labels=["a", "b"])
>>> _ = project.add_items(["one", "two", "three"], id=["1", "2", "3"])
>>> Newest().next_ids(project, "ana", {"3"}, 5)
['2', '1']
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Protocol

from ..store import LabelSchema, Ledger, Store

__all__ = ["ExcludedIds", "ProjectView", "Queue", "SequentialQueue"]


class ExcludedIds(AbstractSet):
    """The ids a queue must not serve: a read-only set over several sets, built without copying
    them (the session's window would otherwise copy every item the annotator has labeled on each
    keypress). ``in``, iteration and ``len`` work as on a set; ``exclude | more`` is again a view,
    and other set operations give a plain ``set``.

    >>> exclude = ExcludedIds({"a", "b"}, {"c"})
    >>> "c" in exclude, sorted(exclude | {"d"}), len(exclude)
    (True, ['a', 'b', 'c', 'd'], 3)
    """

    def __init__(self, *parts: AbstractSet | Iterable[str]):
        # Each part must support `in`; a plain iterable is made a set once, here.
        self._parts = tuple(p if isinstance(p, (AbstractSet, dict)) else set(p)
                            for p in parts)

    def __contains__(self, item_id: object) -> bool:
        return any(item_id in part for part in self._parts)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for part in self._parts:
            for item_id in part:
                if item_id not in seen:
                    seen.add(item_id)
                    yield item_id

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __or__(self, other: Iterable[str]) -> ExcludedIds:  # type: ignore[override]
        return ExcludedIds(*self._parts, other)

    @classmethod
    def _from_iterable(cls, items: Iterable[str]) -> set[str]:
        return set(items)

    def __repr__(self) -> str:
        return f"ExcludedIds({len(self)} ids)"


class ProjectView(Protocol):
    """What a queue is handed: the :class:`hitl_widgets.Project` being labeled (as the session
    holds it), read through these members; writes go through ``ledger``."""

    store: Store
    schema: LabelSchema
    ledger: Ledger


class Queue(ABC):
    """Chooses the order of items for a :class:`~hitl_widgets.core.labeling.LabelingSession`.

    Subclass it and define :meth:`next_ids`; everything else has a default that fits a plain
    queue, and a queue overrides only what it changes:

    - ``blind = True``: sessions send no suggestions (a model's guess may echo others' labels).
    - ``reveals_labels = True``: each payload carries the other annotators' labels (``others``),
      for an adjudicator.
    - ``resolves = True``: a label is recorded as a resolution, which settles the item.
    - :meth:`still_open` filters skipped items before they come back.
    - :meth:`progress_counts` gives the progress line's (done, total); None lets the session count.
    - :meth:`describe` gives a few words for the progress line.
    - :meth:`release` frees what a closing session's window held.
    - :meth:`reset` forgets what the queue keeps about an annotator's place.

    **The session's side.** The session passes in ``exclude`` (a read-only set,
    :class:`ExcludedIds`: test it with ``in``, never change it) every item the annotator has
    labeled or skipped and every item already in their window, and serves skipped items itself
    once the queue has nothing else. An item leaves ``exclude`` only when something is undone;
    whenever a retraction newer than the last it saw is in the file -- an undo here, or in
    another connection (another kernel) -- the session reloads the annotator's labels and calls
    :meth:`reset` before it asks :meth:`next_ids` again. So an item must never be lost because it
    was once excluded: after ``reset(annotator)``, an item no longer in ``exclude`` is one the
    queue can serve again. Other writes do not reset the queue, so a queue may keep a cursor.

    **A user's own queue** need not subclass this: any object with a ``next_ids`` method of the
    same signature is accepted. The session adapts it once, when it starts
    (:meth:`Queue.adapt`): its ``blind``, ``reveals_labels`` and ``resolves`` attributes (read
    each time, as a subclass's are) and its ``still_open``, ``progress_counts``, ``describe``,
    ``release`` and ``reset`` methods are used where it has them, and the defaults here where it
    has not. Anything without ``next_ids`` is refused with a ``TypeError`` at that moment.
    """

    blind: bool = False
    reveals_labels: bool = False
    resolves: bool = False

    @abstractmethod
    def next_ids(self, project: ProjectView, annotator: str, exclude: set[str], n: int) -> list[str]:
        """Up to ``n`` distinct ids of the project's items to show next, none in ``exclude``."""

    def still_open(self, project: ProjectView, annotator: str, item_ids: Sequence[str]) -> list[str]:
        """Of these skipped items, the ones that come back to ``annotator``, in order: all."""
        return list(item_ids)

    def progress_counts(self, project: ProjectView, annotator: str) -> tuple[int, int] | None:
        """(done, total) for the progress line, or None: the session counts the annotator's
        labels against every item."""
        return None

    def describe(self) -> str:
        """A few words for the progress line (e.g. ``"model m3, retraining"``); "" for none."""
        return ""

    def release(self, project: ProjectView, annotator: str, item_ids: Sequence[str]) -> int:
        """Free what ``annotator``'s closing window held; returns how many were freed (none)."""
        return 0

    def reset(self, annotator: str) -> None:
        """Forget any position kept for ``annotator``: labels may have been undone elsewhere."""
        return None  # this queue keeps no position: nothing to forget

    @classmethod
    def adapt(cls, queue: Any) -> Queue:
        """``queue`` itself if it is a :class:`Queue`, else a :class:`Queue` that forwards to
        its ``next_ids`` and to whichever optional members it has (see the class docstring)."""
        if isinstance(queue, Queue):
            return queue
        if not callable(getattr(queue, "next_ids", None)):
            raise TypeError(
                "queue must be a hitl_widgets.core.labeling.Queue (subclass it and define "
                "next_ids) or an object with a next_ids(project, annotator, exclude, n) "
                f"method; got {type(queue).__name__} {queue!r:.60}")
        return _Adapted(queue)


class _Adapted(Queue):
    """A user's object with ``next_ids``, seen through the contract. Its methods are looked up
    once, here; its flags on every read, so a property behaves as on a subclass."""

    def __init__(self, queue: Any):
        self.wrapped = queue
        for name in ("still_open", "progress_counts", "describe", "release", "reset"):
            own = getattr(queue, name, None)
            if callable(own):
                setattr(self, name, own)  # the instance attribute shadows the default

    def next_ids(self, project: ProjectView, annotator: str, exclude: set[str], n: int) -> list[str]:
        return self.wrapped.next_ids(project, annotator, exclude, n)

    @property
    def blind(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.wrapped, "blind", False))

    @property
    def reveals_labels(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.wrapped, "reveals_labels", False))

    @property
    def resolves(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.wrapped, "resolves", False))

    def __repr__(self) -> str:
        return f"Queue.adapt({self.wrapped!r})"


class SequentialQueue(Queue):
    """Items in the order they were added: the default queue."""

    def __init__(self) -> None:
        self._cursor: dict[str, int] = {}  # per annotator: no pending item before this seq

    def next_ids(self, project: ProjectView, annotator: str, exclude: set[str], n: int) -> list[str]:
        out: list[str] = []
        seq = self._cursor.get(annotator, 0)
        leading = True
        while len(out) < n:
            rows = project.store.item_ids_from(seq, max(64, 4 * n))
            if not rows:
                break
            for row_seq, item_id in rows:
                if item_id in exclude:
                    if leading:  # everything up to here is done: start after it next time
                        self._cursor[annotator] = row_seq + 1
                    continue
                leading = False
                out.append(item_id)
                if len(out) == n:
                    break
            seq = rows[-1][0] + 1
        return out

    def reset(self, annotator: str) -> None:
        """Forget the cursor (after an undo or another kernel's writes)."""
        self._cursor.pop(annotator, None)
