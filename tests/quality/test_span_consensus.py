"""Span consensus: majority spans, flagged items with reasons, and the adjudication data."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hitl_widgets.core.quality import span_consensus


def frame(rows, text=False):
    cols = ["item_id", "annotator", "start", "end", "label"] + (["text"] if text else [])
    return pd.DataFrame(rows, columns=cols)


def test_spans_a_majority_marked_are_consensus():
    spans = frame([("d", "x", 0, 5, "PER"), ("d", "y", 0, 5, "PER"), ("d", "z", 7, 9, "LOC"),
                   ("d", "x", 7, 9, "LOC"), ("d", "z", 0, 5, "ORG")])
    result = span_consensus(spans)
    assert result.spans[["start", "end", "label", "votes", "n_annotators"]].values.tolist() == [
        [0, 5, "PER", 2, 3], [7, 9, "LOC", 2, 3]]
    assert result.flagged == ["d"]  # z's ORG span has 1 of 3 votes
    assert result.items.loc["d", "reason"] == (
        "1 span short of a majority (2 of 3 annotators): ORG [0, 5) 1 vote")


def test_boundary_disagreements_do_not_merge():
    spans = frame([("d", "x", 0, 5, "PER"), ("d", "y", 0, 6, "PER"), ("d", "z", 1, 5, "PER")])
    result = span_consensus(spans)
    assert result.spans.empty
    assert result.items.loc["d", ["n_consensus", "n_disputed", "flagged"]].tolist() == [0, 3, True]


def test_annotator_with_no_spans_counts_in_the_majority():
    spans = frame([("d", "x", 0, 5, "PER"), ("d", "y", 0, 5, "PER")])
    assert span_consensus(spans).flagged == []
    # With two more annotators who submitted d empty, 2 of 4 is not a majority.
    result = span_consensus(spans, submitted=[("d", "z"), ("d", "w")])
    assert result.spans.empty and result.flagged == ["d"]
    assert "(3 of 4 annotators)" in result.items.loc["d", "reason"]
    # One empty submission: 2 of 3 is.
    assert span_consensus(spans, submitted=[("d", "z")]).spans["votes"].tolist() == [2]


def test_two_annotators_must_both_agree_and_share_changes_the_bar():
    spans = frame([("d", "x", 0, 5, "PER"), ("d", "y", 0, 5, "PER"), ("d", "x", 6, 8, "LOC")])
    assert span_consensus(spans).spans["label"].tolist() == ["PER"]
    spans3 = frame([("d", w, 0, 5, "PER") for w in "xy"] + [("d", "z", 6, 8, "LOC")])
    loose = span_consensus(spans3, share=0.3)  # more than 30 % of 3: one vote is enough
    assert loose.spans["label"].tolist() == ["PER", "LOC"] and loose.flagged == []
    with pytest.raises(ValueError, match="share must be"):
        span_consensus(spans, share=1.0)


def test_identical_overlapping_layers_are_all_consensus():
    layers = [(0, 20, "ORG"), (0, 8, "PER"), (4, 12, "PER"), (5, 20, "LOC")]
    spans = frame([("d", f"a{k}", s, e, lab) for k in range(10) for s, e, lab in layers])
    result = span_consensus(spans)
    assert len(result.spans) == 4 and (result.spans["votes"] == 10).all()
    assert result.flagged == []


def test_a_span_marked_twice_by_one_annotator_votes_once():
    spans = frame([("d", "x", 0, 5, "PER"), ("d", "x", 0, 5, "PER"), ("d", "y", 1, 5, "PER"),
                   ("d", "z", 2, 5, "PER")])
    result = span_consensus(spans)
    assert result.votes["votes"].tolist() == [1, 1, 1]


def test_adjudication_shows_every_annotators_spans():
    spans = frame([("d", "x", 0, 3, "PER", "Ada"), ("d", "y", 0, 3, "PER", "Ada"),
                   ("d", "y", 10, 17, "PER", "Babbage"), ("e", "x", 0, 2, "LOC", "UK"),
                   ("e", "y", 0, 2, "LOC", "UK")], text=True)
    result = span_consensus(spans, submitted=[("d", "z")])
    assert result.flagged == ["d"]
    [entry] = result.adjudication()
    json.dumps(entry)  # plain values, ready to send to a view
    assert entry["item_id"] == "d" and "PER [10, 17) 1 vote" in entry["reason"]
    assert entry["consensus"] == [{"start": 0, "end": 3, "label": "PER", "votes": 2,
                                   "consensus": True, "text": "Ada"}]
    assert sorted(entry["annotators"]) == ["x", "y", "z"]
    assert entry["annotators"]["z"] == []  # submitted with no spans: shown, not dropped
    assert [(s["start"], s["label"], s["consensus"]) for s in entry["annotators"]["y"]] == [
        (0, "PER", True), (10, "PER", False)]
    assert result.adjudication(["e"])[0]["consensus"][0]["text"] == "UK"
    with pytest.raises(ValueError, match="No submissions for items"):
        result.adjudication(["nope"])


def test_bad_input_raises():
    with pytest.raises(ValueError, match="missing"):
        span_consensus(pd.DataFrame({"item_id": ["d"], "annotator": ["x"]}))
    with pytest.raises(ValueError, match="start >= end"):
        span_consensus(frame([("d", "x", 5, 5, "PER")]))


def test_a_reason_names_five_spans_and_counts_the_rest():
    spans = frame([("d", "x" if k % 2 else "y", 2 * k, 2 * k + 1, "PER") for k in range(7)])
    reason = span_consensus(spans).items.loc["d", "reason"]
    assert reason.startswith("7 spans short of a majority (2 of 2 annotators): PER [0, 1) 1 vote")
    assert reason.count(" vote") == 5 and reason.endswith("; and 2 more")
