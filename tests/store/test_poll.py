"""``Project.poll``: what other kernels wrote reaches this one's listeners, once, as ``external``.

Two project objects on one file stand for two kernels: each has its own SQLite connection.
"""

from __future__ import annotations

import pytest

import hitl_widgets as hw


@pytest.fixture
def pair(make_project, tmp_path):
    """The lead's project (listening) and an annotator's (writing), on one file."""
    lead = make_project()
    annotator = hw.Project(tmp_path / "p.hitl")
    heard: list[tuple[str, dict]] = []
    lead.subscribe(lambda kind, info: heard.append((kind, info)))
    yield lead, annotator, heard
    annotator.close()


def test_another_kernels_label_is_heard_once_with_its_seq(pair):
    lead, annotator, heard = pair
    assert lead.poll() is False and heard == []  # nothing new since opening
    before = lead.store.max_seq()
    seq = annotator.annotate("0", "ham", annotator="ana")
    assert heard == []  # not before a poll: another process cannot call in
    assert lead.poll() is True
    assert heard == [("external", {"from_seq": before, "to_seq": seq})]
    assert lead.poll() is False and len(heard) == 1  # heard once


def test_many_writes_between_two_polls_are_one_notice(pair):
    lead, annotator, heard = pair
    seqs = [annotator.annotate(str(k), "spam", annotator="ana") for k in range(5)]
    annotator.undo(annotator="ana")
    lead.poll()
    assert len(heard) == 1 and heard[0][1]["to_seq"] == lead.store.max_seq() > seqs[-1]


def test_items_another_kernel_added_are_heard(pair):
    lead, annotator, heard = pair
    before = lead.store.max_seq()
    annotator.add_items(["one more"], id=["new"])
    assert lead.poll() is True
    assert heard == [("external", {"from_seq": before, "to_seq": before})]
    assert len(lead) == 9


def test_own_writes_are_not_heard_again_as_external(pair):
    lead, _, heard = pair
    lead.annotate("0", "ham", annotator="lee")
    assert [kind for kind, _ in heard] == ["annotation"]
    assert lead.poll() is False and len(heard) == 1


def test_a_commit_without_events_is_not_a_change(pair):
    lead, annotator, heard = pair
    assert lead.poll() is False  # the lead's own items, added after opening, are the baseline now
    annotator.ledger.set_meta("note", "a setting", notify=False)  # commits, appends no event
    assert lead.poll() is False and heard == []
    annotator.annotate("1", "ham", annotator="ana")  # after it, an event is heard
    assert lead.poll() is True and len(heard) == 1


def test_the_label_index_follows_what_poll_announced(pair):
    lead, annotator, _ = pair
    assert lead.labels().empty
    annotator.annotate("2", "spam", annotator="ana")
    lead.poll()
    assert lead.labels()[["item_id", "annotator", "label"]].values.tolist() == [["2", "ana", "spam"]]


def test_a_read_only_project_polls_too(pair, tmp_path):
    _, annotator, _ = pair
    with hw.Project(tmp_path / "p.hitl", read_only=True) as viewer:
        heard = []
        viewer.subscribe(lambda kind, info: heard.append(kind))
        annotator.annotate("3", "ham", annotator="ana")
        assert viewer.poll() is True and heard == ["external"]


def test_a_failing_listener_does_not_stop_the_others(pair, caplog):
    lead, annotator, heard = pair
    lead.subscribe(lambda kind, info: 1 / 0)
    annotator.annotate("4", "ham", annotator="ana")
    assert lead.poll() is True and [k for k, _ in heard] == ["external"]
    assert "ZeroDivisionError" in caplog.text
