"""The SpanLabeler widget: mark spans (and relations between them) in text, by keyboard or mouse.

It is the Labeler's machinery with spans for answers: the browser holds the next items (with
their token offsets and any suggested spans) and draws the next one on the keypress; a submission
travels as one message and is acknowledged once durable. Offsets are code points everywhere
past the browser; the view converts what the DOM measures (UTF-16) and the kernel checks it
again (docs/span_labeler.md).

Example
-------
>>> import hitl_widgets as hw                                               # doctest: +SKIP
>>> project = hw.Project("ner.hitl", span_labels=["PER", "ORG"], relation_labels=["works_at"])  # doctest: +SKIP
>>> project.add_items(["Ada Lovelace met Babbage at the Royal Society."])  # doctest: +SKIP
>>> hw.SpanLabeler(project, annotator="ana", tokenizer="whitespace")       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._base import Check, Field, Intent, Record, integer, log, nullable, text
from ._queued import IDLE_AFTER_S, ITEM, MS, QUEUE_INTENTS, SEQ, QueuedWidget
from .core.labeling import Queue
from .core.project import Project
from .core.quality import span_review
from .core.spans import OffsetError, from_utf16, tokenizer_from
from .core.spans import check_tokens as _check_tokens

__all__ = ["SpanLabeler"]

_JS = Path(__file__).parent / "js"
MAX_SPANS = 10_000  # per submission: more is a runaway loop in a view, not an annotator


class RecordList(Check):
    """A list of objects, each checked by ``record`` and named ``name[k].field`` in errors."""

    def __init__(self, record: Record, *, example: str):
        super().__init__(f"a list of objects like {example} (at most {MAX_SPANS})",
                         lambda v: isinstance(v, list) and len(v) <= MAX_SPANS)
        self.record = record

    def __call__(self, value: Any, name: str) -> list[dict]:
        return [self.record(v, f"{name}[{k}]") for k, v in enumerate(super().__call__(value, name))]


def _pair() -> Check:
    return Check("a [start, end] pair of integers",
                 lambda v: isinstance(v, list) and len(v) == 2
                 and all(isinstance(x, int) and not isinstance(x, bool) for x in v))


_SPAN = Record({
    "id": Field(integer(minimum=0)),  # the view's own number for the span; relations name it
    "start": Field(integer(minimum=0)),  # code points
    "end": Field(integer(minimum=0)),
    "label": Field(text()),
    "text": Field(text(), required=False),  # the covered text as the view saw it
    "utf16": Field(nullable(_pair()), required=False),  # the DOM's own offsets, checked too
    "suggestion_id": Field(nullable(text()), required=False),
})
_RELATION = Record({"head": Field(integer(minimum=0)), "child": Field(integer(minimum=0)),
                    "label": Field(text())})
# skip, undo and fetch are every queue view's; a submission carries spans instead of labels.
INTENTS = {
    **QUEUE_INTENTS,
    "submit": Intent("_on_submit", {
        "item_id": ITEM, "ms_on_item": MS, "client_seq": SEQ,
        "spans": Field(RecordList(_SPAN, example='{"id": 0, "start": 0, "end": 3, "label": "PER"}')),
        "relations": Field(RecordList(_RELATION, example='{"head": 0, "child": 1, "label": "r"}'),
                           required=False),
    }),
}

Suggest = Callable[[str], Any]


class SpanLabeler(QueuedWidget):
    """Mark spans in a span project's text items, and relations between them.

    Parameters
    ----------
    project : a :class:`~hitl_widgets.Project` with ``span_labels`` (and optionally
        ``relation_labels``, ``overlapping=True``).
    annotator : who is labeling; each annotator sees the items they have not answered yet.
    tokenizer : where the keyboard caret stops and mouse selections snap: ``"whitespace"``
        (default), a regex, ``"spacy"`` (a blank spaCy tokenizer; needs spaCy), a spaCy
        ``Language``, or a callable ``text -> [(start, end)]`` (code points).
    snap : snap mouse selections out to whole tokens (default True).
    suggest : optional ``text -> [(start, end, label, score)]`` (or any suggester of
        :mod:`hitl_widgets.core.spans`: ``keyword_suggester``, ``regex_suggester``,
        ``spacy_suggester``). Items reach the view with the project's stored suggestions
        (``project.suggest_spans``), drawn dashed, accepted one by one or all at once; with
        ``suggest``, an item without a suggestion of ``model_version`` gets one stored first,
        so every suggested span ends as accepted, edited, deleted or added
        (``project.span_outcomes()``).
    model_version : the name ``suggest``'s suggestions are stored under (default: its name).
    queue, prefetch : what to show next, and how many upcoming items the browser holds (as
        for :class:`~hitl_widgets.Labeler`).
    idle_after_s : seconds without input after which the time does not count (default 30);
        each submit and skip is stored with ``ms_on_item``, the *active* time on the item,
        measured as for :class:`~hitl_widgets.Labeler`.
    """

    _esm = _JS / "span_labeler.js"
    _css = _JS / "span_labeler.css"
    _intents = INTENTS

    def __init__(self, project: Project, *, annotator: str = "default",
                 tokenizer: Any = "whitespace", snap: bool = True, suggest: Suggest | None = None,
                 model_version: str | None = None, queue: Queue | None = None,
                 prefetch: int = 8, idle_after_s: float = IDLE_AFTER_S, **kwargs: Any) -> None:
        if isinstance(project, Project) and project.span_schema is None:
            raise ValueError(f"{project.path} has no span task; open it with "
                             "hw.Project(path, span_labels=['PER', 'ORG'])")
        if not isinstance(snap, bool):
            raise TypeError(f"snap must be True or False, not {snap!r}")
        if suggest is not None and not callable(suggest):
            raise TypeError(f"suggest must be a callable text -> [(start, end, label, score)], "
                            f"not {type(suggest).__name__}")
        self._tokenize = tokenizer_from(tokenizer)
        self._tokenizer_name = tokenizer if isinstance(tokenizer, str) else type(tokenizer).__name__
        self._snap = snap
        self._suggest = suggest
        self._unsuggested: set[str] = set()  # items ``suggest`` failed on (shown without)
        self._model_version = model_version or getattr(suggest, "__name__", None) or type(
            suggest).__name__
        if not isinstance(self._model_version, str) or not self._model_version.strip():
            raise ValueError(f"model_version must be a non-empty str, not {model_version!r}")
        super().__init__(project, annotator=annotator, queue=queue, prefetch=prefetch,
                         idle_after_s=idle_after_s, **kwargs)

    def _schema_of(self, project: Project) -> dict:
        return {**project.span_schema.to_json(), "tokenizer": str(self._tokenizer_name)[:40],
                "snap": self._snap}

    # -- what the view draws ----------------------------------------------------------------
    def _payloads(self, ids: list[str]) -> tuple[list[dict], list[bytes]]:
        payloads, buffers = self.session.payloads(ids)
        texts = [p for p in payloads if p.get("kind") == "text" and isinstance(p.get("text"), str)]
        suggested = self._suggestions([p["item_id"] for p in texts])
        # Other annotators' spans only for a queue that reveals them (an adjudicator's): a
        # blind or ordinary session's payloads never hold them, as the browser sees it all.
        review = (span_review(self.project, [p["item_id"] for p in texts],
                              annotator=self.session.annotator)
                  if self.session.queue.reveals_labels and texts else {})
        for p in texts:
            shown = p["text"]
            try:
                p["tokens"] = [list(t) for t in _check_tokens(shown, self._tokenize(shown))]
            except Exception as exc:  # the view still moves by characters
                p["tokens"] = []
                self._fail(f"The tokenizer failed on item {p['item_id']!r}: {exc}")
            p["suggestions"] = suggested.get(p["item_id"], [])
            if self.session.queue.reveals_labels:
                seen = review.get(p["item_id"], {})
                p["others"] = seen.get("others", {})
                p["consensus"] = seen.get("consensus", [])
                p["reason"] = seen.get("reason")
        return payloads, buffers

    def _suggestions(self, item_ids: list[str]) -> dict[str, list[dict]]:
        """The stored suggestions of these items, as the view takes them. With ``suggest``,
        items without one of this model version get one stored first (one batch); items it
        fails on are shown without and named in the error line."""
        if not item_ids:
            return {}
        project = self.project
        if self._suggest is not None:
            have = project.span_suggestions(item_ids)
            missing = [i for i in item_ids if i not in self._unsuggested
                       and have.get(i, {}).get("model_version") != self._model_version]
            if missing:
                try:
                    report = project.suggest_spans(self._suggest, missing, errors="skip",
                                                   model_version=self._model_version,
                                                   progress=False)
                except Exception as exc:  # the items are still shown, without suggestions
                    log.exception("suggest failed")
                    self._fail(f"suggest failed: {exc}")
                else:
                    if report.failed:
                        self._unsuggested.update(report.failed)  # not asked again: it failed
                        first = next(iter(report.failed.items()))
                        self._fail(f"suggest failed on {len(report.failed)} item(s), e.g. "
                                   f"{first[0]!r}: {first[1]}; they are shown without")
        return {item_id: [{"start": s["start"], "end": s["end"], "label": s["label"],
                           "score": s["score"], "suggestion_id": s["suggestion_id"]}
                          for s in got["spans"]]
                for item_id, got in project.span_suggestions(item_ids).items()}

    # -- intents ------------------------------------------------------------------------------
    def _on_submit(self, msg: dict) -> None:
        def write() -> int:
            text = self._text_of(msg["item_id"])
            spans = [_stored(s, text) for s in msg["spans"]]
            relations = [(r["head"], r["child"], r["label"]) for r in msg["relations"] or []]
            return self.session.submit_spans(msg["item_id"], spans, relations=relations,
                                             ms_on_item=msg["ms_on_item"])

        self._commit(msg, write)

    def _text_of(self, item_id: str) -> str | None:
        record = self.session.ledger.store.get_items([item_id]).get(item_id)
        if record is None:
            raise KeyError(f"Unknown item id {item_id!r}; add it first with project.add_items(...)")
        return record.text


def _stored(span: dict, text: str | None) -> dict:
    """A span of the view's as the ledger takes it, its UTF-16 offsets checked against its
    code points (the view converted them; a mismatch is a bug there, and writes nothing)."""
    out: dict[str, Any] = {"id": span["id"], "start": span["start"], "end": span["end"],
                           "label": span["label"]}
    if span["text"] is not None:
        out["text"] = span["text"]
    if span["suggestion_id"] is not None:  # checked by the ledger against the stored suggestion
        out["suggestion_id"] = span["suggestion_id"]
    if span["utf16"] is not None and isinstance(text, str):
        try:
            converted = from_utf16(text, span["utf16"])
        except OffsetError as exc:
            raise ValueError(f"span {span['id']}: {exc}") from None
        if converted != [span["start"], span["end"]]:
            raise ValueError(f"span {span['id']}: UTF-16 offsets {span['utf16']} are code points "
                             f"{converted}, not [{span['start']}, {span['end']}]; nothing was "
                             "saved (the view's offset conversion is wrong: please report it)")
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
