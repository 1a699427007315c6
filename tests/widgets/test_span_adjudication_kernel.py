"""The SpanLabeler on a span adjudication queue, kernel side: the adjudicator's payloads carry
every other annotator's spans and the consensus; a submission is stored as the resolution; no
other session's payload ever holds another annotator's span."""

from __future__ import annotations

import json

import pytest

import hitl_widgets as hw
from hitl_widgets.core.quality import OverlapQueue

TEXTS = ["Ada Lovelace met Babbage", "Paris is in France", "Grace Hopper wrote COBOL"]
IDS = ["ada", "paris", "grace"]


class Recorder:
    """Stands in for the comm: collects what the widget sends to the browser."""

    def __init__(self, widget):
        self.sent: list[dict] = []
        widget.send = lambda content, buffers=None: self.sent.append(content)

    def items(self) -> list[dict]:
        return [p for m in self.sent if m["type"] == "items" for p in m["items"]]


@pytest.fixture
def project(make_project):
    p = make_project(items=TEXTS, ids=IDS, span_labels=["PER", "LOC"])
    p.submit_spans("ada", [(4, 16, "PER"), (17, 24, "PER")], annotator="bob")
    p.submit_spans("ada", [(0, 12, "PER"), (17, 24, "PER")], annotator="cy")
    for who in ("bob", "cy"):
        p.submit_spans("paris", [(0, 5, "LOC")], annotator=who)
    return p


def widget(project, annotator, **kwargs):
    w = hw.SpanLabeler(project, annotator=annotator, prefetch=3, **kwargs)
    w.rec = Recorder(w)
    w._sent.clear()
    w._refresh()  # the first items again, now recorded
    return w


def test_the_adjudicators_payload_shows_each_annotators_spans_and_the_consensus(project):
    w = widget(project, "sam", queue=project.span_adjudication_queue())
    assert w.window == ["ada"]
    (payload,) = w.rec.items()
    assert {who: [(s["start"], s["end"], s["label"], s["text"]) for s in spans]
            for who, spans in payload["others"].items()} == {
        "bob": [(4, 16, "PER", "Lovelace met"), (17, 24, "PER", "Babbage")],
        "cy": [(0, 12, "PER", "Ada Lovelace"), (17, 24, "PER", "Babbage")]}
    assert [(s["start"], s["end"]) for s in payload["consensus"]] == [(17, 24)]
    assert payload["reason"].startswith("2 spans short of a majority")
    assert w.progress["total"] == 1 and w.progress["done"] == 0
    w.close()


def test_the_adjudicators_submission_is_the_resolution_and_final_spans_return_it(project):
    w = widget(project, "sam", queue=project.span_adjudication_queue())
    w._dispatch(w, {"type": "submit", "item_id": "ada", "client_seq": 1, "ms_on_item": 900,
                    "spans": [{"id": 0, "start": 0, "end": 12, "label": "PER",
                               "text": "Ada Lovelace", "utf16": [0, 12]},
                              {"id": 1, "start": 17, "end": 24, "label": "PER"}]}, [])
    (ack,) = [m for m in w.rec.sent if m["type"] == "ack"]
    submission = project.span_submissions(annotator="sam").iloc[0]
    assert submission["submission"] == ack["event_id"]
    events = project.events().set_index("seq")
    assert events.loc[ack["event_id"], "extra"] == {"resolution": True}
    final = project.final_spans()
    assert final.query("item_id == 'ada'")[["text", "settled_by", "annotator"]].values.tolist() == [
        ["Ada Lovelace", "resolution", "sam"], ["Babbage", "resolution", "sam"]]
    assert final.query("item_id == 'paris'")["settled_by"].tolist() == ["consensus"]
    assert w.window == [] and w.progress["done"] == 1
    # Undo: the item is open again, and settles by consensus until it is resolved anew.
    w._dispatch(w, {"type": "undo", "item_id": "ada", "client_seq": 2}, [])
    assert w.window == ["ada"]
    assert project.final_spans().query("item_id == 'ada'")["settled_by"].tolist() == ["consensus"]
    w.close()


@pytest.mark.parametrize("queue", [None, "overlap"])
def test_no_other_annotators_span_reaches_a_labeling_sessions_payload(project, queue):
    project.set_overlap(3)
    q = OverlapQueue(gold_rate=0) if queue == "overlap" else None
    w = widget(project, "dee", queue=q)
    w._dispatch(w, {"type": "fetch", "item_ids": IDS}, [])  # every item, as a view may ask
    sent = w.rec.items()
    assert {p["item_id"] for p in sent} == set(IDS)
    for p in sent:
        assert "others" not in p and "consensus" not in p and "reason" not in p
    # Nor anywhere else the browser can read (messages, every synced trait): no name of theirs.
    wire = json.dumps(w.rec.sent) + json.dumps(w.get_state(), default=str)
    assert "bob" not in wire and '"cy"' not in wire
    w.close()


def test_an_adjudicator_with_nothing_flagged_gets_nothing(make_project):
    p = make_project(items=TEXTS, ids=IDS, span_labels=["PER"])
    p.submit_spans("ada", [(0, 3, "PER")], annotator="bob")
    p.submit_spans("ada", [(0, 3, "PER")], annotator="cy")
    w = widget(p, "sam", queue=p.span_adjudication_queue())
    assert w.window == [] and w.rec.items() == []
    assert w.progress["total"] == 0
    w.close()
