"""The SpanLabeler's kernel half: submissions in, spans in the store and traits out; bad input
refused whole. No browser: the intent handler is called with the envelope the view sends."""

from __future__ import annotations

import random

import pytest

import hitl_widgets as hw
from hitl_widgets.core.spans import to_utf16, tokenize

FIREMEN = "👨🏻‍🚒 firemen drive firetrucks"
TEXTS = [FIREMEN, "Ada Lovelace met Charles Babbage in London.", "<script>alert(1)</script> x",
         "e\u0301te\u0301 in \r\nPar\u0131s 🇫🇷"]
IDS = ["fire", "ada", "xss", "crlf"]


class Recorder:
    """Stands in for the comm: collects what the widget sends to the browser."""

    def __init__(self, widget):
        self.sent: list[dict] = []
        widget.send = lambda content, buffers=None: self.sent.append(content)

    def of(self, kind: str) -> list[dict]:
        return [m for m in self.sent if m["type"] == kind]


@pytest.fixture
def open_project(tmp_path):
    opened = []

    def make(*, overlapping=False, name="s.hitl"):
        p = hw.Project(tmp_path / name, span_labels=["PER", "ORG", "LOC"],
                       relation_labels=["knows", "born_in"], overlapping=overlapping)
        p.add_items(TEXTS, id=IDS)
        opened.append(p)
        return p

    yield make
    for p in opened:
        p.close()


def widget(project, **kwargs):
    w = hw.SpanLabeler(project, annotator="ana", prefetch=3, **kwargs)
    w.rec = Recorder(w)
    return w


def intent(w, **content):
    w._dispatch(w, content, [])


def span(id, start, end, label, text_=None, **extra):
    out = {"id": id, "start": start, "end": end, "label": label, **extra}
    if text_ is not None:
        out["text"] = text_
    return out


def test_initial_traits_and_payloads_carry_tokens(open_project):
    w = widget(open_project())
    assert w.window == ["fire", "ada", "xss"]
    assert w.schema["labels"] == ["PER", "ORG", "LOC"] and w.schema["snap"] is True
    assert w.schema["relation_labels"] == ["knows", "born_in"] and w.schema["overlapping"] is False
    w.rec.sent.clear()
    w._sent.clear()
    w._refresh()
    payload = w.rec.of("items")[0]["items"][0]
    assert payload["text"] == FIREMEN
    assert payload["tokens"] == [[0, 4], [5, 12], [13, 18], [19, 29]]  # code points
    assert payload["suggestions"] == []
    w.close()


def test_submit_writes_spans_and_relations_and_acks(open_project):
    project = open_project()
    w = widget(project)
    text = TEXTS[1]
    intent(w, type="submit", item_id="ada", client_seq=5, ms_on_item=1200, spans=[
        span(0, 0, 12, "PER", "Ada Lovelace", utf16=[0, 12]),
        span(1, 17, 32, "PER", "Charles Babbage"),
        span(2, 36, 42, "LOC", "London"),
    ], relations=[{"head": 0, "child": 1, "label": "knows"}])
    (ack,) = w.rec.of("ack")
    assert ack["client_seq"] == 5 and ack["item_id"] == "ada" and w.error == ""
    spans = project.spans()
    assert spans[["start", "end", "label", "text"]].values.tolist() == [
        [0, 12, "PER", "Ada Lovelace"], [17, 32, "PER", "Charles Babbage"], [36, 42, "LOC", "London"]]
    assert all(text[s:e] == t for s, e, t in spans[["start", "end", "text"]].values)
    rel = project.relations()
    assert rel[["head", "child", "label"]].values.tolist() == [
        [spans.span_id[0], spans.span_id[1], "knows"]]
    events = project.events()
    assert events[events.seq == ack["event_id"]].iloc[0]["ms_on_item"] == 1200
    assert "ada" not in w.window and w.progress["done"] == 1
    w.close()


def test_firetrucks_is_stored_at_19_29(open_project):
    project = open_project()
    w = widget(project)
    intent(w, type="submit", item_id="fire", client_seq=1,
           spans=[span(0, 19, 29, "ORG", "firetrucks", utf16=[22, 32])])
    assert w.rec.of("ack")
    assert project.spans()[["start", "end", "text"]].values.tolist() == [[19, 29, "firetrucks"]]
    w.close()


def test_an_empty_submission_answers_the_item(open_project):
    project = open_project()
    w = widget(project)
    intent(w, type="submit", item_id="xss", client_seq=1, spans=[], relations=[])
    assert w.rec.of("ack") and project.span_submissions()["n_spans"].tolist() == [0]
    assert "xss" not in w.window
    w.close()


def test_undo_brings_the_item_back_and_its_earlier_spans_go(open_project):
    project = open_project()
    w = widget(project)
    intent(w, type="submit", item_id="fire", client_seq=1, spans=[span(0, 19, 29, "ORG")])
    assert w.window[0] == "ada"
    intent(w, type="undo", item_id="fire", client_seq=2)
    assert w.window[0] == "fire" and project.spans().empty
    assert [m["client_seq"] for m in w.rec.of("ack")] == [1, 2]
    w.close()


def test_skip_is_the_labelers(open_project):
    project = open_project()
    w = widget(project)
    intent(w, type="skip", item_id="fire", client_seq=1)
    assert w.window[0] == "ada" and w.rec.of("ack")
    w.close()


BAD = [
    ("out of range", [span(0, 20, 99, "ORG")], [], "offsets must lie in 0..29"),
    ("empty span", [span(0, 5, 5, "ORG")], [], "start must be before end"),
    ("inside a surrogate pair", [span(0, 0, 4, "PER", utf16=[1, 7])], [], "inside the surrogate pair"),
    ("UTF-16 offsets sent as code points", [span(0, 22, 29, "ORG", "firetrucks")], [],
     "does not match the item's text"),
    ("conversion disagrees", [span(0, 19, 29, "ORG", utf16=[20, 30])], [], "are code points"),
    ("wrong text", [span(0, 19, 29, "ORG", "fire trucks")], [], "does not match"),
    ("unknown label", [span(0, 19, 29, "VEHICLE")], [], "Unknown span label 'VEHICLE'"),
    ("overlap in one layer", [span(0, 5, 12, "PER"), span(1, 9, 18, "ORG")], [],
     "overlap, and this project's spans are one layer"),
    ("relation to a deleted span", [span(0, 5, 12, "PER")],
     [{"head": 0, "child": 7, "label": "knows"}], "its child 7 names no span"),
    ("unknown relation label", [span(0, 5, 12, "PER"), span(1, 19, 29, "ORG")],
     [{"head": 0, "child": 1, "label": "owns"}], "Unknown relation label 'owns'"),
    ("duplicate span ids", [span(0, 5, 12, "PER"), span(0, 19, 29, "ORG")], [], "unique"),
]


@pytest.mark.parametrize(("case", "spans", "relations", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_submission_is_refused_whole(open_project, case, spans, relations, message):
    project = open_project()
    w = widget(project)
    intent(w, type="submit", item_id="fire", client_seq=9, spans=spans, relations=relations)
    (reject,) = w.rec.of("reject")
    assert reject["client_seq"] == 9 and message in reject["error"], reject["error"]
    assert message in w.error
    assert project.events().empty  # nothing half-written
    assert w.window[0] == "fire"
    w.close()


MALFORMED = [
    ({"spans": "0-5"}, "'spans' must be a list of objects"),
    ({"spans": [{"id": 0, "start": "5", "end": 9, "label": "PER"}]}, "'spans[0].start' must be an integer"),
    ({"spans": [{"id": 0, "start": 5, "end": 9}]}, "'spans[0].label' is missing"),
    ({"spans": [{"id": 0, "start": 5, "end": 9, "label": "PER", "utf16": [1]}]}, "'spans[0].utf16' must be"),
    ({"spans": [], "relations": [{"head": 0, "label": "knows"}]}, "'relations[0].child' is missing"),
    ({"spans": [{"id": True, "start": 5, "end": 9, "label": "PER"}]}, "'spans[0].id' must be an integer"),
]


@pytest.mark.parametrize(("fields", "message"), MALFORMED)
def test_malformed_submission_names_the_field(open_project, fields, message):
    project = open_project()
    w = widget(project)
    intent(w, type="submit", item_id="fire", client_seq=3, **fields)
    (reject,) = w.rec.of("reject")
    assert message in reject["error"] and reject["client_seq"] == 3
    assert project.events().empty
    w.close()


def test_overlapping_task_takes_nested_and_crossing_spans(open_project):
    project = open_project(overlapping=True)
    w = widget(project)
    intent(w, type="submit", item_id="ada", client_seq=1, spans=[
        span(0, 0, 12, "PER"), span(1, 0, 3, "PER"), span(2, 4, 16, "ORG"), span(3, 0, 12, "ORG")])
    assert w.rec.of("ack") and len(project.spans()) == 4
    w.close()


def test_suggest_stores_suggestions_the_view_shows_and_outcomes_follow(open_project):
    def suggest(text):
        if "Ada" not in text:
            return [(0, 999, "ORG", 0.1)] if "script" in text else []  # bad on the XSS item
        return [(0, 3, "PER", 0.9), {"start": 36, "end": 42, "label": "ORG", "score": 0.4}]

    project = open_project()
    w = widget(project, suggest=suggest, model_version="m1")
    w._sent.clear()
    w._refresh()
    payload = next(p for p in w.rec.of("items")[0]["items"] if p["item_id"] == "ada")
    stored = project.span_suggestions(["ada"])["ada"]
    assert stored["model_version"] == "m1"
    assert payload["suggestions"] == [
        {"start": 0, "end": 3, "label": "PER", "score": 0.9,
         "suggestion_id": stored["spans"][0]["suggestion_id"]},
        {"start": 36, "end": 42, "label": "ORG", "score": 0.4,
         "suggestion_id": stored["spans"][1]["suggestion_id"]}]
    assert "suggest failed on 1 item(s), e.g. 'xss'" in w.error
    # Shown again: no second suggestion is stored for the same model version, and the item the
    # suggester failed on is not asked again.
    w.error = ""
    w._refresh()
    assert w.error == ""
    assert project.span_suggestions(["ada"])["ada"]["suggestion_seq"] == stored["suggestion_seq"]
    # "Ada" widened to "Ada Lovelace" (edited), London not taken (deleted), one span by hand.
    first = stored["spans"][0]["suggestion_id"]
    intent(w, type="submit", item_id="ada", client_seq=1, ms_on_item=900, spans=[
        span(0, 0, 12, "PER", "Ada Lovelace", suggestion_id=first),
        span(1, 17, 32, "PER", "Charles Babbage")], relations=[])
    assert w.rec.of("ack") and w.error == ""
    outcomes = project.span_outcomes().set_index("outcome")
    assert sorted(outcomes.index) == ["added", "deleted", "edited"]
    assert outcomes.loc["edited", "suggestion_id"] == first
    assert outcomes.loc["deleted", "label_suggested"] == "ORG"
    # A suggestion id the item's latest suggestion does not hold is refused, nothing written.
    before = len(project.spans())
    intent(w, type="submit", item_id="fire", client_seq=2, ms_on_item=10, spans=[
        span(0, 0, 4, "PER", FIREMEN[:4], suggestion_id=first)], relations=[])
    assert "suggestion" in w.error and len(project.spans()) == before
    w.close()


def test_tokenizers_whitespace_regex_spacy_and_callable(open_project):
    text = "Ada's IBM-job, (ok)"
    assert tokenize(text) == [(0, 5), (6, 14), (15, 19)]
    assert tokenize(text, r"\w+") == [(0, 3), (4, 5), (6, 9), (10, 13), (16, 18)]
    pytest.importorskip("spacy")
    assert tokenize(text, "spacy")[:2] == [(0, 3), (3, 5)]
    w = widget(open_project(), tokenizer=lambda t: [(0, 2)], snap=False)
    assert w.schema["snap"] is False
    w.close()
    with pytest.raises(ValueError, match="must be non-empty, inside the text"):
        tokenize("abc", lambda t: [(2, 1)])


def test_construction_is_strict(open_project, tmp_path):
    project = open_project()
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        hw.SpanLabeler(project, annotator="ana", prefech=3)
    with pytest.raises(TypeError, match="suggest must be a callable"):
        hw.SpanLabeler(project, suggest="spacy")
    with pytest.raises(ValueError, match="idle_after_s must be a positive finite number"):
        hw.SpanLabeler(project, idle_after_s=-3)
    w = hw.SpanLabeler(project, annotator="ana", idle_after_s=12)
    assert w.idle_after_s == 12.0 and w.trait_metadata("idle_after_s", "sync")
    w.close()
    plain = hw.Project(tmp_path / "plain.hitl", labels=["a", "b"])
    with pytest.raises(ValueError, match="has no span task"):
        hw.SpanLabeler(plain)
    plain.close()


def test_fuzz_random_submissions_never_half_write(open_project):
    """Random spans (many bad) against the real store: each submission is taken whole, with
    every stored span's text equal to the item's text there, or refused with nothing written."""
    project = open_project()
    w = widget(project)
    rng = random.Random(7)
    written = 0
    for k in range(150):
        item = rng.choice(IDS)
        text = TEXTS[IDS.index(item)]
        spans = []
        for j in range(rng.randint(0, 4)):
            a = rng.randint(-2, len(text) + 2)
            b = a + rng.randint(0, 6)
            s = span(j, max(a, 0), b, rng.choice(["PER", "ORG", "LOC", "BAD"]))
            if rng.random() < 0.3 and 0 <= a < b <= len(text):
                s["utf16"] = to_utf16(text, [a, b])
            spans.append(s)
        before = len(project.events())
        w.rec.sent.clear()
        intent(w, type="submit", item_id=item, client_seq=k, spans=spans)
        after = len(project.events())
        if w.rec.of("ack"):
            written += 1
            intent(w, type="undo", item_id=item, client_seq=10_000 + k)  # keep items open
        else:
            assert after == before
    assert written > 5
    for e in project.events().query("kind == 'span'").itertuples():
        text = TEXTS[IDS.index(e.item_id)]
        assert text[e.extra["start"]:e.extra["end"]] == e.extra["text"]
    w.close()
