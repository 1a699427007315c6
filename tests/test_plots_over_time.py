"""The plots of data over time draw what the engine holds: reservoir fill against capacity, and
a monitor's drift statistics with its drifted checks marked."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hitl_widgets.core.drift import DriftMonitor
from hitl_widgets.core.stream import StratifiedReservoir
from hitl_widgets.plots import drift_over_time, reservoir_fill


def test_reservoir_fill_shows_held_and_capacity_per_stratum():
    res = StratifiedReservoir(30, by="label", seed=0, strata=["a", "b"], quotas={"a": 1, "b": 2})
    rng = np.random.default_rng(0)
    res.add([{"x": float(v), "label": "a" if v < 0.1 else "b"} for v in rng.uniform(size=500)])
    counts = res.counts()
    held, capacity = reservoir_fill(counts).data
    assert list(held.x) == ["a", "b"]
    assert list(held.y) == [counts["a"]["held"], counts["b"]["held"]]
    assert list(capacity.y) == [counts["a"]["capacity"], counts["b"]["capacity"]]
    assert sum(held.y) <= 30 and list(held.customdata) == [counts["a"]["seen"], counts["b"]["seen"]]


def test_drift_over_time_draws_each_feature_and_marks_the_drifted_checks():
    rng = np.random.default_rng(2)
    monitor = DriftMonitor(pd.DataFrame({"x": rng.normal(size=800), "y": rng.normal(size=800)}),
                           window=200)
    monitor.update(pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400)}))
    monitor.update(pd.DataFrame({"x": rng.normal(2, 1, 200), "y": rng.normal(size=200)}))
    history = monitor.history
    fig = drift_over_time(history)
    lines = {t.name: t for t in fig.data}
    assert set(lines) == {"x", "y", "drifted"}
    assert list(lines["x"].x) == [200, 400, 600]
    assert list(lines["drifted"].x) == [600] and list(lines["drifted"].text) == ["x"]
    assert fig.layout.yaxis.type == "log"
    assert list(drift_over_time(history, statistic="psi").data[0].y) == list(
        history[history["feature"] == "x"]["psi"])
    assert [t.name for t in drift_over_time(monitor.history.iloc[:0]).data] == []
