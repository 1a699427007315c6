"""Stratified reservoirs: one uniform reservoir per stratum under one memory cap.

Each event belongs to one stratum: its label, its predicted label, or any stratum the caller
names (``by=`` a column/key, a tuple position, or a function of the row). Every stratum keeps
a uniform reservoir (Algorithm L by default, or R) of the events it received; how many places
each gets under the cap is :func:`allocate`'s water-filling rule (quotas as shares, room of
scarce strata lent to the others, min and max sizes), re-run after every batch.

Multi-label events. An event whose stratum value is a list, set or numpy array carries
several labels; it goes to exactly one stratum: **the one of its labels that has received the
fewest events so far** (ties: the stratum declared, or first seen, first). Why one and not
each: an event held twice would count twice against the cap and be labeled twice; why the
rarest: stratification exists to balance, and an event carrying a scarce label is the scarce
resource, so it feeds the reservoir that most needs events. Each stratum stays a uniform
sample of the events assigned to it. (A tuple is one composite stratum, e.g. ``(region,
label)``, not several labels.)

Batches are all or nothing: a batch is checked whole (strata, NaN features, the minimum sizes
against the cap) before anything changes, and an error leaves the reservoirs as they were.

Example
-------
>>> res = StratifiedReservoir(4, by="label", seed=0)
>>> res.add([{"text": f"m{i}", "label": "spam" if i % 10 == 0 else "ham"} for i in range(100)])
100
>>> res.counts()
{'spam': {'seen': 10, 'held': 2, 'capacity': 2}, 'ham': {'seen': 90, 'held': 2, 'capacity': 2}}
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._allocate import allocate
from ._batches import Batch, batches
from ._rng import check_count, make_rng, rng_from_state, rng_state
from ._uniform import ReservoirL, ReservoirR

ALGORITHMS = {"L": ReservoirL, "R": ReservoirR}
_MULTI = (list, set, frozenset, np.ndarray)


class StratifiedReservoir:
    """Per-stratum uniform reservoirs with quotas, min/max sizes and a global memory cap.

    Parameters
    ----------
    capacity : int
        The memory cap: events held in all strata together, at every step.
    by : str, int or callable
        The stratum of an event: a column (DataFrames) or key (dict rows), a position (tuple
        rows), or a function of the row (dict or tuple; DataFrame rows arrive as dicts).
        Per label: ``by="label"``; per predicted label: ``by="predicted"``.
    strata : sequence, optional
        The strata, declared: an event of any other stratum is refused. Undeclared, strata
        are created as they appear.
    quotas : int or mapping, optional
        Each stratum's share of the cap (> 0). Default: equal shares. When every stratum has
        plenty of events, stratum ``s`` holds ``floor(capacity * q_s / sum(q))``.
    min_size, max_size : int or mapping, optional
        Per stratum: places it is always owed once it has seen that many events, and never
        exceeds. The minimum sizes must fit in the capacity.
    algorithm : {"L", "R"}
        The uniform reservoir in each stratum (same samples in law; L skips, R draws per event).
    features : sequence, optional
        Columns/keys that must be finite (NaN or inf refused): float values and numpy float
        arrays (embeddings) are checked; a list of floats is not looked into. Default: every
        number.
    seed : int or numpy.random.Generator

    Example
    -------
    >>> import pandas as pd
    >>> res = StratifiedReservoir(6, by="label", strata=["a", "b", "c"], seed=1)
    >>> chunks = (pd.DataFrame({"x": [0.5] * 50, "label": ["a"] * 45 + ["b"] * 5})
    ...           for _ in range(3))
    >>> res.ingest(chunks)
    150
    >>> {s: c["held"] for s, c in res.counts().items()}
    {'a': 3, 'b': 3, 'c': 0}
    """

    def __init__(self, capacity: int, *, by: str | int | Callable, seed: Any,
                 strata: Sequence | None = None, quotas: int | Mapping | None = None,
                 min_size: int | Mapping = 0, max_size: int | Mapping | None = None,
                 algorithm: str = "L", features: Sequence | None = None):
        self.capacity = check_count(capacity, "capacity")
        if not (callable(by) or isinstance(by, (str, numbers.Integral))):
            raise TypeError(f"by must be a column name, a position or a function of the row; "
                            f"got {type(by).__name__}")
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm={algorithm!r}: expected one of {list(ALGORITHMS)}")
        self.by, self.algorithm = by, algorithm
        self.features = None if features is None else list(features)
        self.rng = make_rng(seed)
        self.declared = strata is not None
        order = [_stratum(s, f"strata[{i}]") for i, s in enumerate(strata or ())]
        if len(set(order)) != len(order):
            raise ValueError(f"strata lists a stratum twice: {order}")
        self._defaults = {}
        self.quotas = self._per_stratum(quotas, "quotas", order, default=1, minimum=1)
        self.min_size = self._per_stratum(min_size, "min_size", order, default=0, minimum=0)
        self.max_size = self._per_stratum(max_size, "max_size", order, default=None, minimum=1)
        for s in order:
            top = self.max_size[s]
            if top is not None and top < self.min_size[s]:
                raise ValueError(f"stratum {s!r}: max_size {top} is below min_size "
                                 f"{self.min_size[s]}; make max_size >= min_size")
        _check_minimums(self.min_size, self.capacity)
        self.strata: list = []
        self.reservoirs: dict = {}
        self.seen = 0
        for s in order:
            self._new_stratum(s)

    # -- configuration -------------------------------------------------------------------
    def _per_stratum(self, value, name, order, *, default, minimum):
        if value is None or isinstance(value, numbers.Integral):
            one = default if value is None else check_count(value, name, minimum=minimum)
            self._defaults[name] = one
            return {s: one for s in order}
        if not isinstance(value, Mapping):
            raise TypeError(f"{name} must be an int or a mapping stratum -> int, not "
                            f"{type(value).__name__}")
        if not self.declared:
            raise ValueError(f"{name} per stratum needs the strata declared: pass "
                             f"strata=[...] with the keys of {name}, or one int for all")
        unknown = [k for k in value if k not in order]
        if unknown:
            raise ValueError(f"{name} names strata that are not declared: {unknown}; "
                             f"declared: {order}")
        self._defaults[name] = default
        out = {s: default for s in order}
        for s, v in value.items():
            out[s] = None if v is None else check_count(v, f"{name}[{s!r}]", minimum=minimum)
        return out

    def _new_stratum(self, s) -> None:
        for name in ("quotas", "min_size", "max_size"):
            getattr(self, name).setdefault(s, self._defaults[name])
        # Each stratum draws from its own generator, seeded from the shared one: its draws do
        # not depend on other strata's traffic, and the shared state saves them all.
        child = np.random.default_rng(self.rng.integers(2**63, size=4))
        self.reservoirs[s] = ALGORITHMS[self.algorithm](1, seed=child)
        self.reservoirs[s].resize(0)
        self.strata.append(s)

    # -- ingest --------------------------------------------------------------------------
    def add(self, batch: Any) -> int:
        """Ingest one batch (a DataFrame, a list of dicts or tuples, or a dict of columns).

        All or nothing: the batch is checked whole first. Returns the events ingested.
        """
        b = batch if isinstance(batch, Batch) else Batch(batch)
        if b.n == 0:
            return 0
        strata, codes = self._assign(b.column(self.by))
        b.check_finite(self.features)
        new = [s for s in strata if s not in self.reservoirs]
        if new:
            _check_minimums({**self.min_size, **{s: self._defaults["min_size"] for s in new}},
                            self.capacity, new)
        # Checked: from here on nothing raises, so the batch goes in whole.
        for s in new:
            self._new_stratum(s)
        # a stable sort of small integer codes is a radix sort in numpy: linear in the batch
        small = np.int16 if len(strata) < 2**15 else np.int64
        order = np.argsort(codes.astype(small), kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(strata) + 1))
        members = {s: order[bounds[i]:bounds[i + 1]] for i, s in enumerate(strata)}
        seen = {s: r.seen + len(members.get(s, ())) for s, r in self.reservoirs.items()}
        # A stratum that has discarded events may not grow: its sample would favour later ones.
        limit = {s: r.capacity for s, r in self.reservoirs.items() if r.seen > r.capacity}
        places = allocate(self.capacity, seen, self.quotas, self.min_size, self.max_size, limit)
        for s, r in self.reservoirs.items():
            r.resize(places[s])
        for s, pos in members.items():
            self.reservoirs[s].offer(len(pos), lambda kept, pos=pos: b.take(pos[kept]),
                                     index=self.seen + pos)
        self.seen += b.n
        return b.n

    def ingest(self, stream: Any, *, batch_size: int = 10_000,
               max_events: int | None = None) -> int:
        """Ingest a stream batch by batch, never holding more than one batch of it.

        ``stream``: an iterable of rows (dicts or tuples; a list, or a generator that never
        ends), an iterable of DataFrames (chunks), or a DataFrame. ``max_events`` stops after
        that many events, read exactly from the iterator. Returns the events ingested. If a
        batch is refused, the batches before it stay ingested; the error says how many.
        """
        batch_size = check_count(batch_size, "batch_size")
        if max_events is not None:
            max_events = check_count(max_events, "max_events", minimum=0)
        done = 0
        for part in batches(stream, batch_size=batch_size, max_events=max_events):
            try:
                done += self.add(part)
            except (TypeError, ValueError, KeyError) as exc:
                exc.add_note(f"{done} events of this stream were ingested before this batch; "
                             "the refused batch was not")
                raise
        return done

    def _assign(self, values: Sequence) -> tuple[list, np.ndarray]:
        """Strata in the batch (in order of appearance) and each event's code into them."""
        try:
            # a Series keeps tuples (composite strata) whole, where np.asarray would not
            codes, uniques = pd.factorize(values if isinstance(values, np.ndarray)
                                          else pd.Series(values, dtype=object),
                                          use_na_sentinel=True)
        except TypeError:  # unhashable values: multi-label lists, or errors to name
            return self._assign_slow(values)
        if len(codes) and codes.min() < 0:
            _missing(int(np.flatnonzero(codes < 0)[0]))
        strata = [_stratum(u, lambda i=i: f"event {int(np.argmax(codes == i))}")
                  for i, u in enumerate(uniques.tolist())]
        self._check_known(strata, codes)
        return strata, codes.astype(np.int64)

    def _assign_slow(self, values: Sequence) -> tuple[list, np.ndarray]:
        counts = {s: r.seen for s, r in self.reservoirs.items()}
        rank = {s: i for i, s in enumerate(self.strata)}
        strata: dict = {}
        codes = np.empty(len(values), dtype=np.int64)
        for pos, value in enumerate(values):
            if isinstance(value, _MULTI):
                labels = [_stratum(v, f"event {pos}") for v in
                          (value.tolist() if isinstance(value, np.ndarray) else value)]
                if not labels:
                    raise ValueError(f"event {pos} of this batch has no labels (an empty "
                                     f"{type(value).__name__}); drop it or give it a stratum. "
                                     "Nothing from this batch was ingested")
                self._check_known(labels, None, pos)
                # the rarest so far; ties to the earlier stratum (declared or first seen)
                s = min(labels, key=lambda x: (counts.get(x, 0), rank.get(x, math.inf),
                                               labels.index(x)))
            else:
                if _is_missing(value):
                    _missing(pos)
                s = _stratum(value, f"event {pos}")
                self._check_known([s], None, pos)
            counts[s] = counts.get(s, 0) + 1
            codes[pos] = strata.setdefault(s, len(strata))
        return list(strata), codes

    def _check_known(self, strata: list, codes: np.ndarray | None, pos: int | None = None):
        if not self.declared:
            return
        for i, s in enumerate(strata):
            if s not in self.reservoirs:
                where = pos if codes is None else int(np.argmax(codes == i))
                raise ValueError(f"unknown stratum {s!r} at event {where} of this batch; "
                                 f"expected one of {self.strata}. Fix the event, or declare "
                                 "the stratum in strata=[...]. Nothing from this batch was "
                                 "ingested")

    # -- what is held --------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Events held in all strata."""
        return sum(r.size for r in self.reservoirs.values())

    def held(self, stratum: Any = None) -> list:
        """The rows held (of one stratum, or of all in stratum order)."""
        if stratum is not None:
            return list(self._reservoir(stratum).items)
        return [row for s in self.strata for row in self.reservoirs[s].items]

    def held_index(self, stratum: Any) -> np.ndarray:
        """Stream positions (0-based, over everything ingested) of the rows a stratum holds."""
        return self._reservoir(stratum).index.copy()

    def counts(self) -> dict:
        """Per stratum: events ``seen``, ``held`` and its ``capacity`` now."""
        return {s: {"seen": r.seen, "held": r.size, "capacity": r.capacity}
                for s, r in self.reservoirs.items()}

    def _reservoir(self, stratum):
        try:
            return self.reservoirs[stratum]
        except (KeyError, TypeError):
            raise KeyError(f"no stratum {stratum!r}; strata: {self.strata}") from None

    # -- state ---------------------------------------------------------------------------
    def state(self) -> dict:
        """Everything held, as plain data (a function ``by`` is not: pass it to from_state)."""
        return {
            "kind": "stratified", "capacity": self.capacity, "algorithm": self.algorithm,
            "by": None if callable(self.by) else self.by, "declared": self.declared,
            "features": self.features, "seen": self.seen, "strata": list(self.strata),
            "quotas": dict(self.quotas), "min_size": dict(self.min_size),
            "max_size": dict(self.max_size), "defaults": dict(self._defaults),
            "rng": rng_state(self.rng),
            "reservoirs": [self.reservoirs[s].state() for s in self.strata],
        }

    @classmethod
    def from_state(cls, state: dict, *, by: str | int | Callable | None = None
                   ) -> StratifiedReservoir:
        """The reservoirs ``state()`` described; ``by`` is needed if it was a function."""
        if state.get("kind") != "stratified":
            raise ValueError(f"this state is of a {state.get('kind')!r} reservoir, not a "
                             "stratified one")
        by = state["by"] if by is None else by
        if by is None:
            raise TypeError("this reservoir was stratified by a function, which a state cannot "
                            "hold: pass it again, from_state(state, by=...)")
        new = cls(state["capacity"], by=by, seed=0, algorithm=state["algorithm"],
                  features=state["features"])
        new.rng = rng_from_state(state["rng"])
        new.declared, new.seen = bool(state["declared"]), int(state["seen"])
        new.strata = list(state["strata"])
        for name in ("quotas", "min_size", "max_size", "defaults"):
            setattr(new, "_defaults" if name == "defaults" else name, dict(state[name]))
        kind = ALGORITHMS[state["algorithm"]]
        new.reservoirs = {s: kind.from_state(r) for s, r in
                          zip(new.strata, state["reservoirs"], strict=True)}
        return new

    def __repr__(self) -> str:
        return (f"StratifiedReservoir(capacity={self.capacity}, strata={len(self.strata)}, "
                f"held={self.size}, seen={self.seen})")


def _stratum(value: Any, where: str | Callable[[], str]) -> Hashable:
    """A stratum key as plain Python (numpy scalars unwrapped), refusing unhashable ones.

    ``where`` names the event in an error (a function: it is only worked out on error).
    """
    if isinstance(value, np.generic):
        value = value.item()
    if callable(where):
        where = _Lazy(where)
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"{where}: the stratum value {value!r:.60} ({type(value).__name__}) is "
                        "not hashable; strata must be str, int, bool or tuples of them (several "
                        "labels go in a list). Nothing from this batch was ingested") from None
    if _is_missing(value):
        raise ValueError(f"{where}: the stratum is missing ({value!r}); fill or drop events "
                         "without one. Nothing from this batch was ingested")
    return value


class _Lazy:
    """Text worked out only when an error message formats it."""

    def __init__(self, make: Callable[[], str]):
        self.make = make

    def __format__(self, spec: str) -> str:
        return format(self.make(), spec)


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _missing(pos: int) -> None:
    raise ValueError(f"event {pos} of this batch has no stratum (None or NaN); fill or drop "
                     "events without one. Nothing from this batch was ingested")


def _check_minimums(min_size: Mapping, capacity: int, new: Iterable = ()) -> None:
    total = sum(min_size.values())
    if total > capacity:
        more = f" (with the new strata {list(new)})" if list(new) else ""
        raise ValueError(f"the memory cap ({capacity} events) is smaller than the sum of the "
                         f"minimum sizes ({total}){more}; raise the capacity to at least "
                         f"{total} or lower min_size. Nothing was ingested")
