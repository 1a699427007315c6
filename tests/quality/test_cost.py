"""The budget cap in sessions (one kernel, another kernel, four annotator processes), the cost
report and summary, and projecting the cost of accuracy from a learning curve.

The budget bound under concurrency: a session checks the money spent, read fresh, before it
hands out anything new; once the budget is reached it hands out nothing new and keeps only the
items already in its window (at most ``prefetch``: the labels in flight). Every label written
after the last check that saw money left is one of those, so

    spent <= budget + processes * prefetch * (most expensive label)
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module

import numpy as np
import pandas as pd
import pytest

import hitl_widgets as hw
from hitl_widgets.core.labeling import LabelingSession
from hitl_widgets.core.project import Project
from hitl_widgets.core.quality import (
    cost_per_point,
    cost_summary,
    fit_learning_curve,
    mean_cost_per_label,
    project_cost,
)


@pytest.fixture
def project(make_project):
    return make_project(items=20, ids=[f"i{k:02d}" for k in range(20)])


# -- the cap in one kernel ------------------------------------------------------------------
def test_once_the_budget_is_reached_the_window_keeps_only_the_labels_in_flight(project):
    project.set_rate("*", 36.0)  # 10 s = 0.10
    project.set_budget(0.25)
    session = LabelingSession(project, "ana", prefetch=3)
    assert session.window() == ["i00", "i01", "i02"]
    session.submit("i00", ["ham"], ms_on_item=10_000)
    session.submit("i01", ["ham"], ms_on_item=10_000)
    assert session.window() == ["i02", "i03", "i04"]  # 0.20 spent: still under
    session.submit("i02", ["ham"], ms_on_item=10_000)  # 0.30: reached
    assert session.window() == ["i03", "i04"]  # nothing new; what was handed out stays
    progress = session.progress()
    assert progress["budget"] == {"spent": pytest.approx(0.3), "limit": 0.25, "reached": True}
    assert progress["queue"].startswith("budget reached")
    session.skip("i03", ms_on_item=10_000)  # a skip is paid, and leaves the window too
    session.submit("i04", ["spam"], ms_on_item=10_000)
    assert session.window() == []
    assert project.budget()["spent"] <= 0.25 + 3 * 0.10 + 1e-12
    project.set_budget(10.0)  # raised: work resumes where it stopped
    assert session.window() == ["i05", "i06", "i07"]
    assert "queue" not in session.progress() or "budget" not in session.progress()["queue"]
    session.close()


def test_another_kernels_spending_stops_this_session(project):
    project.set_rate("*", 36.0)
    project.set_budget(0.5)
    session = LabelingSession(project, "ana", prefetch=2)
    assert session.window() == ["i00", "i01"]
    with Project(project.store.path) as other:  # another kernel spends the budget
        for k in range(5):
            other.annotate(f"i{10 + k}", "ham", annotator="bob", ms_on_item=10_000)
    assert session.window() == ["i00", "i01"]  # in flight only: nothing new
    session.submit("i00", ["ham"], ms_on_item=10_000)
    assert session.window() == ["i01"]
    session.close()


def test_an_annotator_without_a_rate_gets_no_work_while_a_budget_is_set(project):
    project.set_rate("ana", 20.0)
    session = LabelingSession(project, "bob", prefetch=2)
    assert session.window() == ["i00", "i01"]  # no budget: rates do not matter
    project.set_budget(100.0)
    with pytest.raises(ValueError, match=r"no hourly rate.*set_rate\('bob'"):
        session.window()
    project.set_rate("*", 15.0)  # a default covers him
    assert session.window() == ["i00", "i01"]
    assert LabelingSession(project, "ana", prefetch=1).window() == ["i00"]
    session.close()


def test_the_labelers_progress_line_shows_the_budget(project):
    project.set_rate("*", 36.0)
    project.set_budget(0.1)
    widget = hw.Labeler(project, annotator="ana", prefetch=2)
    try:
        assert widget.progress["budget"]["reached"] is False
        widget._dispatch(widget, {"type": "submit", "item_id": "i00", "labels": ["ham"],
                                  "ms_on_item": 10_000, "client_seq": 1}, [])
        assert widget.progress["budget"]["reached"] is True
        assert widget.progress["queue"].startswith("budget reached")
        assert widget.window == ["i01"]
    finally:
        widget.close()


# -- the cap under four annotator processes ------------------------------------------------
PROCESS_RATES = {"ana": 36.0, "ben": 36.0, "cy": 72.0, "dee": 18.0}  # 10 s: 0.10 .. 0.20
MS, PREFETCH, BUDGET, N_ITEMS = 10_000, 3, 10.0, 250  # the cheapest alone: 200 + 3 labels


def _label_until_stopped(path: str, annotator: str, go, out) -> None:
    """One annotator's kernel: label whatever the window offers, as fast as it can."""
    try:
        project = Project(path)
        session = LabelingSession(project, annotator, prefetch=PREFETCH)
        out.put((annotator, "ready", None))
        go.wait(120)  # everyone starts together
        labeled = 0
        while window := session.window():
            session.submit(window[0], ["ham"], ms_on_item=MS)
            labeled += 1
        session.close()
        project.close()
        out.put((annotator, labeled, None))
    except BaseException as exc:  # the test names the worker's failure
        out.put((annotator, 0, repr(exc)))


@pytest.mark.timeout(240)
def test_the_budget_holds_under_four_annotator_processes(make_project):
    project = make_project(items=N_ITEMS, ids=[f"i{k:03d}" for k in range(N_ITEMS)],
                           name="shared.hitl")
    for who, hourly in PROCESS_RATES.items():
        project.set_rate(who, hourly)
    project.set_budget(BUDGET)
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_label_until_stopped, args=(project.store.path, who, go, out))
             for who in PROCESS_RATES]
    for p in procs:
        p.start()
    results = []
    try:
        ready = [out.get(timeout=120) for _ in procs]
        assert all(state == "ready" for _, state, _ in ready), ready
        go.set()
        for _ in procs:
            results.append(out.get(timeout=120))
    except queue_module.Empty:
        pytest.fail(f"a worker did not finish; got {results}")
    finally:
        for p in procs:
            p.join(30)
    errors = [(who, err) for who, _, err in results if err]
    assert not errors, errors
    assert all(p.exitcode == 0 for p in procs)

    costs = project.ledger.costs
    costs.check()
    spent = costs.spent()
    most = max(PROCESS_RATES.values()) * MS / 1000 / 3600
    in_flight = len(procs) * PREFETCH
    assert BUDGET <= spent <= BUDGET + in_flight * most, (spent, results)
    labels = project.labels()
    assert sum(n for _, n, _ in results) == len(labels)
    assert labels["item_id"].nunique() < N_ITEMS  # work stopped: items left unlabeled
    assert {who for who, n, _ in results if n} == set(PROCESS_RATES)  # all four took part
    late = LabelingSession(project, "ana", prefetch=PREFETCH)
    assert late.window() == []  # a new session anywhere gets nothing either
    late.close()


# -- the report -----------------------------------------------------------------------------
def test_cost_report_prices_each_event_and_says_which_labels_were_accepted(project, tmp_path):
    project.set_overlap(2)
    project.set_rate("*", 36.0)
    project.set_rate("senior", 72.0, tier=True)
    project.set_tier("sam", "senior")
    project.annotate("i00", "ham", annotator="ana", ms_on_item=10_000)
    project.annotate("i00", "ham", annotator="bob", ms_on_item=20_000)
    project.annotate("i01", "ham", annotator="ana", ms_on_item=10_000)
    project.annotate("i01", "spam", annotator="bob", ms_on_item=10_000)
    project.resolve("i01", "spam", annotator="sam", ms_on_item=30_000)
    project.skip("i02", annotator="bob", ms_on_item=5_000)
    project.annotate("i03", "ham", annotator="ana")  # unmeasured; the item is not finished
    report = project.cost_report()
    assert list(report.columns) == ["seq", "item_id", "annotator", "tier", "kind", "active_s",
                                    "measured", "rate", "cost", "at", "accepted"]
    assert report["cost"].round(10).tolist() == [0.1, 0.2, 0.1, 0.1, 0.6, 0.05, 0.1]
    assert report["tier"].tolist()[4] == "senior"
    assert report["accepted"].tolist() == [True, True, False, True, True, False, pd.NA]
    assert report["cost"].sum() == pytest.approx(project.ledger.costs.spent(), abs=1e-12)

    summary = cost_summary(report).set_index("annotator")
    assert summary.loc["ana", ["labels", "accepted"]].tolist() == [3, 1]
    assert summary.loc["ana", "cost"] == pytest.approx(0.3)
    assert summary.loc["ana", "cost_per_accepted"] == pytest.approx(0.3)
    assert summary.loc["ana", "unmeasured"] == 1
    assert summary.loc["bob", ["labels", "skips"]].tolist() == [2, 1]
    assert summary.loc["bob", "cost_per_label"] == pytest.approx(0.35 / 2)
    assert summary.loc["bob", "labels_per_hour"] == pytest.approx(2 / (35 / 3600))
    assert mean_cost_per_label(project) == pytest.approx(1.25 / 6)

    path = tmp_path / "cost.csv"
    report.to_csv(path, index=False)  # the one spreadsheet
    back = pd.read_csv(path)
    assert len(back) == len(report) and back["cost"].sum() == pytest.approx(1.25)


def test_undone_work_stays_in_the_report_and_is_not_accepted(project):
    project.set_rate("*", 36.0)
    project.annotate("i00", "spam", annotator="ana", ms_on_item=10_000)
    project.undo(annotator="ana")
    project.annotate("i00", "ham", annotator="ana", ms_on_item=10_000)
    project.set_gold(["i00"], ["ham"])
    report = project.cost_report()
    assert report["cost"].sum() == pytest.approx(0.2)
    assert report["accepted"].tolist() == [False, True]


def test_an_empty_project_has_an_empty_report(project):
    assert project.cost_report().empty and project.cost_summary().empty


# -- projections ------------------------------------------------------------------------------
A, B, C = 0.92, 0.9, 0.45


def _synthetic(seeds=8, noise=0.006, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    n = np.array([25, 50, 100, 150, 200, 300, 400, 600])
    rows = [(s, k, A - B * k ** -C + rng.normal(0, noise)) for s in range(seeds) for k in n]
    return pd.DataFrame(rows, columns=["seed", "n_labels", "accuracy"]).assign(strategy="margin")


def test_a_known_curve_is_recovered_with_the_truth_inside_the_interval():
    curve = _synthetic()
    fit = fit_learning_curve(curve)
    assert (fit.a, fit.b, fit.c) == pytest.approx((A, B, C), rel=0.1)
    target = 0.88
    true_n = (B / (A - target)) ** (1 / C)  # about 1,700 labels
    p = project_cost(curve, target, cost_per_label=0.25, n_boot=200, seed=1)
    assert p.reachable and p.labels_now == 600
    assert p.labels == pytest.approx(true_n, rel=0.15)
    assert p.labels_low <= true_n <= p.labels_high
    true_cost = (true_n - 600) * 0.25
    assert p.cost == pytest.approx((p.labels - 600) * 0.25)
    assert p.cost_low <= true_cost <= p.cost_high
    assert p.resamples + p.failed_fits == 200


def test_the_next_point_of_accuracy_costs_what_the_curve_says():
    curve = _synthetic(noise=0.0, seeds=1)
    p = cost_per_point(curve, cost_per_label=2.0, n_boot=0)
    target = A - B * 600 ** -C + 0.01
    true_more = (B / (A - target)) ** (1 / C) - 600
    assert p.more_labels == pytest.approx(true_more, rel=1e-3)
    assert p.cost == pytest.approx(2.0 * true_more, rel=1e-3)


def test_a_target_above_the_ceiling_is_not_reachable_rather_than_an_error():
    p = project_cost(_synthetic(), 0.97, cost_per_label=0.25, n_boot=50)
    assert not p.reachable
    assert p.labels == np.inf and p.cost == np.inf
    assert "not reachable" in p.note


@pytest.mark.parametrize("curve, words", [
    (_synthetic().assign(strategy=lambda d: np.where(d.seed % 2, "margin", "random")),
     "several strategies"),
    (pd.DataFrame({"n_labels": [10, 20, 30], "accuracy": [0.5, 0.6, 0.7]}), "at least 4"),
    (pd.DataFrame({"n": [10, 20, 30, 40]}), "n_labels and accuracy"),
])
def test_a_curve_that_cannot_be_projected_says_why(curve, words):
    with pytest.raises((ValueError, TypeError), match=words):
        project_cost(curve, 0.8, cost_per_label=0.25)


@pytest.mark.parametrize("kwargs, words", [
    ({"target": 0.0, "cost_per_label": 0.25}, "target"),
    ({"target": 1.5, "cost_per_label": 0.25}, "target"),
    ({"target": 0.8, "cost_per_label": -1}, "cost_per_label"),
    ({"target": 0.8, "cost_per_label": float("nan")}, "cost_per_label"),
])
def test_bad_projection_arguments_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        project_cost(_synthetic(), **kwargs)


def test_the_project_projects_at_its_own_cost_per_label(project):
    project.set_rate("*", 36.0)
    for k in range(4):
        project.annotate(f"i{k:02d}", "ham", annotator="ana", ms_on_item=10_000)
    p = project.project_cost(_synthetic(noise=0.0, seeds=1), 0.88, n_boot=0)
    assert p.cost_per_label == pytest.approx(0.1)


def test_the_next_point_is_priced_from_a_real_learning_curve(make_project):
    """hw.simulate's curve on scikit-learn's digits (as notebook 07 does), priced at the
    project's measured cost per label."""
    from sklearn.datasets import load_digits

    import hitl_widgets as hw

    project = make_project(items=4, ids=["a", "b", "c", "d"])
    project.set_rate("*", 36.0)
    for item in ("a", "b", "c", "d"):
        project.annotate(item, "ham", annotator="ana", ms_on_item=20_000)  # 0.20 each
    X, y = load_digits(return_X_y=True)
    curve = hw.simulate(X, y, strategies=["margin"], seeds=2, budget=120, step=10).curves
    point = project.cost_per_point(curve, n_boot=50)
    assert point.cost_per_label == pytest.approx(0.20)
    assert point.reachable and point.more_labels > 0
    assert point.cost == pytest.approx(point.more_labels * 0.20)
    assert point.cost_low <= point.cost <= point.cost_high
    unreachable = project.project_cost(curve, 1.0, n_boot=0)
    assert not unreachable.reachable and unreachable.cost == float("inf")
