"""Outcomes of suggested spans: random suggestions and random edits give exactly the outcomes
made (accepted, edited, deleted, added), and the suggestion -> final diff rebuilds both the
suggestion and the submission; correction cost per model version and label."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitl_widgets.core.project import Project
from hitl_widgets.core.spans import correction_cost

LABELS = ["PER", "ORG", "LOC"]
_COUNTER = itertools.count()


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One file for every example, an item each (hypothesis runs a function fixture once)."""
    p = Project(tmp_path_factory.mktemp("outcomes") / "o.hitl", span_labels=LABELS)
    yield p
    p.close()


@st.composite
def cases(draw):
    """Disjoint intervals of a text: some suggested, each then accepted (by id or by
    resubmitting it as a tuple), edited (a boundary moved inside it or its label changed) or
    deleted; the free ones possibly added by hand."""
    text = draw(st.text(alphabet="ab😀é\r\n ", min_size=4, max_size=60))
    n = len(text)
    cuts = sorted(draw(st.sets(st.integers(0, n), min_size=2, max_size=16)))
    intervals = [(a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if b > a]
    plan = []
    for a, b in intervals:
        label = draw(st.sampled_from(LABELS))
        role = draw(st.sampled_from(["accept", "accept_as_tuple", "edit", "delete", "add",
                                     "free"]))
        edit = None
        if role == "edit":
            choices = [(s, e, lab) for s in range(a, b) for e in range(s + 1, b + 1)
                       for lab in LABELS if (s, e, lab) != (a, b, label)]
            edit = draw(st.sampled_from(choices))
        plan.append(((a, b, label), role, edit, draw(st.floats(0, 1))))
    ms = draw(st.one_of(st.none(), st.integers(0, 60_000)))
    annotator = draw(st.sampled_from(["ana", "bo"]))
    return text, plan, ms, annotator


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_random_edits_give_exact_outcomes_and_the_diff_rebuilds_the_submission(shared, case):
    text, plan, ms, annotator = case
    project = shared
    item = f"t{next(_COUNTER)}"
    project.add_items([text], id=[item])
    suggested = [(span, score) for span, role, _, score in plan if role not in ("add", "free")]
    project.suggest_spans(lambda t: [(*span, score) for span, score in suggested], [item],
                          model_version="m1")
    shown = project.span_suggestions([item])[item]["spans"]
    by_span = {(s["start"], s["end"], s["label"]): s for s in shown}
    submitted, expected = [], {}
    for span, role, edit, _ in plan:
        if role in ("accept", "edit", "delete"):
            sid = by_span[span]["suggestion_id"]
            expected[sid] = {"accept": "accepted", "edit": "edited", "delete": "deleted"}[role]
        if role == "accept":
            submitted.append({**by_span[span]})
        elif role == "accept_as_tuple":
            submitted.append(span)
            expected[by_span[span]["suggestion_id"]] = "accepted"
        elif role == "edit":
            s, e, lab = edit
            submitted.append({"start": s, "end": e, "label": lab,
                              "suggestion_id": by_span[span]["suggestion_id"]})
        elif role == "add":
            submitted.append(span)
    project.submit_spans(item, submitted, annotator=annotator, ms_on_item=ms)

    out = project.span_outcomes(annotator)
    out = out[out["item_id"] == item]
    got = dict(zip(out["suggestion_id"].dropna(), out.loc[out["suggestion_id"].notna(),
                                                           "outcome"], strict=True))
    assert got == expected
    added = out[out["outcome"] == "added"]
    assert sorted(zip(added["start_final"], added["end_final"], added["label_final"],
                      strict=True)) == sorted(span for span, role, _, _ in plan if role == "add")
    assert set(out["model_version"]) <= {"m1"}
    if ms is None:
        assert out["seconds"].isna().all()
    else:
        assert (out["seconds"] == ms / 1000).all()

    # The diff rebuilds both sides: the suggestion, and the spans in the store.
    before = out[out["outcome"] != "added"]
    assert sorted(zip(before["start_suggested"], before["end_suggested"],
                      before["label_suggested"], before["score"], strict=True)) == sorted(
        (s["start"], s["end"], s["label"], s["score"]) for s in shown)
    after = out[out["outcome"] != "deleted"]
    final = project.spans(annotator)
    final = final[final["item_id"] == item]
    assert sorted(zip(after["start_final"], after["end_final"], after["label_final"],
                      after["span_id"], strict=True)) == sorted(
        zip(final["start"], final["end"], final["label"], final["span_id"], strict=True))
    for _, row in after.iterrows():
        assert text[row["start_final"]:row["end_final"]] == final.set_index(
            "span_id").loc[row["span_id"], "text"]


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path / "c.hitl", span_labels=LABELS)
    p.add_items(["Ada met Bob at IBM in Rome", "Cy left Acme", "no model here"],
                id=["x", "y", "z"])
    yield p
    p.close()


def test_outcomes_follow_the_suggestion_seen_and_current_spans(project):
    project.suggest_spans(lambda t: [(0, 3, "PER", 0.9), (8, 11, "PER", 0.2)], ["x"],
                          model_version="v1")
    s = project.span_suggestions(["x"])["x"]["spans"]
    done = project.submit_spans("x", [{**s[0]}, {**s[1]}], annotator="ana", ms_on_item=2000)
    # A span deleted after the submission counts as not submitted.
    project.retract_span(done.span_ids[1], annotator="ana")
    # A submission on an item with no suggestion has no rows.
    project.submit_spans("z", [(0, 2, "LOC")], annotator="ana")
    out = project.span_outcomes()
    assert out[["suggestion_id", "outcome"]].values.tolist() == [
        [s[0]["suggestion_id"], "accepted"], [s[1]["suggestion_id"], "deleted"]]
    # A newer suggestion does not change what an earlier submission is compared with.
    project.suggest_spans(lambda t: [(15, 18, "ORG", 0.7)], ["x"], model_version="v2")
    assert project.span_outcomes()["model_version"].tolist() == ["v1", "v1"]
    assert project.span_outcomes(annotator="bo").empty


def test_correction_cost_per_model_version_and_label(project):
    project.suggest_spans(lambda t: [(0, 3, "PER", 0.9), (8, 11, "PER", 0.5),
                                     (15, 18, "ORG", 0.8)], ["x"], model_version="v1")
    project.suggest_spans(lambda t: [(0, 2, "PER", 0.6), (8, 12, "ORG", 0.9)], ["y"],
                          model_version="v2")
    sx = project.span_suggestions(["x"])["x"]["spans"]
    sy = project.span_suggestions(["y"])["y"]["spans"]
    # x: PER accepted, PER edited (label), ORG accepted, LOC added: 4 regions, 8 s.
    project.submit_spans("x", [{**sx[0]}, {**sx[1], "label": "ORG"}, {**sx[2]},
                               (22, 26, "LOC")], annotator="ana", ms_on_item=8000)
    # y: PER deleted, ORG accepted: 2 regions, 3 s.
    project.submit_spans("y", [{**sy[1]}], annotator="ana", ms_on_item=3000)
    cost = correction_cost(project.span_outcomes())
    rows = {(r.model_version, r.label): r for r in cost.itertuples()}
    v1_per, v1_org, v1_loc = rows["v1", "PER"], rows["v1", "ORG"], rows["v1", "LOC"]
    assert (v1_per.suggested, v1_per.accepted, v1_per.edited, v1_per.edits) == (2, 1, 1, 1)
    assert v1_per.seconds == pytest.approx(4.0) and v1_per.seconds_per_accepted == 4.0
    assert v1_per.acceptance == 0.5 and v1_per.edits_per_accepted == 1.0
    assert (v1_org.accepted, v1_org.edits, v1_org.seconds) == (1, 0, 2.0)
    assert (v1_loc.suggested, v1_loc.added, v1_loc.accepted) == (0, 1, 0)
    assert np.isnan(v1_loc.seconds_per_accepted) and np.isnan(v1_loc.acceptance)
    assert (rows["v2", "PER"].deleted, rows["v2", "ORG"].accepted) == (1, 1)
    assert rows["v2", "ORG"].seconds == 1.5
    assert correction_cost(project.span_outcomes().iloc[:0]).empty


def test_correction_cost_figure_draws_the_table(project):
    pytest.importorskip("plotly")
    from hitl_widgets.plots import correction_cost_figure

    cost = pd.DataFrame({"model_version": ["v1", "v1", "v2"], "label": ["PER", "ORG", "PER"],
                         "accepted": [3, 1, 4], "edited": [1, 0, 0], "deleted": [0, 2, 1],
                         "added": [1, 1, 0], "seconds_per_accepted": [2.0, np.nan, 1.5],
                         "edits_per_accepted": [0.7, 3.0, 0.25]})
    fig = correction_cost_figure(cost)
    names = {t.name for t in fig.data}
    assert {"v1", "v2"} <= names and {"accepted", "deleted"} <= names
