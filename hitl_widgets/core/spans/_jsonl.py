"""Prodigy-style JSONL: one record per item and annotator, with ``text``, ``spans``
(``start``/``end``/``label``, code points, end exclusive), ``relations`` (``head_span`` and
``child_span`` as spans, ``label``), ``answer`` and ``_annotator_id``; the item id is kept in
``meta.item_id``. No tokenizer is involved, so every span is carried.

Prodigy's own relation records also give ``head``/``child`` as token indices; without tokens
those are left out, and an import matches a relation's spans by their offsets and label.

Example
-------
>>> import os, tempfile
>>> import hitl_widgets as hw
>>> project = hw.Project(os.path.join(tempfile.mkdtemp(), "ner.hitl"), span_labels=["PER"])
>>> _ = project.add_items(["Ada Lovelace wrote"], id=["a"])
>>> _ = project.submit_spans("a", [(0, 12, "PER")], annotator="ana")
>>> to_jsonl(project).data[0]["spans"]
[{'start': 0, 'end': 12, 'label': 'PER', 'text': 'Ada Lovelace'}]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..store import Ledger, SpanError
from ._common import SpanExport, SpanImport, documents, write_documents


def to_jsonl(project: Any, path: str | Path | None = None, *,
             annotator: str | None = None) -> SpanExport:
    """Export the current spans as Prodigy-style records; written to ``path`` (UTF-8, one JSON
    object a line) when given. ``data`` is the list of records."""
    records = []
    report = SpanExport("jsonl", 0, 0, 0, 0, 0)
    for d in documents(Ledger.of(project), annotator):
        span_of = {s["span_id"]: _span(s) for s in d.spans}
        records.append({
            "text": d.text,
            "spans": list(span_of.values()),
            "relations": [{"head_span": span_of[r["head"]], "child_span": span_of[r["child"]],
                           "label": r["label"]} for r in d.relations],
            "answer": "accept",
            "_annotator_id": d.annotator,
            "meta": {"item_id": d.item_id},
        })
        report.documents += 1
        report.spans += len(d.spans)
        report.exported += len(d.spans)
        report.relations += len(d.relations)
        report.relations_exported += len(d.relations)
    if path is not None:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        report.path = str(path)
    report.data = records
    return report


def from_jsonl(project: Any, source: str | Path | Iterable[Mapping], *,
               annotator: str | None = None) -> SpanImport:
    """Import Prodigy-style records (a path to a JSONL file, or the records) in one
    transaction (all or nothing). Records whose ``answer`` is not ``accept`` are passed over
    and listed in ``skipped``; a record without ``answer`` counts as accepted. The annotator
    is ``_annotator_id``, else ``annotator``; the item id ``meta.item_id``, else one derived
    from the text."""
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    else:
        rows = list(source)
    records, skipped = [], []
    for k, row in enumerate(rows):
        if not isinstance(row, Mapping) or not isinstance(row.get("text"), str):
            raise SpanError(f"record {k} has no 'text'; a record is {{'text': ..., 'spans': "
                            "[...]}; nothing was imported")
        if row.get("answer", "accept") != "accept":
            skipped.append(k)
            continue
        who = row.get("_annotator_id", annotator)
        if who is None:
            raise SpanError(f"record {k} names no annotator (_annotator_id); pass "
                            "annotator='...' to name it; nothing was imported")
        spans = [{key: s[key] for key in ("start", "end", "label", "text") if key in s}
                 for s in row.get("spans") or []]
        relations = [_relation(k, r, spans) for r in row.get("relations") or []]
        meta = row.get("meta") or {}
        records.append((meta.get("item_id"), who, row["text"], spans, relations))
    report = write_documents(Ledger.of(project), records)
    report.skipped = skipped
    return report


def _span(s: dict) -> dict:
    return {"start": int(s["start"]), "end": int(s["end"]), "label": s["label"], "text": s["text"]}


def _relation(k: int, rel: Mapping, spans: list[dict]) -> tuple[int, int, str]:
    """(head position, child position, label): the relation's spans found among the record's."""
    where = {(s.get("start"), s.get("end"), s.get("label")): n for n, s in enumerate(spans)}
    ends = []
    for side in ("head_span", "child_span"):
        s = rel.get(side)
        key = None if not isinstance(s, Mapping) else (s.get("start"), s.get("end"), s.get("label"))
        if key not in where:
            raise SpanError(f"record {k}: a relation's {side} {s!r:.80} is not among the "
                            "record's spans; give head_span and child_span as spans of "
                            "'spans'; nothing was imported")
        ends.append(where[key])
    return ends[0], ends[1], rel.get("label")
