"""What every span format shares: the documents an export writes (one per current submission),
the report it returns, and the one path an import writes through.

Example
-------
>>> report = SpanExport("jsonl", documents=1, spans=2, exported=1, relations=0,
...                     relations_exported=0, problems=[Problem("a", "ana", 7, 0, 2, "PER",
...                     "Ad", "misaligned")])
>>> report.counts()
{'misaligned': 1}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..store import (
    Ledger,
    StoreError,
    build_records,
    relations_frame,
    spans_frame,
    submissions_frame,
)


@dataclass(frozen=True)
class Problem:
    """A span (or relation) an export could not carry, and why: ``misaligned`` (its edges are
    not token edges), ``overlap`` (the format holds one layer and an earlier span covers it),
    or ``relation`` (a relation whose span was not exported)."""

    item_id: str
    annotator: str
    span_id: int
    start: int
    end: int
    label: str
    text: str
    reason: str


@dataclass
class SpanExport:
    """What an export wrote: counts, and every span it could not carry, by item and span id.
    Nothing is left out without a :class:`Problem` naming it."""

    format: str
    documents: int
    spans: int
    exported: int
    relations: int
    relations_exported: int
    problems: list[Problem] = field(default_factory=list)
    path: str | None = None
    data: Any = None  # the DocBin, the list of records, or the CoNLL text

    @property
    def misaligned(self) -> list[Problem]:
        """The spans whose edges are not token edges."""
        return [p for p in self.problems if p.reason == "misaligned"]

    def counts(self) -> dict[str, int]:
        """How many problems of each reason."""
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.reason] = out.get(p.reason, 0) + 1
        return out

    def __repr__(self) -> str:
        return (f"SpanExport({self.format!r}, documents={self.documents}, "
                f"spans={self.exported}/{self.spans}, relations="
                f"{self.relations_exported}/{self.relations}, problems={self.counts()})")


@dataclass
class SpanImport:
    """What an import wrote: items added, submissions, spans and relations, the records
    passed over (answer not ``accept``, or a CoNLL document with problems), by position, and
    the problems that left them out."""

    items_added: int = 0
    submissions: int = 0
    spans: int = 0
    relations: int = 0
    skipped: list[int] = field(default_factory=list)
    problems: list = field(default_factory=list)


@dataclass
class Document:
    """One current submission: the item's text and the annotator's spans and relations."""

    item_id: str
    annotator: str
    text: str
    spans: list[dict]  # rows of Project.spans(), by start
    relations: list[dict]  # rows of Project.relations()


def documents(project: Any, annotator: str | None = None) -> list[Document]:
    """One :class:`Document` per current submission (also those with no spans), in the order
    they were submitted."""
    ledger = Ledger.of(project)
    subs = submissions_frame(ledger.store, annotator)
    spans = spans_frame(ledger.store, annotator).to_dict("records")
    relations = relations_frame(ledger.store, annotator).to_dict("records")
    texts = {i: r.text for i, r in ledger.store.get_items(list(set(subs["item_id"]))).items()}
    by_sub: dict[int, Document] = {}
    for sub in subs.to_dict("records"):
        by_sub[sub["submission"]] = Document(sub["item_id"], sub["annotator"],
                                             texts[sub["item_id"]], [], [])
    for s in spans:
        by_sub[s["submission"]].spans.append(s)
    for r in relations:
        by_sub[r["submission"]].relations.append(r)
    for doc in by_sub.values():
        doc.spans.sort(key=lambda s: (s["start"], s["end"], s["span_id"]))
    return list(by_sub.values())


def problem(doc: Document, span: dict, reason: str) -> Problem:
    return Problem(doc.item_id, doc.annotator, int(span["span_id"]), int(span["start"]),
                   int(span["end"]), span["label"], span["text"], reason)


def relation_problems(doc: Document, kept: set[int]) -> tuple[list[dict], list[Problem]]:
    """The relations both of whose spans were exported, and a Problem for each other one."""
    ok, bad = [], []
    by_id = {s["span_id"]: s for s in doc.spans}
    for r in doc.relations:
        if r["head"] in kept and r["child"] in kept:
            ok.append(r)
        else:
            lost = by_id[r["head"] if r["head"] not in kept else r["child"]]
            bad.append(problem(doc, lost, "relation"))
    return ok, bad


def write_documents(project: Any, docs: Iterable[tuple[str | None, str, str, list, list]],
                    *, source: str = "human") -> SpanImport:
    """Write (item_id or None, annotator, text, spans, relations) records in one transaction:
    each item added if new (an id derived from its text when None), each record one
    submission. All or nothing: a bad record raises naming it, and nothing is written."""
    ledger = Ledger.of(project)
    report = SpanImport()
    with ledger.transaction():
        for k, (item_id, annotator, text, spans, relations) in enumerate(docs):
            try:
                record = build_records([text], id=None if item_id is None else [item_id])[0]
                added, _ = ledger.add_items([record], notify="items")
                report.items_added += added
                ledger.submit_spans(record.item_id, spans, annotator=annotator,
                                    relations=relations, source=source)
            except (ValueError, KeyError, TypeError, StoreError) as exc:
                raise type(exc)(f"record {k} (item {item_id!r}): {exc}; nothing was "
                                "imported") from exc
            report.submissions += 1
            report.spans += len(spans)
            report.relations += len(relations)
    return report
