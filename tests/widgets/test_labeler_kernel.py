"""The Labeler's kernel half: envelopes in, store writes, acks and traits out. No browser."""

from __future__ import annotations

import pytest

import hitl_widgets as hw


class Recorder:
    """Stands in for the comm: collects what the widget sends to the browser."""

    def __init__(self, widget):
        self.sent: list[tuple[dict, list]] = []
        widget.send = lambda content, buffers=None: self.sent.append((content, buffers or []))

    def of(self, kind: str) -> list[dict]:
        return [m for m, _ in self.sent if m["type"] == kind]


@pytest.fixture
def project(make_project):
    return make_project(items=12, ids=[f"i{k}" for k in range(12)])


@pytest.fixture
def labeler(project):
    w = hw.Labeler(project, annotator="ana", prefetch=4)
    w.rec = Recorder(w)
    yield w
    w.close()


def intent(widget, **content):
    widget._dispatch(widget, content, [])


def test_initial_traits(labeler):
    assert labeler.window == ["i0", "i1", "i2", "i3"]
    assert labeler.progress["done"] == 0 and labeler.progress["total"] == 12
    assert labeler.schema["keys"] == {"ham": "1", "spam": "2"}
    assert labeler.annotator == "ana"


def test_submit_is_written_acked_and_the_window_moves(labeler, project):
    intent(labeler, type="submit", item_id="i0", labels=["spam"], ms_on_item=850,
           suggestion={"labels": ["ham"], "score": 0.7}, client_seq=1)
    (ack,) = labeler.rec.of("ack")
    assert ack["client_seq"] == 1 and ack["item_id"] == "i0"
    event = project.events().iloc[-1]
    assert ack["event_id"] == event["seq"]
    assert (event["labels"], event["ms_on_item"], event["suggestion"], event["suggestion_score"]) == (
        ["spam"], 850, ["ham"], 0.7)
    assert labeler.window == ["i1", "i2", "i3", "i4"]
    assert labeler.progress["done"] == 1
    # Only the newly needed payload travels; the browser already holds the others.
    items = [p["item_id"] for p in labeler.rec.of("items")[-1]["items"]]
    assert items == ["i4"]


def test_ack_is_sent_before_the_new_window_payloads(labeler):
    intent(labeler, type="submit", item_id="i0", labels=["ham"], client_seq=1)
    kinds = [m["type"] for m, _ in labeler.rec.sent]
    assert kinds == ["ack", "items"]


def test_unknown_label_is_rejected_and_nothing_written(labeler, project):
    intent(labeler, type="submit", item_id="i0", labels=["spma"], client_seq=7)
    (reject,) = labeler.rec.of("reject")
    assert reject["client_seq"] == 7 and "expected one of ['ham', 'spam']" in reject["error"]
    assert "Unknown label 'spma'" in labeler.error
    assert project.events().empty
    assert labeler.window[0] == "i0"


def test_unknown_item_is_rejected(labeler, project):
    intent(labeler, type="submit", item_id="zzz", labels=["ham"], client_seq=2)
    assert labeler.rec.of("reject")[0]["error"].startswith("Unknown item id 'zzz'")
    assert project.events().empty


def test_skip_sends_item_to_the_back(labeler, project):
    intent(labeler, type="skip", item_id="i0", ms_on_item=100, client_seq=1)
    assert labeler.window == ["i1", "i2", "i3", "i4"]
    for k in range(1, 12):
        intent(labeler, type="submit", item_id=f"i{k}", labels=["ham"], client_seq=k + 1)
    assert labeler.window == ["i0"]
    assert project.events()["kind"].tolist().count("skip") == 1


def test_undo_brings_the_item_back_first(labeler, project):
    intent(labeler, type="submit", item_id="i0", labels=["ham"], client_seq=1)
    intent(labeler, type="submit", item_id="i1", labels=["spam"], client_seq=2)
    intent(labeler, type="undo", item_id="i1", client_seq=3)
    assert labeler.rec.of("ack")[-1]["client_seq"] == 3
    assert labeler.window[0] == "i1"
    assert project.labels()["item_id"].tolist() == ["i0"]
    assert labeler.progress["done"] == 1


def test_undo_after_restart_without_history(project):
    project.annotate("i0", "ham", annotator="ana")
    w = hw.Labeler(project, annotator="ana", prefetch=3)
    Recorder(w)
    assert w.window == ["i1", "i2", "i3"]
    intent(w, type="undo", item_id=None, client_seq=1)
    assert w.window == ["i0", "i1", "i2"]
    assert project.labels().empty
    w.close()


def test_stale_undo_is_rejected_without_retracting(labeler, project):
    intent(labeler, type="submit", item_id="i0", labels=["ham"], client_seq=1)
    intent(labeler, type="submit", item_id="i1", labels=["ham"], client_seq=2)
    intent(labeler, type="undo", item_id="i0", client_seq=3)
    assert labeler.rec.of("reject")[0]["client_seq"] == 3
    assert len(project.labels()) == 2


def test_fetch_answers_with_payloads_and_buffers(project, tmp_path):
    import numpy as np

    project.add_items(image=[np.eye(8)], id=["img"])
    w = hw.Labeler(project, annotator="ana")
    rec = Recorder(w)
    intent(w, type="fetch", item_ids=["i0", "img", "missing"])
    (msg, buffers) = rec.sent[-1]
    assert [p["item_id"] for p in msg["items"]] == ["i0", "img"]
    assert msg["items"][1]["image_buffer"] == 0 and buffers[0].startswith(b"\x89PNG")
    w.close()


def test_shown_suggestion_is_audited(labeler, project):
    project.suggest(["i0"], ["spam"], [0.91])
    intent(labeler, type="shown", item_id="i0", suggestion={"labels": ["spam"], "score": 0.91})
    shown = project.events().query("kind == 'shown'")
    assert shown[["item_id", "annotator", "suggestion_score"]].values.tolist() == [["i0", "ana", 0.91]]


def test_new_suggestion_is_pushed_to_the_view(labeler, project):
    project.suggest(["i1"], ["spam"], [0.8])
    last_items = labeler.rec.of("items")[-1]["items"]
    assert last_items[0]["item_id"] == "i1"
    assert last_items[0]["suggestion"] == {"labels": ["spam"], "score": 0.8, "source": "model",
                                           "version": None}


def test_accepted_suggestion_keeps_its_model_version_in_the_log(labeler, project):
    project.suggest(["i0"], ["spam"], [0.8], version="m3")
    sent = labeler.rec.of("items")[-1]["items"][0]["suggestion"]
    assert sent["version"] == "m3"
    intent(labeler, type="submit", item_id="i0", labels=["spam"], suggestion=sent, client_seq=1)
    event = project.events().iloc[-1]
    assert event["suggestion"] == ["spam"] and event["extra"] == {"suggestion_version": "m3"}


def test_items_added_later_reach_the_window(project):
    w = hw.Labeler(project, annotator="ana", prefetch=20)
    Recorder(w)
    project.add_items(["late"], id=["late"])
    assert w.window[-1] == "late" and w.progress["total"] == 13
    w.close()


def test_labels_made_in_a_cell_update_the_widget(labeler, project):
    project.annotate("i0", "ham", annotator="ana")
    assert labeler.window[0] == "i1"
    project.annotate("i1", "ham", annotator="bob")  # someone else's label changes nothing here
    assert labeler.window[0] == "i1"


def test_each_annotator_sees_what_they_have_not_labeled(project):
    project.annotate("i0", "ham", annotator="ana")
    bob = hw.Labeler(project, annotator="bob", prefetch=2)
    ana = hw.Labeler(project, annotator="ana", prefetch=2)
    assert bob.window == ["i0", "i1"] and ana.window == ["i1", "i2"]
    bob.close()
    ana.close()


def test_unknown_intent_is_rejected_and_sets_error_not_exception(labeler):
    intent(labeler, type="explode", client_seq=4)
    (reject,) = labeler.rec.of("reject")
    assert (reject["field"], reject["client_seq"], reject["intent"]) == ("type", 4, None)
    assert "Unknown message type" in labeler.error and "'submit'" in labeler.error


@pytest.mark.parametrize("bad, field", [
    ({"item_id": ["i0"]}, "item_id"),
    ({"labels": 3}, "labels"),
    ({"labels": "ham"}, "labels"),  # a string is not a list of labels
    ({"suggestion": "ham"}, "suggestion"),
    ({"suggestion": {"labels": ["ham"], "score": "high"}}, "suggestion.score"),
    ({"ms_on_item": -5}, "ms_on_item"),
    ({"ms_on_item": True}, "ms_on_item"),
    ({"client_seq": None}, "client_seq"),
])
def test_malformed_submit_is_rejected_naming_the_field_and_nothing_written(labeler, project,
                                                                          bad, field):
    msg = {"type": "submit", "item_id": "i0", "labels": ["ham"], "client_seq": 5, **bad}
    labeler._dispatch(labeler, msg, [])
    assert [m["type"] for m, _ in labeler.rec.sent] == ["reject"]
    (reject,) = labeler.rec.of("reject")
    assert reject["field"] == field and f"'{field}' must be" in reject["error"]
    assert reject["client_seq"] == msg["client_seq"]  # the view's pending entry clears
    assert labeler.error == reject["error"]
    assert project.events().empty
    intent(labeler, type="submit", item_id="i0", labels=["ham"], client_seq=6)
    assert labeler.rec.of("ack")[-1]["client_seq"] == 6 and labeler.error == ""


def test_a_missing_field_is_named(labeler, project):
    intent(labeler, type="skip", client_seq=3)
    (reject,) = labeler.rec.of("reject")
    assert reject["field"] == "item_id" and "'item_id' is missing" in reject["error"]
    assert project.events().empty


def test_a_malformed_client_seq_is_echoed_so_the_view_can_still_match_it(labeler):
    intent(labeler, type="submit", item_id="i0", labels=["ham"], client_seq="7")
    intent(labeler, type="submit", item_id="i0", labels=["ham"], client_seq=[7])
    assert [r["client_seq"] for r in labeler.rec.of("reject")] == ["7", None]


def test_fields_no_intent_declares_are_ignored_and_not_stored(labeler, project):
    intent(labeler, type="submit", item_id="i0", labels=["ham"], client_seq=1, annotator="eve",
           extra={"x": 1}, suggestion={"labels": ["ham"], "source": "model", "mood": "?"})
    assert labeler.rec.of("ack")[0]["client_seq"] == 1
    event = project.events().iloc[-1]
    assert event["annotator"] == "ana" and event["extra"] is None


class FailingQueue:
    """A user's queue with a bug: it raises once ``broken`` is set."""

    def __init__(self):
        self.broken = False

    @property
    def resolves(self):
        if self.broken == "write":
            raise RuntimeError("queue bug in resolves")
        return False

    def next_ids(self, project, annotator, exclude, n):
        if self.broken == "window":
            raise RuntimeError("queue bug in next_ids")
        return [i for i in project.items()["item_id"] if i not in exclude][:n]


def test_a_failure_inside_a_write_is_logged_shown_and_rejected(project, caplog):
    queue = FailingQueue()
    w = hw.Labeler(project, annotator="ana", queue=queue, prefetch=2)
    rec = Recorder(w)
    queue.broken = "write"
    intent(w, type="submit", item_id="i0", labels=["ham"], client_seq=1)
    (reject,) = rec.of("reject")  # the view's unsaved count still falls
    assert reject["client_seq"] == 1 and "queue bug in resolves" in reject["error"]
    assert "queue bug in resolves" in w.error
    assert any(r.exc_info and "queue bug" in str(r.exc_info[1]) for r in caplog.records)
    assert project.events().empty
    w.close()


def test_a_failure_after_the_ack_is_logged_and_shown_not_swallowed(project, caplog):
    queue = FailingQueue()
    w = hw.Labeler(project, annotator="ana", queue=queue, prefetch=2)
    rec = Recorder(w)
    queue.broken = "window"
    intent(w, type="submit", item_id="i0", labels=["ham"], client_seq=1)
    assert [m["type"] for m, _ in rec.sent] == ["ack"]  # durable, so acked once, not rejected
    assert w.error == "submit failed: queue bug in next_ids"
    assert any(r.exc_info and "next_ids" in str(r.exc_info[1]) for r in caplog.records)
    assert project.labels()["item_id"].tolist() == ["i0"]
    w.close()


def test_misspelt_keyword_is_a_type_error(project):
    with pytest.raises(TypeError, match="anotator"):
        hw.Labeler(project, anotator="ana")


def test_idle_after_s_is_a_synced_trait_30_s_by_default(project):
    w = hw.Labeler(project, annotator="ana")
    assert w.idle_after_s == 30.0 and w.trait_metadata("idle_after_s", "sync")
    w.idle_after_s = 5  # reaches the open views, whose clocks take the new threshold
    assert w.idle_after_s == 5.0
    w.close()
    assert hw.Labeler(project, annotator="bo", idle_after_s=90).idle_after_s == 90.0


@pytest.mark.parametrize("bad", [0, 0.0, -1.5, float("nan"), float("inf"), "30", True, None, [30]])
def test_bad_idle_after_s_is_a_value_error_and_writes_nothing(project, bad):
    def state():
        return len(project.events()), {k: project.store.get_meta(k) for k in project.store.meta_keys()}

    before = state()
    with pytest.raises(ValueError, match="idle_after_s must be a positive finite number"):
        hw.Labeler(project, annotator="ana", idle_after_s=bad)
    assert state() == before
    w = hw.Labeler(project, annotator="ana")
    if isinstance(bad, float):  # a later assignment of a bad number is refused alike
        with pytest.raises(ValueError, match="idle_after_s must be a positive finite number"):
            w.idle_after_s = bad
        assert w.idle_after_s == 30.0
    w.close()


def test_labeler_needs_a_project():
    with pytest.raises(TypeError, match="hitl_widgets.Project"):
        hw.Labeler("spam.hitl")


def test_error_clears_after_a_good_action(labeler):
    intent(labeler, type="submit", item_id="i0", labels=["nope"], client_seq=1)
    assert labeler.error
    intent(labeler, type="submit", item_id="i0", labels=["ham"], client_seq=2)
    assert labeler.error == ""


def test_multi_label_submit(tmp_path):
    p = hw.Project(tmp_path / "m.hitl", labels=["red", "green", "blue"], multi_label=True)
    p.add_items(["x"], id=["x"])
    w = hw.Labeler(p, annotator="ana")
    Recorder(w)
    intent(w, type="submit", item_id="x", labels=["blue", "red"], client_seq=1)
    assert p.labels()["label"].tolist() == [("red", "blue")]
    w.close()
    p.close()


@pytest.mark.parametrize("call, error", [
    (lambda s: s.submit(["i0"], ["ham"]), TypeError),
    (lambda s: s.submit("i0", ["ham"], ms_on_item=-5), ValueError),
    (lambda s: s.submit("i0", ["ham"], ms_on_item=True), TypeError),
    (lambda s: s.submit("i0", ["ham"], ms_on_item=10**30), ValueError),
    (lambda s: s.submit("i0", ["ham"], suggestion=["ham"], suggestion_score="high"), TypeError),
    (lambda s: s.skip(7), TypeError),
    (lambda s: s.undo(["i0"]), TypeError),
    (lambda s: s.record_shown("i0", ["ham"], score=float("inf")), ValueError),
])
def test_session_actions_refuse_malformed_arguments_before_writing(project, call, error):
    from hitl_widgets.core.labeling import LabelingSession

    session = LabelingSession(project, "ana")
    with pytest.raises(error, match="item_id|ms_on_item|score"):
        call(session)
    assert project.events().empty
    session.close()


def test_the_browser_hears_that_the_budget_is_reached_but_not_the_projects_money(project):
    project.set_rate("*", 36.0)  # a cent a second
    project.set_budget(0.5)
    w = hw.Labeler(project, annotator="ana", prefetch=2)
    w.rec = Recorder(w)
    try:
        assert w.progress["budget"] == {"reached": False}
        intent(w, type="submit", item_id="i0", labels=["spam"], ms_on_item=60_000, client_seq=1)
        assert w.progress["budget"] == {"reached": True}
        assert w.progress["queue"].startswith("budget reached")
        assert project.budget()["spent"] >= 0.5  # the lead's view keeps the money
        assert "i2" not in w.window  # nothing new is handed out
    finally:
        w.close()
