"""A stream watched in windows: each full window is compared with the reference, and a window
where features drifted becomes an alert that can send its items back to labeling.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> monitor = DriftMonitor(pd.DataFrame({"x": rng.normal(size=1000)}), window=200, every=200)
>>> monitor.update(pd.DataFrame({"x": rng.normal(size=400)}))   # the same distribution
[]
>>> alerts = monitor.update(pd.DataFrame({"x": rng.normal(1.0, 1, 200)}), item_ids=range(200))
>>> [(a.check, a.features, len(a.item_ids)) for a in alerts]
[(3, ('x',), 200)]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..store import Ledger
from ._compare import DriftError, Reference, check_options

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftAlert:
    """A window that drifted: which check, where in the stream, which features, by how much
    (``table``: :func:`compare`'s rows of the drifted features) and the window's item ids."""

    check: int
    rows_seen: int
    features: tuple[str, ...]
    table: Any = field(repr=False)
    item_ids: tuple = field(repr=False)
    at: float = 0.0
    requested: tuple = field(default=(), repr=False)  # sent back to labeling (with a project)

    @property
    def reason(self) -> str:
        parts = [f"{r.feature} ({r.test} p={r.p_adjusted:.2g}, PSI {r.psi:.2f})"
                 for r in self.table.itertuples()]
        return f"drift in check {self.check} (rows up to {self.rows_seen}): " + ", ".join(parts)


class DriftMonitor:
    """Compares the last ``window`` rows of a stream with ``reference`` every ``every`` rows.

    Parameters
    ----------
    reference : the data drift is measured from (a DataFrame, or a 2-d array).
    window : rows per compared window; a check needs a full window.
    every : rows between two checks (default: ``window``, windows that do not overlap).
    features, categorical, alpha, correction, nan_policy, psi_bins : as for :func:`compare`;
        the correction is over the features of one check.
    project : with a project, every alert reopens labeling at once: the window's items that
        are in the project get a request for one more label (:func:`request_labels` with
        ``known_only=True``), recorded on the alert as ``requested``.

    Attributes
    ----------
    alerts : the :class:`DriftAlert` of every check that found drift, oldest first.
    history : one row per feature per check (for a plot of drift statistics over time).
    """

    def __init__(self, reference: Any, *, window: int = 1000, every: int | None = None,
                 features: Sequence[str] | None = None, categorical: Sequence[str] | None = None,
                 alpha: float = 0.05, correction: str = "fdr_bh", nan_policy: str = "raise",
                 psi_bins: int = 10, project: Any = None) -> None:
        for name, value in (("window", window), ("every", window if every is None else every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise DriftError(f"{name} must be an int of 2 or more rows, not {value!r}")
        self.window, self.every = window, window if every is None else every
        check_options(alpha, correction)  # now, not at the first full window
        self.alpha, self.correction, self.nan_policy = alpha, correction, nan_policy
        # Sorted and binned once: every check compares a window with the same reference.
        self.reference = Reference(reference, features=features, categorical=categorical,
                                   nan_policy=nan_policy, psi_bins=psi_bins)
        self.features = list(self.reference.features)
        self.ledger = None if project is None else Ledger.of(project)
        self.alerts: list[DriftAlert] = []
        self._rows: list = []  # the window's frames, oldest first
        self._ids: list[np.ndarray] = []
        self._held = 0  # rows in _rows
        self._seen = 0  # rows ever taken in
        self._since = 0  # rows since the last check
        self._checks = 0
        self._history: list = []
        self._listeners: list = []

    def update(self, batch: Any, item_ids: Iterable | None = None) -> list[DriftAlert]:
        """Take in a batch of rows (all or none: a bad batch raises and changes nothing); run
        the checks it completes; return their alerts."""
        import pandas as pd

        frame = batch if isinstance(batch, pd.DataFrame) else pd.DataFrame(
            np.asarray(batch), columns=[str(k) for k in range(np.asarray(batch).shape[-1])])
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise DriftError(f"the batch lacks the monitored features {missing}")
        frame = frame[self.features].reset_index(drop=True)
        ids = (np.arange(self._seen, self._seen + len(frame)) if item_ids is None
               else np.asarray(list(item_ids), dtype=object))
        if len(ids) != len(frame):
            raise DriftError(f"{len(ids)} item ids for {len(frame)} rows; give one id per row")
        if self.nan_policy == "raise" and frame.isna().to_numpy().any():
            bad = [c for c in frame.columns if frame[c].isna().any()]
            raise DriftError(f"the batch has missing values in {bad}; fill them, or create the "
                             "monitor with nan_policy='omit'")
        alerts = []
        start = 0
        while start < len(frame):  # cut the batch where checks fall
            # The next check is due once `every` rows came since the last and a window is full.
            due = max(self.every - self._since, self.window - self._held, 1)
            take = min(len(frame) - start, due)
            self._take(frame.iloc[start:start + take], ids[start:start + take])
            start += take
            if self._since >= self.every and self._held >= self.window:
                alert = self._check()
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def subscribe(self, callback) -> Any:
        """Call ``callback(alert_or_None)`` after each check (a live plot redraws on it);
        returns the unsubscribe function."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    @property
    def history(self):
        """One row per feature per check: check, rows_seen, and :func:`compare`'s columns."""
        import pandas as pd

        if not self._history:
            return pd.DataFrame(columns=["check", "rows_seen"])
        return pd.concat(self._history, ignore_index=True)

    def _take(self, frame, ids) -> None:
        self._rows.append(frame)
        self._ids.append(ids)
        self._held += len(frame)
        self._seen += len(frame)
        self._since += len(frame)
        while self._held - len(self._rows[0]) >= self.window:  # drop what no window needs
            self._held -= len(self._rows.pop(0))
            self._ids.pop(0)

    def _check(self) -> DriftAlert | None:
        import pandas as pd

        self._since = 0
        self._checks += 1
        window = pd.concat(self._rows, ignore_index=True).iloc[-self.window:]
        ids = np.concatenate(self._ids)[-self.window:]
        table = self.reference.compare(window, alpha=self.alpha, correction=self.correction)
        self._history.append(table.assign(check=self._checks, rows_seen=self._seen)[
            ["check", "rows_seen", *table.columns]])
        drifted = table[table["drifted"]].reset_index(drop=True)
        if drifted.empty:
            self._tell(None)
            return None
        alert = DriftAlert(self._checks, self._seen, tuple(drifted["feature"]), drifted,
                           tuple(ids.tolist()), time.time())
        if self.ledger is not None:
            requested = tuple(request_labels(self.ledger, alert, known_only=True))
            alert = replace(alert, requested=requested)
        self.alerts.append(alert)
        self._tell(alert)
        return alert

    def _tell(self, alert: DriftAlert | None) -> None:
        for callback in list(self._listeners):
            try:
                callback(alert)
            except Exception:  # a plot's failure must not stop the stream
                log.exception("drift monitor listener %r failed", callback)


def request_labels(project: Any, alert: DriftAlert, *, n: int | None = None, seed: int = 0,
                   known_only: bool = False) -> list[str]:
    """Send ``n`` of the alert's items (all by default, a seeded sample otherwise) back to
    labeling: one more label is requested for each, with the alert's reason, as spot checks and
    relabel alerts do (the overlap queue serves requested items first). The items must be in
    the project; with ``known_only``, the window's events that are not (a stream sampled into
    the project keeps only some) are left out instead. Returns the ids requested.
    """
    ledger = Ledger.of(project)
    ids = [str(i) for i in alert.item_ids]
    known = ledger.store.get_items(ids)
    unknown = [i for i in ids if i not in known]
    if known_only:
        ids, unknown = [i for i in ids if i in known], []
    if unknown:
        raise DriftError(f"{len(unknown)} of the alert's items are not in the project (first: "
                         f"{unknown[:3]}); add them with project.add_items(...) first")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise DriftError(f"n must be a positive int, not {n!r}")
        if n < len(ids):
            rng = np.random.default_rng(seed)
            ids = [ids[k] for k in sorted(rng.choice(len(ids), n, replace=False))]
    ledger.append_many([dict(kind="request", item_id=i, extra={
        "reason": "drift", "check": alert.check, "why": alert.reason}) for i in ids],
        notify="request")
    return ids
