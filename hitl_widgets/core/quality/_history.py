"""What changed between two dataset versions, and the history of one item's label.

:func:`diff` compares two versions (see ``_versions.py``) item by item: ``added`` (in the
second only), ``removed`` (in the first only; its label was undone or its gold answer removed)
and ``relabeled`` (in both, with another final label). A change of ``decided_by`` alone (a
consensus later confirmed by an adjudicator with the same label) is not a change of content
and is not listed. For each changed item it gives the *label events* between the two versions'
log positions: annotations, resolutions, gold answers and retractions of any of them -- the
events from which its final label was recomputed -- with annotator, time, source and the reason
where the log holds one: for an annotation, the reason of the latest request for one more
label on the item before it (a relabel alert's, a spot check's, a drift window's); for a
resolution, the latest flag's; for a retraction, what it undid.

:func:`audit` replays one item's log: every annotation, resolution, gold answer and retraction,
the label it changed from and to (the annotator's own label for annotations and their undo, the
adjudicated label for resolutions, the gold answer for gold), who and when, whether it was later
undone, and what the screen showed the annotator before it: the latest ``shown`` event of theirs
on the item since their previous action (the suggestion and its score), else the suggestion the
annotation itself recorded.

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> project = Project(os.path.join(tempfile.mkdtemp(), "h.hitl"), labels=["ham", "spam"])
>>> _ = project.add_items(["win cash", "lunch?"], id=["a", "b"])
>>> _ = project.annotate("a", "spam", annotator="ana")
>>> _ = project.snapshot("v1")
>>> _ = project.annotate("a", "ham", annotator="ana")
>>> _ = project.annotate("b", "ham", annotator="bob")
>>> _ = project.snapshot("v2")
>>> d = project.diff("v1", "v2")
>>> d.added, d.removed, d.relabeled
(['b'], [], ['a'])
>>> project.audit("a")[["kind", "annotator", "before", "after"]].values.tolist()
[['annotation', 'ana', None, 'spam'], ['annotation', 'ana', 'spam', 'ham']]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._checks import item_id as check_item_id
from ..store import Ledger
from ._routing import known_ids
from ._versions import Version, stored_rows

if TYPE_CHECKING:
    import pandas as pd

LABEL_KINDS = ("annotation", "resolution", "gold")
ITEM_COLUMNS = ["item_id", "change", "label_a", "label_b", "decided_by_a", "decided_by_b",
                "who", "when", "why"]
EVENT_COLUMNS = ["item_id", "seq", "kind", "annotator", "created_at", "source", "labels",
                 "undoes", "reason"]


@dataclass(frozen=True)
class VersionDiff:
    """Two versions compared: ``items`` (one row per changed item: ``change`` is added,
    removed or relabeled; its label in a and b, how each was decided, and the ``who``,
    ``when`` and ``why`` of the events that changed it) and ``events`` (those events, one row
    each, oldest first)."""

    a: Version
    b: Version
    items: pd.DataFrame
    events: pd.DataFrame

    def _ids(self, change: str) -> list[str]:
        return self.items.loc[self.items["change"] == change, "item_id"].tolist()

    @property
    def added(self) -> list[str]:
        return self._ids("added")

    @property
    def removed(self) -> list[str]:
        return self._ids("removed")

    @property
    def relabeled(self) -> list[str]:
        return self._ids("relabeled")

    def __repr__(self) -> str:
        return (f"VersionDiff({self.a.name!r} -> {self.b.name!r}: {len(self.added)} added, "
                f"{len(self.removed)} removed, {len(self.relabeled)} relabeled)")


def diff(ledger: Any, a: Any, b: Any) -> VersionDiff:
    """Added, removed and relabeled items from version ``a`` to version ``b`` (names or
    hashes), with the label events between them. Unknown versions raise
    :class:`~hitl_widgets.core.quality.VersionError` naming the known ones."""
    import pandas as pd

    ledger = Ledger.of(ledger)
    va, rows_a = stored_rows(ledger, a)
    vb, rows_b = stored_rows(ledger, b)
    old = {r["item_id"]: r for r in rows_a}
    new = {r["item_id"]: r for r in rows_b}
    changes: dict[str, str] = {}
    for item_id in sorted(old.keys() | new.keys()):
        if item_id not in old:
            changes[item_id] = "added"
        elif item_id not in new:
            changes[item_id] = "removed"
        elif sorted(old[item_id]["labels"]) != sorted(new[item_id]["labels"]):
            changes[item_id] = "relabeled"
    lo, hi = sorted((va.seq, vb.seq))
    events = _label_events(ledger, list(changes), lo, hi)
    value = ledger.label_value
    per_item: dict[str, list[dict]] = {}
    for e in events:
        per_item.setdefault(e["item_id"], []).append(e)
    items = pd.DataFrame([{
        "item_id": i, "change": change,
        "label_a": value(old[i]["labels"]) if i in old else None,
        "label_b": value(new[i]["labels"]) if i in new else None,
        "decided_by_a": old[i]["decided_by"] if i in old else None,
        "decided_by_b": new[i]["decided_by"] if i in new else None,
        "who": tuple(dict.fromkeys(e["annotator"] for e in per_item.get(i, ())
                                   if e["annotator"] is not None)),
        "when": max((e["created_at"] for e in per_item.get(i, ())), default=None),
        "why": "; ".join(dict.fromkeys(e["reason"] for e in per_item.get(i, ())
                                       if e["reason"])) or None,
    } for i, change in changes.items()], columns=ITEM_COLUMNS, dtype=object)
    items["when"] = pd.to_datetime(items["when"].astype(float), unit="s", utc=True)
    frame = pd.DataFrame(events, columns=EVENT_COLUMNS, dtype=object)
    frame["seq"] = frame["seq"].astype("int64")
    frame["created_at"] = pd.to_datetime(frame["created_at"].astype(float), unit="s", utc=True)
    frame["labels"] = pd.Series([None if v is None else value(v) for v in frame["labels"]],
                                dtype=object, index=frame.index)
    return VersionDiff(va, vb, items, frame)


def _label_events(ledger: Ledger, item_ids: list[str], lo: int, hi: int) -> list[dict]:
    """The label events on these items with seq in (lo, hi], each with its reason."""
    if not item_ids:
        return []
    store = ledger.store
    log = store.item_events(item_ids, (*LABEL_KINDS, "retraction", "request", "flag"), 0, hi)
    by_seq = {e["seq"]: e for e in log}
    out, why = [], {}  # why: item -> the latest open request's or flag's reason
    for e in log:
        kind, item_id = e["kind"], e["item_id"]
        if kind in ("request", "flag"):
            extra = e["extra"] or {}
            why[item_id, kind] = extra.get("why") or extra.get("reason")
            continue
        undoes = None
        if kind == "retraction":
            target = by_seq.get(e["target"]) or store.event(e["target"])
            if target is None or target["kind"] not in LABEL_KINDS:
                continue  # an undone skip, span or lease: not a label
            undoes = target["kind"]
        if e["seq"] <= lo:
            continue
        reason = {"annotation": why.get((item_id, "request")),
                  "resolution": why.get((item_id, "flag")),
                  "gold": "gold answer set"}.get(kind)
        if kind == "retraction":
            reason = "gold answer removed" if undoes == "gold" else f"{undoes} undone"
        out.append({"item_id": item_id, "seq": e["seq"], "kind": kind,
                    "annotator": e["annotator"], "created_at": e["created_at"],
                    "source": e["source"], "labels": e["labels"], "undoes": undoes,
                    "reason": reason})
    return out


# -- one item's history --------------------------------------------------------------------------
AUDIT_COLUMNS = ["seq", "kind", "annotator", "at", "source", "before", "after", "undone",
                 "shown_suggestion", "shown_score", "shown_at", "ms_on_item", "undoes"]


def audit(ledger: Any, item_id: Any) -> pd.DataFrame:
    """Who changed this item's label, from what, when, and what the screen showed them: one
    row per annotation, resolution, gold answer and retraction of one, oldest first (see the
    module doc for ``before`` and ``after``)."""
    import pandas as pd

    ledger = Ledger.of(ledger)
    item_id = known_ids(ledger, [check_item_id(item_id)])[0]
    log = ledger.store.item_events([item_id], (*LABEL_KINDS, "retraction", "shown"))
    value = ledger.label_value
    by_seq = {e["seq"]: e for e in log}
    undone = {e["target"] for e in log if e["kind"] == "retraction"}
    live: dict[Any, list[dict]] = {}  # slot (an annotator's labels, "resolution", "gold") -> live events
    shown: dict[str | None, dict] = {}  # annotator -> their latest shown since their last action
    rows = []
    for e in log:
        if e["kind"] == "shown":
            shown[e["annotator"]] = e
            continue
        target = by_seq.get(e["target"]) if e["kind"] == "retraction" else e
        if target is None or target["kind"] not in LABEL_KINDS:
            continue
        slot = ("label", target["annotator"]) if target["kind"] == "annotation" else target["kind"]
        stack = live.setdefault(slot, [])
        before = stack[-1]["labels"] if stack else None
        if e["kind"] == "retraction":
            stack[:] = [x for x in stack if x["seq"] != target["seq"]]
        else:
            stack.append(e)
        after = stack[-1]["labels"] if stack else None
        seen = shown.pop(e["annotator"], None)
        suggestion = seen["suggestion"] if seen else e["suggestion"]
        rows.append({
            "seq": e["seq"], "kind": e["kind"], "annotator": e["annotator"], "at": e["created_at"],
            "source": e["source"], "before": None if before is None else value(before),
            "after": None if after is None else value(after), "undone": e["seq"] in undone,
            "shown_suggestion": None if suggestion is None else value(suggestion),
            "shown_score": seen["suggestion_score"] if seen else e["suggestion_score"],
            "shown_at": seen["created_at"] if seen else None, "ms_on_item": e["ms_on_item"],
            "undoes": None if e["kind"] != "retraction" else target["kind"]})
    df = pd.DataFrame(rows, columns=AUDIT_COLUMNS, dtype=object)  # None stays None
    df["seq"] = df["seq"].astype("int64")
    df["undone"] = df["undone"].astype(bool)
    df["shown_score"] = df["shown_score"].astype(float)
    for col in ("at", "shown_at"):
        df[col] = pd.to_datetime(df[col].astype(float), unit="s", utc=True)
    return df
