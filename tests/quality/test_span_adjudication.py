"""Span adjudication in the engine: which items the queue serves, how a resolution is stored,
and the settled spans ``final_spans`` returns."""

from __future__ import annotations

import pytest

from hitl_widgets.core.labeling import LabelingSession
from hitl_widgets.core.project import Project
from hitl_widgets.core.quality import (
    SpanAdjudicationQueue,
    crowd_consensus,
    final_spans,
    span_review,
)

TEXTS = ["Ada Lovelace met Babbage", "Paris is in France", "nothing here"]
IDS = ["ada", "paris", "none"]


@pytest.fixture
def project(make_project):
    """Three annotators: they agree on "paris" and "none"; on "ada" they differ."""
    p = make_project(items=TEXTS, ids=IDS, span_labels=["PER", "LOC"])
    p.submit_spans("ada", [(0, 12, "PER"), (17, 24, "PER")], annotator="bob")
    p.submit_spans("ada", [(0, 3, "PER"), (17, 24, "PER")], annotator="cy")
    p.submit_spans("ada", [(0, 12, "PER")], annotator="dee")
    for who in ("bob", "cy", "dee"):
        p.submit_spans("paris", [(0, 5, "LOC"), (12, 18, "LOC")], annotator=who)
        p.submit_spans("none", [], annotator=who)
    return p


def test_the_queue_serves_only_the_flagged_item(project):
    queue = SpanAdjudicationQueue()
    assert queue.next_ids(project, "sam", set(), 10) == ["ada"]
    assert queue.progress_counts(project, "sam") == (0, 1)


def test_review_shows_every_other_annotator_and_the_consensus(project):
    review = span_review(project, ["ada", "none"], annotator="dee")
    ada = review["ada"]
    assert set(ada["others"]) == {"bob", "cy"}  # dee's own spans are not "others"
    assert [(s["start"], s["end"], s["text"]) for s in ada["others"]["cy"]] == [
        (0, 3, "Ada"), (17, 24, "Babbage")]
    assert [(s["start"], s["end"], s["votes"]) for s in ada["consensus"]] == [(0, 12, 2),
                                                                             (17, 24, 2)]
    assert "short of a majority" in ada["reason"]
    assert review["none"]["others"] == {"bob": [], "cy": []}  # abstentions are shown
    assert span_review(project, ["nobody-submitted"]) == {}


def test_a_resolution_is_a_marked_spans_submission_that_settles_the_item(project):
    session = LabelingSession(project, "sam", queue=SpanAdjudicationQueue(), prefetch=2)
    assert session.window() == ["ada"]
    seq = session.submit_spans("ada", [(0, 12, "PER")])
    event = project.events().set_index("seq").loc[seq]
    assert event["kind"] == "spans" and event["annotator"] == "sam"
    assert event["extra"] == {"resolution": True}
    assert session.window() == []
    assert session.progress()["done"] == session.progress()["total"] == 1
    final = final_spans(project)
    ada = final[final["item_id"] == "ada"]
    assert ada[["start", "end", "label", "settled_by", "annotator"]].values.tolist() == [
        [0, 12, "PER", "resolution", "sam"]]
    paris = final[final["item_id"] == "paris"]
    assert paris[["start", "end", "text", "settled_by"]].values.tolist() == [
        [0, 5, "Paris", "consensus"], [12, 18, "France", "consensus"]]
    assert project.final_spans().equals(final)
    session.close()


def test_a_resolution_never_votes(project):
    before = crowd_consensus(project).votes
    project.resolve_spans("ada", [(4, 12, "LOC")], annotator="sam")
    assert crowd_consensus(project).votes.equals(before)
    assert "sam" not in span_review(project, ["ada"])["ada"]["others"]


def test_undoing_a_resolution_reopens_the_item_and_the_consensus_returns(project):
    queue = SpanAdjudicationQueue()
    project.resolve_spans("ada", [(0, 3, "PER")], annotator="sam")
    assert queue.next_ids(project, "sam", set(), 5) == []
    project.undo_spans("ada", annotator="sam")
    assert queue.next_ids(project, "sam", set(), 5) == ["ada"]
    ada = final_spans(project).query("item_id == 'ada'")
    assert ada["settled_by"].tolist() == ["consensus", "consensus"]


def test_the_newest_resolution_wins(project):
    project.resolve_spans("ada", [(0, 3, "PER")], annotator="sam")
    project.resolve_spans("ada", [(0, 12, "PER"), (17, 24, "PER")], annotator="tia")
    ada = final_spans(project).query("item_id == 'ada'")
    assert ada[["end", "annotator"]].values.tolist() == [[12, "tia"], [24, "tia"]]


def test_a_resolution_with_no_spans_leaves_the_item_without_rows(project):
    project.resolve_spans("ada", [], annotator="sam")
    assert "ada" not in set(final_spans(project)["item_id"])
    assert SpanAdjudicationQueue().next_ids(project, "sam", set(), 5) == []


def test_two_adjudicators_in_two_kernels_get_different_items(project):
    project.submit_spans("none", [(0, 7, "LOC")], annotator="eve")  # now flagged too
    other = Project(project.path)
    first = SpanAdjudicationQueue().next_ids(project, "sam", set(), 1)
    second = SpanAdjudicationQueue().next_ids(other, "tia", set(), 5)
    assert first and second and not set(first) & set(second)
    assert sorted(first + second) == ["ada", "none"]
    other.close()


def test_a_project_without_spans_has_nothing_to_adjudicate(make_project):
    p = make_project(span_labels=["PER"])
    assert SpanAdjudicationQueue().next_ids(p, "sam", set(), 5) == []
    assert final_spans(p).empty and list(final_spans(p).columns)[:4] == [
        "item_id", "start", "end", "label"]


@pytest.mark.parametrize("share", [1, -0.1, True, "half"])
def test_a_bad_share_is_refused(share):
    with pytest.raises(ValueError, match="share must be a number in"):
        SpanAdjudicationQueue(share=share)


def test_resolution_must_be_a_bool(project):
    with pytest.raises(TypeError, match="resolution must be True or False"):
        project.ledger.submit_spans("ada", [], annotator="sam", resolution="yes")
