"""LFStudio's kernel half: intents in, traits out, checked against the engine. No browser."""

from __future__ import annotations

import asyncio
import json
import threading

import numpy as np
import pytest
from snorkel.labeling import LabelingFunction, labeling_function

import hitl_widgets as hw
from hitl_widgets.core.weak import apply_lfs, keyword_lf, lf_summary, vectorized_lf
from hitl_widgets.lf_studio import PAGE_SIZE, TEXT_CHARS, LFStudio

LABELS = ["ham", "spam"]
TEXTS = {  # item id: (text, human label or None)
    "i0": ("win a prize now", "spam"),
    "i1": ("hi mum", "ham"),
    "i2": ("free prize call", None),
    "i3": ("see you at lunch", "ham"),
    "i4": ("call me later", "spam"),
    "i5": ("prize for mum", "ham"),
    "i6": ("nothing here", None),
}


class Calls:
    """A call counter. Not plain data, so counting does not change an LF's fingerprint."""

    def __init__(self):
        self.n = 0

    def hit(self):
        self.n += 1


def kw(name, words, label):
    return keyword_lf(name, words, label, labels=LABELS)


@pytest.fixture
def project(make_project):
    p = make_project(LABELS, [t for t, _ in TEXTS.values()], ids=list(TEXTS))
    for item_id, (_, label) in TEXTS.items():
        if label is not None:
            p.annotate(item_id, label, annotator="ana")
    return p


@pytest.fixture
def lfs():
    return [kw("prize", ["prize"], "spam"), kw("call", ["call"], "ham"), kw("mum", ["mum"], "ham")]


@pytest.fixture
def studio(project, lfs):
    w = LFStudio(project, lfs)
    yield w
    w.close()


def intent(widget, **content):
    widget._dispatch(widget, content, [])


def human_Y():
    return np.array([-1 if lab is None else LABELS.index(lab) for _, lab in TEXTS.values()])


def test_table_equals_lf_summary_with_the_stores_human_labels(studio, project, lfs):
    frame = project.items().set_index("item_id")
    L = apply_lfs(frame, lfs, labels=LABELS)
    expected = lf_summary(L, lfs, Y=human_Y())
    assert studio.lf_names == ["prize", "call", "mum"]
    assert [r["name"] for r in studio.rows] == list(expected.index)
    for row, (_, want) in zip(studio.rows, expected.iterrows(), strict=True):
        assert row["polarity"] == want["Polarity"]
        assert row["coverage"] == pytest.approx(want["Coverage"])
        assert row["overlaps"] == pytest.approx(want["Overlaps"])
        assert row["conflicts"] == pytest.approx(want["Conflicts"])
        assert (row["correct"], row["incorrect"], row["emp_acc_n"]) == (
            want["Correct"], want["Incorrect"], want["Emp. Acc. n"])
        assert row["emp_acc"] == pytest.approx(want["Emp. Acc."])
        assert row["emp_acc_low"] == pytest.approx(want["Emp. Acc. low"])
        assert row["error"] is None
    assert (studio.n_items, studio.n_human) == (7, 5)
    json.dumps(studio.rows, allow_nan=False)  # the trait travels as strict JSON


def test_accuracy_without_human_labels_is_none_not_nan(project):
    studio = LFStudio(project, [kw("nothing", ["zzz"], "ham")])
    (row,) = studio.rows
    assert row["emp_acc_n"] == 0 and row["emp_acc_low"] is None and row["emp_acc_high"] is None
    json.dumps(studio.rows, allow_nan=False)


def test_update_reapplies_only_the_edited_lf_and_shows_its_delta(project):
    calls = {"prize": Calls(), "mum": Calls(), "call": Calls()}
    c_prize, c_mum, c_call = calls["prize"], calls["mum"], calls["call"]

    @vectorized_lf(name="prize")
    def prize(df):
        c_prize.hit()
        return np.where(df["text"].str.contains("prize"), 1, -1)

    @vectorized_lf(name="mum")
    def mum(df):
        c_mum.hit()
        return np.where(df["text"].str.contains("mum"), 0, -1)

    @vectorized_lf(name="call")
    def call_v1(df):
        c_call.hit()
        return np.where(df["text"].str.contains("call"), 0, -1)

    studio = LFStudio(project, [prize, call_v1, mum])
    assert {k: c.n for k, c in calls.items()} == {"prize": 1, "mum": 1, "call": 1}
    assert studio.changes == {}

    @vectorized_lf(name="call")  # the edit: "call" now means spam, and "lunch" too
    def call_v2(df):
        c_call.hit()
        return np.where(df["text"].str.contains("call|lunch"), 1, -1)

    studio.update(call_v2)
    assert {k: c.n for k, c in calls.items()} == {"prize": 1, "mum": 1, "call": 2}
    assert studio.lf_names == ["prize", "call", "mum"]  # replaced in place, by name
    assert studio.last_update == ["call"]
    # Before: i2, i4 -> ham (i4's human label is spam: 0 of 1). After: i2, i4, i3 -> spam.
    assert studio.changes["call"] == {
        "before": {"coverage": pytest.approx(2 / 7), "accuracy": 0.0, "n": 1},
        "after": {"coverage": pytest.approx(3 / 7), "accuracy": 0.5, "n": 2},
        "n_changed": 3, "gained": 1, "lost": 0, "relabeled": 2}
    assert studio.rows[1]["coverage"] == pytest.approx(3 / 7)
    intent(studio, type="page", lf="call", kind="changed", offset=0, request_id=5)
    assert [(e["item_id"], e["before"], e["vote"]) for e in studio.page["items"]] == [
        ("i2", "ham", "spam"), ("i3", None, "spam"), ("i4", "ham", "spam")]
    # Re-running the same cell (same LF) re-applies nothing and keeps the delta on show.
    studio.update(call_v2)
    assert c_call.n == 2 and studio.changes["call"]["n_changed"] == 3


def test_a_snorkel_lf_edited_in_place_is_re_run(project, lfs):
    studio = LFStudio(project, lfs)
    old = LabelingFunction("short", lambda x: 0 if len(x.text) < 8 else -1)
    studio.update(old)
    assert studio.lf_names == ["prize", "call", "mum", "short"] and studio.changes == {}
    studio.update(LabelingFunction("short", lambda x: 0 if len(x.text) < 14 else -1))
    change = studio.changes["short"]
    assert change["before"]["coverage"] == pytest.approx(1 / 7)  # "hi mum"
    assert change["after"]["coverage"] == pytest.approx(4 / 7)
    assert change["gained"] == 3


def test_pages_of_labels_conflicts_and_disagreements(studio):
    def page(lf, kind):
        intent(studio, type="page", lf=lf, kind=kind, offset=0, request_id=1)
        return [e["item_id"] for e in studio.page["items"]]

    assert page("prize", "labels") == ["i0", "i2", "i5"]
    assert page("prize", "conflicts") == ["i2", "i5"]  # call says ham on i2, mum says ham on i5
    assert page("prize", "disagrees") == ["i5"]  # i5 is ham to its annotator
    assert page("call", "conflicts") == ["i2"]
    assert page("call", "disagrees") == ["i4"]
    assert page("mum", "conflicts") == ["i5"] and page("mum", "disagrees") == []
    assert studio.selected == "mum"
    intent(studio, type="page", lf="prize", kind="conflicts", offset=0, request_id=42)
    first = studio.page["items"][1]
    assert studio.page["request_id"] == 42
    assert studio.page["counts"] == {"labels": 3, "conflicts": 2, "disagrees": 1, "changed": 0}
    assert first == {"item_id": "i5", "text": "prize for mum", "truncated": False,
                     "vote": "spam", "changed": False, "before": None, "others": [{"lf": "mum", "vote": "ham"}],
                     "human": "ham"}


def test_pages_move_by_ten_and_clamp(tmp_path):
    p = hw.Project(tmp_path / "many.hitl", labels=LABELS)
    p.add_items([f"prize {k}" for k in range(25)], id=[f"m{k:02d}" for k in range(25)])
    studio = LFStudio(p, [kw("prize", ["prize"], "spam")])
    intent(studio, type="page", lf="prize", kind="labels", offset=PAGE_SIZE, request_id=2)
    assert [e["item_id"] for e in studio.page["items"]] == [f"m{k:02d}" for k in range(10, 20)]
    intent(studio, type="page", lf="prize", kind="labels", offset=999, request_id=3)
    assert studio.page["offset"] == 20 and len(studio.page["items"]) == 5
    assert studio.page["total"] == 25
    p.close()


def test_long_text_is_cut_and_markup_travels_as_text(tmp_path):
    p = hw.Project(tmp_path / "long.hitl", labels=LABELS)
    long = "<img src=x onerror=alert(1)> prize " + "x" * 1000
    p.add_items([long], id=["a"])
    studio = LFStudio(p, [kw("prize", ["prize"], "spam")])
    intent(studio, type="page", lf="prize", kind="labels", offset=0, request_id=1)
    (item,) = studio.page["items"]
    assert item["text"] == long[:TEXT_CHARS] and item["truncated"]
    p.close()


def test_an_lf_that_raises_shows_its_error_in_its_row_and_others_keep_theirs(studio):
    @labeling_function()
    def fragile(x):
        if "mum" in x.text:
            raise ZeroDivisionError("no mum")
        return 1 if "win" in x.text else -1

    studio.update(fragile)
    rows = {r["name"]: r for r in studio.rows}
    assert rows["fragile"]["error"] == {"count": 2, "error": "ZeroDivisionError('no mum')",
                                        "rows": ["i1", "i5"]}
    assert rows["fragile"]["coverage"] == pytest.approx(1 / 7)  # i0; failing rows abstain
    assert all(rows[n]["error"] is None for n in ("prize", "call", "mum"))
    assert rows["prize"]["coverage"] == pytest.approx(3 / 7)
    assert studio.error == ""


def test_out_of_schema_label_sets_error_and_keeps_the_table(studio):
    before_rows, before_names = studio.rows, studio.lf_names
    bad = vectorized_lf(name="call")(lambda df: np.full(len(df), 2))
    with pytest.raises(ValueError, match="returned 2"):
        studio.update(bad)
    assert "returned 2" in studio.error and "expected -1 (abstain) or 0..1" in studio.error
    assert studio.rows == before_rows and studio.lf_names == before_names
    assert studio.lfs[1].spec["keywords"] == ["call"]  # the old LF is still the one in use
    studio.update(kw("call", ["call"], "spam"))  # the fix clears the error and diffs vs the old
    assert studio.error == "" and studio.changes["call"]["n_changed"] == 2


def test_duplicate_names_are_refused_with_advice(project, lfs, studio):
    with pytest.raises(ValueError, match="repeated: \\['prize'\\]"):
        LFStudio(project, [*lfs, kw("prize", ["win"], "spam")])
    rows = studio.rows
    with pytest.raises(ValueError, match="unique"):
        studio.set_lfs([lfs[0], lfs[0]])
    assert "unique" in studio.error and studio.rows == rows and len(studio.lfs) == 3


def test_not_an_lf_and_bad_arguments(project, studio):
    with pytest.raises(TypeError, match="not a labeling function"):
        studio.update(lambda x: 1)
    assert "not a labeling function" in studio.error
    with pytest.raises(TypeError, match="hitl_widgets.Project"):
        LFStudio("p.hitl", [])
    with pytest.raises(TypeError, match="colum"):
        LFStudio(project, [], colum="text")
    with pytest.raises(ValueError, match="differ from the project's labels"):
        LFStudio(project, [], labels=["spam", "ham"])


def test_empty_project_says_what_to_do_then_fills_when_items_arrive(tmp_path, lfs):
    p = hw.Project(tmp_path / "empty.hitl", labels=LABELS)
    studio = LFStudio(p, lfs)
    assert studio.rows == [] and studio.n_items == 0
    assert "no items yet" in studio.error and "project.add_items" in studio.error
    p.add_items(["prize here", "hi mum"], id=["a", "b"])
    assert studio.error == "" and studio.n_items == 2
    assert [r["coverage"] for r in studio.rows] == [0.5, 0.0, 0.5]
    p.close()


def test_new_human_labels_update_accuracy(studio, project):
    assert studio.rows[0]["emp_acc_n"] == 2  # prize: i0 right, i5 wrong
    project.annotate("i2", "spam", annotator="bo")
    assert studio.rows[0]["emp_acc_n"] == 3 and studio.rows[0]["correct"] == 2
    assert studio.n_human == 6


def test_unknown_lf_or_kind_in_a_page_request_sets_error(studio):
    intent(studio, type="page", lf="nope", kind="labels", offset=0, request_id=1)
    assert "No LF named 'nope'" in studio.error
    intent(studio, type="page", lf="prize", kind="weird", offset=0, request_id=2)
    assert "kind must be one of" in studio.error
    intent(studio, type="dance")
    assert "Unknown message" in studio.error


def test_compare_fits_on_request_and_clears_busy(studio):
    seen = []
    studio.observe(lambda change: seen.append(change["new"]), names="busy")
    intent(studio, type="compare")
    assert seen == ["Fitting the label model…", ""]
    models = {r["model"]: r for r in studio.comparison}
    assert set(models) == {"majority vote", "label model"}
    assert models["majority vote"]["n"] == 5
    json.dumps(studio.comparison, allow_nan=False)
    studio.update(kw("mum", ["mum", "lunch"], "ham"))  # a new L: the old comparison is stale
    assert studio.comparison == []


def test_compare_without_enough_lfs_says_so(project):
    studio = LFStudio(project, [kw("prize", ["prize"], "spam")])
    intent(studio, type="compare")
    assert "at least 3 LFs" in studio.error and studio.busy == ""


def test_removing_the_selected_lf_clears_the_page(studio):
    intent(studio, type="page", lf="mum", kind="labels", offset=0, request_id=1)
    studio.remove("mum")
    assert studio.selected == "" and studio.page == {} and studio.lf_names == ["prize", "call"]


# -- in a notebook: the heavy work in a worker thread ----------------------------------------------
def _settle(cond):
    """Let the loop run until ``cond()`` (a loaded machine: the worker may take its time)."""
    async def wait():
        for _ in range(1000):
            await asyncio.sleep(0.01)
            if cond():
                return
    return wait()


def test_outside_a_loop_opening_and_compare_are_synchronous(studio):
    assert not studio.updating and len(studio.rows) == 3
    intent(studio, type="compare")
    assert {r["model"] for r in studio.comparison} == {"majority vote", "label model"}
    assert studio.busy == "" and not studio.updating


def test_in_a_loop_opening_returns_at_once_and_the_table_lands(project, lfs, monkeypatch):
    import hitl_widgets.lf_studio as module

    computed: list[threading.Thread] = []
    release = threading.Event()
    real = module.apply_to_project

    def slow_apply(*args, **kwargs):
        computed.append(threading.current_thread())
        release.wait(10)  # a big project's first apply: a label arrives meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "apply_to_project", slow_apply)

    async def main():
        studio = LFStudio(project, lfs)  # returns at once: the loop is free
        assert studio.updating and studio.rows == [] and studio.n_items == 0
        await _settle(lambda: computed)
        project.annotate("i6", "spam", annotator="ana")  # before the worker read the labels
        release.set()
        await _settle(lambda: not studio.updating)
        intent(studio, type="compare")  # the fit, too, off the loop's thread
        assert studio.busy and studio.updating
        await _settle(lambda: studio.comparison)
        return studio

    studio = asyncio.run(main())
    assert computed and all(t is not threading.main_thread() for t in computed)
    assert not studio.updating and studio.busy == "" and studio.error == ""
    assert (studio.n_items, studio.n_human) == (7, 6)  # the label written meanwhile is in Y
    Y = human_Y()
    Y[6] = LABELS.index("spam")
    frame = project.items().set_index("item_id")
    want = lf_summary(apply_lfs(frame, lfs, labels=LABELS), lfs, Y=Y)
    assert [r["correct"] for r in studio.rows] == list(want["Correct"])
    assert [r["incorrect"] for r in studio.rows] == list(want["Incorrect"])
    assert {r["model"] for r in studio.comparison} == {"majority vote", "label model"}
    studio.close()


def test_in_a_loop_another_kernels_labels_and_items_reach_the_table(project, lfs, tmp_path):
    other = hw.Project(tmp_path / "p.hitl")  # an annotator's kernel on the same file

    async def main():
        studio = LFStudio(project, lfs)
        await _settle(lambda: not studio.updating and studio.n_items == 7)
        other.annotate("i6", "spam", annotator="bo")  # a label: Y moves, no re-apply
        await _settle(lambda: studio.n_human == 6)
        human = studio.n_human
        other.add_items(text=["a prize for you"], id=["i7"])  # an item: the LFs run on it
        await _settle(lambda: studio.n_items == 8 and not studio.updating)
        return studio, human

    studio, human = asyncio.run(main())
    other.close()
    assert human == 6 and studio.n_items == 8
    Y = np.append(human_Y(), -1)
    Y[6] = LABELS.index("spam")
    frame = project.items().set_index("item_id")
    want = lf_summary(apply_lfs(frame, lfs, labels=LABELS), lfs, Y=Y)
    assert [r["coverage"] for r in studio.rows] == list(want["Coverage"])
    assert [r["correct"] for r in studio.rows] == list(want["Correct"])
    studio.close()
    assert studio._follow._stopped


def test_in_a_loop_a_refresh_asked_during_one_runs_once_more(project, lfs, monkeypatch):
    import hitl_widgets.lf_studio as module

    release = threading.Event()
    real = module.apply_to_project
    calls: list[int] = []

    def slow_apply(*args, **kwargs):
        calls.append(1)
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "apply_to_project", slow_apply)

    async def main():
        studio = LFStudio(project, lfs)
        await _settle(lambda: calls)
        project.add_items(text=["a new prize"], id=["i7"])  # an items change while the open runs
        intent(studio, type="refresh")
        intent(studio, type="refresh")  # asked twice: run once more, not twice
        release.set()
        await _settle(lambda: not studio.updating)
        return studio

    studio = asyncio.run(main())
    assert len(calls) == 2 and studio.n_items == 8 and studio.rows[0]["coverage"] == 4 / 8
    studio.close()


def test_in_a_loop_an_error_in_the_worker_lands_as_the_widgets_error(project, lfs, monkeypatch):
    import hitl_widgets.lf_studio as module

    async def main():
        studio = LFStudio(project, lfs)
        await _settle(lambda: not studio.updating)

        def broken(*args, **kwargs):
            raise ValueError("Column 'text' is missing.")

        monkeypatch.setattr(module, "apply_to_project", broken)
        intent(studio, type="refresh")
        assert studio.updating
        await _settle(lambda: not studio.updating)
        return studio

    studio = asyncio.run(main())
    assert studio.error == "Column 'text' is missing. The table still shows the previous LFs."
    assert len(studio.rows) == 3  # the previous table stays
    studio.close()


def test_in_a_loop_a_label_written_after_the_worker_read_y_is_in_the_table(project, lfs,
                                                                             monkeypatch):
    import hitl_widgets.lf_studio as module

    reading, release = threading.Event(), threading.Event()
    real = module.LiveSummary

    def slow_summary(*args, **kwargs):  # Y has been read and copied: the table is built on it
        reading.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "LiveSummary", slow_summary)

    async def main():
        studio = LFStudio(project, lfs)
        await _settle(reading.is_set)
        project.annotate("i2", "spam", annotator="ana")  # "free prize call": prize right, call wrong
        project.annotate("i1", "spam", annotator="ana")  # was ham: mum now wrong
        release.set()
        await _settle(lambda: not studio.updating)
        return studio

    studio = asyncio.run(main())
    Y = human_Y()
    Y[2] = Y[1] = LABELS.index("spam")
    frame = project.items().set_index("item_id")
    want = lf_summary(apply_lfs(frame, lfs, labels=LABELS), lfs, Y=Y)
    assert [(r["correct"], r["incorrect"]) for r in studio.rows] == list(
        zip(want["Correct"], want["Incorrect"], strict=True))
    assert studio.n_human == 6
    studio.close()


def test_in_a_loop_an_edit_before_the_opening_landed_shows_what_it_changed(project, lfs,
                                                                            monkeypatch):
    # A notebook's next cell may edit an LF while the opening table is still in the worker:
    # the cell cannot wait for it to land, so the edit is shown against a table built first.
    import hitl_widgets.lf_studio as module

    release = threading.Event()
    real = module.apply_to_project

    def slow_apply(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "apply_to_project", slow_apply)
    wider = keyword_lf("prize", ["prize", "winner", "claim"], "spam", labels=LABELS)

    async def main():
        studio = LFStudio(project, lfs)
        assert studio.updating  # still opening in the worker
        studio.update(wider)  # the next cell
        release.set()
        await _settle(lambda: not studio.updating)
        return studio

    studio = asyncio.run(main())
    assert "prize" in studio.changes  # the before -> after line of the edit
    assert [r["name"] for r in studio.rows] == ["prize", "call", "mum"]  # replaced in place
    frame = project.items().set_index("item_id")
    assert (studio.L == apply_lfs(frame, [wider, *lfs[1:]], labels=LABELS)).all()
    studio.close()
