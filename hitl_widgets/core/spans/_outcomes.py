"""What happened to each suggested span, and what correcting a model costs.

A submission of spans is compared with the item's latest span suggestion before it (the one
the annotator saw; ``submit_spans`` refuses a ``suggestion_id`` of any other). Each region
then ends as exactly one outcome:

- ``accepted``: a submitted span is the suggested one unchanged: it names it by
  ``suggestion_id``, or, naming none, has its exact start, end and label (a script that
  resubmits the suggestions as tuples);
- ``edited``: a submitted span names the suggested one but moved a boundary or changed the
  label;
- ``deleted``: a suggested span no submitted span stands for;
- ``added``: a submitted span drawn by hand.

The annotator's current spans are the final ones (a span deleted after the submission counts
as not submitted). Submissions on items that had no suggestion are not about correcting a
model and have no rows.

Example
-------
>>> import tempfile, os, hitl_widgets as hw
>>> p = hw.Project(os.path.join(tempfile.mkdtemp(), "s.hitl"), span_labels=["PER", "ORG"])
>>> _ = p.add_items(["Ada works at IBM"], id=["d1"])
>>> _ = p.suggest_spans(lambda text: [(0, 3, "PER", 0.9), (13, 16, "PER", 0.4)],
...                     model_version="v1")
>>> s = p.span_suggestions(["d1"])["d1"]["spans"]
>>> _ = p.submit_spans("d1", [{**s[0]}, {**s[1], "label": "ORG"}], annotator="ana",
...                    ms_on_item=4000)
>>> p.span_outcomes()[["label_suggested", "label_final", "outcome"]].values.tolist()
[['PER', 'PER', 'accepted'], ['PER', 'ORG', 'edited']]
"""

from __future__ import annotations

import bisect
from typing import Any

from ..store import Ledger, parse_suggestion_id, span_suggestion_events, submitted_spans

OUTCOMES = ("accepted", "edited", "deleted", "added")
OUTCOME_COLUMNS = ["item_id", "annotator", "suggestion_id", "model_version", "label_suggested",
                   "label_final", "start_suggested", "end_suggested", "start_final",
                   "end_final", "score", "outcome", "seconds", "submission", "span_id"]
COST_COLUMNS = ["model_version", "label", "suggested", "accepted", "edited", "deleted", "added",
                "acceptance", "edits", "edits_per_accepted", "seconds", "seconds_per_accepted"]


def span_outcomes(project: Any, annotator: str | None = None):
    """One row per region of every current submission that followed a suggestion (see the
    module's doc): item_id, annotator, suggestion_id, model_version, label / start / end
    suggested and final, score (the suggestion's), outcome, seconds (the submission's
    ``ms_on_item``), submission, span_id (the final span's). Missing sides are NA."""
    import pandas as pd

    store = Ledger.of(project).store
    subs = submitted_spans(store, annotator)
    by_item: dict[str, list[dict]] = {}
    for e in span_suggestion_events(store, sorted({s["item_id"] for s in subs})):
        by_item.setdefault(e["item_id"], []).append(e)  # oldest first
    rows: list[dict] = []
    for sub in subs:
        events = by_item.get(sub["item_id"], [])
        k = bisect.bisect_left([e["seq"] for e in events], sub["submission"])
        if k:
            rows += _diff(sub, events[k - 1])
    df = pd.DataFrame(rows, columns=OUTCOME_COLUMNS)
    for col in ("start_suggested", "end_suggested", "start_final", "end_final", "span_id"):
        df[col] = df[col].astype("Int64")
    for col in ("score", "seconds"):
        df[col] = df[col].astype("float64")
    df["submission"] = df["submission"].astype("int64")
    return df


def _diff(sub: dict, suggestion: dict) -> list[dict]:
    """The outcome rows of one submission against the suggestion it followed."""
    seq, version = suggestion["seq"], suggestion["extra"].get("version")
    suggested = suggestion["extra"]["spans"]
    claimed: dict[int, dict] = {}
    loose = []
    for span in sub["spans"]:
        k = _index(span.get("suggestion_id"), seq, len(suggested))
        if k is None or k in claimed:
            loose.append(span)
        else:
            claimed[k] = span
    # A span naming no suggestion that is one exactly stands for it (first unclaimed match).
    added = []
    for span in loose:
        k = next((k for k, s in enumerate(suggested) if k not in claimed and _same(s, span)),
                 None)
        if k is None:
            added.append(span)
        else:
            claimed[k] = span
    seconds = None if sub["ms_on_item"] is None else sub["ms_on_item"] / 1000
    base = {"item_id": sub["item_id"], "annotator": sub["annotator"], "model_version": version,
            "seconds": seconds, "submission": sub["submission"]}
    rows = []
    for k, s in enumerate(suggested):
        final = claimed.get(k)
        outcome = "deleted" if final is None else ("accepted" if _same(s, final) else "edited")
        rows.append({**base, "suggestion_id": f"{seq}:{k}", "label_suggested": s["label"],
                     "start_suggested": s["start"], "end_suggested": s["end"],
                     "score": s.get("score"), "outcome": outcome,
                     **_final(final)})
    for span in sorted(added, key=lambda s: (s["start"], s["end"], s["label"])):
        rows.append({**base, "suggestion_id": None, "label_suggested": None,
                     "start_suggested": None, "end_suggested": None, "score": None,
                     "outcome": "added", **_final(span)})
    return rows


def _final(span: dict | None) -> dict:
    if span is None:
        return {"label_final": None, "start_final": None, "end_final": None, "span_id": None}
    return {"label_final": span["label"], "start_final": span["start"],
            "end_final": span["end"], "span_id": span["span_id"]}


def _same(a: dict, b: dict) -> bool:
    return (a["start"], a["end"], a["label"]) == (b["start"], b["end"], b["label"])


def _index(sid: Any, seq: int, n: int) -> int | None:
    """Which suggested span an id names, when it names one of this suggestion."""
    if sid is None:
        return None
    try:
        s, k = parse_suggestion_id(sid)
    except ValueError:
        return None
    return k if s == seq and 0 <= k < n else None


def correction_cost(outcomes):
    """What correcting each model version's suggestions cost, per label: a tidy DataFrame.

    Per ``model_version`` × ``label`` (the suggested label; the final one for added spans):
    ``suggested`` spans; counts per outcome; ``acceptance`` (accepted / suggested); ``edits``
    (edited + deleted + added: each a correction the annotator made); ``seconds`` (each
    submission's time shared equally among its regions, summed; NaN when no submission
    recorded its time); and both per accepted suggestion (NaN when none was accepted).

    >>> import pandas as pd
    >>> rows = pd.DataFrame({"model_version": ["v1"] * 3, "submission": [7, 7, 7],
    ...     "label_suggested": ["PER", "PER", None], "label_final": ["PER", None, "ORG"],
    ...     "outcome": ["accepted", "deleted", "added"], "seconds": [6.0, 6.0, 6.0]})
    >>> correction_cost(rows)[["label", "accepted", "edits", "seconds"]].values.tolist()
    [['ORG', 0, 1, 2.0], ['PER', 1, 1, 4.0]]
    """
    import numpy as np
    import pandas as pd

    if len(outcomes) == 0:
        return pd.DataFrame(columns=COST_COLUMNS)
    df = outcomes.copy()
    df["label"] = df["label_suggested"].where(df["label_suggested"].notna(), df["label_final"])
    regions = df.groupby("submission")["outcome"].transform("size")
    df["share"] = df["seconds"] / regions
    counts = (pd.crosstab([df["model_version"].fillna(""), df["label"]], df["outcome"])
              .reindex(columns=list(OUTCOMES), fill_value=0))
    seconds = df.groupby([df["model_version"].fillna(""), "label"])["share"].sum(min_count=1)
    out = counts.reset_index()
    out.columns.name = None
    out["model_version"] = out["model_version"].replace("", None)
    out["suggested"] = out["accepted"] + out["edited"] + out["deleted"]
    out["acceptance"] = out["accepted"] / out["suggested"].replace(0, np.nan)
    out["edits"] = out["edited"] + out["deleted"] + out["added"]
    accepted = out["accepted"].replace(0, np.nan)
    out["edits_per_accepted"] = out["edits"] / accepted
    out["seconds"] = seconds.reindex(counts.index).to_numpy(dtype="float64")
    out["seconds_per_accepted"] = out["seconds"] / accepted
    for col in ("suggested", *OUTCOMES, "edits"):
        out[col] = out[col].astype("int64")
    return out[COST_COLUMNS].reset_index(drop=True)
