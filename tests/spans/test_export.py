"""Export and import of spans: spaCy DocBin and Prodigy-style JSONL round trips give back the
same spans, misaligned spans are counted exactly (by item and span id), CoNLL/IOB2 is tagged
as the stated tokenization says. Real spaCy (``spacy.blank("en")``, no model download)."""

from __future__ import annotations

import json

import pytest

from hitl_widgets.core.project import Project
from hitl_widgets.core.spans import (
    Problem,
    from_docbin,
    from_jsonl,
    to_conll,
    to_docbin,
    to_jsonl,
)
from hitl_widgets.core.store import SpanError

spacy = pytest.importorskip("spacy")

TEXTS = {
    "ada": "Ada Lovelace worked with Charles Babbage in London.",
    "fire": "👨🏻‍🚒 firemen drive firetrucks",
    "crlf": "Paris\r\nis in France",
    "none": "nothing to see",
}
KEY = ["item_id", "annotator", "start", "end", "label"]


def _project(path, overlapping=False):
    project = Project(path, span_labels=["PER", "LOC", "VEH", "NAME"],
                      relation_labels=["works_with"], overlapping=overlapping)
    project.add_items(list(TEXTS.values()), id=list(TEXTS))
    return project


def _fill(project, overlapping=False):
    ada = [(0, 12, "PER"), (25, 40, "PER"), (44, 50, "LOC")]
    if overlapping:
        ada.append((0, 3, "NAME"))
    project.submit_spans("ada", ada, relations=[(0, 1, "works_with")], annotator="ana")
    project.submit_spans("ada", [(0, 12, "PER")], annotator="bob")
    project.submit_spans("fire", [(19, 29, "VEH"), (0, 4, "PER")], annotator="ana")
    project.submit_spans("crlf", [(0, 5, "LOC"), (13, 19, "LOC")], annotator="ana")
    project.submit_spans("none", [], annotator="ana")


def _spans(project):
    return sorted(map(tuple, project.spans()[KEY].values.tolist()))


def _relations(project):
    spans = project.spans().set_index("span_id")
    return sorted((r.item_id, r.annotator, spans.loc[r.head, "start"], spans.loc[r.child, "start"],
                   r.label) for r in project.relations().itertuples())


def _submissions(project):
    return sorted(map(tuple, project.span_submissions()[["item_id", "annotator", "n_spans"]]
                      .values.tolist()))


@pytest.mark.parametrize("overlapping", [False, True], ids=["ents", "spans"])
def test_docbin_round_trip_returns_the_same_spans(tmp_path, overlapping):
    source = _project(tmp_path / "a.hitl", overlapping)
    _fill(source, overlapping)
    report = to_docbin(source, tmp_path / "out.spacy")
    assert report.problems == [] and report.documents == 5
    assert report.exported == report.spans == len(source.spans())
    docs = list(report.data.get_docs(spacy.blank("en").vocab))
    layer = docs[0].spans["sc"] if overlapping else docs[0].ents
    assert {s.text for s in layer} >= {"Ada Lovelace", "Charles Babbage", "London"}
    assert docs[0].user_data["hitl_widgets"]["item_id"] == "ada"
    with _project(tmp_path / "b.hitl", overlapping) as target:
        result = from_docbin(target, tmp_path / "out.spacy")
        assert (result.submissions, result.spans, result.relations) == (5, len(source.spans()), 1)
        assert _spans(target) == _spans(source)
        assert _relations(target) == _relations(source)
        assert _submissions(target) == _submissions(source)  # "none" came back with 0 spans
    source.close()


def test_jsonl_round_trip_returns_the_same_spans_even_off_token_edges(tmp_path):
    source = _project(tmp_path / "a.hitl", overlapping=True)
    _fill(source, overlapping=True)
    source.submit_spans("crlf", [(1, 4, "LOC")], annotator="cy")  # not on token edges
    report = to_jsonl(source, tmp_path / "out.jsonl")
    assert report.problems == [] and report.exported == report.spans == len(source.spans())
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert set(first) == {"text", "spans", "relations", "answer", "_annotator_id", "meta"}
    assert first["answer"] == "accept" and first["relations"][0]["label"] == "works_with"
    with _project(tmp_path / "b.hitl", overlapping=True) as target:
        from_jsonl(target, tmp_path / "out.jsonl")
        assert _spans(target) == _spans(source)
        assert _relations(target) == _relations(source)
        assert _submissions(target) == _submissions(source)
    source.close()


def test_misaligned_spans_are_counted_exactly_by_item_and_span_id(tmp_path):
    with _project(tmp_path / "a.hitl") as project:
        done = project.submit_spans("ada", [
            (0, 3, "PER"),     # "Ada": a token
            (4, 7, "PER"),     # "Lov": inside "Lovelace"
            (32, 40, "PER"),   # " Babbage": starts on the space
            (44, 49, "LOC"),   # "Londo": inside "London"
            (44, 50, "NAME"),  # not given (one layer: it overlaps "Londo")
        ][:4] + [(25, 32, "NAME")], relations=[(0, 1, "works_with"), (0, 4, "works_with")],
            annotator="ana")
        project.submit_spans("fire", [(19, 29, "VEH"), (2, 4, "PER")], annotator="ana")
        report = to_docbin(project)
        assert report.spans == 7 and report.exported == 3
        assert report.counts() == {"misaligned": 4, "relation": 1}
        ids = done.span_ids
        assert [(p.item_id, p.span_id, p.text) for p in report.misaligned] == [
            ("ada", ids[1], "Lov"), ("ada", ids[2], " Babbage"),
            ("ada", ids[3], "Londo"), ("fire", project.spans("ana")["span_id"].iloc[-1], "\u200d🚒")]
        lost = [p for p in report.problems if p.reason == "relation"]
        assert lost == [Problem("ada", "ana", ids[1], 4, 7, "PER", "Lov", "relation")]
        assert report.relations == 2 and report.relations_exported == 1
        doc = next(report.data.get_docs(spacy.blank("en").vocab))
        assert [(e.text, e.label_) for e in doc.ents] == [("Ada", "PER"), ("Charles", "NAME")]
        assert [list(r) for r in doc.user_data["hitl_widgets"]["relations"]] == [[0, 1, "works_with"]]


def test_conll_tags_iob2_with_the_stated_tokenization(tmp_path):
    with _project(tmp_path / "a.hitl", overlapping=True) as project:
        project.submit_spans("crlf", [(0, 5, "LOC"), (13, 19, "LOC")], annotator="ana")
        project.submit_spans("ada", [(0, 12, "PER"), (0, 3, "NAME"), (4, 7, "PER")],
                             relations=[(0, 1, "works_with")], annotator="ana")
        report = to_conll(project, tmp_path / "out.conll")
        text = (tmp_path / "out.conll").read_text(encoding="utf-8")
        blocks = text.split("\n\n")
        assert blocks[0].splitlines() == ["# item_id = crlf", "# annotator = ana",
                                          "Paris\tB-LOC", "is\tO", "in\tO", "France\tB-LOC"]
        assert blocks[1].splitlines()[2:5] == ["Ada\tB-PER", "Lovelace\tI-PER", "worked\tO"]
        assert report.counts() == {"overlap": 1, "misaligned": 1, "relation": 1}
        assert report.exported == 3 and report.documents == 2
        by_space = to_conll(project, tokenizer="whitespace", comments=False).data
        assert "London.\tO" in by_space
        by_spacy = to_conll(project, tokenizer="spacy", comments=False).data
        assert "\r\n" not in by_spacy and "London\tO\n.\tO" in by_spacy
        with pytest.raises(ValueError, match="Unknown tokenizer"):
            to_conll(project, tokenizer="bpe")


def test_an_import_is_all_or_nothing_and_names_the_bad_record(tmp_path):
    records = [
        {"text": "Ada wrote", "spans": [{"start": 0, "end": 3, "label": "PER"}],
         "_annotator_id": "ana"},
        {"text": "Rejected one", "spans": [], "answer": "reject", "_annotator_id": "ana"},
        {"text": "Bob ran", "spans": [{"start": 0, "end": 3, "label": "PERSON"}],
         "_annotator_id": "ana"},
    ]
    with _project(tmp_path / "a.hitl") as project:
        before = (len(project), len(project.events()))
        with pytest.raises(SpanError, match="record 1 .*Unknown span label 'PERSON'.*nothing"):
            from_jsonl(project, records)
        assert (len(project), len(project.events())) == before
        records[2]["spans"][0]["label"] = "PER"
        result = from_jsonl(project, records)
        assert (result.items_added, result.submissions, result.skipped) == (2, 2, [1])
        assert sorted(project.spans()["text"]) == ["Ada", "Bob"]
        with pytest.raises(SpanError, match="names no annotator"):
            from_jsonl(project, [{"text": "x", "spans": []}])
        with pytest.raises(SpanError, match="head_span"):
            from_jsonl(project, [{"text": "Ada", "spans": [], "_annotator_id": "a",
                                  "relations": [{"head_span": {"start": 0}, "label": "r"}]}])


def test_an_item_id_holding_other_text_is_refused_on_import(tmp_path):
    with _project(tmp_path / "a.hitl") as project:
        with pytest.raises(Exception, match="record 0 .*already hold different content"):
            from_jsonl(project, [{"text": "other", "spans": [], "_annotator_id": "ana",
                                  "meta": {"item_id": "ada"}}])
