"""Every message a view can send, mangled: each malformed one gets one reject and writes nothing.

The kernel half only: the widget's message handler is called as the comm would call it, and what
it sends back is captured. The project is a real file; "nothing written" is read from that file
with a separate SQLite connection.
"""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hitl_widgets as hw

LABELS = ["ham", "spam"]
ITEMS = [f"i{k}" for k in range(40)]
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# Envelopes exactly as hitl_widgets/js/labeler.js builds them (docs/labeler_protocol.md).
ENVELOPES = {
    "submit": {"type": "submit", "item_id": "i0", "labels": ["spam"],
               "suggestion": {"labels": ["ham"], "score": 0.7, "version": "m1"},
               "ms_on_item": 850, "client_seq": 7},
    "skip": {"type": "skip", "item_id": "i0", "ms_on_item": 850, "client_seq": 7},
    "undo": {"type": "undo", "item_id": "i0", "client_seq": 7},
    "fetch": {"type": "fetch", "item_ids": ["i0", "i1"]},
    "shown": {"type": "shown", "item_id": "i0",
              "suggestion": {"labels": ["spam"], "score": 0.9, "source": "model", "version": None}},
}
REQUIRED = {"submit": ["type", "item_id", "labels", "client_seq"],
            "skip": ["type", "item_id", "client_seq"],
            "undo": ["type", "item_id", "client_seq"],
            "fetch": ["type", "item_ids"],
            "shown": ["type", "item_id", "suggestion"]}


class Wire:
    """Stands in for the comm: keeps what the widget sends, as JSON the browser could parse."""

    def __init__(self, widget):
        self.sent: list[dict] = []
        widget.send = self.send

    def send(self, content, buffers=None):
        # allow_nan=False: a browser's JSON.parse refuses NaN, so a reply carrying one is lost.
        json.dumps(content, allow_nan=False, ensure_ascii=False).encode("utf-8")
        self.sent.append(content)

    def take(self) -> list[dict]:
        out, self.sent = self.sent, []
        return out


def counts(path) -> tuple[int, int]:
    """(events, items) as durable in the file, read by another connection."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return (conn.execute("SELECT count(*) FROM events").fetchone()[0],
                conn.execute("SELECT count(*) FROM items").fetchone()[0])


@pytest.fixture
def project(make_project):
    p = make_project(LABELS, [f"text {i}" for i in ITEMS], ids=ITEMS, name="fuzz.hitl")
    p.suggest(["i0"], ["spam"], [0.9], version="m1")
    return p


@pytest.fixture
def labeler(project):
    w = hw.Labeler(project, annotator="ana", prefetch=4)
    w.wire = Wire(w)
    yield w
    w.close()


# -- wrong values -------------------------------------------------------------------------------
huge = st.integers(min_value=1, max_value=3).map(lambda k: "x" * (100_000 * k))
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 2**53, -(2**53), 10**30, -1, 0, 1.5]),
    st.text(max_size=20), st.sampled_from(["", "\ud800", "🙂", "ham", "i0", "\u202e"]), huge,
)
junk = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)


def is_text(v) -> bool:
    return isinstance(v, str) and v != "" and not any(0xD800 <= ord(c) <= 0xDFFF for c in v)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# What each field must be (the protocol doc's table, restated independently of the code).
def ok_item_id(v):
    return is_text(v)


def ok_labels(v):
    return isinstance(v, list) and len(v) > 0 and all(is_text(x) for x in v)


def ok_text_list(v):
    return isinstance(v, list) and all(is_text(x) for x in v)


def ok_ms(v):
    return v is None or (is_number(v) and 0 <= v <= 2**53 - 1)


def ok_seq(v):
    return isinstance(v, int) and not isinstance(v, bool) and abs(v) <= 2**53 - 1


def ok_suggestion(v):
    return v is None or (isinstance(v, dict) and "labels" in v and ok_text_list(v["labels"])
                         and (v.get("score") is None or is_number(v["score"]))
                         and (v.get("version") is None or is_text(v["version"])))


RULES = {
    "submit": {"item_id": ok_item_id, "labels": ok_labels, "ms_on_item": ok_ms,
               "client_seq": ok_seq, "suggestion": ok_suggestion},
    "skip": {"item_id": ok_item_id, "ms_on_item": ok_ms, "client_seq": ok_seq},
    "undo": {"item_id": lambda v: v is None or is_text(v), "client_seq": ok_seq},
    "fetch": {"item_ids": ok_text_list},
    "shown": {"item_id": ok_item_id, "suggestion": ok_suggestion},
}
FIELDS = [(kind, name) for kind, rules in RULES.items() for name in rules]


@st.composite
def malformed(draw):
    """(message, the field a reject must name; None = the message as a whole)."""
    how = draw(st.sampled_from(["field", "field", "field", "nested", "missing", "type", "whole"]))
    if how == "whole":
        return draw(junk.filter(lambda v: not isinstance(v, dict))), None
    if how == "type":
        msg = dict(ENVELOPES[draw(st.sampled_from(sorted(ENVELOPES)))])
        msg["type"] = draw(junk.filter(lambda v: not (isinstance(v, str) and v in ENVELOPES)))
        return msg, "type"
    kind = draw(st.sampled_from(sorted(ENVELOPES)))
    msg = dict(ENVELOPES[kind])
    if how == "missing":
        name = draw(st.sampled_from(REQUIRED[kind]))
        del msg[name]
        return msg, name
    if how == "nested" and "suggestion" in msg:
        sub = draw(st.sampled_from(["labels", "score", "version"]))
        suggestion = dict(msg["suggestion"])
        rule = {"labels": ok_text_list, "score": lambda v: v is None or is_number(v),
                "version": lambda v: v is None or is_text(v)}[sub]
        if draw(st.booleans()) and sub == "labels":
            del suggestion["labels"]
        else:
            suggestion[sub] = draw(junk.filter(lambda v: not rule(v)))
        msg["suggestion"] = suggestion
        return msg, f"suggestion.{sub}"
    kind, name = draw(st.sampled_from(FIELDS))
    msg = dict(ENVELOPES[kind])
    msg[name] = draw(junk.filter(lambda v: not RULES[kind][name](v)))
    return msg, offending(name, msg[name])


def offending(name, value):
    """An object's fields name themselves, the first wrong one in the protocol table's order."""
    if name != "suggestion" or not isinstance(value, dict):
        return name
    if "labels" not in value or not ok_text_list(value["labels"]):
        return "suggestion.labels"
    return "suggestion.score" if not (value.get("score") is None or is_number(value["score"])) \
        else "suggestion.version"


# -- the properties ------------------------------------------------------------------------------
@FUZZ
@given(case=malformed())
def test_every_malformed_intent_gets_one_reject_naming_its_field_and_writes_nothing(
        labeler, project, case):
    msg, field = case
    before = counts(project.path)
    labeler.error = ""
    labeler._dispatch(labeler, msg, [])
    sent = labeler.wire.take()
    assert [m["type"] for m in sent] == ["reject"], sent
    (reject,) = sent
    assert reject["field"] == field
    if field is None:
        assert "must be an object" in reject["error"]
    else:
        assert f"'{field}'" in reject["error"]
    assert len(reject["error"]) <= 1000  # a huge value is named, not echoed
    assert labeler.error == reject["error"]
    seq = msg.get("client_seq") if isinstance(msg, dict) else None
    if ok_seq(seq):  # the view matches the reject to its pending intent by this number
        assert reject["client_seq"] == seq
    assert counts(project.path) == before


def test_the_labeler_keeps_working_after_malformed_intents(labeler, project):
    for msg in [["submit"], {"type": "submit", "item_id": ["i0"], "labels": ["ham"],
                             "client_seq": 1},
                {"type": "submit", "item_id": "i0", "labels": 3, "client_seq": 2},
                {"type": "submit", "item_id": "i0", "labels": ["ham"], "suggestion": "ham",
                 "client_seq": 3},
                {"type": "shown", "item_id": "i0", "suggestion": "spam"}]:
        labeler._dispatch(labeler, msg, [])
    assert [m["type"] for m in labeler.wire.take()] == ["reject"] * 5
    before = counts(project.path)[0]
    labeler._dispatch(labeler, dict(ENVELOPES["submit"], client_seq=99), [])
    sent = labeler.wire.take()
    assert sent[0]["type"] == "ack" and sent[0]["client_seq"] == 99
    assert labeler.error == ""
    assert counts(project.path)[0] == before + 1
    project.close()  # durable: a fresh connection to the file sees the label
    reopened = hw.Project(project.path)
    assert reopened.labels()[["item_id", "label"]].values.tolist() == [["i0", "spam"]]
    reopened.close()


# -- valid envelopes are accepted -----------------------------------------------------------------
label_lists = st.sampled_from(LABELS).map(lambda label: [label])
extras = st.dictionaries(st.sampled_from(["x_debug", "extra", "source", "view_version"]), junk,
                         max_size=2)  # fields no intent declares: ignored


@st.composite
def valid(draw, seq):
    kind = draw(st.sampled_from(sorted(ENVELOPES)))
    ms = draw(st.one_of(st.none(), st.integers(0, 10**7), st.floats(0, 1e7)))
    suggestion = draw(st.one_of(st.none(), st.fixed_dictionaries(
        {"labels": label_lists},
        optional={"score": st.one_of(st.none(), st.floats(0, 1)),
                  "version": st.one_of(st.none(), st.text(min_size=1, max_size=8).filter(is_text)),
                  "source": st.just("model")})))
    if kind == "submit":
        msg = {"item_id": draw(st.sampled_from(ITEMS[:20])), "labels": draw(label_lists),
               "client_seq": seq}
        msg |= draw(st.fixed_dictionaries({}, optional={"ms_on_item": st.just(ms),
                                                        "suggestion": st.just(suggestion)}))
    elif kind == "skip":  # items 20.. are never labeled here, so a skip is always allowed
        msg = {"item_id": draw(st.sampled_from(ITEMS[20:])), "client_seq": seq}
        msg |= draw(st.fixed_dictionaries({}, optional={"ms_on_item": st.just(ms)}))
    elif kind == "undo":
        msg = {"item_id": None, "client_seq": seq}
    elif kind == "fetch":
        msg = {"item_ids": draw(st.lists(st.sampled_from(ITEMS), max_size=5))}
    else:
        msg = {"item_id": draw(st.sampled_from(ITEMS)), "suggestion": suggestion}
    return {**draw(extras), **msg, "type": kind}


@settings(FUZZ, max_examples=150)  # each accepted write is an fsync: fewer examples
@given(data=st.data())
def test_every_well_formed_intent_is_accepted(labeler, project, data):
    labeler.seq = getattr(labeler, "seq", 0) + 1
    msg = data.draw(valid(labeler.seq))
    before = counts(project.path)[0]
    labeler._dispatch(labeler, msg, [])
    sent = labeler.wire.take()
    assert not [m for m in sent if m["type"] == "reject"], sent
    assert labeler.error == ""
    written = counts(project.path)[0] - before
    if msg["type"] in ("submit", "skip", "undo"):
        (ack,) = [m for m in sent if m["type"] == "ack"]
        assert ack["client_seq"] == msg["client_seq"]
        assert written == 1 or (msg["type"] == "undo" and ack["event_id"] is None)
    elif msg["type"] == "shown":
        assert written == (1 if msg["suggestion"] else 0)
    else:
        assert written == 0
        assert [m["type"] for m in sent] == (["items"] if msg["item_ids"] else [])


# -- the LFStudio shares the dispatcher -----------------------------------------------------------
def test_a_malformed_lf_studio_page_request_is_rejected_with_its_request_id(project):
    from hitl_widgets.core.weak import keyword_lf
    from hitl_widgets.lf_studio import LFStudio

    studio = LFStudio(project, [keyword_lf("prize", ["prize"], "spam", labels=LABELS)])
    wire = Wire(studio)
    for msg, field in [({"type": "page", "lf": ["prize"], "request_id": 3}, "lf"),
                       ({"type": "page", "lf": "prize", "offset": -1, "request_id": 4}, "offset"),
                       ({"type": "page", "lf": "prize", "offset": "10", "request_id": 5},
                        "offset"),
                       ({"type": "page", "request_id": 6}, "lf")]:
        studio._dispatch(studio, msg, [])
        (reject,) = wire.take()
        assert (reject["type"], reject["field"], reject["request_id"]) == (
            "reject", field, msg["request_id"])
        assert f"'{field}'" in studio.error
    studio._dispatch(studio, {"type": "page", "lf": "prize", "request_id": 7}, [])
    assert studio.page["request_id"] == 7 and studio.error == ""
    studio.close()
