"""The Dashboard's workforce figure: the numbers drawn are the ones the API returns."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from hitl_widgets.core import quality
from hitl_widgets.dashboard import Dashboard

IDS = [f"i{k}" for k in range(6)]


@pytest.fixture
def project(make_project):
    p = make_project(items=0, name="w.hitl")
    p.add_items(pd.DataFrame({"text": [f"text {i}" for i in IDS], "id": IDS,
                              "source": ["web" if k % 2 else "mail" for k in range(6)]}),
                text="text", id="id", fields=["source"])
    p.set_overlap(2)
    p.set_rate("*", 36.0)  # a cent a second
    p.set_rate("ana", 72.0)
    p.set_budget(1.0)
    p.set_gold(["i0"], ["ham"])
    for k, item in enumerate(IDS):
        p.annotate(item, "ham", annotator="ana", ms_on_item=10_000)
        p.annotate(item, "spam" if k == 3 else "ham", annotator="bob", ms_on_item=5_000)
    return p


def test_the_workforce_figure_draws_what_the_api_returns(project):
    d = Dashboard(project, workforce=True, task_type="source", min_count=1)
    try:
        cost, budget_line, per_label, per_hour, turnaround, budget, skill = d.workforce_figure.data
        summary = project.cost_summary()
        assert cost.y[-1] == pytest.approx(summary["cost"].sum()) == pytest.approx(6 * 0.2 + 6 * 0.05)
        assert list(budget_line.y) == [1.0, 1.0]
        assert dict(zip(per_label.x, per_label.y, strict=True)) == pytest.approx(
            {"ana": 0.2, "bob": 0.05})
        assert sum(per_hour.y) == 12
        assert len(turnaround.x) == 5  # the five regular items have both labels; gold left out
        assert list(budget.y) == ["spent", "left"] and budget.x[0] == pytest.approx(1.5)
        assert budget.x[1] == 0
        profiles = project.skill_profiles("source")
        assert len(skill.x) == len(profiles) and set(skill.x) == {
            f"{a} · {t}" for a, t in zip(profiles["annotator"], profiles["task_type"], strict=True)}
        assert list(skill.y) == pytest.approx(profiles["mean"].tolist())
        assert 'data-reached="true"' in d.summary.value and "no new work" in d.summary.value
    finally:
        d.close()


def test_without_workforce_there_is_no_second_figure(project):
    d = Dashboard(project)
    try:
        assert d.workforce_figure is None and len(d.children) == 2
        assert "hitl-dashboard-budget" not in d.summary.value
    finally:
        d.close()


@pytest.mark.parametrize("bad", [dict(workforce="yes"), dict(workforce=1),
                                 dict(workforce=True, task_type=["a", "b"])])
def test_bad_workforce_options_are_refused_before_anything_is_built(project, bad):
    with pytest.raises((ValueError, TypeError)):
        Dashboard(project, **bad)


def test_turnaround_and_cost_over_time_survive_a_clock_that_went_back(project, monkeypatch):
    project.add_items(["late"], id=["late"])
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600)  # the writer's clock, an hour behind
    project.annotate("late", "ham", annotator="cy", ms_on_item=1_000)
    project.annotate("late", "ham", annotator="dee", ms_on_item=1_000)
    monkeypatch.setattr(time, "time", real)
    frame = quality.turnaround(project).set_index("item_id")
    assert pd.isna(frame.loc["late", "hours"])  # finished "before" it was added: not a duration
    assert (frame["hours"].dropna() >= 0).all() and len(frame) == 6
    data = quality.workforce_data(project)
    assert data["cost_over_time"]["at"].is_monotonic_increasing  # drawn at the latest time seen
    assert data["cost_over_time"]["cost"].iloc[-1] == pytest.approx(1.5 + 2 * 0.01)
