"""Spans in the log: what a submission of an item's spans is checked against, and the current
spans read back from it.

A submission is one ``spans`` event (one annotator's answer on one item; zero spans is an
answer: "nothing to mark"), followed in the same transaction by one ``span`` event per span and
one ``relation`` event per relation, each pointing at the submission through ``target``. A span's
id is the seq of its event. The current spans of an (item, annotator) are the spans of their
latest live submission, less those retracted one by one; undoing the submission brings the one
before back, as undoing a label does.

Offsets are Python code points, end exclusive: ``text[start:end] == span_text`` holds for every
span, checked before anything is written (a browser counts UTF-16 code units: convert with
:func:`hitl_widgets.core.spans.from_utf16` first).

Example
-------
>>> from hitl_widgets.core.store import SpanSchema
>>> schema = SpanSchema.build(["PER", "ORG"])
>>> check_spans("Ada works at IBM", [(0, 3, "PER"), {"start": 13, "end": 16, "label": "ORG"}],
...             schema, item_id="a")[1]["text"]
'IBM'
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._schema import SchemaError, SpanSchema

_SPAN_KEYS = {"start", "end", "label", "text", "id", "score", "source", "extra", "suggestion_id"}
_RELATION_KEYS = {"head", "child", "label"}
_SURROGATE = re.compile("[\ud800-\udfff]")
FRAME_COLUMNS = ["item_id", "annotator", "start", "end", "label", "span_id", "text", "source",
                 "score", "submission", "created_at"]
RELATION_COLUMNS = ["item_id", "annotator", "head", "child", "label", "relation_id",
                    "submission", "created_at"]


class SpanError(ValueError):
    """A span or relation that cannot be stored as given; nothing was written."""


@dataclass(frozen=True)
class Submitted:
    """What a submission wrote: its event id, its spans' ids (in the order given) and its
    relations' ids."""

    seq: int
    span_ids: tuple[int, ...]
    relation_ids: tuple[int, ...]


# -- checking a submission ------------------------------------------------------------------
def check_spans(text: Any, spans: Any, schema: SpanSchema, *, item_id: str) -> list[dict]:
    """The spans as stored (start, end, label, text, id, score, source, extra, suggestion_id),
    or SpanError naming the span and what to do. Spans may be dicts or ``(start, end, label)``
    tuples; ``suggestion_id`` (the suggested span it stands for) is checked by the ledger
    against the item's latest suggestion."""
    if not isinstance(text, str):
        raise SpanError(f"Item {item_id!r} has no text (it is not a text item), so it cannot "
                        "hold spans; label spans on text items")
    if isinstance(spans, (str, bytes, Mapping)) or not isinstance(spans, Sequence):
        raise SpanError(f"spans must be a list of spans (dicts with start, end and label, or "
                        f"(start, end, label) tuples); got {type(spans).__name__}")
    out = [_one_span(text, span, k, schema, item_id) for k, span in enumerate(spans)]
    ids = [s["id"] for s in out]
    given = [s for s in spans if isinstance(s, Mapping) and "id" in s]
    if given and len(given) != len(out):
        raise SpanError("Give every span an 'id' or none (relations then name spans by "
                        "their position in the list)")
    dupes = sorted({repr(i) for i in ids if ids.count(i) > 1})
    if dupes:
        raise SpanError(f"Span ids must be unique within a submission; repeated: {dupes}")
    _check_layering(out, schema, item_id)
    return out


def _one_span(text: str, span: Any, k: int, schema: SpanSchema, item_id: str) -> dict:
    where = f"span {k} on item {item_id!r}"
    if isinstance(span, Mapping):
        unknown = set(span) - _SPAN_KEYS
        if unknown:
            raise SpanError(f"{where} has unknown fields {sorted(unknown)}; use "
                            f"{sorted(_SPAN_KEYS)}")
        missing = [key for key in ("start", "end", "label") if key not in span]
        if missing:
            raise SpanError(f"{where} lacks {missing}; a span is {{'start': ..., 'end': ..., "
                            "'label': ...}")
        start, end, label = span["start"], span["end"], span["label"]
    elif isinstance(span, (tuple, list)) and len(span) == 3:
        (start, end, label), span = span, {}
    else:
        raise SpanError(f"{where} must be a dict with start, end and label, or a (start, end, "
                        f"label) tuple; got {type(span).__name__} {span!r:.60}")
    where = f"{where} ({start!r}, {end!r}, {label!r})"
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise SpanError(f"{where}: {name} must be an int (a code-point offset), not "
                            f"{type(value).__name__}; offsets counted by a browser are UTF-16: "
                            "convert them with hitl_widgets.core.spans.from_utf16")
    start, end = int(start), int(end)
    if not 0 <= start < end <= len(text):
        reason = ("start must be before end (an empty span marks nothing)" if start >= end
                  else f"offsets must lie in 0..{len(text)} (the text's length in code points)")
        raise SpanError(f"{where}: {reason}")
    try:
        label = schema.validate(label)
    except SchemaError as exc:
        raise SpanError(f"{where}: {exc}") from None
    covered = text[start:end]
    if "text" in span and span["text"] != covered:
        raise SpanError(f"{where}: its text {span['text']!r:.60} does not match the item's "
                        f"text there, {covered!r:.60}; the offsets are wrong (UTF-16 offsets "
                        "from a browser? convert them with from_utf16) or the text changed")
    if _SURROGATE.search(covered):
        raise SpanError(f"{where}: covers a lone surrogate; the text is not valid Unicode")
    if "id" in span and (isinstance(span["id"], bool)
                         or not isinstance(span["id"], (str, numbers.Integral))):
        raise SpanError(f"{where}: its id must be a str or an int (the name relations use), "
                        f"not {type(span['id']).__name__}")
    extra = span.get("extra")
    if extra is not None and not isinstance(extra, Mapping):
        raise SpanError(f"{where}: extra must be a dict, not {type(extra).__name__}")
    taken = sorted({"start", "end", "text", "suggestion_id"} & set(extra or {}))
    if taken:
        raise SpanError(f"{where}: extra may not hold {taken}; the span's own fields keep them")
    return {"start": start, "end": end, "label": label, "text": covered,
            "id": span.get("id", k), "score": span.get("score"), "source": span.get("source"),
            "extra": dict(extra or {}), "suggestion_id": span.get("suggestion_id")}


def _check_layering(spans: list[dict], schema: SpanSchema, item_id: str) -> None:
    """One layer: no two spans share a character. Overlapping: no span twice."""
    seen: dict[tuple, Any] = {}
    for s in spans:
        key = (s["start"], s["end"], s["label"])
        if key in seen:
            raise SpanError(f"Spans {seen[key]!r} and {s['id']!r} on item {item_id!r} are the "
                            f"same span {key}; give it once")
        seen[key] = s["id"]
    if schema.overlapping:
        return
    ordered = sorted(spans, key=lambda s: (s["start"], s["end"]))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after["start"] < before["end"]:
            raise SpanError(
                f"Spans {before['id']!r} ({before['start']}-{before['end']} {before['label']}) "
                f"and {after['id']!r} ({after['start']}-{after['end']} {after['label']}) on item "
                f"{item_id!r} overlap, and this project's spans are one layer; remove one, or "
                "create the project with overlapping=True")


def check_relations(relations: Any, spans: list[dict], schema: SpanSchema, *,
                    item_id: str) -> list[tuple[int, int, str]]:
    """(head position, child position, label) per relation; head and child name spans of the
    same submission by their ``id`` (their position in the list when none was given)."""
    if isinstance(relations, (str, bytes, Mapping)) or not isinstance(relations, Sequence):
        raise SpanError(f"relations must be a list of relations (dicts with head, child and "
                        f"label); got {type(relations).__name__}")
    position = {s["id"]: k for k, s in enumerate(spans)}
    out: list[tuple[int, int, str]] = []
    for k, rel in enumerate(relations):
        where = f"relation {k} on item {item_id!r}"
        if isinstance(rel, Mapping):
            unknown = set(rel) - _RELATION_KEYS
            if unknown or len(rel) != 3:
                raise SpanError(f"{where} must have exactly the fields head, child and label; "
                                f"got {sorted(rel)}")
            head, child, label = rel["head"], rel["child"], rel["label"]
        elif isinstance(rel, (tuple, list)) and len(rel) == 3:
            head, child, label = rel
        else:
            raise SpanError(f"{where} must be a dict with head, child and label, or a (head, "
                            f"child, label) tuple; got {rel!r:.60}")
        try:
            label = schema.validate(label, relation=True)
        except SchemaError as exc:
            raise SpanError(f"{where}: {exc}") from None
        for name, ref in (("head", head), ("child", child)):
            if _hashable(ref) not in position:
                raise SpanError(f"{where}: its {name} {ref!r} names no span of this submission; "
                                f"the spans' ids are {list(position)[:20]}")
        if position[head] == position[child]:
            raise SpanError(f"{where}: head and child are the same span {head!r}; a relation "
                            "links two spans")
        triple = (position[head], position[child], label)
        if triple in out:
            raise SpanError(f"{where}: the same relation ({head!r} -> {child!r}, {label}) is "
                            "given twice")
        out.append(triple)
    return out


def _hashable(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return object()  # never a key: reported as naming no span
    return value


# -- reading the current spans --------------------------------------------------------------
def current(store: Any, annotator: str | None = None) -> tuple[dict, list[dict], list[dict]]:
    """(current submissions by (item, annotator), their live spans, their live relations),
    oldest first. ``store`` is a :class:`Store`."""
    latest = current_submissions(store, annotator)
    keep = {e["seq"] for e in latest.values()}
    spans, relations = [], []
    for e in store.live_events(["span", "relation"]):
        if e["target"] in keep:
            (spans if e["kind"] == "span" else relations).append(e)
    live = {e["seq"] for e in spans}
    # A relation is retracted with its spans; one still pointing at a retracted span could only
    # come from a file edited by hand, and is not shown.
    relations = [r for r in relations
                 if r["extra"]["head"] in live and r["extra"]["child"] in live]
    return latest, spans, relations


# The mark in a ``spans`` event's extra that makes it an adjudicator's resolution of the item
# (written by ``Ledger.submit_spans(resolution=True)``, read here only).
RESOLUTION_KEY = "resolution"


def resolution_submissions(store: Any) -> dict[int, dict]:
    """The current submissions that are adjudicators' resolutions: seq → its ``spans`` event.
    ``store`` is a :class:`Store`."""
    latest = current_submissions(store)
    return {e["seq"]: e for e in latest.values() if (e["extra"] or {}).get(RESOLUTION_KEY)}


def current_submissions(store: Any, annotator: str | None = None) -> dict[tuple[str, str], dict]:
    """The current ``spans`` submission by (item, annotator): the newest live one."""
    latest: dict[tuple[str, str], dict] = {}
    for e in store.live_events(["spans"]):
        if annotator is None or e["annotator"] == annotator:
            latest[(e["item_id"], e["annotator"])] = e  # oldest first: the last one stays
    return latest


def span_row(e: dict) -> dict:
    """One row of ``Project.spans()`` from a span event."""
    x = e["extra"]
    return {"item_id": e["item_id"], "annotator": e["annotator"], "start": x["start"],
            "end": x["end"], "label": e["labels"][0], "span_id": e["seq"], "text": x["text"],
            "source": e["source"], "score": e["score"], "submission": e["target"],
            "created_at": e["created_at"]}


def relation_row(e: dict) -> dict:
    """One row of ``Project.relations()`` from a relation event."""
    return {"item_id": e["item_id"], "annotator": e["annotator"], "head": e["extra"]["head"],
            "child": e["extra"]["child"], "label": e["labels"][0], "relation_id": e["seq"],
            "submission": e["target"], "created_at": e["created_at"]}


def frame(rows: list[dict], columns: list[str]):
    """A DataFrame of these rows, typed even when empty; times as UTC timestamps."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=columns)
    for col in ("start", "end", "span_id", "submission", "head", "child", "relation_id",
                "n_spans", "n_relations"):
        if col in df:
            df[col] = df[col].astype("int64")
    if "score" in df:
        df["score"] = df["score"].astype("float64")
    df["created_at"] = pd.to_datetime(df["created_at"].astype("float64"), unit="s", utc=True)
    return df


SUBMISSION_COLUMNS = ["item_id", "annotator", "submission", "n_spans", "n_relations", "source",
                      "ms_on_item", "created_at"]


def spans_frame(store: Any, annotator: str | None = None):
    """The current spans, oldest first: a DataFrame with :data:`FRAME_COLUMNS` (the frame
    every span function takes). ``store`` is a :class:`Store`."""
    _, spans, _ = current(store, annotator)
    return frame([span_row(e) for e in spans], FRAME_COLUMNS)


def relations_frame(store: Any, annotator: str | None = None):
    """The current relations, oldest first (``head``/``child`` are ``span_id``s)."""
    _, _, relations = current(store, annotator)
    return frame([relation_row(e) for e in relations], RELATION_COLUMNS)


def submissions_frame(store: Any, annotator: str | None = None):
    """The current submission per (item, annotator), with how many spans and relations it
    holds now: an item submitted with no spans has a row with ``n_spans == 0``."""
    latest, spans, relations = current(store, annotator)
    n_spans: dict[int, int] = {}
    n_rel: dict[int, int] = {}
    for e in spans:
        n_spans[e["target"]] = n_spans.get(e["target"], 0) + 1
    for e in relations:
        n_rel[e["target"]] = n_rel.get(e["target"], 0) + 1
    rows = [{"item_id": e["item_id"], "annotator": e["annotator"], "submission": e["seq"],
             "n_spans": n_spans.get(e["seq"], 0), "n_relations": n_rel.get(e["seq"], 0),
             "source": e["source"], "ms_on_item": e["ms_on_item"], "created_at": e["created_at"]}
            for e in sorted(latest.values(), key=lambda e: e["seq"])]
    df = frame(rows, SUBMISSION_COLUMNS)
    df["ms_on_item"] = df["ms_on_item"].astype("Int64")
    return df
