"""Uniform reservoirs: Vitter's Algorithm R and Li's Algorithm L, one interface, fed in batches.

Both hold a uniform random sample of at most ``capacity`` events from a stream of unknown
length: after ``n`` events, every ``capacity``-subset of them is equally likely to be held.

- :class:`ReservoirR` (Vitter 1985, "Algorithm R"): event number ``t`` (1-based) is kept with
  probability ``capacity / t``, replacing a uniformly chosen slot. One random integer per event,
  drawn for the whole batch at once with numpy.
- :class:`ReservoirL` (Li 1994, "Algorithm L"): instead of one draw per event it draws how many
  events to *skip* before the next one kept, from the geometric law that threshold ``W`` (the
  largest of the held events' uniform keys) implies. A batch is consumed by jumping from kept
  event to kept event (the chain of jumps computed a block at a time with numpy), so after the
  reservoir is full the work per batch is proportional to the events kept (about
  ``capacity * log(n / capacity)`` in all), not to the batch's length.

Both accept ``resize``: shrinking drops a uniform random subset of the held events (a uniform
subset of a uniform sample is a uniform sample), growing is only allowed while nothing has been
discarded yet (afterwards it would bias the sample toward later events). Their ``state()`` is
plain data (ints, floats, a numpy array, the held values as a list, the generator's state dict)
and ``from_state`` continues exactly where the saved reservoir left off.

Example
-------
>>> r = ReservoirL(3, seed=0)
>>> r.add(list(range(1000)))
>>> r.size, r.seen
(3, 1000)
>>> again = ReservoirL.from_state(r.state())
>>> again.add(list(range(1000, 2000))); r.add(list(range(1000, 2000)))
>>> again.items == r.items
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._rng import check_count, make_rng, rng_from_state, rng_state

_MAX_SKIP = 2**40  # longer than any stream; sums of 2**16 of them stay inside int64
_BLOCK = 256  # uniforms drawn per numpy call by Algorithm L


class _Uniform:
    """What R and L share: the held values, their stream positions, resizing and state."""

    kind = ""

    def __init__(self, capacity: int, *, seed: Any):
        self.capacity = check_count(capacity, "capacity")
        self.rng = make_rng(seed)
        self.seen = 0
        self.items: list = []
        self.index = np.empty(0, dtype=np.int64)  # stream position of each held value

    @property
    def size(self) -> int:
        """How many events are held now (``min(seen, capacity)``)."""
        return len(self.items)

    def add(self, values: Sequence) -> None:
        """Feed a batch of events (any sequence); their stream positions follow ``seen``."""
        self.offer(len(values), lambda positions: [values[int(p)] for p in positions])

    def offer(self, n: int, take: Callable[[np.ndarray], Sequence],
              index: np.ndarray | None = None) -> np.ndarray:
        """Feed the next ``n`` events; ``take(positions)`` gives the values of those kept.

        ``positions`` are positions within this batch, in increasing order; only the values the
        reservoir ends up holding are asked for, so a caller never builds the rest. ``index``
        gives each event's position in the whole stream (default: ``seen``, ``seen + 1``, ...).
        Returns the positions written (in order; a later one may overwrite an earlier one).
        """
        n = check_count(n, "n", minimum=0)
        if index is None:
            index = self.seen + np.arange(n, dtype=np.int64)
        fill = self._fill(n)
        positions, slots = self._choose(n)
        values = list(take(positions)) if len(positions) else []
        # filling: the first `fill` writes append, in order; later ones may overwrite them
        self.index = np.concatenate([self.index, np.asarray(index)[positions[:fill]]])
        for pos, slot, value in zip(positions.tolist(), slots.tolist(), values, strict=True):
            if slot == len(self.items):
                self.items.append(value)
            else:
                self.items[slot] = value
                self.index[slot] = index[pos]
        self.seen += n
        return positions

    def _fill(self, n: int) -> int:
        # While not full the reservoir keeps everything (size == seen then).
        return min(n, self.capacity - self.size)

    def resize(self, capacity: int) -> None:
        """Change the capacity: shrinking drops a uniform random subset of what is held."""
        capacity = check_count(capacity, "capacity", minimum=0)
        if capacity > self.capacity and self.seen > self.capacity:
            raise ValueError(
                f"cannot grow a reservoir from {self.capacity} to {capacity} after it has "
                f"discarded events ({self.seen} seen): the sample would no longer be uniform; "
                "start a new reservoir for a bigger sample")
        if capacity < self.size:
            keep = np.sort(self.rng.choice(self.size, size=capacity, replace=False))
            self.items = [self.items[i] for i in keep.tolist()]
            self.index = self.index[keep]
        self.capacity = capacity
        self._reset_threshold()

    def _reset_threshold(self) -> None:
        pass

    def state(self) -> dict:
        """Everything the reservoir holds, as plain data; ``from_state`` reads it back."""
        return {"kind": self.kind, "capacity": self.capacity, "seen": self.seen,
                "items": list(self.items), "index": self.index.copy(),
                "rng": rng_state(self.rng), **self._extra_state()}

    def _extra_state(self) -> dict:
        return {}

    @classmethod
    def from_state(cls, state: dict) -> _Uniform:
        """The reservoir ``state()`` described, continuing exactly where it left off."""
        if state.get("kind") != cls.kind:
            raise ValueError(f"this state is of a {state.get('kind')!r} reservoir, not "
                             f"{cls.kind!r}; load it with Reservoir{state.get('kind')}.from_state")
        new = cls(max(int(state["capacity"]), 1), seed=rng_from_state(state["rng"]))
        new.capacity = int(state["capacity"])
        new.seen = int(state["seen"])
        new.items = list(state["items"])
        new.index = np.array(state["index"], dtype=np.int64)
        new._load_extra(state)
        return new

    def _load_extra(self, state: dict) -> None:
        pass

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(capacity={self.capacity}, held={self.size}, "
                f"seen={self.seen})")


def _last_per_slot(positions: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of several events sent to one slot in a batch only the last stays: keep those writes."""
    if len(slots) < 2:
        return positions, slots
    _, first_from_end = np.unique(slots[::-1], return_index=True)
    keep = np.sort(len(slots) - 1 - first_from_end)
    return positions[keep], slots[keep]


class ReservoirR(_Uniform):
    """Vitter's Algorithm R over numpy batches: one random integer per event after filling.

    Event ``t`` (1-based) draws ``j`` uniform in ``[0, t)`` and replaces slot ``j`` if
    ``j < capacity``. The draws for a batch are one ``Generator.integers`` call, and the result
    does not depend on how the stream is cut into batches.

    Example
    -------
    >>> r = ReservoirR(2, seed=1)
    >>> r.add(["a", "b", "c", "d"])
    >>> r.size, r.seen, sorted(r.items) == sorted(set(r.items))
    (2, 4, True)
    """

    kind = "R"

    def _choose(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        fill = self._fill(n)
        positions = np.arange(fill, dtype=np.int64)
        slots = self.size + positions
        if fill < n:
            # 1-based event numbers of the rest of the batch; int64 draws are not buffered, so
            # the same events draw the same numbers whatever the batch boundaries.
            t = np.arange(self.seen + fill + 1, self.seen + n + 1, dtype=np.int64)
            j = self.rng.integers(0, t, dtype=np.int64)
            kept = np.flatnonzero(j < self.capacity)
            rest_pos, rest_slots = _last_per_slot(fill + kept, j[kept])
            positions = np.concatenate([positions, rest_pos])
            slots = np.concatenate([slots, rest_slots])
        return positions, slots


class ReservoirL(_Uniform):
    """Li's Algorithm L over batches: geometric skips between kept events.

    The threshold ``W`` is the largest uniform key among the held events; the number of events
    skipped before the next kept one is ``floor(log(U) / log(1 - W))`` (geometric with success
    probability ``W``); a kept event replaces a uniform slot and ``W`` becomes
    ``W * U ** (1 / capacity)``. ``W`` is kept in log space. After a resize (or when first
    full) ``W`` is drawn afresh from its law given what was seen, ``Beta(capacity,
    seen - capacity + 1)`` (the capacity-th smallest of ``seen`` uniforms), so the skips stay
    exact. The result does not depend on the batch boundaries.

    Example
    -------
    >>> r = ReservoirL(5, seed=0)
    >>> for start in range(0, 100_000, 10_000):
    ...     r.add(range(start, start + 10_000))
    >>> r.size, r.seen
    (5, 100000)
    """

    kind = "L"

    def __init__(self, capacity: int, *, seed: Any):
        super().__init__(capacity, seed=seed)
        self.log_w = math.nan  # log of the threshold W; NaN = not drawn yet
        self.next = -1  # stream position (0-based) of the next event to keep
        # Uniforms in (0, 1], drawn _BLOCK at a time; the unused ones are part of the state,
        # so the draws never depend on where batches end.
        self.uniforms = np.empty(0)

    def _reset_threshold(self) -> None:
        self.log_w, self.next = math.nan, -1

    def _peek(self, m: int) -> np.ndarray:
        """The next ``m`` uniforms, without using them up (``_use`` does)."""
        while len(self.uniforms) < m:
            self.uniforms = np.concatenate([self.uniforms, 1.0 - self.rng.random(_BLOCK)])
        return self.uniforms[:m]

    def _use(self, m: int) -> None:
        self.uniforms = self.uniforms[m:]

    @staticmethod
    def _skips(log_w: np.ndarray, u: np.ndarray) -> np.ndarray:
        # geometric with success probability W: floor(log U / log(1 - W)), in log space
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.log(u) / np.log1p(-np.exp(log_w))
        return np.minimum(np.nan_to_num(step, nan=0.0), _MAX_SKIP).astype(np.int64)

    def _choose(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        fill = self._fill(n)
        start, end = self.seen, self.seen + n
        positions = [np.arange(fill, dtype=np.int64)]
        slots = [self.size + positions[0]]
        if fill < n and self.capacity > 0:  # a reservoir of 0 places keeps nothing
            k = self.capacity
            if math.isnan(self.log_w):
                here = start + fill  # events seen when the threshold is drawn
                self.log_w = math.log(self.rng.beta(k, here - k + 1))
                self.next = here + int(self._skips(np.array([self.log_w]), self._peek(1))[0])
                self._use(1)
            kept_pos, kept_slots = [], []
            while self.next < end:
                # The jumps are a chain (each W from the last), computed m steps at a time in
                # numpy from the same uniforms, in the same order, as a scalar loop would use:
                # per kept event a slot U, a threshold U and a skip U.
                m = int(min(max(k * math.log(end / (self.next + 1)) * 1.2 + 8, 8), 2**16))
                u = self._peek(3 * m).reshape(m, 3)
                slot = np.minimum(((1.0 - u[:, 0]) * k).astype(np.int64), k - 1)
                log_w = np.cumsum(np.concatenate([[self.log_w], np.log(u[:, 1]) / k]))[1:]
                steps = self._skips(log_w, u[:, 2]) + 1
                at = self.next + np.concatenate([[0], np.cumsum(steps[:-1])])
                used = int(np.searchsorted(at, end))  # kept events inside this batch
                kept_pos.append(at[:used] - start)
                kept_slots.append(slot[:used])
                self._use(3 * used)
                self.log_w = float(log_w[used - 1])
                self.next = int(at[used - 1] + steps[used - 1])
            if kept_pos:
                p, s = _last_per_slot(np.concatenate(kept_pos), np.concatenate(kept_slots))
                positions.append(p)
                slots.append(s)
        # Filling appends come first; a later event may overwrite a slot filled in this batch.
        return np.concatenate(positions), np.concatenate(slots)

    def _extra_state(self) -> dict:
        return {"log_w": self.log_w, "next": self.next, "uniforms": self.uniforms.copy()}

    def _load_extra(self, state: dict) -> None:
        self.log_w, self.next = float(state["log_w"]), int(state["next"])
        self.uniforms = np.array(state["uniforms"], dtype=np.float64)
