"""The kept human labels and LF accuracies equal a full recompute (``human_labels``,
``lf_summary``) after any sequence of labels, relabels, undos, retractions of older events and
other kernels' writes (issue 14: the LFStudio stays fast at a million labels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from event_steps import run_step, step_strategy
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

step = step_strategy(items=ITEMS, annotators=ANNOTATORS, labels=LABELS,
                     sources=st.sampled_from(["human", "human", "model"]),
                     kinds=["annotate", "undo", "retract_old", "gold", "skip", "read"])


def lfs():
    return [keyword_lf("prize", ["prize"], "spam", labels=LABELS),
            keyword_lf("mum", ["mum"], "ham", labels=LABELS),
            keyword_lf("call", ["call"], "eggs", labels=LABELS)]


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
            run_step((a, b)[s[1]], s)
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
