"""spaCy's ``DocBin``: ``doc.ents`` for a one-layer task, ``doc.spans[key]`` when spans may
overlap. spaCy is imported when first used (it is not a dependency of hitl_widgets).

Spans become token spans through ``doc.char_span(..., alignment_mode="strict")``; one whose
edges are not token edges under the tokenizer used (``spacy.blank("en")`` unless ``nlp`` is
given) is reported, never dropped silently. Each doc's ``user_data`` keeps its item id,
annotator and relations, so an import restores them.

Example
-------
>>> import os, tempfile
>>> import hitl_widgets as hw
>>> project = hw.Project(os.path.join(tempfile.mkdtemp(), "ner.hitl"), span_labels=["PER"])
>>> _ = project.add_items(["Ada Lovelace wrote"], id=["a"])
>>> _ = project.submit_spans("a", [(0, 12, "PER"), (13, 16, "PER")], annotator="ana")
>>> report = to_docbin(project)
>>> report.exported, [(p.span_id, p.text) for p in report.misaligned]
(1, [(3, 'wro')])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..store import Ledger, SpanError
from ._common import SpanExport, SpanImport, documents, problem, relation_problems, write_documents

SPANS_KEY = "sc"  # spaCy's default key for spancat


def to_docbin(project: Any, path: str | Path | None = None, *, annotator: str | None = None,
              nlp: Any = None, spans_key: str = SPANS_KEY) -> SpanExport:
    """Export the current spans as a ``DocBin`` (one doc per item and annotator); written to
    ``path`` when given. Returns a :class:`SpanExport` whose ``data`` is the DocBin."""
    from spacy.tokens import DocBin

    ledger = Ledger.of(project)
    schema = _schema(ledger)
    nlp = nlp if nlp is not None else blank_english()
    out = DocBin(store_user_data=True)
    report = SpanExport("docbin", 0, 0, 0, 0, 0)
    for d in documents(ledger, annotator):
        doc = nlp.make_doc(d.text)
        kept, index = [], {}
        for s in d.spans:
            span = doc.char_span(s["start"], s["end"], label=s["label"], alignment_mode="strict")
            if span is None:
                report.problems.append(problem(d, s, "misaligned"))
                continue
            index[s["span_id"]] = len(kept)
            kept.append(span)
        if schema.overlapping:
            doc.spans[spans_key] = kept
        else:
            doc.ents = kept
        relations, lost = relation_problems(d, set(index))
        report.problems += lost
        doc.user_data["hitl_widgets"] = {
            "item_id": d.item_id, "annotator": d.annotator,
            "relations": [[index[r["head"]], index[r["child"]], r["label"]] for r in relations],
        }
        out.add(doc)
        report.documents += 1
        report.spans += len(d.spans)
        report.exported += len(kept)
        report.relations += len(d.relations)
        report.relations_exported += len(relations)
    if path is not None:
        out.to_disk(path)
        report.path = str(path)
    report.data = out
    return report


def from_docbin(project: Any, docbin: Any, *, annotator: str | None = None, nlp: Any = None,
                spans_key: str = SPANS_KEY) -> SpanImport:
    """Import a ``DocBin`` (or a path to one) into a project with a span schema: one
    submission per doc, in one transaction (all or nothing). A doc's item id and annotator
    come from its ``user_data`` (as :func:`to_docbin` writes them); ``annotator`` names the
    annotator of docs without one. Spans come from ``doc.ents``, or ``doc.spans[spans_key]``
    when the project's spans may overlap."""
    from spacy.tokens import DocBin

    ledger = Ledger.of(project)
    schema = _schema(ledger)
    if not isinstance(docbin, DocBin):
        docbin = DocBin().from_disk(docbin)
    nlp = nlp if nlp is not None else blank_english()
    records = []
    for k, doc in enumerate(docbin.get_docs(nlp.vocab)):
        ours = doc.user_data.get("hitl_widgets", {})
        who = ours.get("annotator", annotator)
        if who is None:
            raise SpanError(f"doc {k} names no annotator; pass annotator='...' to name the "
                            "annotator of such docs")
        if schema.overlapping:
            found = list(doc.spans[spans_key]) if spans_key in doc.spans else []
        else:
            found = list(doc.ents)
        spans = [{"start": s.start_char, "end": s.end_char, "label": s.label_} for s in found]
        relations = [tuple(r) for r in ours.get("relations", [])]
        records.append((ours.get("item_id"), who, doc.text, spans, relations))
    return write_documents(ledger, records)


def _schema(ledger: Ledger):
    if ledger.span_schema is None:
        raise SpanError(f"{ledger.store.path} declares no span labels; open it with "
                        "Project(path, span_labels=[...]) first")
    return ledger.span_schema


def blank_english():
    """``spacy.blank("en")``: English tokenization rules, no model to download."""
    try:
        import spacy
    except ImportError:
        raise ImportError("spaCy is needed for DocBin: pip install spacy (no model download: "
                          "spacy.blank('en') tokenizes)") from None
    return spacy.blank("en")
