"""The Dashboard's numbers kept up to date from the items that changed, not recomputed from the log.

:func:`~hitl_widgets.core.quality.dashboard_data` reads every current label on each call: 2 s at
100k labels, per change. A :class:`DashboardStats` keeps, per item, what the item adds to each
figure (its labels per annotator, gold hits, queue shortfall, finished or not, consensus label,
label pairs, its place on the agreement curve) and the sums of those contributions. On
:meth:`~DashboardStats.update` it asks the ledger's :class:`~hitl_widgets.core.store.LabelIndex`
which items changed since its last update -- written by this kernel or another -- subtracts their
old contribution and adds the new one. Overlap settings and open requests are re-read each time
(they are few); items whose need changed are redone, and a new project-wide k redoes every item.

The public functions of :mod:`~hitl_widgets.core.quality._stats` stay the reference: a property
test checks that :meth:`DashboardStats.data` equals :func:`dashboard_data` after random
sequences of labels, undos, relabels, gold answers and other connections' writes.

What is still read whole on each call: flags, resolutions and relabel alerts (their events, not
the labels), and with ``method="dawid_skene"`` the consensus (an EM fit over every finished item;
the Dashboard runs it off the kernel's thread).

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> project = Project(os.path.join(tempfile.mkdtemp(), "d.hitl"), labels=["ham", "spam"])
>>> _ = project.add_items(["a", "b"], id=["1", "2"])
>>> project.set_overlap(2)
>>> stats = DashboardStats(project)
>>> for who in ("ana", "bob"):
...     _ = project.annotate("1", "ham", annotator=who)
>>> stats.update()
1
>>> stats.data()["totals"]
{'labels': 2, 'annotators': 2, 'finished': 1, 'gold': 0}
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .._checks import check_count, check_rate
from ..store import Ledger
from ._stats import (
    Snapshot,
    agreement_curve,
    check_rate_per_hour,
    check_target,
    check_window,
    consensus_of,
    consensus_share,
    curve_frame,
    disagreement_table,
    flag_reasons,
    window_agreement,
)


class _Item(NamedTuple):
    """What one item adds to the figures: subtracted when it changes, then added anew."""

    labels: tuple[tuple[str, str, float], ...]  # (annotator, category, ms_on_item or NaN)
    gold: str | None  # the answer of a gold item
    short: int  # labels it still needs (0 for gold)
    finished: bool
    vote: str | None  # majority consensus, for a finished item with two or more labels
    split: bool  # not every annotator agreed
    seq: int  # when it was completed (its newest current label)
    at: float


class DashboardStats:
    """The Dashboard's figures for one project, brought up to date from the changed items only.

    Thread-safe: a worker thread may update it while the kernel's thread writes labels.

    Parameters
    ----------
    project : the :class:`~hitl_widgets.Project` (or its ledger).
    """

    def __init__(self, project: Any) -> None:
        self._ledger = Ledger.of(project)
        self._index = self._ledger.label_index
        self._lock = threading.RLock()
        self._version = -1  # -1: nothing read yet
        self._context: tuple[int, dict[str, int], dict[str, int]] | None = None
        self._items: dict[str, _Item] = {}
        self._n_labels = 0
        self._people: dict[str, list[int]] = {}  # annotator -> [labels, gold n, gold right,
        #                                           consensus n, consensus matches]
        self._ms: dict[str, list[float]] = {}  # annotator -> their timings, sorted
        self._finished = 0
        self._finished_labels: Counter[str] = Counter()  # category -> rows on finished items
        self._pairs: Counter[tuple[str, str]] = Counter()
        self._votes: dict[str, list[int]] = {}  # consensus label -> [items, disagreed]
        self._short_items = 0
        self._short_labels = 0
        self._n_gold = 0
        self._curve = _Curve()

    # -- keeping up ----------------------------------------------------------------------------
    def update(self) -> int:
        """Take in what changed since the last update (by anyone); returns how many items were
        redone. The first call reads the whole project."""
        with self._lock:
            store, index = self._ledger.store, self._index
            index.sync()
            version = index.version  # before asking what changed: a later write is redone, not lost
            default = store.overlap_default()
            overrides = {i: e["extra"]["k"] for i, e in store.latest_live("overlap").items()}
            requests = store.request_counts()
            old = self._context
            if old is None or old[0] != default:  # the first read, or a new k: every item
                changed = (index.changed_since(0) | set(self._items) | set(overrides)
                           | set(requests))
            else:
                changed = index.changed_since(self._version)
                changed |= _differ(old[1], overrides) | _differ(old[2], requests)
            self._context = (default, overrides, requests)
            gold = index.gold()
            multi = self._ledger.schema.multi_label
            for item in changed:
                before = self._items.pop(item, None)
                if before is not None:
                    self._add(item, before, -1)
                rows = index.item(item)
                answer = gold.get(item)
                if not rows and answer is None and item not in overrides and item not in requests:
                    continue  # untouched: counted with the project's k
                after = _contribution(rows, answer, overrides.get(item, default),
                                      requests.get(item, 0), multi)
                self._items[item] = after
                self._add(item, after, +1)
            self._version = version
            return len(changed)

    def _add(self, item: str, c: _Item, sign: int) -> None:
        self._n_labels += sign * len(c.labels)
        for who, label, ms in c.labels:
            p = self._people.setdefault(who, [0, 0, 0, 0, 0])
            p[0] += sign
            if c.gold is not None:
                p[1] += sign
                p[2] += sign * (label == c.gold)
            if c.vote is not None:
                p[3] += sign
                p[4] += sign * (label == c.vote)
            if ms == ms:  # not NaN
                times = self._ms.setdefault(who, [])
                if sign > 0:
                    bisect.insort(times, ms)
                else:
                    del times[bisect.bisect_left(times, ms)]
            if p[0] == 0:
                del self._people[who]
                self._ms.pop(who, None)
        self._n_gold += sign * (c.gold is not None)
        self._short_items += sign * (c.short > 0)
        self._short_labels += sign * c.short
        if c.finished:
            self._finished += sign
            counts = Counter(label for _, label, _ in c.labels)
            for a, na in counts.items():
                self._finished_labels[a] += sign * na
                for b, nb in counts.items():
                    self._pairs[a, b] += sign * (na * nb - (na if a == b else 0))
        if c.vote is not None:
            v = self._votes.setdefault(c.vote, [0, 0])
            v[0] += sign
            v[1] += sign * c.split
            counts = Counter(label for _, label, _ in c.labels)
            self._curve.put(item, (c.seq, c.at, counts) if sign > 0 else None)

    # -- reading ---------------------------------------------------------------------------------
    def data(self, *, window: int = 50, target: float = 0.7, rate_per_hour: float | None = None,
             threshold: float = 0.85, min_count: int = 5, method: str = "majority",
             update: bool = True) -> dict[str, Any]:
        """Every figure of the dashboard, as :func:`~hitl_widgets.core.quality.dashboard_data`
        returns them (same keys, same values), after an :meth:`update` (unless ``update=False``)."""
        options = self.options(window=window, target=target, rate_per_hour=rate_per_hour,
                               threshold=threshold, min_count=min_count, method=method)
        with self._lock:
            if update or self._version < 0:
                self.update()
            return self._data(**options)

    @staticmethod
    def options(*, window: int = 50, target: float = 0.7, rate_per_hour: float | None = None,
                threshold: float = 0.85, min_count: int = 5,
                method: str = "majority") -> dict[str, Any]:
        """The dashboard's options checked (ValueError says what to change), defaults filled in."""
        from ._workflow import check_method

        return dict(window=check_window(window), target=check_target(target),
                    rate_per_hour=check_rate_per_hour(rate_per_hour),
                    threshold=check_rate(threshold, "threshold"),
                    min_count=check_count(min_count, "min_count"), method=check_method(method))

    def _data(self, window: int, target: float, rate_per_hour: float | None, threshold: float,
              min_count: int, method: str) -> dict[str, Any]:
        from ._workflow import quality_alerts

        store = self._ledger.store
        names = list(self._ledger.schema.labels)
        gold = self._gold_table(threshold, min_count)
        people = self._annotator_table(gold, rate_per_hour)
        if method == "majority":
            disagreement = self._disagreement_table(names)
        else:  # a fit over every finished item: no per-item contribution to keep
            snap = self._finished_snapshot(names)
            vote = consensus_of(snap, method)
            share = consensus_share(snap.finished, vote)
            people["consensus_agreement"] = share.reindex(people["annotator"]).to_numpy()
            disagreement = disagreement_table(snap, method, vote)
        flagged = store.latest_live("flag")
        resolved = set(store.latest_live("resolution")) & set(flagged)
        return {
            "agreement": self._curve.frame(window, target),
            "annotators": people,
            "confusion": self._confusion_table(names),
            "disagreement": disagreement,
            "queue": self._queue(flagged),
            "flags": {"flagged": len(flagged), "resolved": len(resolved)},
            "alerts": quality_alerts(self._ledger),
            "flagged_annotators": flag_reasons(gold, threshold),
            "totals": {"labels": self._n_labels, "annotators": len(self._people),
                       "finished": self._finished, "gold": self._n_gold},
        }

    def _gold_table(self, threshold: float, min_count: int) -> pd.DataFrame:
        rows = sorted((who, p[1], p[2]) for who, p in self._people.items() if p[1])
        out = pd.DataFrame(rows, columns=["annotator", "n", "correct"]).astype(
            {"n": int, "correct": int})
        out["accuracy"] = out["correct"] / out["n"]
        out["flagged"] = (out["n"] >= min_count) & (out["accuracy"] < threshold)
        return out

    def _annotator_table(self, gold: pd.DataFrame, rate: float | None) -> pd.DataFrame:
        who = sorted(self._people)
        p = [self._people[a] for a in who]
        out = pd.DataFrame({
            "annotator": pd.Series(who, dtype=str if who else object),
            "labels": pd.Series([x[0] for x in p], dtype="int64"),
            "median_s": pd.Series([_median(self._ms.get(a, ())) / 1000.0 for a in who],
                                  dtype=float),
        })
        out["cost_per_label"] = out["median_s"] * rate / 3600.0 if rate is not None else np.nan
        out["consensus_agreement"] = pd.Series(
            [x[4] / x[3] if x[3] else np.nan for x in p], dtype=float)
        g = gold.set_index("annotator").reindex(who)
        out["gold_n"] = g["n"].fillna(0).astype(int).to_numpy()
        out["gold_correct"] = g["correct"].fillna(0).astype(int).to_numpy()
        out["gold_accuracy"] = g["accuracy"].astype(float).to_numpy()
        out["flagged"] = g["flagged"].fillna(False).astype(bool).to_numpy()
        return out

    def _confusion_table(self, names: list[str]) -> pd.DataFrame:
        names = list(dict.fromkeys(names + sorted(a for a, n in self._finished_labels.items() if n)))
        at = {a: k for k, a in enumerate(names)}
        table = np.zeros((len(names), len(names)), dtype=np.int64)
        for (a, b), n in self._pairs.items():
            if n:
                table[at[a], at[b]] = n
        return pd.DataFrame(table, index=pd.Index(names, name="label"), columns=names)

    def _disagreement_table(self, names: list[str]) -> pd.DataFrame:
        names = list(dict.fromkeys(names + sorted(a for a, v in self._votes.items() if v[0])))
        items = [self._votes.get(a, [0, 0])[0] for a in names]
        split = [self._votes.get(a, [0, 0])[1] for a in names]
        out = pd.DataFrame({"items": items, "disagreed": split},
                           index=pd.Index(names, name="label")).astype(int)
        out["rate"] = out["disagreed"] / out["items"].where(out["items"] > 0)
        return out.reset_index()

    def _finished_snapshot(self, names: list[str]) -> Snapshot:
        """The finished items with two or more labels, long (item, annotator, label)."""
        rows = [(item, who, label) for item, c in self._items.items() if c.vote is not None
                for who, label, _ in c.labels]
        df = pd.DataFrame(rows, columns=["item", "annotator", "label"]).astype(object)
        return Snapshot(df, {}, df, names)

    def _queue(self, flagged: dict) -> dict[str, int]:
        """:func:`~hitl_widgets.core.quality.queue_depth` from the kept shortfalls: an item
        nobody touched (no label, gold answer, own k or request) needs the project's k."""
        default, _, requests = self._context or (1, {}, {})
        store = self._ledger.store
        untouched = store.item_count() - len(self._items)
        resolved = store.latest_live("resolution")
        return {"items": self._short_items + (untouched if default > 0 else 0),
                "labels": self._short_labels + untouched * default,
                "requests": len(requests), "adjudication": len(set(flagged) - set(resolved))}


def _contribution(rows: dict, answer: tuple[str, ...] | None, need: int, requested: int,
                  multi: bool) -> _Item:
    def category(labels: tuple[str, ...]) -> str:
        return "|".join(labels) if multi else labels[0]

    labels = tuple((who, category(r.labels), np.nan if r.ms_on_item is None else
                    float(r.ms_on_item)) for who, r in rows.items())
    if answer is not None:
        return _Item(labels, "|".join(answer), 0, False, None, False, 0, 0.0)
    m = len(rows)
    finished = m > 0 and m >= need
    vote, split, seq, at = None, False, 0, 0.0
    if finished and m >= 2:
        counts = Counter(label for _, label, _ in labels)
        top = max(counts.values())
        vote = min(a for a, n in counts.items() if n == top)  # a tie goes to the smallest label
        split = len(counts) > 1
        seq = max(r.seq for r in rows.values())
        at = max(r.created_at for r in rows.values())
    return _Item(labels, None, max(need + requested - m, 0), finished, vote, split, seq, at)


def _differ(old: dict, new: dict) -> set:
    return {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}


def _median(values: Any) -> float:
    n = len(values)
    if not n:
        return np.nan
    mid = n // 2
    return float(values[mid]) if n % 2 else (values[mid - 1] + values[mid]) / 2


class _Curve:
    """The completed items with two or more labels, in the order they were completed, as arrays
    (one slot per item, kept), and the curve itself (ids, times, alpha per position), kept too:
    a redraw recomputes only the windows that hold an item that moved, came or went."""

    def __init__(self) -> None:
        self.slot: dict[str, int] = {}
        self.ids = np.empty(0, dtype=object)
        self.seq = np.empty(0, dtype=np.int64)
        self.at = np.empty(0)
        self.m = np.empty(0)
        self.on = np.empty(0, dtype=bool)
        self.counts = np.empty((0, 0))
        self.columns: dict[str, int] = {}
        self.order: np.ndarray | None = None  # slots that are on, by seq
        self.dirty: set[int] = set()
        self.window = 0  # the window the kept curve below was computed with (0: none)
        self.alpha = np.empty(0)  # per position of order
        self.item_ids = pd.Index([], dtype=str)
        self.times = np.empty(0, dtype="datetime64[ns]")  # UTC

    def put(self, item: str, entry: tuple[int, float, Counter] | None) -> None:
        k = self.slot.get(item)
        if k is None:
            if entry is None:
                return
            k = self.slot[item] = len(self.slot)
            if k >= len(self.ids):
                self._grow(max(1024, 2 * len(self.ids)), self.counts.shape[1])
            self.ids[k] = item
        self.dirty.add(k)
        self.on[k] = entry is not None
        self.counts[k] = 0.0
        if entry is None:
            return
        seq, at, counts = entry
        for label in counts:
            if label not in self.columns:
                self.columns[label] = len(self.columns)
                if len(self.columns) > self.counts.shape[1]:
                    self._grow(len(self.ids), 2 * len(self.columns))
        self.seq[k], self.at[k], self.m[k] = seq, at, float(sum(counts.values()))
        for label, n in counts.items():
            self.counts[k, self.columns[label]] = n

    def _grow(self, rows: int, cols: int) -> None:
        n = len(self.ids)
        self.ids = np.concatenate([self.ids, np.empty(rows - n, dtype=object)])
        self.seq = np.concatenate([self.seq, np.zeros(rows - n, dtype=np.int64)])
        self.at = np.concatenate([self.at, np.zeros(rows - n)])
        self.m = np.concatenate([self.m, np.zeros(rows - n)])
        self.on = np.concatenate([self.on, np.zeros(rows - n, dtype=bool)])
        counts = np.zeros((rows, cols))
        counts[:n, :self.counts.shape[1]] = self.counts
        self.counts = counts

    def frame(self, window: int, target: float) -> pd.DataFrame:
        if self.order is None or window != self.window:
            self._recompute(window)
        elif self.dirty:
            self._patch()
        self.dirty.clear()
        if not len(self.order):
            return agreement_curve(np.array([], dtype=object), np.array([]), np.array([]),
                                   np.zeros((0, 0)), window, target)
        return curve_frame(self.item_ids, pd.DatetimeIndex(self.times).tz_localize("UTC"),
                           self.alpha, window, target)

    def _times(self, slots: np.ndarray) -> np.ndarray:
        return pd.to_datetime(self.at[slots], unit="s").to_numpy(dtype="datetime64[ns]")

    def _recompute(self, window: int) -> None:
        on = np.flatnonzero(self.on)
        order = self.order = on[np.argsort(self.seq[on], kind="stable")]
        self.window = window
        self.alpha = window_agreement(self.m[order], self.counts[order], window)
        self.item_ids = pd.Index(self.ids[order], dtype=object).astype(str)
        self.times = self._times(order)

    def _patch(self) -> None:
        """Take out the changed items, put back those still on at their place by seq (most
        changes complete an item just now: it goes last; an undo can move it back), and
        recompute the windows holding a place where an item went or came."""
        w, old = self.window, self.order
        dirty = np.fromiter(self.dirty, dtype=np.int64, count=len(self.dirty))
        gone = np.flatnonzero(np.isin(old, dirty))  # places in the old order, increasing
        keep = np.delete(old, gone)
        add = dirty[self.on[dirty]]
        add = add[np.argsort(self.seq[add], kind="stable")]
        at = np.searchsorted(self.seq[keep], self.seq[add])
        order = self.order = np.insert(keep, at, add)
        # Windows that changed, as places in the new order [first, last]: the w from an item
        # that came, and the w - 1 after a place an item left (their windows held it).
        spans = [(p, p + w - 1) for p in (at + np.arange(len(add))).tolist()]
        if w > 1 and len(gone):
            left = gone - np.arange(len(gone))  # where they left, counted in keep
            first = left + np.searchsorted(at, left, side="right")
            last = left + w - 2 + np.searchsorted(at, left + w - 2, side="right")
            spans += zip(first.tolist(), last.tolist(), strict=True)
        if len(spans) > 64:  # many scattered changes: one pass is quicker
            self._recompute(w)
            return
        self.alpha = np.insert(np.delete(self.alpha, gone), at, np.nan)
        ids = self.item_ids.delete(gone)
        for place, item in zip((at + np.arange(len(add))).tolist(), self.ids[add], strict=True):
            ids = ids.insert(place, str(item))  # in increasing places: each lands where it goes
        self.item_ids = ids
        self.times = np.insert(np.delete(self.times, gone), at, self._times(add))
        n = len(order)
        for a, b in _merged(spans):
            b = min(b + 1, n)
            s = max(a - w + 1, 0)
            if a < b:
                slots = order[s:b]
                self.alpha[a:b] = window_agreement(self.m[slots], self.counts[slots], w, a - s)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
