"""Quality control over the event log: overlap, gold answers, spot checks, relabel alerts, flags.

Everything here reads and appends events; nothing is changed in place, so each decision (a gold
answer set, an item flagged, a relabel request and its reason) stays in the audit log. The
:class:`~hitl_widgets.core.project.Project` methods in its ``# -- quality`` section call these
functions; who is served what is in the overlap queue (``_routing.py``).

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> project = Project(os.path.join(tempfile.mkdtemp(), "q.hitl"), labels=["ham", "spam"])
>>> _ = project.add_items(["win cash", "lunch?", "hi"], id=["a", "b", "c"])
>>> _ = project.set_gold(["a", "b"], ["spam", "ham"])
>>> _ = project.annotate("a", "spam", annotator="ana")
>>> _ = project.annotate("b", "spam", annotator="ana")
>>> project.gold_accuracy(min_count=1)[["annotator", "n", "accuracy", "flagged"]].values.tolist()
[['ana', 2, 0.5, True]]
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_count, check_rate, item_id_list
from ..store import Ledger, SchemaError
from ._routing import known_ids, needed

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("majority", "dawid_skene")
DEFAULT_GOLD_THRESHOLD = 0.85


def check_method(method: Any) -> str:
    if method not in METHODS:
        raise ValueError(f"Unknown consensus method {method!r}; expected one of {list(METHODS)}")
    return method


# -- gold -----------------------------------------------------------------------------------------
def set_gold(ledger: Ledger, item_ids: Any, labels: Any = None) -> list[int]:
    """Record the known answers of these items; an item's latest answer counts.

    ``item_ids`` and ``labels`` are two sequences of one length, or ``item_ids`` is a mapping
    (a dict or a pandas Series) from item id to label and ``labels`` is omitted. Nothing is
    written unless every id is known and every label is in the schema.
    """
    pairs = _gold_pairs(item_ids, labels)
    ids = known_ids(ledger, [i for i, _ in pairs])
    answers: dict[str, tuple[str, ...]] = {}
    for item_id, label in zip(ids, (lab for _, lab in pairs), strict=True):
        answer = _validate_gold(ledger, item_id, label)
        if answers.setdefault(item_id, answer) != answer:
            raise ValueError(f"Item {item_id!r} is given two gold answers, {list(answers[item_id])} "
                             f"and {list(answer)}; give each item one")
    return Ledger.of(ledger).append_many(
        [dict(kind="gold", item_id=i, labels=list(a)) for i, a in answers.items()], notify="gold")


def _gold_pairs(item_ids: Any, labels: Any) -> list[tuple[Any, Any]]:
    if labels is None:
        if not hasattr(item_ids, "items"):
            raise TypeError("set_gold needs item ids and labels: set_gold(['i1', 'i2'], ['spam', "
                            "'ham']) or set_gold({'i1': 'spam', 'i2': 'ham'})")
        return list(item_ids.items())
    if isinstance(labels, (str, bytes)):
        raise TypeError("set_gold takes lists of ids and labels, e.g. set_gold(['i1'], ['spam'])")
    ids, labs = item_id_list(item_ids, "item_ids"), list(labels)
    if len(ids) != len(labs):
        raise ValueError(f"set_gold got {len(ids)} item ids and {len(labs)} labels; give one label "
                         "per item")
    return list(zip(ids, labs, strict=True))


def _validate_gold(ledger: Ledger, item_id: str, label: Any) -> tuple[str, ...]:
    try:
        return ledger.schema.validate(label)
    except SchemaError as exc:
        raise SchemaError(f"Gold answer for item {item_id!r}: {exc}") from None


def remove_gold(ledger: Ledger, item_ids: Sequence[str]) -> int:
    """Take these items out of the gold set (their answers stay in the log, retracted)."""
    ids = set(known_ids(ledger, item_ids))
    live = [e["seq"] for e in ledger.store.live_events(["gold"], sorted(ids))]
    return len(Ledger.of(ledger).retract(live, notify="gold"))


def gold(ledger: Ledger) -> pd.DataFrame:
    """The gold set: item_id, label (a tuple in a multi-label project), set_at."""
    import pandas as pd

    rows = ledger.store.latest_live("gold").values()
    return pd.DataFrame({
        "item_id": [r["item_id"] for r in rows],
        "label": [ledger.label_value(r["labels"]) for r in rows],
        "set_at": pd.to_datetime([r["created_at"] for r in rows], unit="s", utc=True),
    })


def gold_accuracy(ledger: Ledger, threshold: float = DEFAULT_GOLD_THRESHOLD,
                  min_count: int = 5) -> pd.DataFrame:
    """Per annotator: gold items labeled (``n``), ``correct``, ``accuracy`` and ``flagged``.

    An annotator is flagged for retraining when ``accuracy < threshold`` on at least
    ``min_count`` gold items (fewer say too little to act on; ``n`` shows what each rests on).
    A multi-label answer is correct only when the whole set matches.
    """
    import pandas as pd

    threshold = check_rate(threshold, "threshold")
    min_count = check_count(min_count, "min_count")
    answers = {i: tuple(e["labels"]) for i, e in ledger.store.latest_live("gold").items()}
    rows = [r for r in Ledger.of(ledger).label_index.rows() if r.item_id in answers]
    stats: dict[str, list[int]] = {}
    for r in rows:
        n_correct = stats.setdefault(r.annotator, [0, 0])
        n_correct[0] += 1
        n_correct[1] += tuple(r.labels) == answers[r.item_id]
    df = pd.DataFrame([(a, n, c) for a, (n, c) in stats.items()],
                      columns=["annotator", "n", "correct"]).astype({"n": int, "correct": int})
    df["accuracy"] = df["correct"] / df["n"]
    df["flagged"] = (df["n"] >= min_count) & (df["accuracy"] < threshold)
    return df.sort_values(["accuracy", "annotator"]).reset_index(drop=True)


def flagged(ledger: Ledger, threshold: float = DEFAULT_GOLD_THRESHOLD,
            min_count: int = 5) -> pd.DataFrame:
    """Annotators flagged for retraining, each with the reason in words."""
    df = gold_accuracy(ledger, threshold, min_count)
    df = df[df["flagged"]].drop(columns="flagged").reset_index(drop=True)
    df["reason"] = [f"{c} of {n} gold items right ({a:.0%}), below {threshold:.0%}"
                    for n, c, a in zip(df["n"], df["correct"], df["accuracy"], strict=True)]
    return df


# -- consensus and adjudication ---------------------------------------------------------------
def finished_labels(ledger: Ledger, requests: bool = True) -> pd.DataFrame:
    """Long labels (item, annotator, label) of the non-gold items that have all their labels.

    With ``requests=False``, an item counts as finished once it has its k labels, before the
    spot-check or relabel requests on it are answered.
    """
    import pandas as pd

    rows = Ledger.of(ledger).label_index.rows()
    gold_ids = set(ledger.store.latest_live("gold"))
    per_item: dict[str, list] = {}
    for r in rows:
        if r.item_id not in gold_ids:
            per_item.setdefault(r.item_id, []).append(r)
    need = needed(ledger, list(per_item), requests)
    done = [r for i, rs in per_item.items() if len(rs) >= need[i] for r in rs]
    return pd.DataFrame({
        "item": [r.item_id for r in done],
        "annotator": [r.annotator for r in done],
        "label": [_category(ledger, r.labels) for r in done],
        "labeled_at": [r.created_at for r in done],
    })


def _category(ledger: Ledger, labels: list[str]) -> str:
    # Consensus counts categories; a multi-label answer is one category, its labels joined.
    return labels[0] if not ledger.schema.multi_label else "|".join(labels)


def consensus_confidence(df: pd.DataFrame, method: str = "majority") -> pd.DataFrame:
    """Per item: the consensus ``label`` and its ``confidence``, from core.consensus."""
    from . import _consensus as consensus

    method = check_method(method)
    if method == "majority":
        result = consensus.majority_vote(df[["item", "annotator", "label"]])
    else:
        result = consensus.dawid_skene(df[["item", "annotator", "label"]])
    return _as_confidence(result)


def _as_confidence(result: Any) -> pd.DataFrame:
    """``label`` and ``confidence`` per item from a consensus result: its ``confidence`` (the
    winning share of a majority vote), else the largest of its ``posteriors`` (Dawid-Skene)."""
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        labels, confidence = result["label"], result.get("confidence")
        posteriors = None
    else:
        labels = getattr(result, "labels", result)
        confidence = getattr(result, "confidence", None)
        posteriors = getattr(result, "posteriors", None)
    if confidence is None:
        confidence = posteriors.max(axis=1)
    return pd.DataFrame({"label": labels, "confidence": confidence})


def flag_disagreements(ledger: Ledger, threshold: float = 0.75,
                       method: str = "majority") -> list[str]:
    """Flag finished items whose consensus confidence is below ``threshold``; return new flags.

    With ``method="majority"`` the confidence is the winning label's share of the votes; with
    ``"dawid_skene"`` it is the posterior of the winning label. Items with one label, gold
    items, and items already flagged or resolved are left alone.
    """
    threshold = check_rate(threshold, "threshold")
    df = finished_labels(ledger)
    multi = df.groupby("item")["annotator"].transform("size") >= 2
    df = df[multi]
    if df.empty:
        return []
    conf = consensus_confidence(df, method)
    low = conf[conf["confidence"] < threshold]
    store = ledger.store
    settled = set(store.latest_live("flag")) | set(store.latest_live("resolution"))
    new = [(i, r) for i, r in low.iterrows() if i not in settled]
    Ledger.of(ledger).append_many([dict(kind="flag", item_id=i, score=float(r["confidence"]), extra={
        "reason": f"{method} confidence {r['confidence']:.2f} below {threshold:.2f}",
        "method": method, "threshold": threshold, "consensus": r["label"]}) for i, r in new],
        notify="flag")
    return [i for i, _ in new]


def resolve(ledger: Ledger, item_id: str, label: Any, *, annotator: str,
            ms_on_item: int | None = None) -> int:
    """An adjudicator's label for an item: it settles the item. Returns the event id."""
    return Ledger.of(ledger).resolve(item_id, label, annotator=annotator, ms_on_item=ms_on_item)


def flags(ledger: Ledger) -> pd.DataFrame:
    """Items flagged for adjudication: item_id, reason, confidence, flagged_at, resolved."""
    import pandas as pd

    rows = ledger.store.live_events(["flag"])
    resolved = ledger.store.latest_live("resolution")
    return pd.DataFrame({
        "item_id": [r["item_id"] for r in rows],
        "reason": [r["extra"]["reason"] for r in rows],
        "confidence": [r["score"] for r in rows],
        "flagged_at": pd.to_datetime([r["created_at"] for r in rows], unit="s", utc=True),
        "resolved": [r["item_id"] in resolved for r in rows],
    })


def resolutions(ledger: Ledger) -> pd.DataFrame:
    """Adjudicators' labels in force: item_id, label, annotator, resolved_at."""
    import pandas as pd

    rows = ledger.store.latest_live("resolution").values()
    return pd.DataFrame({
        "item_id": [r["item_id"] for r in rows],
        "label": [ledger.label_value(r["labels"]) for r in rows],
        "annotator": [r["annotator"] for r in rows],
        "resolved_at": pd.to_datetime([r["created_at"] for r in rows], unit="s", utc=True),
    })


def final_labels(ledger: Ledger, method: str = "majority") -> pd.DataFrame:
    """One label per finished item: the adjudicator's where there is one, else the consensus.

    Columns: item_id, label, source (``resolution`` or the method), confidence (None for a
    resolution). Gold items are left out: their answer is ``project.gold()``.
    """
    import pandas as pd

    df = finished_labels(ledger)
    conf = consensus_confidence(df, method) if not df.empty else pd.DataFrame(
        columns=["label", "confidence"])
    resolved = {i: r["labels"] for i, r in ledger.store.latest_live("resolution").items()}
    out = pd.DataFrame({"item_id": conf.index.astype(str), "label": list(conf["label"]),
                        "source": method, "confidence": conf["confidence"].astype(float).values})
    out = out[~out["item_id"].isin(resolved)]
    gold_ids = set(ledger.store.latest_live("gold"))
    extra = pd.DataFrame({"item_id": list(resolved),
                          "label": [_category(ledger, lab) for lab in resolved.values()],
                          "source": "resolution", "confidence": None})
    out = pd.concat([out, extra[~extra["item_id"].isin(gold_ids)]], ignore_index=True)
    return out.sort_values("item_id").reset_index(drop=True)


# -- spot checks and relabel alerts --------------------------------------------------------------
def spot_check(ledger: Ledger, rate: float = 0.05, seed: int = 0) -> list[str]:
    """Send a share of finished items back for one more label from another annotator.

    Stratified by the items' most common label: within each label, ``rate`` of its finished
    items (rounded half up) are checked, counting those checked before. Returns the new ids.
    """
    rate = check_rate(rate, "rate")
    df = finished_labels(ledger, requests=False)
    if df.empty:
        return []
    strata = df.groupby("item")["label"].agg(lambda s: s.value_counts().index[0])
    requested = set(ledger.store.request_counts())
    checked = {e["item_id"] for e in ledger.store.live_events(["request"])
               if e["extra"].get("reason") == "spot_check"}
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for label in sorted(strata.unique()):
        items = sorted(strata.index[strata == label])
        target = math.floor(rate * len(items) + 0.5) - len(checked.intersection(items))
        pool = [i for i in items if i not in requested]
        if target > 0 and pool:
            chosen += [pool[k] for k in sorted(rng.choice(len(pool), min(target, len(pool)),
                                                          replace=False))]
    Ledger.of(ledger).append_many([dict(kind="request", item_id=i, extra={
        "reason": "spot_check", "why": f"spot check: {rate:.0%} of finished items per label"})
        for i in chosen], notify="request")
    return chosen


def check_agreement(ledger: Ledger, window: int = 50, threshold: float = 0.7,
                    min_items: int = 10, by: str | None = None) -> list[dict]:
    """Alert on labels (or slices) whose recent agreement fell below ``threshold``; queue
    their items for relabeling.

    For each label, the last ``window`` items with two or more labels where someone chose it;
    agreement is the share of them where every annotator chose it. With ``by``, a key of the
    items' ``meta`` or ``fields`` (e.g. ``by="source"``), each value of it is a slice instead,
    and agreement is the share of its last ``window`` items where all annotators gave the same
    label. Below ``threshold`` (on at least ``min_items`` items), the disagreeing items in that
    window get one more label each (a ``relabel`` request carrying the reason). Returns the new
    alerts; an alert is raised only when it names an item it has not named before.
    """
    window, min_items = check_count(window, "window"), check_count(min_items, "min_items")
    threshold = check_rate(threshold, "threshold")
    if by is not None and (not isinstance(by, str) or not by):
        raise ValueError(f"by must name a meta or fields key of the items, e.g. by='source'; got {by!r}")
    windows = _label_windows(ledger, window) if by is None else _slice_windows(ledger, window, by)
    relabels = [e for e in ledger.store.live_events(["request"])
                if e["extra"].get("reason") == "relabel"]
    queued = {e["item_id"] for e in relabels}  # one more label each, whichever alert asked
    covered = {(e["item_id"], e["extra"]["label"]) for e in relabels}
    resolved = set(ledger.store.latest_live("resolution"))
    alerts, events = [], []
    for label, (agree, items) in windows.items():
        n = len(agree)
        share = sum(agree) / n if n else 1.0
        todo = [i for i, ok in zip(items, agree, strict=True)
                if not ok and i not in resolved and (i, label) not in covered]
        if n < min_items or share >= threshold or not todo:
            continue
        what = f"'{label}'" if by is None else f"items with {label}"
        alert = {"alert_id": uuid.uuid4().hex[:12], "label": label, "agreement": share,
                 "window": n, "threshold": threshold, "created_at": time.time(),
                 "reason": f"agreement on {what} fell to {share:.0%} over the last {n} items "
                           f"(target {threshold:.0%}); {len(todo)} items queued for relabeling",
                 "item_ids": todo}
        alerts.append(alert)
        extra = {k: v for k, v in alert.items() if k not in ("item_ids", "created_at")}
        # An item already queued by another label's alert is recorded here but asks no more.
        events += [dict(kind="request", item_id=i, extra={
            **extra, "why": alert["reason"], "reason": "relabel", "n": int(i not in queued)})
            for i in todo]
        queued.update(todo)
    Ledger.of(ledger).append_many(events, notify="alert",
                                  info={"alert_ids": [a["alert_id"] for a in alerts]})
    return alerts


def _multi_labeled(ledger: Ledger) -> list[tuple[str, list]]:
    """Non-gold items with two or more current labels, in the order they got their last."""
    gold_ids = set(ledger.store.latest_live("gold"))
    per_item: dict[str, list[dict]] = {}
    for r in Ledger.of(ledger).label_index.rows():
        if r.item_id not in gold_ids:
            per_item.setdefault(r.item_id, []).append(r)
    multi = [(max(r.seq for r in rs), i, rs) for i, rs in per_item.items() if len(rs) >= 2]
    return [(i, rs) for _, i, rs in sorted(multi)]


def _slice_windows(ledger: Ledger, window: int, by: str) -> dict[str, tuple[list[bool], list[str]]]:
    """Per value of ``by``: (all gave the same label?, item) for its last ``window`` items."""
    multi = _multi_labeled(ledger)
    records = ledger.store.get_items([i for i, _ in multi])
    out: dict[str, tuple[list[bool], list[str]]] = {}
    for item_id, rs in multi:
        record = records[item_id]
        value = record.meta.get(by, record.fields.get(by))
        if value is None:
            continue
        agree, items = out.setdefault(f"{by}={value}", ([], []))
        agree.append(len({tuple(r.labels) for r in rs}) == 1)
        items.append(item_id)
    return {key: (a[-window:], i[-window:]) for key, (a, i) in sorted(out.items())}


def _label_windows(ledger: Ledger, window: int) -> dict[str, tuple[list[bool], list[str]]]:
    """Per label: (all chose it?, item) for its last ``window`` multiply-labeled items."""
    out: dict[str, tuple[list[bool], list[str]]] = {}
    for item_id, rs in _multi_labeled(ledger):
        for label in {lab for r in rs for lab in r.labels}:
            agree, items = out.setdefault(label, ([], []))
            agree.append(all(label in r.labels for r in rs))
            items.append(item_id)
    return {lab: (a[-window:], i[-window:]) for lab, (a, i) in sorted(out.items())}


def quality_alerts(ledger: Ledger) -> pd.DataFrame:
    """Relabel alerts, newest last: alert_id, label, agreement, window, threshold, reason,
    n_items, created_at. A dashboard shows these as the reason items went back."""
    import pandas as pd

    grouped: dict[str, dict] = {}
    for e in ledger.store.live_events(["request"]):
        extra = e["extra"] or {}
        if extra.get("reason") != "relabel":
            continue
        a = grouped.setdefault(extra["alert_id"], {
            "alert_id": extra["alert_id"], "label": extra["label"], "agreement": extra["agreement"],
            "window": extra["window"], "threshold": extra["threshold"], "reason": extra["why"],
            "n_items": 0, "created_at": e["created_at"]})
        a["n_items"] += 1
    df = pd.DataFrame(list(grouped.values()), columns=[
        "alert_id", "label", "agreement", "window", "threshold", "reason", "n_items", "created_at"])
    df["created_at"] = pd.to_datetime(df["created_at"], unit="s", utc=True)
    return df
