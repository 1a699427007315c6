"""The kept human labels and LF accuracies equal a full recompute (``human_labels``,
``lf_summary``) after any sequence of labels, relabels, undos, retractions of older events and
other kernels' writes (issue 14: the LFStudio stays fast at a million labels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitl_widgets import Project
from hitl_widgets.core.weak import (
    LiveHumanLabels,
    LiveSummary,
    human_labels,
    keyword_lf,
    lf_summary,
)
from hitl_widgets.lf_studio import LFStudio

LABELS = ["ham", "spam", "eggs"]
TEXTS = ["win a prize", "hi mum", "prize for mum", "lunch at noon", "call mum", "free call"]
ITEMS = [f"i{k}" for k in range(len(TEXTS))]
ANNOTATORS = ["ana", "ben", "cy"]

step = st.one_of(
    st.tuples(st.just("annotate"), st.integers(0, 1), st.sampled_from(ITEMS),
              st.sampled_from(ANNOTATORS), st.sampled_from(LABELS),
              st.sampled_from(["human", "human", "model"])),
    st.tuples(st.just("undo"), st.integers(0, 1), st.sampled_from(ANNOTATORS)),
    st.tuples(st.just("retract_old"), st.integers(0, 1), st.integers(0, 10**6)),
    st.tuples(st.just("gold"), st.integers(0, 1), st.sampled_from(ITEMS), st.sampled_from(LABELS)),
    st.tuples(st.just("skip"), st.integers(0, 1), st.sampled_from(ITEMS),
              st.sampled_from(ANNOTATORS)),
    st.tuples(st.just("read"), st.integers(0, 1)),
)


def lfs():
    return [keyword_lf("prize", ["prize"], "spam", labels=LABELS),
            keyword_lf("mum", ["mum"], "ham", labels=LABELS),
            keyword_lf("call", ["call"], "eggs", labels=LABELS)]


def _run(project, s) -> None:
    kind = s[0]
    if kind == "annotate":
        project.annotate(s[2], s[4], annotator=s[3], source=s[5])
    elif kind == "undo":
        project.undo(annotator=s[2])
    elif kind == "retract_old":  # an older event goes, whatever it was
        seqs = [e["seq"] for e in project.store.events() if e["kind"] != "retraction"]
        if seqs:
            project.store.retract([seqs[s[2] % len(seqs)]])
    elif kind == "gold":
        project.set_gold([s[2]], [s[3]])
    elif kind == "skip":
        project.skip(s[2], annotator=s[3])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, max_size=40))
def test_kept_y_and_accuracies_equal_a_recompute(tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("live") / "p.hitl"
    a = Project(path, labels=LABELS)
    a.add_items(TEXTS, id=ITEMS)
    b = Project(path)  # another kernel on the same file
    studio = LFStudio(a, lfs())  # hears a's writes; b's reach it with a's next change
    names = [lf.name for lf in lfs()]
    L = studio.L
    kept = [LiveHumanLabels(k, ITEMS) for k in (a, b)]
    tables = [LiveSummary(L, names, live.Y) for live in kept]
    try:
        for s in steps:
            _run((a, b)[s[1]], s)
            for k, kernel in enumerate((a, b)):
                if s[0] != "read" and k != s[1]:
                    continue  # the other kernel looks only now and then: it must catch up
                rows, old = kept[k].update()
                assert (old != kept[k].Y[rows]).all()  # only rows that moved are named
                tables[k].move(rows, old, kept[k].Y[rows])
                Y = human_labels(kernel, ITEMS)
                np.testing.assert_array_equal(kept[k].Y, Y)
                pd.testing.assert_frame_equal(tables[k].frame(), lf_summary(L, names, Y=Y),
                                              check_exact=True)
            if s[1] == 0 and s[0] == "annotate":  # a label in the studio's kernel: it updates
                Y = human_labels(a, ITEMS)
                pd.testing.assert_frame_equal(studio.summary(), lf_summary(L, names, Y=Y),
                                              check_exact=True)
                assert studio.n_human == int((Y != -1).sum())
                assert [r["correct"] for r in studio.rows] == lf_summary(L, names, Y=Y)[
                    "Correct"].tolist()
    finally:
        studio.close()
        a.close()
        b.close()


def test_items_added_later_are_not_rows_of_y(make_project):
    project = make_project(labels=LABELS, items=2, ids=["a", "b"])
    live = LiveHumanLabels(project, ["a", "b"])
    project.add_items(["new"], id=["c"])
    project.annotate("c", "ham", annotator="ana")
    project.annotate("a", "spam", annotator="ana")
    rows, old = live.update()
    assert rows.tolist() == [0] and old.tolist() == [-1]
    np.testing.assert_array_equal(live.Y, human_labels(project, ["a", "b"]))


def test_a_tie_goes_to_the_first_label_in_schema_order(make_project):
    project = make_project(labels=LABELS, items=1, ids=["a"])
    project.annotate("a", "eggs", annotator="ana")
    project.annotate("a", "spam", annotator="ben")
    live = LiveHumanLabels(project, ["a"])
    assert live.Y.tolist() == [1] == human_labels(project, ["a"]).tolist()
    project.annotate("a", "eggs", annotator="cy")
    live.update()
    assert live.Y.tolist() == [2] == human_labels(project, ["a"]).tolist()
