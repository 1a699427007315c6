"""Who labels what: overlap with leases and hidden gold items.

The overlap queue, and the leases it shares with the adjudication queue (``_adjudication.py``),
both :class:`~hitl_widgets.core.labeling.Queue` implementations:

- :class:`OverlapQueue` serves each item to ``k`` annotators (the project's default, or a per-item
  override, plus one more per open spot-check or relabel request), never to one who already
  labeled it, and mixes the project's gold items in at a set rate. It is *blind*: sessions
  drawing from it send no suggestions, and no payload ever holds another annotator's label.
- :class:`AdjudicationQueue` serves the items flagged for adjudication to a senior annotator; the
  session shows them the other annotators' labels, and their label resolves the item.

Several kernels may label one file at once. A slot is taken with an ``assignment`` event (a lease
that expires: after the project's lease length, ``project.set_lease(minutes)``, 10 minutes until
set, or the queue's own ``lease_s``) written in the same write transaction
that counted the free slots, so two kernels cannot both take the k-th slot. The guarantee:
**no item gets more than its k annotators through these queues while the leases hold**. A label
given after its lease expired (the slot may have gone to someone else meanwhile), or written
directly with ``project.annotate``, is still stored -- labels are never refused -- and
:func:`hitl_widgets.core.quality.coverage` reports any item above its k.

A lease ends when its holder labels or skips the item, or closes their session (which releases
what their window held); undoing the label revives it. A lease nobody ends -- the annotator went
idle, closed the tab, or never came back -- lapses, and the item goes back to the pool: the next
annotator who asks gets it, and only one of them (taking it is again one transaction). A lease
taken on a clock that has since gone back counts as lapsed, so a clock change never holds work
for longer than the lease. So an item a crowd has just finished is
at once free for the adjudication queue, and a skipped item goes to someone else.

Hidden gold, stated so that a test can check it. Say an observer sees everything the browser
gets from sessions on an :class:`OverlapQueue` -- the item ids and payloads in the order they
come, which items come back after a skip, when the queue runs dry -- and also knows the order in
which the items were added. Then the share of gold among the items picked by any of these rules
is the share of gold among the items served, within sampling error: "out of sequence" (added
before the item served just before it), "came back after a skip", and "served when no regular
item was left for this annotator" (the last picks nothing: gold is served only beside regular
work). ``tests/quality/test_gold_indistinguishable.py`` checks it over 30 seeded crowds
(Fisher's exact test, alpha 0.001 over the three rules). By position alone: each slot is gold with probability
``gold_rate``, drawn afresh, while the annotator has gold items left.

What it does not cover: ids the user chose (``id="gold-7"``, or a gold batch added last under
ids that say so; ids derived from content are hashes and say nothing, and setting gold never
changes an id); the payload itself (a gold item copied from a well-known example); and a gold
set too small for the stream -- an annotator who has labeled every gold item gets no more, so
with fewer gold items than ``gold_rate`` times their share of the pool, gold sits earlier in
their stream than regular items do.

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> from hitl_widgets.core.labeling import LabelingSession
>>> project = Project(os.path.join(tempfile.mkdtemp(), "r.hitl"), labels=["a", "b"])
>>> _ = project.add_items(["one", "two", "three"], id=["1", "2", "3"])
>>> project.set_overlap(2)
>>> ana = LabelingSession(project, "ana", queue=OverlapQueue(gold_rate=0), prefetch=3)
>>> sorted(ana.window())  # in ana's own pseudo-random order
['1', '2', '3']
"""

from __future__ import annotations

import hashlib
import math
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_k, check_rate, item_id_list
from ..labeling import ExcludedIds, Queue
from ..store import Ledger

if TYPE_CHECKING:
    import pandas as pd

    from ..store import Store

DEFAULT_LEASE_S = 600.0
DEFAULT_GOLD_RATE = 0.05
_SCAN_CHUNK = 256
# Events after which an item this annotator had settled may need labels again.
_REOPENING = ("retraction", "overlap", "gold")


def _check_lease(lease_s, name: str = "lease_s", unit: str = "seconds") -> float:
    if isinstance(lease_s, bool) or not isinstance(lease_s, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(lease_s) and lease_s > 0):
        raise ValueError(f"{name} must be a positive number of {unit}; got {lease_s!r}")
    return float(lease_s)


def set_lease(ledger: Ledger, minutes: float) -> None:
    """How long an item served through a leasing queue stays with its annotator before it goes
    back to the pool, in minutes, for every queue on the project that sets no ``lease_s`` of
    its own (10 minutes until set). Read by the queues on every call, in every kernel."""
    minutes = _check_lease(minutes, "minutes", "minutes (e.g. project.set_lease(5))")
    Ledger.of(ledger).set_meta("lease_minutes", minutes, notify="lease")


# -- the overlap policy -------------------------------------------------------------------
def set_overlap(ledger: Ledger, k: int, item_ids: Sequence[str] | None = None) -> None:
    """Set how many annotators label each item: the project's default, or these items' own."""
    k = check_k(k)
    if item_ids is None:
        Ledger.of(ledger).set_meta("overlap", k, notify="overlap")
        return
    ids = known_ids(ledger, item_ids)
    Ledger.of(ledger).append_many([dict(kind="overlap", item_id=i, extra={"k": k}) for i in ids],
                                  notify="overlap")


def coverage(ledger: Ledger) -> pd.DataFrame:
    """Per item: the annotators it needs, how many labeled it, and whether it went over.

    ``needed`` is k (the item's own or the project's) plus its open spot-check or relabel
    requests. ``over`` is True for an item with more annotators than it needed: possible only
    through a lapsed lease or a label written outside the overlap queue.
    """
    import pandas as pd

    ids = [r["item_id"] for r in ledger.store.items_table()]
    need = needed(ledger, ids)
    labeled = ledger.store.labelers(ids)
    gold = ledger.store.latest_live("gold")
    df = pd.DataFrame({
        "item_id": pd.Series(ids, dtype=object),
        "needed": pd.Series([need[i] for i in ids], dtype="int64"),
        "labeled": pd.Series([len(labeled.get(i, ())) for i in ids], dtype="int64"),
        "gold": pd.Series([i in gold for i in ids], dtype=bool),  # typed: an empty project too
    })
    df["over"] = ~df["gold"] & (df["labeled"] > df["needed"])
    return df


def queue_depth(ledger: Ledger) -> dict[str, int]:
    """What is left: items still short of annotators, the labels they need, open requests
    (spot checks, relabels), and flagged items not yet adjudicated."""
    cov = coverage(ledger)
    regular = cov[~cov["gold"]]
    short = (regular["needed"] - regular["labeled"]).clip(lower=0)
    flagged = ledger.store.latest_live("flag")
    resolved = ledger.store.latest_live("resolution")
    return {"items": int((short > 0).sum()), "labels": int(short.sum()),
            "requests": len(ledger.store.request_counts()),
            "adjudication": len(set(flagged) - set(resolved))}


def needed(ledger: Ledger, ids: Sequence[str], requests: bool = True) -> dict[str, int]:
    store = ledger.store
    default = store.overlap_default()
    overrides = {i: e["extra"]["k"] for i, e in store.latest_live("overlap").items()}
    requests = store.request_counts() if requests else {}
    return {i: overrides.get(i, default) + requests.get(i, 0) for i in ids}


def known_ids(ledger: Ledger, item_ids: Sequence[Any]) -> list[str]:
    ids = item_id_list(item_ids, "item_ids")
    known = ledger.store.get_items(sorted(set(ids)))
    missing = [i for i in dict.fromkeys(ids) if i not in known]
    if missing:
        raise KeyError(f"Unknown item id(s) {missing[:5]!r} ({len(missing)} in all); nothing was "
                       "written. Add them first with project.add_items(...)")
    return ids


class LeasingQueue(Queue):
    """Leases shared by the leasing queues: keep one's own, renew them before they lapse,
    release them.

    ``lease_s``: how long a lease holds, in seconds; None (the default) follows the project's
    setting (``project.set_lease(minutes)``), read again at the start of every call. A lease
    that lapses -- its holder went idle, closed the tab without closing the session, or never
    came back -- frees the slot, and the item goes to the next annotator who asks, once.
    """

    def __init__(self, lease_s: float | None = None):
        self._own_lease_s = None if lease_s is None else _check_lease(lease_s)
        self.lease_s = self._own_lease_s or DEFAULT_LEASE_S

    @property
    def lease_setting(self) -> float | None:
        """The lease length this queue was given (None: the project's)."""
        return self._own_lease_s

    def release(self, project: Any, annotator: str, item_ids: Sequence[str]) -> int:
        """End this annotator's leases on these items (a closing session's window): their
        slots are free for others at once. Returns how many leases were ended."""
        ledger = Ledger.of(project)
        store, now = ledger.store, time.time()
        with ledger.transaction():
            held = self._held(store, annotator, now)
            ids = [i for i in dict.fromkeys(item_ids) if i in held]
            ledger.append_many([dict(kind="assignment", item_id=i, annotator=annotator,
                                     extra={"expires": now, "released": True}) for i in ids],
                               notify=False)  # a lease changes what is served, not what is shown
        return len(ids)

    def _serve_pending(self, ledger: Ledger, annotator: str, exclude: set[str], n: int,
                       pending_of: Callable[[Store], Sequence[str]]) -> list[str]:
        """Up to ``n`` of the pending items for ``annotator``: the ones they hold first (leases
        renewed), then ones nobody else holds (leased to them). One transaction, inside which
        ``pending_of(store)`` says what is pending, so two kernels never take one item."""
        store, now = ledger.store, time.time()
        with ledger.transaction():
            pending = list(pending_of(store))
            held = self._held(store, annotator, now)
            wanted = set(pending)
            keep = [i for i in held if i in wanted and i not in exclude][:n]
            leases = store.leases(pending, now)
            free = [i for i in pending if i not in exclude and i not in held
                    and not set(leases.get(i, ())) - {annotator}]
            taken = free[: max(0, n - len(keep))]
            ledger.append_many(self._renewals(annotator, held, keep, now)
                               + self._lease_events(annotator, taken, now), notify=False)
        return keep + taken

    def _held(self, store: Store, annotator: str, now: float) -> dict[str, float]:
        """This annotator's live leases, oldest first: item → expiry. Every call that leases
        starts here, inside its transaction: the project's lease length is read here too."""
        if self._own_lease_s is None:
            self.lease_s = store.lease_seconds()
        return store.held_leases(annotator, now)

    def _lease_events(self, annotator: str, ids: Sequence[str], now: float) -> list[dict]:
        return [dict(kind="assignment", item_id=i, annotator=annotator,
                     extra={"expires": now + self.lease_s, "taken": now}) for i in ids]

    def _renewals(self, annotator: str, held: dict[str, float], ids: Sequence[str],
                  now: float) -> list[dict]:
        """Leases about to lapse on items still in the window are taken again."""
        due = [i for i in ids if held[i] - now < self.lease_s / 2]
        return self._lease_events(annotator, due, now)


class OverlapQueue(LeasingQueue):
    """Serve each item to k annotators, blind, with the project's gold items mixed in.

    Parameters
    ----------
    gold_rate : the share of served items that are gold, in [0, 1] (default 0.05). Each slot is
        gold with this probability, drawn from a seeded generator, while the annotator has gold
        items left to label and regular work left to do.
    lease_s : how long an item served to an annotator keeps its slot, in seconds, unless they
        label, skip or release it first; None (default) follows ``project.set_lease(minutes)``
        (10 minutes until set).
    seed : seeds the order and the gold draws (one stream per annotator, so each kernel is
        reproducible).

    Each annotator gets the regular items in their own pseudo-random order of the whole pool
    (requested spot checks and relabels first), not in the order they were added; a gold item is
    a uniform draw from the gold items they have not labeled. So, to someone who sees the
    annotator's stream and knows the order the items were added in, a gold item looks like any
    other: it is "out of sequence" as often, it comes back after a skip as often (a skipped
    gold item comes back when a seeded draw falls below the share of this annotator's skipped
    regular items that came back), and it is never what is left when the regular items run
    out (then nothing is served). The module docstring states the guarantee and its limits.

    The overlap ``k`` is the project's (``project.set_overlap``), read on every call. Finding the
    next items costs about the same at 100k items as at 1k: each annotator has a cursor into
    their order, before which every item is settled for them.

    Examples
    --------
    >>> import hitl_widgets as hw                                              # doctest: +SKIP
    >>> project.set_overlap(3)                                                 # doctest: +SKIP
    >>> project.set_gold(["i7", "i42"], ["spam", "ham"])                       # doctest: +SKIP
    >>> hw.Labeler(project, annotator="ana", queue=OverlapQueue(gold_rate=0.1))  # doctest: +SKIP
    """

    blind = True  # sessions send no suggestions: a model's guess may echo others' labels

    def __init__(self, *, gold_rate: float = DEFAULT_GOLD_RATE, lease_s: float | None = None,
                 seed: int = 0):
        super().__init__(lease_s)
        self.gold_rate = check_rate(gold_rate, "gold_rate")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int; got {seed!r}")
        self.seed = int(seed)
        self._rngs: dict[str, np.random.Generator] = {}
        self._orders: dict[str, _Shuffle] = {}  # per annotator: their order of the pool
        self._cursor: dict[str, int] = {}  # per annotator: every position before it is settled
        self._ids: list[str] = []  # item ids in the order added (append-only, like the items)
        self._skips: dict[str, dict[str, bool]] = {}  # per annotator: skipped regular items
        self._kept: dict[str, list[str]] = {}  # per annotator: leased unseen, see _take
        self._next_seq = 0
        self._reopened = -1
        self._gold_cache: tuple[int, set[str]] = (-1, set())

    def release(self, project: Any, annotator: str, item_ids: Sequence[str]) -> int:
        """End this annotator's leases on these items and on the one kept unseen for them."""
        return super().release(project, annotator, [*item_ids, *self._kept.pop(annotator, [])])

    def reset(self, annotator: str) -> None:
        """Forget this annotator's cursor: an item it passed as excluded may be open again."""
        self._cursor.pop(annotator, None)

    def next_ids(self, project: Any, annotator: str, exclude: set[str], n: int) -> list[str]:
        """Up to ``n`` items for ``annotator``: the ones they hold first, then new slots."""
        ledger = Ledger.of(project)
        store, now = ledger.store, time.time()
        with ledger.transaction():
            self._check_reopened(store)
            held = self._held(store, annotator, now)
            keep = [i for i in held if i not in exclude][:n]
            taken, kept = self._take(store, annotator, ExcludedIds(exclude, held), n - len(keep), now)
            self._kept[annotator] = kept  # released with the window when the session closes
            ledger.append_many(self._renewals(annotator, held, keep, now)
                               + self._lease_events(annotator, taken + kept, now), notify=False)
        return keep + taken

    def still_open(self, project: Any, annotator: str, item_ids: Sequence[str]) -> list[str]:
        """Of these (skipped) items, the ones that come back to this annotator; leases them.

        A regular item comes back while it has a free slot. A gold item has no slots, so it
        comes back when its seeded draw falls below the share of this annotator's skipped
        regular items that came back (counted since this queue first saw them): as often as a
        regular one does, and never while none does.
        """
        ledger = Ledger.of(project)
        store, now = ledger.store, time.time()
        with ledger.transaction():
            held = self._held(store, annotator, now)
            gold = self._gold(store)
            regular = [i for i in item_ids if i not in gold]
            state = _SlotState(store, annotator, regular, now)
            back = {i for i in regular if i in held or state.is_open(i)}
            share = self._comeback_share(store, annotator, regular, back)
            back |= {i for i in item_ids
                     if i in gold and (i in held or self._draw(annotator, i) < share)}
            ok = [i for i in item_ids if i in back]
            ledger.append_many(self._lease_events(
                annotator, [i for i in ok if i not in held or held[i] - now < self.lease_s / 2], now),
                notify=False)
        return ok

    def _comeback_share(self, store: Store, annotator: str, regular: list[str],
                        back: set[str]) -> float:
        """Of the regular items this annotator skipped (since this queue first saw them), the
        share that came back: back now, or labeled by them since."""
        seen = self._skips.setdefault(annotator, {})  # skipped regular item -> labeled since
        gone = [i for i in seen if not seen[i] and i not in regular]
        labeled = store.labeled_by(annotator, gone)
        for item_id in gone:  # no longer skipped: labeled after coming back, or the skip undone
            if item_id in labeled:
                seen[item_id] = True
            else:
                del seen[item_id]
        seen.update((i, False) for i in regular if i not in seen)
        returned = sum(seen.values()) + sum(not seen[i] for i in back)
        return returned / len(seen) if seen else 0.0

    # -- choosing ----------------------------------------------------------------------------
    def _take(self, store: Store, annotator: str, exclude: set[str], n: int,
              now: float) -> tuple[list[str], list[str]]:
        """New items for the window, and a regular one to lease unseen (see below)."""
        if n <= 0:
            return [], []
        rng = self._rng(annotator)
        gold = self._gold(store)
        gold_pool = self._gold_pool(store, annotator, gold, exclude)
        regular = self._regular(store, annotator, exclude | gold, now)
        out: list[str] = []
        pending: str | None = None  # the next regular item, drawn but not yet served
        while len(out) < n:
            # One draw per slot, whatever is left, so positions do not depend on the pool.
            is_gold = rng.random() < self.gold_rate and bool(gold_pool)
            # Gold only beside regular work: a stream that goes on with gold alone gives it away.
            pending = pending or next(regular, None)
            if pending is None:
                break
            pick = self._pick_gold(gold_pool, pending, rng) if is_gold else None
            if pick is not None:
                out.append(pick)
            else:
                out.append(pending)
                pending = None
        # A window that ends on gold keeps the regular item that let it in, leased, so it comes
        # next: otherwise another annotator could take it and leave the gold last in the stream.
        return out, [pending] if pending is not None and out and out[-1] in gold else []

    def _pick_gold(self, gold_pool: list[str], beside: str, rng: np.random.Generator) -> str | None:
        """The gold item to serve beside the regular item ``beside`` (taken out of the pool): a
        uniform draw. A subclass may narrow it, or return None to serve ``beside`` instead."""
        return gold_pool.pop(int(rng.integers(len(gold_pool))))

    def _gold_pool(self, store: Store, annotator: str, gold: set[str], exclude: set[str]) -> list[str]:
        candidates = [i for i in sorted(gold) if i not in exclude]  # sorted: seeded picks repeat
        labeled = store.labeled_by(annotator, candidates)
        return [i for i in candidates if i not in labeled]

    def _gold(self, store: Store) -> set[str]:
        """The gold item ids, read again only when gold was set or something retracted."""
        version = store.max_seq(("gold", "retraction"))
        if self._gold_cache[0] != version:
            self._gold_cache = (version, set(store.latest_live("gold")))
        return self._gold_cache[1]

    def _regular(self, store: Store, annotator: str, exclude: set[str], now: float) -> Iterator[str]:
        """Open items: requested ones first, then in this annotator's order of the pool."""
        requested = list(store.request_counts())
        state = _SlotState(store, annotator, requested, now)
        for item_id in requested:
            if item_id not in exclude and state.is_open(item_id):
                yield item_id
        yield from self._scan(store, annotator, exclude | set(requested), now)

    def _scan(self, store: Store, annotator: str, exclude: set[str], now: float) -> Iterator[str]:
        order = self._order(annotator)
        position, leading = self._cursor.get(annotator, 0), True
        while position < order.size:
            positions = np.arange(position, min(position + _SCAN_CHUNK, order.size), dtype=np.uint64)
            ranks = order(positions)
            batch = {int(r): self._ids[int(r)] for r in ranks if r < len(self._ids)}
            state = _SlotState(store, annotator, list(batch.values()), now)
            for pos, rank in zip(positions.tolist(), ranks.tolist(), strict=True):
                item_id = batch.get(rank)  # None: a position past the last item
                if leading and (item_id is None or state.is_settled(item_id, exclude)):
                    self._cursor[annotator] = pos + 1
                    continue
                leading = False
                if item_id is not None and item_id not in exclude and state.is_open(item_id):
                    yield item_id
            position += _SCAN_CHUNK

    def _order(self, annotator: str) -> _Shuffle:
        """This annotator's order of the pool, grown (and the cursor reset) as the pool grows."""
        order = self._orders.get(annotator)
        if order is None or order.size < len(self._ids):
            order = _Shuffle(self._key(annotator), len(self._ids))
            self._orders[annotator] = order
            self._cursor.pop(annotator, None)
        return order

    def _check_reopened(self, store: Store) -> None:
        """Read new items, and forget the cursors when items were added or something may have
        reopened an item settled before them."""
        grown = False
        while rows := store.item_ids_from(self._next_seq, 10_000):
            self._ids.extend(i for _, i in rows)
            self._next_seq, grown = rows[-1][0] + 1, True
        latest = store.max_seq(_REOPENING)
        if latest != self._reopened or grown:
            self._cursor.clear()
            self._reopened = latest

    def _slots(self, store: Store, annotator: str, item_ids: list[str], now: float) -> _SlotState:
        """The slots on these items, read inside the caller's transaction (for subclasses that
        choose the items another way)."""
        return _SlotState(store, annotator, item_ids, now)

    def _key(self, annotator: str) -> list[int]:
        return [self.seed, zlib.crc32(annotator.encode())]  # stable across runs, unlike hash()

    def _rng(self, annotator: str) -> np.random.Generator:
        if annotator not in self._rngs:
            self._rngs[annotator] = np.random.default_rng(self._key(annotator))
        return self._rngs[annotator]

    def _draw(self, annotator: str, item_id: str) -> float:
        """A uniform draw in [0, 1) fixed for this seed, annotator and item."""
        message = "\0".join([str(self.seed), annotator, item_id]).encode()
        digest = hashlib.blake2b(message, digest_size=8, person=b"hitl-skip").digest()
        return int.from_bytes(digest, "big") / 2**64


class _Shuffle:
    """A keyed pseudo-random permutation of ``range(size)``, ``size`` a power of 4 at least
    ``n``: a balanced Feistel network, so position -> rank costs O(1) and no memory per item."""

    ROUNDS = 6

    def __init__(self, key: list[int], n: int):
        self.half = max(4, (max(n, 1) - 1).bit_length() + 1 >> 1)
        self.size = 1 << 2 * self.half
        rng = np.random.default_rng([*key, self.half])
        self.keys = rng.integers(0, 2**63, self.ROUNDS, dtype=np.uint64)

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        half, mask = np.uint64(self.half), np.uint64((1 << self.half) - 1)
        left, right = positions >> half, positions & mask
        for key in self.keys:
            left, right = right, left ^ (_mix(right ^ key) & mask)
        return (left << half) | right


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every output bit depends on every input bit."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


class _SlotState:
    """Slots on a batch of items, read inside the caller's transaction."""

    def __init__(self, store: Store, annotator: str, item_ids: list[str], now: float):
        self.annotator = annotator
        self.default_k = store.overlap_default()
        self.overrides = {i: e["extra"]["k"] for i, e in store.latest_live("overlap", item_ids).items()}
        self.requests = store.request_counts(item_ids)
        self.labelers = store.labelers(item_ids)
        self.leases = store.leases(item_ids, now)

    def needed(self, item_id: str) -> int:
        return self.overrides.get(item_id, self.default_k) + self.requests.get(item_id, 0)

    def is_open(self, item_id: str) -> bool:
        labeled = self.labelers.get(item_id, set())
        if self.annotator in labeled:
            return False
        others = {a for a in self.leases.get(item_id, ()) if a != self.annotator}
        return len(labeled | others) < self.needed(item_id)

    def is_settled(self, item_id: str, exclude: set[str]) -> bool:
        """Nothing left for this annotator here unless a retraction or a new k reopens it."""
        # Excluded items (gold, skipped, held, undone) reach the annotator by other paths.
        labeled = self.labelers.get(item_id, set())
        return (item_id in exclude or self.annotator in labeled
                or len(labeled) >= self.needed(item_id))
