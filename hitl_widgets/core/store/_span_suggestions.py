"""Span suggestions in the log: a model's spans for an item, as one ``suggestion`` event.

Why the existing ``suggestion`` kind and no new one: a span suggestion is what that kind already
records, a model's (or an LF's) proposal for an item that is never an answer, so sessions,
queues, progress and the label index ignore it as they ignore label suggestions, and no
migration is needed. What tells the two apart is ``labels``: a label suggestion always has
them, a span suggestion has none (``Store.latest_suggestions``, which the Labeler reads, takes
only those with labels). The event holds ``extra = {"version": model_version, "spans": [...]}``
(each span ``start, end, label, text, score``). Span ``k`` of the suggestion with seq ``s`` has
the id ``"s:k"``: stable, since events never change.

Example
-------
>>> from hitl_widgets.core.store import SpanSchema
>>> schema = SpanSchema.build(["PER", "ORG"])
>>> [s["text"] for s in check_suggestion("Ada works at IBM", [(13, 16, "ORG", 0.9),
...                                      (0, 3, "PER")], schema, item_id="a")]
['Ada', 'IBM']
>>> suggestion_id(12, 0), parse_suggestion_id("12:0")
('12:0', (12, 0))
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._schema import SpanSchema
from ._spans import SpanError, check_spans, current

_SUGGESTED_KEYS = {"start", "end", "label", "score", "text"}
_ID = re.compile(r"^(\d+):(\d+)$")


def suggestion_id(seq: int, k: int) -> str:
    """The id of span ``k`` of the suggestion event ``seq``."""
    return f"{int(seq)}:{int(k)}"


def parse_suggestion_id(value: Any) -> tuple[int, int]:
    """``(suggestion seq, k)`` from an id made by :func:`suggestion_id`, or SpanError."""
    match = _ID.match(value) if isinstance(value, str) else None
    if match is None:
        raise SpanError(f"suggestion_id {value!r:.40} is not a suggested span's id (a string "
                        "like '12:0'); take ids from project.span_suggestions(...)")
    return int(match[1]), int(match[2])


def check_suggestion(text: Any, spans: Any, schema: SpanSchema, *,
                     item_id: str) -> list[dict]:
    """A model's spans for one item as they will be stored (start, end, label, text, score),
    sorted by (start, end, label), or SpanError naming the item and the span.

    ``spans``: an iterable of ``(start, end, label)`` or ``(start, end, label, score)`` tuples,
    or dicts with ``start``, ``end``, ``label`` and optionally ``score`` and ``text``. The same
    checks as an annotator's spans (offsets in range, labels in the schema, no overlap in a
    one-layer task), and a score is None or a finite number (NaN is refused: a model that
    returns it has a bug a ranking would hide).
    """
    if isinstance(spans, (str, bytes, Mapping)) or not isinstance(spans, Iterable):
        raise SpanError(f"the suggester returned {type(spans).__name__} for item {item_id!r}; "
                        "it must return a list of (start, end, label[, score]) tuples or "
                        "dicts with start, end, label[, score]")
    given = []
    for k, span in enumerate(list(spans)):
        where = f"suggested span {k} on item {item_id!r}"
        if isinstance(span, Mapping):
            unknown = set(span) - _SUGGESTED_KEYS
            if unknown:
                raise SpanError(f"{where} has unknown fields {sorted(unknown)}; a suggested "
                                f"span has {sorted(_SUGGESTED_KEYS)}")
            one = dict(span)
        elif isinstance(span, (tuple, list)) and len(span) in (3, 4):
            one = dict(zip(("start", "end", "label", "score"), span, strict=False))
        else:
            raise SpanError(f"{where} must be a (start, end, label[, score]) tuple or a dict; "
                            f"got {type(span).__name__} {span!r:.60}")
        one["score"] = _check_score(one.get("score"), where)
        given.append(one)
    try:
        checked = check_spans(text, given, schema, item_id=item_id)
    except SpanError as exc:
        raise SpanError(f"the suggester's spans for item {item_id!r}: {exc}") from None
    out = [{"start": s["start"], "end": s["end"], "label": s["label"], "text": s["text"],
            "score": s["score"]} for s in checked]
    return sorted(out, key=lambda s: (s["start"], s["end"], s["label"]))


def _check_score(score: Any, where: str) -> float | None:
    if score is None:
        return None
    if isinstance(score, bool) or not isinstance(score, numbers.Real):
        raise SpanError(f"{where}: its score must be a number or None, not "
                        f"{type(score).__name__} {score!r:.40}")
    score = float(score)
    if not math.isfinite(score):
        raise SpanError(f"{where}: its score is {score}; a score must be a finite number (or "
                        "None for no score): check the model's output")
    return score


def is_span_suggestion(event: dict) -> bool:
    """Whether a ``suggestion`` event suggests spans (not a label)."""
    return event["kind"] == "suggestion" and event["labels"] is None \
        and isinstance(event.get("extra"), dict) and "spans" in event["extra"]


def suggestion_payload(event: dict) -> dict:
    """What ``Project.span_suggestions`` returns for one item, from its suggestion event."""
    seq = event["seq"]
    return {"model_version": event["extra"].get("version"), "suggestion_seq": seq,
            "source": event["source"],
            "spans": [{**s, "suggestion_id": suggestion_id(seq, k)}
                      for k, s in enumerate(event["extra"]["spans"])]}


def check_suggestion_ids(spans: Sequence[dict], latest: dict | None, item_id: str) -> None:
    """Every ``suggestion_id`` among these checked spans names a span of ``latest`` (the item's
    newest span suggestion event, or None), at most once; SpanError otherwise."""
    seen: dict[str, Any] = {}
    for s in spans:
        sid = s.get("suggestion_id")
        if sid is None:
            continue
        seq, k = parse_suggestion_id(sid)
        if latest is None:
            raise SpanError(f"span {s['id']!r} on item {item_id!r} names suggestion {sid!r}, but "
                            "the item has no span suggestion; drop suggestion_id for a span "
                            "drawn by hand")
        n = len(latest["extra"]["spans"])
        if seq != latest["seq"] or not 0 <= k < n:
            raise SpanError(
                f"span {s['id']!r} on item {item_id!r} names suggestion {sid!r}, which is not a "
                f"span of the item's latest suggestion (ids {latest['seq']}:0 to "
                f"{latest['seq']}:{n - 1}); reload project.span_suggestions([{item_id!r}])")
        if sid in seen:
            raise SpanError(f"spans {seen[sid]!r} and {s['id']!r} on item {item_id!r} both name "
                            f"suggestion {sid!r}; a suggested span becomes at most one span")
        seen[sid] = s["id"]


def span_suggestions(store: Any, item_ids: Sequence[str]) -> dict[str, dict]:
    """The latest span suggestion per item, for the items that have one: ``{item_id:
    {"model_version", "suggestion_seq", "source", "spans": [{start, end, label, text, score,
    suggestion_id}]}}``. ``store`` is a :class:`Store`."""
    latest = store.latest_suggestions(list(item_ids), spans=True)
    return {i: suggestion_payload(e) for i, e in latest.items() if is_span_suggestion(e)}


def span_suggestion_events(store: Any, item_ids: Sequence[str] | None = None) -> list[dict]:
    """Every span suggestion event (of these items), oldest first."""
    return [e for e in store.live_events(["suggestion"], item_ids) if is_span_suggestion(e)]


def submitted_spans(store: Any, annotator: str | None = None) -> list[dict]:
    """The current submission per (item, annotator), oldest first, with its live spans as
    submitted: ``{item_id, annotator, submission, ms_on_item, spans: [{span_id, start, end,
    label, suggestion_id}]}``. What the suggestion → final diff is computed from."""
    latest, spans, _ = current(store, annotator)
    parts: dict[int, list[dict]] = {}
    for e in spans:
        x = e["extra"]
        parts.setdefault(e["target"], []).append(
            {"span_id": e["seq"], "start": x["start"], "end": x["end"], "label": e["labels"][0],
             "suggestion_id": x.get("suggestion_id")})
    return [{"item_id": e["item_id"], "annotator": e["annotator"], "submission": e["seq"],
             "ms_on_item": e["ms_on_item"], "spans": parts.get(e["seq"], [])}
            for e in sorted(latest.values(), key=lambda e: e["seq"])]
