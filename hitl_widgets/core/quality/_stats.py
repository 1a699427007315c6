"""The quality dashboard's numbers: plain DataFrames and dicts computed from a project's log.

Each public function takes a :class:`~hitl_widgets.core.project.Project` and reads its current
state; :func:`dashboard_data` computes all of them from one read of the labels, which is what the
:class:`~hitl_widgets.dashboard.Dashboard` widget redraws from. Nothing here draws or imports a
plotting library, so the same figures serve scripts, reports and tests.

What the numbers rest on:

- *Finished* items are non-gold items holding their k labels (open spot-check or relabel requests
  do not un-finish them here, so a curve never jumps back). An item is *completed* when its last
  current label was written; agreement over time orders items that way.
- Agreement is Krippendorff's alpha (nominal) over the last ``window`` completed items with two or
  more labels, computed for every position at once from running sums (no per-window call). Where
  it is undefined -- every label in the window the same category -- the value is NaN, which a plot
  shows as a gap.
- Gold items enter only as each annotator's accuracy and the count it rests on; the gold answers
  themselves never leave :mod:`hitl_widgets.core.quality`.

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> project = Project(os.path.join(tempfile.mkdtemp(), "d.hitl"), labels=["ham", "spam"])
>>> _ = project.add_items(["a", "b", "c"], id=["1", "2", "3"])
>>> project.set_overlap(2)
>>> for item, x, y in [("1", "ham", "ham"), ("2", "spam", "ham"), ("3", "spam", "spam")]:
...     _ = project.annotate(item, x, annotator="ana")
...     _ = project.annotate(item, y, annotator="bob")
>>> disagreement_by_label(project)[["label", "items", "disagreed"]].values.tolist()
[['ham', 2, 1], ['spam', 1, 0]]
>>> round(float(agreement_over_time(project, window=3)["agreement"].iloc[-1]), 3)
0.444
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._checks import check_count, check_rate
from ..store import Ledger
from ._routing import needed, queue_depth

_LABEL_COLUMNS = ["item", "annotator", "label", "seq", "at", "ms_on_item"]


@dataclass
class Snapshot:
    """One read of the project's current labels, shared by every figure of a redraw."""

    labels: pd.DataFrame  # item, annotator, label (a category), seq, at, ms_on_item
    gold: dict[str, str]  # item -> answer (a category): read here, never passed on
    finished: pd.DataFrame  # the rows of finished, non-gold items
    label_names: list[str]


class LabelCache:
    """Deprecated, kept importable for one release: it does nothing useful any more.

    The project's ledger keeps its current labels up to date itself
    (``project.ledger.label_index``), and a :class:`DashboardStats` keeps the dashboard's
    numbers; pass one of those as ``dashboard_data(..., cache=...)``. A ``LabelCache`` passed
    there is ignored (the figures are computed in full), and :meth:`rows` reads the log.
    """

    def __init__(self) -> None:
        warnings.warn("LabelCache does nothing useful any more and goes in the next release: "
                      "use hitl_widgets.core.quality.DashboardStats(project) and pass it as "
                      "dashboard_data(project, cache=stats)", DeprecationWarning, stacklevel=2)

    def rows(self, ledger: Any) -> list[dict]:
        """The current labels, read from the log: ``store.current_labels()``."""
        return Ledger.of(ledger).store.current_labels()


def _snapshot(ledger: Ledger) -> Snapshot:
    rows = ledger.store.current_labels()
    multi = ledger.schema.multi_label
    df = pd.DataFrame({
        "item": np.array([r["item_id"] for r in rows], dtype=object),
        "annotator": np.array([r["annotator"] for r in rows], dtype=object),
        # A multi-label answer is one category, its labels joined (as consensus counts it).
        "label": np.array([("|".join(r["labels"]) if multi else r["labels"][0]) for r in rows],
                          dtype=object),
        "seq": np.array([r["seq"] for r in rows], dtype=np.int64),
        "at": np.array([r["created_at"] for r in rows], dtype=float),
        "ms_on_item": np.array([np.nan if r["ms_on_item"] is None else r["ms_on_item"]
                                for r in rows], dtype=float),
    }, columns=_LABEL_COLUMNS)
    gold = {i: "|".join(e["labels"]) for i, e in ledger.store.latest_live("gold").items()}
    is_gold = _member(df["item"], gold)
    regular = df[~is_gold]
    counts = regular.groupby("item", sort=False)["annotator"].size()
    need = needed(ledger, list(counts.index), requests=False)
    done = counts.index[counts.to_numpy() >= np.array([need[i] for i in counts.index], dtype=int)]
    finished = regular[_member(regular["item"], done)]
    return Snapshot(df, gold, finished, list(ledger.schema.labels))


def _member(values: pd.Series, keys: Any) -> np.ndarray:
    """``values.isin(keys)`` through a Python set: pandas' Arrow-string isin loops per value."""
    keys = keys if isinstance(keys, (set, dict)) else set(keys)
    return np.fromiter((v in keys for v in values.to_numpy()), dtype=bool, count=len(values))


# -- agreement over time -------------------------------------------------------------------------
def agreement_over_time(ledger: Ledger, window: int = 50, target: float = 0.7) -> pd.DataFrame:
    """Krippendorff's alpha (nominal) over a rolling window of completed items.

    One row per finished item with two or more labels, in the order they were completed:
    ``item_id``, ``completed_at`` (UTC), ``n`` (its position, from 1), ``window_items`` (how
    many items the value rests on: ``min(n, window)``), ``agreement`` (NaN where undefined: all
    labels in the window one category), ``target`` and ``below`` (agreement < target).
    """
    return _agreement_over_time(_snapshot(ledger), check_window(window), check_target(target))


def _agreement_over_time(snap: Snapshot, window: int, target: float) -> pd.DataFrame:
    df = snap.finished
    per_item = df.groupby("item", sort=False).agg(m=("annotator", "size"), seq=("seq", "max"),
                                                  at=("at", "max"))
    per_item = per_item[per_item["m"] >= 2].sort_values("seq")
    if per_item.empty:
        return agreement_curve(np.array([], dtype=object), np.array([]), np.array([]),
                      np.zeros((0, 0)), window, target)
    # Per item: its label counts (n_ic), one column per category.
    rows = per_item.index.get_indexer(df["item"])
    keep = rows >= 0
    codes, _ = pd.factorize(df["label"].to_numpy()[keep])
    counts = np.zeros((len(per_item), int(codes.max()) + 1))
    np.add.at(counts, (rows[keep], codes), 1.0)
    return agreement_curve(per_item.index.to_numpy(), per_item["m"].to_numpy(dtype=float),
                  per_item["at"].to_numpy(dtype=float), counts, window, target)


def agreement_curve(items: np.ndarray, m: np.ndarray, at: np.ndarray, counts: np.ndarray, window: int,
           target: float) -> pd.DataFrame:
    """The agreement curve from the completed items in order: their ids, label counts ``m``,
    completion times and per-category label counts (items x categories; extra all-zero
    columns change nothing). Shared by the full recompute and :class:`DashboardStats`."""
    if len(items) == 0:
        return curve_frame(pd.Index([], dtype=str), pd.to_datetime([], utc=True),
                           np.array([]), window, target)
    return curve_frame(pd.Index(items, dtype=object).astype(str), pd.to_datetime(at, unit="s", utc=True),
                       window_agreement(m, counts, window), window, target)


def window_agreement(m: np.ndarray, counts: np.ndarray, window: int, skip: int = 0) -> np.ndarray:
    """Krippendorff's alpha over the last ``window`` items at each position after the first
    ``skip`` (those only fill the windows), from the items' label counts ``m`` and per-category
    counts, in completion order.

    A value depends only on the items in its window, bit for bit, not on where the window sits:
    every sum is of integers, and the one division per distinct ``m`` is added in increasing
    ``m`` (a term of 0.0 changes nothing). So a kept curve recomputes only the windows that
    changed and equals the full recompute exactly.

    >>> window_agreement(np.array([2, 2]), np.array([[2, 0], [1, 1]]), 2).round(3).tolist()
    [nan, 0.0]
    """
    m = np.asarray(m).astype(np.int64)
    counts = np.asarray(counts).astype(np.int64)
    # Per item, its disagreeing pairs weighted as in alpha: (m^2 - sum_c n_ic^2) / (m - 1);
    # windows are differences of running sums (of integers: exact wherever they start).
    pairs = m**2 - (counts**2).sum(axis=1)
    end = np.arange(skip + 1, len(m) + 1)
    start = np.maximum(end - window, 0)
    cum_counts = np.vstack([np.zeros((1, counts.shape[1]), dtype=np.int64),
                            np.cumsum(counts, axis=0)])
    n_v = cum_counts[end] - cum_counts[start]
    n = n_v.sum(axis=1)
    expected = n**2 - (n_v**2).sum(axis=1)  # (n - 1) times alpha's expected disagreement
    d_obs = np.zeros(len(end))
    for k in np.unique(m):
        cum = np.concatenate([[0], np.cumsum(np.where(m == k, pairs, 0))])
        d_obs += (cum[end] - cum[start]) / max(int(k) - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1 - (n - 1) * d_obs / expected, np.nan)


def curve_frame(items: pd.Index, completed_at: Any, alpha: np.ndarray, window: int,
                target: float) -> pd.DataFrame:
    """The agreement curve's table from its columns (see :func:`agreement_over_time`); ``items``
    as strings already (converting 300k ids costs a redraw 20 ms)."""
    end = np.arange(1, len(alpha) + 1)
    return pd.DataFrame({
        "item_id": items,
        "completed_at": completed_at,
        "n": end,
        "window_items": np.minimum(end, window),
        "agreement": alpha,
        "target": target,
        "below": alpha < target,  # NaN compares False: undefined is not an alarm
    })


# -- annotators ----------------------------------------------------------------------------------
def annotator_stats(ledger: Ledger, rate_per_hour: float | None = None,
                    threshold: float = 0.85, min_count: int = 5,
                    method: str = "majority") -> pd.DataFrame:
    """Per annotator: volume, speed, cost, agreement with the consensus, accuracy on gold.

    Columns: ``annotator``, ``labels`` (current labels, gold items included), ``median_s``
    (median seconds per label, from the ``ms_on_item`` the Labeler records; NaN without
    timings), ``cost_per_label`` (``median_s`` at ``rate_per_hour``; NaN without a rate),
    ``consensus_agreement`` (share of their labels on finished items with two or more labels
    that match the item's consensus), ``gold_n``, ``gold_correct``, ``gold_accuracy`` (NaN with
    no gold labeled) and ``flagged`` (see :func:`hitl_widgets.core.quality.gold_accuracy`).
    """
    from ._workflow import check_method

    rate, method = check_rate_per_hour(rate_per_hour), check_method(method)
    snap = _snapshot(ledger)
    gold = _gold_stats(snap, check_rate(threshold, "threshold"),
                       check_count(min_count, "min_count"))
    return _annotator_stats(snap, gold, rate, method)


def check_rate_per_hour(rate: Any) -> float | None:
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not (
            math.isfinite(rate) and rate >= 0):
        raise ValueError(f"rate_per_hour must be a non-negative number (money per hour of "
                         f"labeling), e.g. rate_per_hour=18.0, or None; got {rate!r}")
    return float(rate)


def _gold_stats(snap: Snapshot, threshold: float, min_count: int) -> pd.DataFrame:
    """Per annotator: ``n``, ``correct``, ``accuracy``, ``flagged`` on gold items, as
    :func:`hitl_widgets.core.quality.gold_accuracy` counts them (from the snapshot's labels)."""
    df = snap.labels[_member(snap.labels["item"], snap.gold)]
    answers = np.array([snap.gold[i] for i in df["item"]], dtype=object)
    right = pd.Series(df["label"].to_numpy() == answers, index=df["annotator"].to_numpy())
    g = right.groupby(level=0)
    out = pd.DataFrame({"n": g.size(), "correct": g.sum()}).astype(int)
    out["accuracy"] = out["correct"] / out["n"]
    out["flagged"] = (out["n"] >= min_count) & (out["accuracy"] < threshold)
    out.index.name = "annotator"
    return out.reset_index()


def _annotator_stats(snap: Snapshot, gold: pd.DataFrame, rate: float | None,
                     method: str, vote: pd.DataFrame | None = None) -> pd.DataFrame:
    df = snap.labels
    g = df.groupby("annotator")
    out = pd.DataFrame({"labels": g.size(), "median_s": g["ms_on_item"].median() / 1000.0})
    out["cost_per_label"] = out["median_s"] * rate / 3600.0 if rate is not None else np.nan
    vote = consensus_of(snap, method) if vote is None else vote
    out["consensus_agreement"] = consensus_share(snap.finished, vote).reindex(out.index)
    g = gold.set_index("annotator")
    out["gold_n"] = g["n"].reindex(out.index).fillna(0).astype(int)
    out["gold_correct"] = g["correct"].reindex(out.index).fillna(0).astype(int)
    out["gold_accuracy"] = g["accuracy"].reindex(out.index).astype(float)
    out["flagged"] = g["flagged"].reindex(out.index).fillna(False).astype(bool)
    out.index.name = "annotator"
    return out.reset_index()


def consensus_share(finished: pd.DataFrame, vote: pd.DataFrame) -> pd.Series:
    """Per annotator: the share of their labels on voted items that match the consensus."""
    multi = finished[_member(finished["item"], vote.index)]
    matches = multi["label"].to_numpy() == vote["label"].reindex(multi["item"]).to_numpy()
    return pd.Series(matches, index=multi["annotator"].to_numpy()).groupby(level=0).mean()


def consensus_of(snap: Snapshot, method: str = "majority") -> pd.DataFrame:
    """Consensus label and confidence of the finished items with two or more labels."""
    from ._workflow import consensus_confidence

    df = snap.finished
    df = df[df.groupby("item")["annotator"].transform("size") >= 2]
    if df.empty:
        return pd.DataFrame({"label": pd.Series(dtype=object), "confidence": pd.Series(
            dtype=float)})
    return consensus_confidence(df, method)


# -- confusion and disagreement ------------------------------------------------------------------
def pair_confusion(ledger: Ledger) -> pd.DataFrame:
    """How often two annotators of one finished item gave labels (a, b): a labels x labels table.

    Every pair of annotators on an item counts once in each order, so the table is symmetric;
    the diagonal holds agreeing pairs (twice each), the rest is where annotators part ways.
    Rows and columns are the schema's labels (multi-label answers as joined categories too).
    """
    return _pair_confusion(_snapshot(ledger))


def _pair_confusion(snap: Snapshot) -> pd.DataFrame:
    df = snap.finished
    names = list(dict.fromkeys(snap.label_names + sorted(set(df["label"]))))
    if df.empty:
        return pd.DataFrame(0, index=pd.Index(names, name="label"), columns=names)
    codes = pd.Index(names).get_indexer(df["label"])
    items, _ = pd.factorize(df["item"])
    v = len(names)
    counts = np.zeros((items.max() + 1, v))
    np.add.at(counts, (items, codes), 1.0)
    pairs = counts.T @ counts - np.diag(counts.sum(axis=0))  # ordered pairs of distinct raters
    return pd.DataFrame(pairs.astype(int), index=pd.Index(names, name="label"), columns=names)


def disagreement_by_label(ledger: Ledger, method: str = "majority") -> pd.DataFrame:
    """Per consensus label: finished items with two or more labels (``items``), those where not
    every annotator agreed (``disagreed``) and their share (``rate``, NaN with no items).

    Labels of the schema with no item yet are listed with zero items.
    """
    from ._workflow import check_method

    return disagreement_table(_snapshot(ledger), check_method(method))


def disagreement_table(snap: Snapshot, method: str,
                           vote: pd.DataFrame | None = None) -> pd.DataFrame:
    vote = consensus_of(snap, method) if vote is None else vote
    df = snap.finished[_member(snap.finished["item"], vote.index)]
    split = df.groupby("item")["label"].nunique() > 1
    table = pd.DataFrame({"label": vote["label"], "disagreed": split.reindex(vote.index)})
    g = table.groupby("label")["disagreed"]
    names = list(dict.fromkeys(snap.label_names + sorted(set(table["label"]))))
    out = pd.DataFrame({"items": g.size(), "disagreed": g.sum()}).reindex(names).fillna(0)
    out = out.astype(int)
    out["rate"] = out["disagreed"] / out["items"].where(out["items"] > 0)
    out.index.name = "label"
    return out.reset_index()


# -- everything at once --------------------------------------------------------------------------
def dashboard_data(ledger: Ledger, *, window: int = 50, target: float = 0.7,
                   rate_per_hour: float | None = None, threshold: float = 0.85,
                   min_count: int = 5, method: str = "majority",
                   cache: Any = None) -> dict[str, Any]:
    """Every figure of the dashboard, from one read of the labels.

    Keys: ``agreement`` (:func:`agreement_over_time`), ``annotators``
    (:func:`annotator_stats`), ``confusion`` (:func:`pair_confusion`), ``disagreement``
    (:func:`disagreement_by_label`), ``queue`` (:func:`hitl_widgets.core.quality.queue_depth`),
    ``flags`` (``{"flagged": n, "resolved": n}``: items sent to adjudication),
    ``alerts`` (:func:`hitl_widgets.core.quality.quality_alerts`), ``flagged_annotators``
    (:func:`hitl_widgets.core.quality.flagged`) and ``totals`` (labels, annotators, finished
    items, gold items). A :class:`~hitl_widgets.core.quality.DashboardStats` passed as
    ``cache`` and kept between calls gives the same figures from the items changed since the
    last call only (a deprecated :class:`LabelCache` is ignored).
    """
    from ._workflow import check_method, quality_alerts

    if cache is not None and not isinstance(cache, LabelCache):
        return cache.data(window=window, target=target, rate_per_hour=rate_per_hour,
                          threshold=threshold, min_count=min_count, method=method)
    window, target = check_window(window), check_target(target)
    rate = check_rate_per_hour(rate_per_hour)
    threshold, min_count = check_rate(threshold, "threshold"), check_count(min_count, "min_count")
    method = check_method(method)
    snap = _snapshot(ledger)
    gold = _gold_stats(snap, threshold, min_count)
    flagged = ledger.store.latest_live("flag")
    resolved = set(ledger.store.latest_live("resolution")) & set(flagged)
    vote = consensus_of(snap, method)
    annotators = _annotator_stats(snap, gold, rate, method, vote)
    reasons = flag_reasons(gold, threshold)
    return {
        "agreement": _agreement_over_time(snap, window, target),
        "annotators": annotators,
        "confusion": _pair_confusion(snap),
        "disagreement": disagreement_table(snap, method, vote),
        "queue": queue_depth(ledger),
        "flags": {"flagged": len(flagged), "resolved": len(resolved)},
        "alerts": quality_alerts(ledger),
        "flagged_annotators": reasons,
        "totals": {"labels": len(snap.labels), "annotators": int(snap.labels["annotator"].nunique()),
                   "finished": int(snap.finished["item"].nunique()), "gold": len(snap.gold)},
    }


def flag_reasons(gold: pd.DataFrame, threshold: float) -> pd.DataFrame:
    # The same table as quality.flagged, from the gold accuracy already computed.
    df = gold[gold["flagged"]].drop(columns="flagged").reset_index(drop=True)
    df["reason"] = [f"{c} of {n} gold items right ({a:.0%}), below {threshold:.0%}"
                    for n, c, a in zip(df["n"], df["correct"], df["accuracy"], strict=True)]
    return df


# -- checks --------------------------------------------------------------------------------------
def check_window(window: Any) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a whole number of items, at least 1, e.g. window=50; "
                         f"got {window!r}")
    return int(window)


def check_target(target: Any) -> float:
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not -1 <= target <= 1:
        raise ValueError(f"target must be an agreement value in [-1, 1], e.g. target=0.7; "
                         f"got {target!r}")
    return float(target)
