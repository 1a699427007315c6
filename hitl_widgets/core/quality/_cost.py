"""What labels cost, and what the next points of model accuracy will cost.

- :func:`cost_report`: one row per paid event (annotations, span submissions, resolutions,
  skips), priced at the rate in force for it (``ledger.costs``, the same pricing the budget
  cap uses), with whether the label was accepted: it agrees with the item's final label.
  ``report.to_csv(path)`` is the one spreadsheet.
- :func:`cost_summary`: per annotator, labels, cost, cost per label and per accepted label,
  and throughput (labels per hour of active time).
- :func:`fit_learning_curve`, :func:`project_cost`, :func:`cost_per_point`: from an
  active-learning curve (``n_labels``, ``accuracy``: ``hw.simulate(...).curves`` or
  ``ActiveLearning.learning_curve()``), fit ``acc(n) = a - b * n**-c`` and project the labels
  and money needed to reach a target accuracy, with a bootstrap interval (over seeds when the
  curve has several, else over its points). A target at or above the fitted ceiling ``a`` is
  not reachable by labeling more at this rate: the projection says so (``inf``).

Example
-------
>>> import numpy as np, pandas as pd
>>> n = np.array([20, 40, 80, 160, 320, 640])
>>> curve = pd.DataFrame({"n_labels": n, "accuracy": 0.9 - 0.8 * n ** -0.5})
>>> p = project_cost(curve, 0.87, cost_per_label=0.25, n_boot=50)
>>> round(p.labels), round(p.cost, 2)
(711, 17.78)
>>> project_cost(curve, 0.95, cost_per_label=0.25, n_boot=0).reachable
False
"""

from __future__ import annotations

import json
import math
import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..store import Ledger

REPORT_COLUMNS = ["seq", "item_id", "annotator", "tier", "kind", "active_s", "measured", "rate",
                  "cost", "at", "accepted"]
ANSWER_KINDS = ("annotation", "resolution", "spans")  # a skip is paid time but not a label


# -- the report -------------------------------------------------------------------------------
def cost_report(ledger: Ledger, method: str = "majority") -> pd.DataFrame:
    """One row per paid event, oldest first.

    Columns: ``seq``, ``item_id``, ``annotator``, ``tier`` (in force then), ``kind``
    (annotation, resolution, spans, skip), ``active_s`` (measured, or the annotator's median
    when the event carried no time: ``measured`` False), ``rate`` (hourly, NaN when none was set
    then: charged 0), ``cost``, ``at`` (UTC, the writer's clock: prices follow the log's order,
    not this), ``accepted``: the event is the annotator's current label (or the item's
    resolution) and agrees with the item's final label (``final_labels(method)``, or the gold
    answer); False for skips and retracted labels; NA while the item has no final label and
    for span submissions. Undone work stays: its time was paid.
    """
    from ._workflow import final_labels

    ledger = Ledger.of(ledger)
    charges = ledger.costs.charges()
    final: dict[str, str] = {}
    if charges:
        decided = final_labels(ledger, method)
        final = dict(zip(decided["item_id"], decided["label"], strict=True))
    final.update({i: _category(ledger, e["labels"])
                  for i, e in ledger.store.latest_live("gold").items()})
    current = {r.seq for r in ledger.label_index.rows()}
    current.update(e["seq"] for e in ledger.store.latest_live("resolution").values())
    accepted: list[Any] = []
    for c in charges:
        if c.kind == "skip":
            accepted.append(False)
        elif c.kind == "spans" or c.item_id not in final:
            accepted.append(pd.NA)
        else:
            label = _category(ledger, json.loads(c.labels))
            accepted.append(c.seq in current and label == final[c.item_id])
    df = pd.DataFrame({
        "seq": np.array([c.seq for c in charges], dtype=np.int64),
        "item_id": [c.item_id for c in charges],
        "annotator": [c.annotator for c in charges],
        "tier": [c.tier for c in charges],
        "kind": [c.kind for c in charges],
        "active_s": np.array([c.active_s for c in charges], dtype=float),
        "measured": np.array([c.measured for c in charges], dtype=bool),
        "rate": np.array([np.nan if c.rate is None else c.rate for c in charges], dtype=float),
        "cost": np.array([c.cost for c in charges], dtype=float),
        "at": pd.to_datetime([c.created_at for c in charges], unit="s", utc=True),
        "accepted": pd.array(accepted, dtype="boolean"),
    }, columns=REPORT_COLUMNS)
    return df


def _category(ledger: Ledger, labels: list[str]) -> str:
    # As consensus counts them: a multi-label answer is one category, its labels joined.
    return labels[0] if not ledger.schema.multi_label else "|".join(labels)


def cost_summary(report: Any) -> pd.DataFrame:
    """Per annotator, from a :func:`cost_report` (or a project, whose report is read).

    Columns: ``annotator``, ``labels`` (annotations, resolutions and span submissions),
    ``skips``, ``cost`` (all their paid time, skips included), ``cost_per_label``,
    ``accepted``, ``cost_per_accepted`` (NaN with none accepted), ``active_hours``,
    ``labels_per_hour`` (of active time), ``unmeasured`` (events charged at the median time)
    and ``unrated`` (events with no rate set, charged 0).

    >>> import pandas as pd
    >>> report = pd.DataFrame({"annotator": ["ana", "ana", "bob"], "kind": ["annotation",
    ...     "skip", "annotation"], "active_s": [30.0, 6.0, 20.0], "measured": [True] * 3,
    ...     "rate": [20.0] * 3, "cost": [30 / 180, 6 / 180, 20 / 180],
    ...     "accepted": pd.array([True, False, False], dtype="boolean")})
    >>> cost_summary(report)[["annotator", "labels", "cost", "cost_per_accepted"]].round(3)
      annotator  labels   cost  cost_per_accepted
    0       ana       1  0.200                0.2
    1       bob       1  0.111                NaN
    """
    if not isinstance(report, pd.DataFrame):
        report = cost_report(report)
    columns = ["annotator", "labels", "skips", "cost", "cost_per_label", "accepted",
               "cost_per_accepted", "active_hours", "labels_per_hour", "unmeasured", "unrated"]
    if report.empty:
        return pd.DataFrame(columns=columns)
    df = report.assign(
        is_label=report["kind"].isin(ANSWER_KINDS),
        is_skip=report["kind"].eq("skip"),
        ok=report["accepted"].fillna(False).astype(bool),
        unmeasured=~report["measured"].astype(bool),
        unrated=report["rate"].isna(),
    )
    g = df.groupby("annotator", sort=True)
    out = pd.DataFrame({
        "labels": g["is_label"].sum().astype(int),
        "skips": g["is_skip"].sum().astype(int),
        "cost": g["cost"].sum(),
        "accepted": g["ok"].sum().astype(int),
        "active_hours": g["active_s"].sum() / 3600.0,
        "unmeasured": g["unmeasured"].sum().astype(int),
        "unrated": g["unrated"].sum().astype(int),
    })
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cost_per_label"] = out["cost"] / out["labels"].where(out["labels"] > 0)
        out["cost_per_accepted"] = out["cost"] / out["accepted"].where(out["accepted"] > 0)
        out["labels_per_hour"] = out["labels"] / out["active_hours"].where(out["active_hours"] > 0)
    out.index.name = "annotator"
    return out.reset_index()[columns]


def mean_cost_per_label(ledger: Ledger) -> float:
    """All paid time so far divided by the labels it bought (skips' time included): what the
    projections charge per further label when not told. NaN before any label."""
    summary = cost_summary(cost_report(ledger))
    labels = int(summary["labels"].sum()) if not summary.empty else 0
    return float(summary["cost"].sum()) / labels if labels else math.nan


# -- learning curve and projections -------------------------------------------------------------
def _learning(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * np.power(n, -c)


@dataclass(frozen=True)
class CurveFit:
    """``acc(n) = a - b * n**-c`` fitted to a learning curve: ``a`` is the ceiling labeling
    more approaches, ``c`` how fast."""

    a: float
    b: float
    c: float
    points: int

    def accuracy(self, n: Any) -> Any:
        """The fitted accuracy at ``n`` labels."""
        return _learning(np.asarray(n, dtype=float), self.a, self.b, self.c)

    def labels_for(self, target: float) -> float:
        """Labels at which the fitted curve reaches ``target``; inf when ``target >= a``."""
        if target >= self.a:
            return math.inf
        if self.b <= 0:
            return 0.0
        return float((self.b / (self.a - target)) ** (1.0 / self.c))


@dataclass(frozen=True)
class CostProjection:
    """What reaching ``target`` accuracy takes, from the fitted curve, with an interval.

    ``labels``: labels in all at which the curve reaches the target; ``more_labels`` beyond the
    ``labels_now`` the curve has; ``cost`` = ``more_labels * cost_per_label``. ``*_low`` /
    ``*_high``: the ``confidence`` bootstrap interval (``inf`` high: some resamples never reach
    it). ``reachable`` False (labels and cost ``inf``) when the target is at or above the fitted
    ceiling ``fit.a``: not reachable by more labels of this kind, at this rate.
    """

    target: float
    labels: float
    labels_now: int
    more_labels: float
    cost: float
    cost_per_label: float
    labels_low: float
    labels_high: float
    cost_low: float
    cost_high: float
    confidence: float
    reachable: bool
    fit: CurveFit
    resamples: int
    failed_fits: int = 0
    note: str = field(default="")


def fit_learning_curve(curve: pd.DataFrame) -> CurveFit:
    """Fit ``acc(n) = a - b * n**-c`` to ``curve``'s ``n_labels`` and ``accuracy`` (NaN
    accuracies dropped; all seeds' points together), with ``0 <= a <= 1``, ``b >= 0``, ``c``
    in (0, 5]. ValueError when there are fewer than 4 distinct ``n_labels`` or it cannot fit.

    >>> import pandas as pd
    >>> n = [10, 20, 40, 80, 160]
    >>> fit = fit_learning_curve(pd.DataFrame({"n_labels": n,
    ...                                        "accuracy": [0.9 - n_ ** -0.5 for n_ in n]}))
    >>> round(fit.a, 3), round(fit.b, 3), round(fit.c, 3)
    (0.9, 1.0, 0.5)
    """
    n, acc, _ = _points(curve)
    return _fit(n, acc)


def project_cost(curve: pd.DataFrame, target: float, cost_per_label: float, *,
                 n_boot: int = 200, confidence: float = 0.95, seed: int = 0) -> CostProjection:
    """Labels and money to reach ``target`` accuracy, from a learning curve.

    Parameters
    ----------
    curve : DataFrame with ``n_labels`` and ``accuracy`` (one strategy; a ``seed`` column, if
        it has several seeds, is what the bootstrap resamples).
    target : accuracy to reach, in (0, 1].
    cost_per_label : money per further label (e.g. from :func:`mean_cost_per_label`).
    n_boot : bootstrap resamples for the interval (0: none, the interval is the estimate).
    confidence : the interval's coverage.
    seed : the bootstrap's random seed.
    """
    target = _check_share(target, "target")
    return _project(curve, lambda fit, now: target, cost_per_label, n_boot, confidence, seed)


def cost_per_point(curve: pd.DataFrame, cost_per_label: float, *, points: float = 1.0,
                   n_boot: int = 200, confidence: float = 0.95, seed: int = 0) -> CostProjection:
    """What the next ``points`` of accuracy (percentage points) cost from where the curve is
    now: :func:`project_cost` with the target the fitted accuracy at the curve's last
    ``n_labels`` plus ``points / 100`` (each resample measures from its own fit).

    >>> import numpy as np, pandas as pd
    >>> n = np.array([20, 40, 80, 160, 320])
    >>> p = cost_per_point(pd.DataFrame({"n_labels": n, "accuracy": 0.9 - 0.8 * n ** -0.5}),
    ...                    cost_per_label=0.1, n_boot=0)
    >>> round(p.more_labels), round(p.cost, 2)
    (211, 21.09)
    """
    if isinstance(points, bool) or not isinstance(points, numbers.Real) or not (
            math.isfinite(points) and 0 < points <= 100):
        raise ValueError(f"points must be percentage points of accuracy in (0, 100], e.g. "
                         f"points=1; got {points!r}")
    step = float(points) / 100.0
    return _project(curve, lambda fit, now: float(fit.accuracy(now)) + step, cost_per_label,
                    n_boot, confidence, seed)


def _project(curve, target_of, cost_per_label, n_boot, confidence, seed) -> CostProjection:
    cost_per_label = _check_money(cost_per_label)
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 0:
        raise ValueError(f"n_boot must be an int >= 0 (bootstrap resamples); got {n_boot!r}")
    confidence = _check_share(confidence, "confidence")
    n, acc, groups = _points(curve)
    now = int(n.max())
    fit = _fit(n, acc)
    target = target_of(fit, now)
    labels = fit.labels_for(target)

    def more(total: float) -> float:
        return max(0.0, total - now)

    rng = np.random.default_rng(seed)
    samples, failed = [], 0
    keys = np.unique(groups) if groups is not None else None
    for _ in range(int(n_boot)):
        if keys is not None:  # whole seeds: their points are not independent of each other
            pick = rng.choice(keys, size=len(keys), replace=True)
            rows = np.concatenate([np.flatnonzero(groups == k) for k in pick])
        else:
            rows = rng.integers(0, len(n), size=len(n))
        try:
            boot = _fit(n[rows], acc[rows])
        except ValueError:
            failed += 1
            continue
        samples.append(more(boot.labels_for(target_of(boot, now))))
    if samples:
        lo, hi = _interval(np.array(samples), confidence)
    else:
        lo = hi = more(labels)
    reachable = math.isfinite(labels)
    note = "" if reachable else (
        f"target {target:.3f} is at or above the fitted ceiling {fit.a:.3f}: not reachable "
        "by more labels at this rate")
    if failed:
        note = (note + "; " if note else "") + f"{failed} of {n_boot} resamples could not be fit"
    return CostProjection(
        target=float(target), labels=labels, labels_now=now, more_labels=more(labels),
        cost=more(labels) * cost_per_label, cost_per_label=cost_per_label,
        labels_low=now + lo, labels_high=now + hi, cost_low=lo * cost_per_label,
        cost_high=hi * cost_per_label, confidence=confidence, reachable=reachable, fit=fit,
        resamples=len(samples), failed_fits=failed, note=note)


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval without interpolation (values may be inf)."""
    values = np.sort(values)
    tail = (1.0 - confidence) / 2.0
    lo = values[int(math.floor(tail * (len(values) - 1)))]
    hi = values[int(math.ceil((1.0 - tail) * (len(values) - 1)))]
    return float(lo), float(hi)


def _points(curve: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if not isinstance(curve, pd.DataFrame) or not {"n_labels", "accuracy"} <= set(curve.columns):
        raise TypeError("curve must be a DataFrame with n_labels and accuracy columns, as "
                        "hw.simulate(...).curves or ActiveLearning.learning_curve() give; got "
                        f"{type(curve).__name__}")
    if "strategy" in curve.columns and curve["strategy"].nunique() > 1:
        names = sorted(map(str, curve["strategy"].unique()))
        raise ValueError(f"curve holds several strategies {names}; project one at a time, "
                         f"e.g. curve[curve.strategy == {names[0]!r}]")
    df = curve.dropna(subset=["n_labels", "accuracy"])
    n = df["n_labels"].to_numpy(dtype=float)
    acc = df["accuracy"].to_numpy(dtype=float)
    keep = n > 0
    n, acc = n[keep], acc[keep]
    if len(np.unique(n)) < 4:
        raise ValueError(f"the curve has {len(np.unique(n))} distinct n_labels with an accuracy; "
                         "fitting a - b * n**-c needs at least 4 (evaluate the model more often)")
    if ((acc < 0) | (acc > 1)).any():
        raise ValueError("accuracy values must lie in [0, 1]")
    groups = None
    if "seed" in df.columns:
        seeds = df["seed"].to_numpy()[keep]
        if len(np.unique(seeds)) > 1:
            groups = seeds
    return n, acc, groups


def _fit(n: np.ndarray, acc: np.ndarray) -> CurveFit:
    from scipy.optimize import OptimizeWarning, curve_fit

    if len(np.unique(n)) < 4:
        raise ValueError("fewer than 4 distinct n_labels")
    a0 = min(1.0, float(acc.max()) + 0.02)
    n0 = float(n.min())
    b0 = max((a0 - float(acc[n == n0].mean())) * n0 ** 0.5, 1e-3)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            (a, b, c), _ = curve_fit(_learning, n, acc, p0=(a0, b0, 0.5),
                                     bounds=([0.0, 0.0, 1e-3], [1.0, np.inf, 5.0]),
                                     maxfev=20_000)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"could not fit a - b * n**-c to the curve ({exc}); is accuracy "
                         "rising with n_labels?") from exc
    return CurveFit(float(a), float(b), float(c), len(n))


def _check_money(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            math.isfinite(value) and value >= 0):
        raise ValueError(f"cost_per_label must be a finite amount >= 0, e.g. 0.25 (see "
                         f"mean_cost_per_label(project)); got {value!r}")
    return float(value)


def _check_share(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            math.isfinite(value) and 0 < value <= 1):
        raise ValueError(f"{name} must be a number in (0, 1], e.g. {name}=0.9; got {value!r}")
    return float(value)
