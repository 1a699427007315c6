"""A time-decayed weighted reservoir: recent events favoured, by an exponential law.

Efraimidis and Spirakis' A-Res (2006) keeps the ``capacity`` events with the largest keys
``U ** (1 / v)``, ``U`` uniform, where ``v`` is the event's weight; here the weight decays
with age, ``v = w * exp(lambda * t)`` for an event of weight ``w`` at time ``t`` (relative to
any later "now" this is ``w * exp(-lambda * age)`` times a factor shared by all events, so the
sample is the same whichever "now" one has in mind).

The keys are computed in log space, so a large ``t`` never overflows. Since
``-log(-log(U ** (1/v))) = log v - log(-log U) = log w + lambda * t + G`` with ``G`` a standard
Gumbel variable, the reservoir keeps the events with the largest

    key = log(w) + lambda * (t - t0) + G,      G = -log(-log U)

(``t0`` = the first event's time: a shift shared by all keys, which keeps them small). The
map ``x -> -log(-x)`` is increasing, so the order, and the sample, are exactly A-Res's for the
same ``U``. What it samples (Efraimidis & Spirakis, Theorem 1): successive draws without
replacement, each with probability proportional to ``v``; so with ``capacity == 1`` event ``i``
is held with probability ``v_i / sum_j v_j``, and for larger capacities with the
successive-sampling probabilities (the tests compute both exactly).

One Gumbel draw per event, for a whole batch at once with numpy; A-ExpJ's exponential jumps
would save draws but need a Python step per kept event, slower than a vectorised draw here.

Clocks. Times must be finite and non-decreasing across the stream. ``late="refuse"``
(default) refuses a batch with an event earlier than one already seen (naming it), since an
out-of-order clock usually means unsorted chunks or mixed time zones; ``late="clamp"`` counts
such events in ``clamped`` and treats each as arriving at the latest time seen so far (for
at-least-once pipelines with a little jitter).

Example
-------
>>> r = DecayedReservoir(2, decay=1.0, seed=0)
>>> r.add(["old", "older", "new"], times=[1e6, 1e6, 1e6 + 50])
>>> "new" in r.items
True
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._rng import check_count, make_rng, rng_from_state, rng_state

LATE = ("refuse", "clamp")


class DecayedReservoir:
    """Weighted reservoir with exponential time decay (A-Res keys in log space).

    Parameters
    ----------
    capacity : int
        At most this many events held.
    decay : float
        ``lambda >= 0``, per unit of time: an event ``1 / lambda`` older weighs ``e`` times
        less. ``0`` gives plain weighted sampling (A-Res).
    seed : int or numpy.random.Generator
    late : {"refuse", "clamp"}
        What an event earlier than one already seen does (see the module docstring).

    Example
    -------
    >>> r = DecayedReservoir(3, decay=0.5, seed=1)
    >>> r.add(list("abcdef"), times=[0, 1, 2, 3, 4, 5], weights=[1, 1, 1, 1, 1, 9])
    >>> r.size, r.seen
    (3, 6)
    """

    def __init__(self, capacity: int, *, decay: float, seed: Any, late: str = "refuse"):
        self.capacity = check_count(capacity, "capacity")
        if (isinstance(decay, bool) or not isinstance(decay, numbers.Real)
                or not math.isfinite(decay) or decay < 0):
            raise ValueError(f"decay must be a finite number >= 0 (per unit of time), got "
                             f"{decay!r}")
        if late not in LATE:
            raise ValueError(f"late={late!r}: expected one of {list(LATE)}")
        self.decay = float(decay)
        self.late = late
        self.rng = make_rng(seed)
        self.seen = 0
        self.clamped = 0  # events whose time was raised to the latest seen (late="clamp")
        self.t0 = math.nan  # first event's time; keys are relative to it
        self.t_last = -math.inf  # latest time seen
        self.items: list = []
        self.index = np.empty(0, dtype=np.int64)
        self.times = np.empty(0, dtype=np.float64)
        self.keys = np.empty(0, dtype=np.float64)

    @property
    def size(self) -> int:
        """How many events are held now."""
        return len(self.items)

    def add(self, values: Sequence, times: Any, weights: Any = None) -> None:
        """Feed a batch: ``values[i]`` happened at ``times[i]`` with weight ``weights[i]``.

        The whole batch is checked before anything changes: non-finite times or weights, a
        weight <= 0, or (with ``late="refuse"``) an out-of-order time raise ValueError and
        leave the reservoir as it was.
        """
        n = len(values)
        t = self._check_times(times, n)
        log_w = self._check_weights(weights, n)
        if self.late == "clamp":
            fixed = np.maximum.accumulate(np.concatenate([[self.t_last], t]))[1:]
            clamped = int(np.count_nonzero(fixed != t))
            t = fixed
        else:
            clamped = 0
        if n == 0:
            return
        t0 = t[0] if math.isnan(self.t0) else self.t0
        keys = log_w + self.decay * (t - t0) + self.rng.gumbel(size=n)
        all_keys = np.concatenate([self.keys, keys])
        if len(all_keys) > self.capacity:
            top = np.argpartition(-all_keys, self.capacity - 1)[: self.capacity]
        else:
            top = np.arange(len(all_keys))
        old, new = np.sort(top[top < self.size]), np.sort(top[top >= self.size]) - self.size
        self.items = [self.items[i] for i in old.tolist()] + [values[i] for i in new.tolist()]
        self.index = np.concatenate([self.index[old], self.seen + new])
        self.times = np.concatenate([self.times[old], t[new]])
        self.keys = np.concatenate([self.keys[old], keys[new]])
        self.seen += n
        self.clamped += clamped
        self.t0, self.t_last = float(t0), float(max(self.t_last, t[-1]))

    def _check_times(self, times: Any, n: int) -> np.ndarray:
        try:
            t = np.asarray(times, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise TypeError("times must be numbers (e.g. seconds since an epoch); convert "
                            "datetimes with .astype('int64') / 1e9") from None
        if len(t) != n:
            raise ValueError(f"{n} values but {len(t)} times; give one time per event")
        bad = np.flatnonzero(~np.isfinite(t))
        if len(bad):
            raise ValueError(f"event {bad[0]} of this batch has time {t[bad[0]]}; times must "
                             "be finite. Nothing from this batch was added")
        if self.late == "refuse" and n:
            before = np.concatenate([[self.t_last], np.maximum.accumulate(t)[:-1]])
            late = np.flatnonzero(t < before)
            if len(late):
                i = late[0]
                raise ValueError(
                    f"clock out of order: event {i} of this batch has time {t[i]}, earlier than "
                    f"{before[i]} already seen. Sort the stream by time, or pass late='clamp' "
                    "to count such events and treat them as arriving at the latest time seen. "
                    "Nothing from this batch was added")
        return t

    def _check_weights(self, weights: Any, n: int) -> np.ndarray:
        if weights is None:
            return np.zeros(n)
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if len(w) != n:
            raise ValueError(f"{n} values but {len(w)} weights; give one weight per event")
        bad = np.flatnonzero(~(np.isfinite(w) & (w > 0)))
        if len(bad):
            raise ValueError(f"event {bad[0]} of this batch has weight {w[bad[0]]}; weights "
                             "must be finite and > 0 (drop the event instead of weighting it "
                             "0). Nothing from this batch was added")
        return np.log(w)

    def state(self) -> dict:
        """Everything the reservoir holds, as plain data; ``from_state`` reads it back."""
        return {"kind": "decayed", "capacity": self.capacity, "decay": self.decay,
                "late": self.late, "seen": self.seen, "clamped": self.clamped,
                "t0": self.t0, "t_last": self.t_last, "items": list(self.items),
                "index": self.index.copy(), "times": self.times.copy(),
                "keys": self.keys.copy(), "rng": rng_state(self.rng)}

    @classmethod
    def from_state(cls, state: dict) -> DecayedReservoir:
        """The reservoir ``state()`` described, continuing exactly where it left off."""
        if state.get("kind") != "decayed":
            raise ValueError(f"this state is of a {state.get('kind')!r} reservoir, not a "
                             "decayed one")
        new = cls(state["capacity"], decay=state["decay"], late=state["late"],
                  seed=rng_from_state(state["rng"]))
        new.seen, new.clamped = int(state["seen"]), int(state["clamped"])
        new.t0, new.t_last = float(state["t0"]), float(state["t_last"])
        new.items = list(state["items"])
        new.index = np.array(state["index"], dtype=np.int64)
        new.times = np.array(state["times"], dtype=np.float64)
        new.keys = np.array(state["keys"], dtype=np.float64)
        return new

    def __repr__(self) -> str:
        return (f"DecayedReservoir(capacity={self.capacity}, decay={self.decay}, "
                f"held={self.size}, seen={self.seen})")
