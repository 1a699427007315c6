"""What labeling has cost so far: rates, tiers and a budget, priced from the log as it grows.

Paid time is every event an annotator spends time on: annotations, span submissions,
resolutions and skips written by a human (a model's or a labeling function's suggestions are not
paid). Each is charged its active seconds (``ms_on_item``, which the widgets measure) times the
hourly rate in force for its annotator; an event without ``ms_on_item`` is charged the
annotator's median measured time (0 while they have none) and counted as unmeasured. An undo
refunds nothing: the time was spent.

The settings live in the project's meta table, written by the :class:`Ledger` only:

- ``cost_rates``: the history of rate changes, each ``{"seq", "who", "tier", "hourly"}``. A
  change applies to the events after ``seq``, the newest event when it was set, so a rate is
  looked up by *seq*, never by clock: a clock that goes backwards cannot re-price old work,
  and work already charged keeps its price. ``who`` is an annotator, a tier (``tier=True``) or
  ``"*"``, the default. An annotator's own rate wins over their tier's, which wins over ``"*"``.
- ``cost_tiers``: the history of tier assignments, each ``{"seq", "annotator", "tier"}`` (tier
  None: none), looked up by seq the same way.
- ``cost_budget``: the cap (money), or None.

A :class:`CostView` keeps the spending from the events after the newest one it has seen --
written here or by another kernel, one code path, as :class:`LabelIndex` keeps labels -- so a
budget check reads what is new, not the log. :meth:`CostView.check` rebuilds from the whole log.

Example
-------
>>> from hitl_widgets.core.store import ItemRecord, LabelSchema, Ledger, Store
>>> ledger = Ledger(Store(":memory:"), LabelSchema.build(["ham", "spam"]))
>>> _ = ledger.add_items([ItemRecord("a", "text", text="hi")], notify=False)
>>> _ = ledger.set_rate("*", 36.0)  # money per hour of active time
>>> _ = ledger.annotate("a", "spam", annotator="ana", ms_on_item=10_000)
>>> round(ledger.costs.spent(), 6)
0.1
"""

from __future__ import annotations

import bisect
import math
import numbers
import threading
import unicodedata
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ._store import Store

RATES_KEY, TIERS_KEY, BUDGET_KEY = "cost_rates", "cost_tiers", "cost_budget"
DEFAULT = "*"  # who= for the rate of everyone without their own or a tier's
PAID_SOURCES = (None, "human")  # skips carry no source; a model's labels are not paid time
CHUNK = 50_000  # events read from the log at a time
# Names reach HTML views, CSV cells and logs: markup and control characters are refused there.
# An apostrophe is allowed (O'Brien is a name); views escape text anyway.
_MARKUP = set('<>&"`')
MAX_NAME = 200


# -- checks ---------------------------------------------------------------------------------
def check_name(name: Any, what: str = "annotator") -> str:
    """A name for a rate or a tier: a non-empty str without markup or control characters.

    >>> check_name("ana")
    'ana'
    """
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a name (a str), e.g. 'ana'; got "
                        f"{type(name).__name__} {name!r:.40}")
    if not name.strip():
        raise ValueError(f"{what} must be a non-empty name, e.g. 'ana'; got {name!r}")
    if len(name) > MAX_NAME:
        raise ValueError(f"{what} is {len(name)} characters long; keep names under {MAX_NAME}")
    bad = sorted({ch for ch in name if ch in _MARKUP
                  or unicodedata.category(ch) in ("Cc", "Zl", "Zp")})
    if bad:
        raise ValueError(f"{what} {name!r:.60} holds {bad}: names are shown in HTML views and "
                         "spreadsheets, so markup (< > & \" `) and control characters (tabs, "
                         "newlines) are refused; use plain text like 'ana.b'")
    return name


def check_hourly(hourly: Any) -> float:
    """An hourly rate: a finite number >= 0 (0: a volunteer)."""
    if isinstance(hourly, bool) or not isinstance(hourly, numbers.Real):
        raise TypeError(f"hourly must be a number (money per hour of active time), e.g. "
                        f"hourly=18.0; got {type(hourly).__name__} {hourly!r:.40}")
    value = float(hourly)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"hourly must be a finite number >= 0 (money per hour of active "
                         f"time), e.g. hourly=18.0; got {hourly!r}")
    return value


def check_budget(amount: Any) -> float | None:
    """A budget: a finite number > 0, or None (no cap).

    A budget of 0 is refused rather than read as "no work": it is far likelier an unset
    variable than a wish, and it would stop every annotator at once.
    """
    if amount is None:
        return None
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"budget must be a number (money) or None; got "
                        f"{type(amount).__name__} {amount!r:.40}")
    value = float(amount)
    if math.isnan(value) or value <= 0 or math.isinf(value):
        raise ValueError(f"budget must be a finite amount > 0, e.g. set_budget(500.0), or None "
                         f"for no cap; got {amount!r}. A budget of 0 would stop all work: to "
                         "pause labeling, close the annotators' sessions")
    return value


# -- settings -------------------------------------------------------------------------------
class _History:
    """Values set at seqs (ascending, ties in the order set): the one in force at an event."""

    __slots__ = ("seqs", "values")

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.values: list[Any] = []

    def add(self, seq: int, value: Any) -> None:
        k = bisect.bisect_right(self.seqs, seq)
        self.seqs.insert(k, seq)
        self.values.insert(k, value)

    def at(self, seq: float) -> Any:
        """The value set last at a seq below ``seq`` (it applies to later events), or None."""
        k = bisect.bisect_left(self.seqs, seq)
        return self.values[k - 1] if k else None


class Settings:
    """The rates, tiers and budget as read from meta, with the rate in force at any seq."""

    def __init__(self, rates: list | None, tiers: list | None, budget: float | None):
        self.raw = (rates or [], tiers or [], budget)
        self.budget = budget
        self._rates: dict[tuple[str, str], _History] = {}
        self._tiers: dict[str, _History] = {}
        for r in rates or ():
            kind = "tier" if r["tier"] else "who"
            self._rates.setdefault((kind, r["who"]), _History()).add(r["seq"], r["hourly"])
        for t in tiers or ():
            self._tiers.setdefault(t["annotator"], _History()).add(t["seq"], t["tier"])

    def tier_at(self, annotator: str, seq: float) -> str | None:
        history = self._tiers.get(annotator)
        return None if history is None else history.at(seq)

    def rate_at(self, annotator: str, seq: float) -> tuple[float | None, str | None]:
        """(hourly rate, tier) in force for an event of ``annotator`` at ``seq``; rate None
        when none is set for them."""
        tier = self.tier_at(annotator, seq)
        for key in (("who", annotator), ("tier", tier), ("who", DEFAULT)):
            history = self._rates.get(key)
            rate = None if history is None or key[1] is None else history.at(seq)
            if rate is not None:
                return rate, tier
        return None, tier

    def rate_now(self, annotator: str) -> float | None:
        """The rate the annotator's next event will be charged (None: no rate set)."""
        return self.rate_at(annotator, math.inf)[0]


def read_settings(store: Store) -> Settings:
    """The cost settings, in one read of the meta table."""
    raw = store.get_meta_many([RATES_KEY, TIERS_KEY, BUDGET_KEY])
    return Settings(raw.get(RATES_KEY), raw.get(TIERS_KEY), raw.get(BUDGET_KEY))


# -- spending -------------------------------------------------------------------------------
class Charge(NamedTuple):
    """One paid event, priced."""

    seq: int
    kind: str
    item_id: str
    annotator: str
    tier: str | None
    labels: str | None  # the labels JSON as stored (None for a skip or a span submission)
    active_s: float  # measured seconds, or the annotator's median when not measured
    measured: bool
    rate: float | None  # None: no rate was set for this annotator then (charged 0)
    cost: float
    created_at: float


class _Tally:
    """One annotator's spending so far; unmeasured events wait for the median."""

    __slots__ = ("events", "measured_cost", "times", "unmeasured", "unmeasured_rate", "unrated",
                 "_sorted")

    def __init__(self) -> None:
        self.events = 0
        self.measured_cost = 0.0
        self.times: list[float] = []  # measured active seconds, for the median
        self._sorted = True
        self.unmeasured = 0
        self.unmeasured_rate = 0.0  # sum of the hourly rates of unmeasured, rated events
        self.unrated = 0

    def add_time(self, seconds: float) -> None:
        # Sorted lazily: inserting in order would cost O(n) per event (a first load of 1M
        # events, O(n^2)); the median is needed only while some event was unmeasured, and
        # sorting a sorted list with a few new values at its end is one linear pass.
        if self.times and seconds < self.times[-1]:
            self._sorted = False
        self.times.append(seconds)

    def median_s(self) -> float:
        t, n = self.times, len(self.times)
        if not n:
            return 0.0
        if not self._sorted:
            t.sort()
            self._sorted = True
        return t[n // 2] if n % 2 else (t[n // 2 - 1] + t[n // 2]) / 2

    def spent(self) -> float:
        if not self.unmeasured_rate:  # every rated event measured: no median needed
            return self.measured_cost
        return self.measured_cost + self.median_s() * self.unmeasured_rate / 3600.0


class CostView:
    """Money spent so far and the budget, kept up to date from the events after the newest one
    seen. Thread-safe. Owned by the :class:`Ledger` (``ledger.costs``); reads, never writes.

    Parameters
    ----------
    store : the project's :class:`Store`.
    """

    def __init__(self, store: Store):
        self._store = store
        self._lock = threading.RLock()
        self.version = 0  # the newest seq charged
        self._tallies: dict[str, _Tally] = {}
        self.settings = Settings(None, None, None)

    # -- keeping up -----------------------------------------------------------------------
    def sync(self) -> int:
        """Charge the paid events written after :attr:`version` (by anyone); returns how many.

        Events are read first and the settings after: a rate set in between has a seq at or
        above every event read (it was set under the write lock, after them), so it cannot
        apply to them, and each event is priced by the rates that were in force for it.
        """
        with self._lock:
            applied = 0
            while True:
                rows = self._store.charge_events_after(self.version, CHUNK)
                self.settings = read_settings(self._store)
                for row in rows:
                    self._charge(row)
                if rows:
                    self.version = rows[-1][0]
                applied += len(rows)
                if len(rows) < CHUNK:
                    return applied

    def _charge(self, row: tuple) -> None:
        seq, _, _, annotator, source, ms, _, _ = row
        if annotator is None or source not in PAID_SOURCES:
            return
        tally = self._tallies.get(annotator)
        if tally is None:
            tally = self._tallies[annotator] = _Tally()
        tally.events += 1
        rate = self.settings.rate_at(annotator, seq)[0]
        if ms is not None:
            tally.add_time(ms / 1000.0)
        if rate is None:
            tally.unrated += 1
        elif ms is None:
            tally.unmeasured += 1
            tally.unmeasured_rate += rate
        else:
            tally.measured_cost += ms / 1000.0 * rate / 3600.0

    # -- reading --------------------------------------------------------------------------
    def spent(self) -> float:
        """Money spent so far, over every annotator (after a :meth:`sync`)."""
        with self._lock:
            self.sync()
            return sum(t.spent() for t in self._tallies.values())

    def budget_state(self) -> dict | None:
        """``{"spent", "limit", "reached"}`` when a budget is set (read fresh: other kernels'
        events and settings included), else None. Without a budget only the settings are
        read: a project that sets none never pays for counting."""
        settings = read_settings(self._store)
        with self._lock:
            if settings.budget is None:
                self.settings = settings
                return None
            spent = self.spent()
            limit = self.settings.budget
        if limit is None:  # removed between the two reads
            return None
        return {"spent": spent, "limit": limit, "reached": spent >= limit}

    def rate_now(self, annotator: str) -> float | None:
        """The hourly rate the annotator's next event is charged at (None: none set), as of
        the last read of the settings."""
        return self.settings.rate_now(annotator)

    def tier_now(self, annotator: str) -> str | None:
        return self.settings.tier_at(annotator, math.inf)

    def median_s(self, annotator: str) -> float:
        """The annotator's median measured active seconds per paid event (0: none measured)."""
        with self._lock:
            tally = self._tallies.get(annotator)
            return 0.0 if tally is None else tally.median_s()

    def charges(self) -> list[Charge]:
        """Every paid event, priced, oldest first: a full read of the log through the same
        pricing as :meth:`sync` (the cost report's rows)."""
        fresh = CostView(self._store)
        rows: list[tuple] = []
        with fresh._lock:
            while True:  # the same reads and pricing as sync, keeping the rows
                chunk = self._store.charge_events_after(fresh.version, CHUNK)
                fresh.settings = read_settings(self._store)
                priced = [(r, *fresh.settings.rate_at(r[3], r[0])) for r in chunk
                          if r[3] is not None and r[4] in PAID_SOURCES]
                for r in chunk:
                    fresh._charge(r)
                rows.extend(priced)
                if chunk:
                    fresh.version = chunk[-1][0]
                if len(chunk) < CHUNK:
                    break
        out = []
        for (seq, kind, item_id, who, _, ms, at, labels), rate, tier in rows:
            active = ms / 1000.0 if ms is not None else fresh.median_s(who)
            cost = 0.0 if rate is None else active * rate / 3600.0
            out.append(Charge(seq, kind, item_id, who, tier, labels, active, ms is not None,
                              rate, cost, at))
        return out

    def check(self) -> None:
        """Rebuild from the whole log and compare; AssertionError when the kept spending
        differs from the log's. For tests and for a user who doubts the figure."""
        with self._lock:
            mine = self.spent()
            fresh = CostView(self._store)
            theirs = fresh.spent()
            if fresh.version == self.version and not math.isclose(mine, theirs, rel_tol=1e-9,
                                                                  abs_tol=1e-9):
                raise AssertionError(f"the kept spending {mine!r} differs from the log's "
                                     f"{theirs!r}")
