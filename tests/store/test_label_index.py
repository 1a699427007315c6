"""The kept current labels equal a full recompute from the log, whatever the events and
whichever connection wrote them (issue 14: views kept, not recomputed)."""

from __future__ import annotations

import pandas as pd
from event_steps import run_step, step_strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitl_widgets import Project

LABELS = ["ham", "spam", "eggs"]
ITEMS = [f"i{k}" for k in range(5)]
ANNOTATORS = ["ana", "ben", "cy"]

step = step_strategy(items=ITEMS, annotators=ANNOTATORS, labels=LABELS,
                     kinds=["annotate", "undo", "retract_old", "gold", "remove_gold", "skip", "read"])


def _full(project) -> tuple[list, dict]:
    """The current labels and gold answers as the log defines them, recomputed from it."""
    rows = [(r["seq"], r["item_id"], r["annotator"], tuple(r["labels"]), r["source"],
             r["created_at"], r["ms_on_item"]) for r in project.store.current_labels()]
    gold = {i: tuple(e["labels"]) for i, e in project.store.latest_live("gold").items()}
    return rows, gold


def _labels_frame(project) -> pd.DataFrame:
    rows = project.store.current_labels()
    return pd.DataFrame({
        "item_id": [r["item_id"] for r in rows], "label": [r["labels"][0] for r in rows],
        "annotator": [r["annotator"] for r in rows],
        "labeled_at": pd.to_datetime([r["created_at"] for r in rows], unit="s", utc=True),
        "source": [r["source"] for r in rows]})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, max_size=40))
def test_the_kept_labels_equal_a_recompute_after_every_step(tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("idx") / "p.hitl"
    a = Project(path, labels=LABELS)
    a.add_items([f"text {i}" for i in ITEMS], id=ITEMS)
    b = Project(path)  # another kernel on the same file
    kernels = [a, b]
    seen = {0: (a.ledger.label_index.version, _full(a)), 1: (0, ([], {}))}
    try:
        for s in steps:
            kind = s[0]
            run_step(kernels[s[1]], s)
            for k, kernel in enumerate(kernels):
                if kind != "read" and k != s[1] and s[0] != "annotate":
                    continue  # the other kernel reads only now and then: it must catch up later
                index = kernel.ledger.label_index
                rows, gold = _full(kernel)
                assert [tuple(r) for r in index.rows()] == rows
                assert index.gold() == gold
                # every item whose labels or gold changed since this kernel last looked is named
                before_version, (before_rows, before_gold) = seen[k]
                changed = index.changed_since(before_version)
                state = lambda rs, g, i: ({r[2]: r for r in rs if r[1] == i}, g.get(i))  # noqa: E731
                assert {i for i in ITEMS
                        if state(rows, gold, i) != state(before_rows, before_gold, i)} <= changed
                seen[k] = (index.version, (rows, gold))
                pd.testing.assert_frame_equal(kernel.labels(), _labels_frame(kernel))
                index.check()
    finally:
        a.close()
        b.close()


def test_labels_of_one_annotator_are_kept_apart(make_project):
    project = make_project(labels=LABELS, items=3, ids=["a", "b", "c"])
    project.annotate("a", "ham", annotator="ana")
    project.annotate("a", "spam", annotator="ben")
    assert project.labels("ana")["label"].tolist() == ["ham"]
    project.annotate("b", "eggs", annotator="ana")
    project.undo(annotator="ben")
    assert project.labels("ana")["item_id"].tolist() == ["a", "b"]
    assert project.labels()["annotator"].tolist() == ["ana", "ana"]
    assert project.labels("nobody").empty


def test_a_multi_label_project_keeps_tuples(make_project):
    project = make_project(labels=LABELS, items=2, ids=["a", "b"], multi_label=True)
    project.annotate("a", ["ham", "eggs"], annotator="ana")
    assert project.labels()["label"].tolist() == [("ham", "eggs")]
    project.annotate("b", ["spam"], annotator="ana")
    project.annotate("a", ["spam"], annotator="ana")
    assert project.labels()["label"].tolist() == [("spam",), ("spam",)]


def test_labels_keep_their_column_types_when_an_undo_empties_an_item(make_project):
    """An undo that leaves an item with no label patches the kept frame with nothing; the
    string columns stay strings (an empty patch once turned them into object columns)."""
    project = make_project()
    for k in range(8):  # enough labels that one changed item is patched, not rebuilt
        project.annotate(str(k), "ham", annotator="x")
    types = project.labels().dtypes.to_dict()
    project.undo(annotator="x")
    assert project.labels().dtypes.to_dict() == types
    assert project.labels()["item_id"].tolist() == [str(k) for k in range(7)]
