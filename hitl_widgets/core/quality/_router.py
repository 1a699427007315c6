"""Skill-based routing: a queue that serves each annotator the task types the router prefers for
them, and a round-robin queue.

Both are :class:`OverlapQueue` underneath: k slots per item taken with leases in one write
transaction (so two kernels never over-fill k), gold mixed in at ``gold_rate``, blind. What
changes is which open item comes next:

- :class:`RouterQueue`: the annotator's row of :func:`route_scores` orders the task types
  (highest first; a type the router floors for them is not served while the better annotator is
  available), and within a type the items come in the annotator's own pseudo-random order. The
  skills are :func:`skill_posteriors` of the current human labels, refreshed when a label, an undo
  or a gold answer was written (the newest such seq, read once per call; never per item).
  Gold is mixed in as :class:`OverlapQueue` mixes it, drawn from the gold items of the type
  being served: a gold item of a type the annotator is otherwise not given would stand out.
  **Load** of an annotator is their live leases plus their labels in the last ``window_s``
  seconds (an hour); the annotators *available* to compare with are the ones who labeled in
  that window, plus the one asking.
- :class:`RoundRobinQueue`: the items in the order added, each to the next annotator who asks.

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> project = Project(os.path.join(tempfile.mkdtemp(), "r.hitl"), labels=["a", "b"])
>>> _ = project.add_items(["one", "two", "three"], id=["1", "2", "3"])
>>> RoundRobinQueue().next_ids(project, "ana", set(), 2)
['1', '2']
>>> RoundRobinQueue().next_ids(project, "bo", set(), 2)  # k = 1: ana holds 1 and 2
['3']
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import numpy as np

from ..store import Ledger, Store
from ._routing import DEFAULT_GOLD_RATE, OverlapQueue
from ._scores import POLICIES, route_scores
from ._skills import (
    PROFILE_KINDS,
    answers_frame,
    check_task_type,
    gold_answers,
    human_rows,
    skill_posteriors,
    task_types,
)

_CHUNK = 256
DEFAULT_WINDOW_S = 3600.0
REFRESH_SHARE = 0.01  # new labels, as a share of all, that rebuild the skills at once
REFRESH_S = 30.0  # or this many seconds after the last rebuild


class RouterQueue(OverlapQueue):
    """Serve each annotator the items the router prefers them for, k annotators per item.

    Parameters
    ----------
    task_type : None (one type), the name of a field of the items, or a function of an item's
        record dict returning a hashable type (see :func:`skill_profiles`). Read once per item.
    gold_rate, lease_s, seed : as :class:`OverlapQueue` takes them.
    cap : at most this many labels per annotator (their current labels plus the items in hand);
        then nothing more for them. None: no cap.
    variety : at most this many items of one task type in a row (in the order served), while
        another type has open items for the annotator. None: no limit.
    explore : how far the router's Thompson draws reach (0: greedy on the posterior means).
    policy : ``"router"`` or ``"baseline"`` (accuracy / (1 + load/100)), as
        :func:`route_scores` takes them.
    window_s : the span, in seconds, of the recent labels that count as load (default an hour).

    Examples
    --------
    >>> queue = RouterQueue("source", cap=200, variety=5)                        # doctest: +SKIP
    >>> hw.Labeler(project, annotator="ana", queue=queue)                        # doctest: +SKIP
    """

    def __init__(self, task_type: Any = None, *, gold_rate: float = DEFAULT_GOLD_RATE,
                 lease_s: float | None = None, seed: int = 0, cap: int | None = None,
                 variety: int | None = None, explore: float = 1.0, policy: str = "router",
                 window_s: float = DEFAULT_WINDOW_S):
        super().__init__(gold_rate=gold_rate, lease_s=lease_s, seed=seed)
        self.task_type = check_task_type(task_type)
        self.cap = _optional_count(cap, "cap")
        self.variety = _optional_count(variety, "variety")
        if isinstance(explore, bool) or not isinstance(explore, (int, float)) or not (
                math.isfinite(explore) and explore >= 0):
            raise ValueError(f"explore must be a finite number >= 0; got {explore!r}")
        self.explore = float(explore)
        if policy not in POLICIES:
            raise ValueError(f"Unknown policy {policy!r}; expected one of {list(POLICIES)}")
        self.policy = policy
        if isinstance(window_s, bool) or not isinstance(window_s, (int, float)) or not (
                math.isfinite(window_s) and window_s > 0):
            raise ValueError(f"window_s must be a positive number of seconds; got {window_s!r}")
        self.window_s = float(window_s)
        self._type_of: dict[str, int] = {}  # item id -> type code
        self._type_names: list[Hashable] = []  # type code -> the user's type
        self._codes = np.zeros(0, dtype=np.int64)  # per item (in self._ids order): its type code
        self._typed: dict[str, tuple[int, dict[int, np.ndarray]]] = {}  # annotator's orders
        self._tcursor: dict[tuple[str, int], int] = {}  # (annotator, type): settled before
        self._run: dict[str, tuple[int, int]] = {}  # annotator -> (type, how many in a row)
        self._ranked: dict[str, list[int]] = {}  # annotator -> type codes, for this call
        self._skills: tuple[Any, Any] = (None, None)  # (log version, _Skills)
        self._score_rngs: dict[str, np.random.Generator] = {}
        self._label_counts: dict[str, tuple[int, int]] = {}  # annotator -> (log version, labels)

    # -- the contract --------------------------------------------------------------------------
    def describe(self) -> str:
        types = len(self._type_names)
        return f"router, {types} task types" if types > 1 else "router"

    def reset(self, annotator: str) -> None:
        """Forget this annotator's places: an item passed as excluded may be open again."""
        super().reset(annotator)
        for key in [k for k in self._tcursor if k[0] == annotator]:
            del self._tcursor[key]

    def next_ids(self, project: Any, annotator: str, exclude: set[str], n: int) -> list[str]:
        """Up to ``n`` items for ``annotator``: the ones they hold first, then new slots on the
        open items of the task types the router ranks highest for them."""
        ledger = Ledger.of(project)
        store, now = ledger.store, time.time()
        with ledger.transaction():
            self._check_reopened(store)
            skills = self._current_skills(ledger)
            n = min(n, self._room(store, ledger, annotator, exclude, now))
            if n <= 0:
                return []
            self._ranked[annotator] = self._rank(store, skills, annotator, now)
            return super().next_ids(project, annotator, exclude, n)

    def still_open(self, project: Any, annotator: str, item_ids: Sequence[str]) -> list[str]:
        """Skipped items that come back (as :class:`OverlapQueue`'s), within the cap."""
        if self.cap is not None:
            ledger = Ledger.of(project)
            room = self._room(ledger.store, ledger, annotator, set(), time.time())
            item_ids = list(item_ids)[:max(0, room)]
        return super().still_open(project, annotator, item_ids)

    # -- the pool and its task types -------------------------------------------------------------
    def _check_reopened(self, store: Store) -> None:
        before = (self._reopened, len(self._ids), self._next_seq)
        super()._check_reopened(store)
        if len(self._ids) > before[1]:
            new = self._ids[before[1]:]
            try:
                types = task_types(store, new, self.task_type)
            except Exception:
                # Forget the new items, so the next call reads them (and says what is wrong) again.
                del self._ids[before[1]:]
                self._next_seq = before[2]
                raise
            codes = [self._code(types[i]) for i in new]
            self._type_of.update(zip(new, codes, strict=True))
            self._codes = np.concatenate([self._codes, np.asarray(codes, dtype=np.int64)])
        if (self._reopened, len(self._ids)) != before[:2]:
            self._tcursor.clear()

    def _code(self, task_type: Hashable) -> int:
        try:
            return self._type_names.index(task_type)
        except ValueError:
            self._type_names.append(task_type)
            return len(self._type_names) - 1

    def _typed_order(self, annotator: str) -> dict[int, np.ndarray]:
        """Per task type: its items (as indices into the pool) in this annotator's order."""
        n = len(self._ids)
        built = self._typed.get(annotator)
        if built is None or built[0] != n:
            order = self._order(annotator)
            ranks = order(np.arange(order.size, dtype=np.uint64)).astype(np.int64)
            ranks = ranks[ranks < n]
            codes = self._codes[ranks]
            built = (n, {c: ranks[codes == c] for c in range(len(self._type_names))})
            self._typed[annotator] = built
            self.reset(annotator)
        return built[1]

    # -- skills, load and the ranking of task types ----------------------------------------------
    def _current_skills(self, ledger: Ledger) -> _Skills:
        """The skills, rebuilt when labels, undos or gold moved the log: at once while the
        project is small, then once ``REFRESH_SHARE`` of the labels are new or ``REFRESH_S``
        seconds have passed (a rebuild reads every label: 18 ms at 3k labels, once per label
        would make the queue's cost grow with the log)."""
        version = ledger.store.max_seq(PROFILE_KINDS)
        old_version, skills = self._skills
        if old_version == version:
            return skills
        if skills is not None and skills.built + REFRESH_S > time.monotonic():
            index = ledger.label_index
            index.sync()
            if len(index.changed_since(skills.index_version)) < REFRESH_SHARE * skills.size:
                return skills
        skills = _Skills(ledger, self._type_of, self._type_names)
        self._skills = (version, skills)
        return skills

    def _room(self, store: Store, ledger: Ledger, annotator: str, exclude: set[str],
              now: float) -> int:
        """How many more items this annotator may be given under the cap (no cap: plenty):
        the cap less their current labels (of any source) and the items in their window."""
        if self.cap is None:
            return 1 << 30
        version = store.max_seq(PROFILE_KINDS)
        counted = self._label_counts.get(annotator)
        if counted is None or counted[0] != version:
            counted = (version, len(ledger.label_index.rows(annotator)))
            self._label_counts[annotator] = counted
        in_hand = sum(1 for i in self._held(store, annotator, now) if i in exclude)
        return self.cap - counted[1] - in_hand

    def _rank(self, store: Store, skills: _Skills, annotator: str, now: float) -> list[int]:
        """The task types in the order the router prefers them for this annotator; floored
        types left out."""
        if not self._type_names:
            return []
        available = [annotator, *(a for a in skills.recent(now - self.window_s) if a != annotator)]
        load = {a: len(self._held(store, a, now)) + skills.recent(now - self.window_s).get(a, 0)
                for a in available}
        names = self._type_names
        scores = route_scores(skills.profiles, available, names, load,
                              rng=self._score_rng(annotator), explore=self.explore,
                              policy=self.policy, slots=store.overlap_default()
                              ).loc[annotator].to_numpy(float)
        order = np.argsort(-scores, kind="stable")
        return [int(c) for c in order if np.isfinite(scores[c])]

    def _score_rng(self, annotator: str) -> np.random.Generator:
        if annotator not in self._score_rngs:
            key = [self.seed, zlib.crc32(annotator.encode()), zlib.crc32(b"router")]
            self._score_rngs[annotator] = np.random.default_rng(key)
        return self._score_rngs[annotator]

    # -- choosing ----------------------------------------------------------------------------------
    def _pick_gold(self, gold_pool: list[str], beside: str, rng: np.random.Generator) -> str | None:
        """A gold item of the task type being served (a uniform draw among them), so gold does
        not stand out as the one item of a type this annotator is not given; none of that type
        left: the regular item is served instead."""
        kind = self._type_of.get(beside)
        same = [k for k, i in enumerate(gold_pool) if self._type_of.get(i) == kind]
        if not same:
            return None
        return gold_pool.pop(same[int(rng.integers(len(same)))])

    def _regular(self, store: Store, annotator: str, exclude: set[str], now: float) -> Iterator[str]:
        """Open items: requested ones first, then by task type in the router's order."""
        requested = list(store.request_counts())
        state = self._slots(store, annotator, requested, now)
        for item_id in requested:
            if item_id not in exclude and state.is_open(item_id):
                yield item_id
        exclude = exclude | set(requested)
        typed = self._typed_order(annotator)
        ranked = [c for c in self._ranked.get(annotator, []) if c in typed]
        streams = {c: self._scan_type(store, annotator, c, typed[c], exclude, now) for c in ranked}
        heads: dict[int, str] = {}
        while ranked:
            run_type, run = self._run.get(annotator, (-1, 0))
            tired = self.variety is not None and run >= self.variety
            picked = None
            for c in ranked:
                if tired and c == run_type and len(ranked) > 1:
                    continue  # variety: another type first, while one has open items
                if c not in heads:
                    head = next(streams[c], None)
                    if head is None:
                        ranked.remove(c)
                        break  # the list changed: look again from the top
                    heads[c] = head
                picked = c
                break
            if picked is None:
                continue
            item_id = heads.pop(picked)
            self._run[annotator] = (picked, run + 1 if picked == run_type else 1)
            yield item_id

    def _scan_type(self, store: Store, annotator: str, code: int, order: np.ndarray,
                   exclude: set[str], now: float) -> Iterator[str]:
        """Open items of one type in this annotator's order, from the cursor on."""
        key = (annotator, code)
        position, leading = self._tcursor.get(key, 0), True
        while position < order.size:
            ids = [self._ids[k] for k in order[position:position + _CHUNK].tolist()]
            state = self._slots(store, annotator, ids, now)
            for offset, item_id in enumerate(ids):
                if leading and state.is_settled(item_id, exclude):
                    self._tcursor[key] = position + offset + 1
                    continue
                leading = False
                if item_id not in exclude and state.is_open(item_id):
                    yield item_id
            position += _CHUNK


class _Skills:
    """The current human labels as the router needs them: skill profiles by task type, each
    annotator's label count, and who labeled recently. Built once per change of the log."""

    def __init__(self, ledger: Ledger, type_of: dict[str, int], type_names: list[Hashable]):
        import pandas as pd

        self.index_version = ledger.label_index.version  # before the rows: a label landing between is new
        rows = [r for r in human_rows(ledger) if r.item_id in type_of]
        answers = answers_frame(rows, lambda item_id: type_names[type_of[item_id]])
        self.profiles = skill_posteriors(answers, gold_answers(ledger))
        self.size, self.built = len(rows), time.monotonic()
        who, self.names = pd.factorize(answers["annotator"])
        self.who = who.astype(np.int64)
        self.times = np.fromiter((r.created_at for r in rows), dtype=float, count=len(rows))
        self._recent: tuple[float, dict[str, int]] = (-1.0, {})

    def recent(self, since: float) -> dict[str, int]:
        """Annotator -> labels given after ``since`` (recomputed at most once a second)."""
        if abs(self._recent[0] - since) > 1.0:
            n = np.bincount(self.who[self.times > since], minlength=len(self.names))
            self._recent = (since, {a: int(c) for a, c in zip(self.names, n, strict=True) if c})
        return self._recent[1]


def _optional_count(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, or None for no limit; got {value!r}")
    return int(value)


class _InOrder:
    """The identity order of ``range(n)``: what a round-robin annotator scans."""

    def __init__(self, n: int):
        self.size = n

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        return positions


class RoundRobinQueue(OverlapQueue):
    """The items in the order added, each to the next annotator who asks, k per item, with
    leases as :class:`OverlapQueue` takes them.

    ``gold_rate`` is 0 by default: in a stream that follows the order added, a gold item mixed
    in is out of sequence and so recognisable (:class:`OverlapQueue`'s pseudo-random order
    exists to hide it). First come, first served in a random order is :class:`OverlapQueue`.
    """

    def __init__(self, *, gold_rate: float = 0.0, lease_s: float | None = None,
                 seed: int = 0):
        super().__init__(gold_rate=gold_rate, lease_s=lease_s, seed=seed)

    def _order(self, annotator: str) -> Any:
        order = self._orders.get(annotator)
        if order is None or order.size < len(self._ids):
            order = _InOrder(len(self._ids))
            self._orders[annotator] = order
            self._cursor.pop(annotator, None)
        return order
