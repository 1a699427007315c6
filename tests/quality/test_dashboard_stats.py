"""The Dashboard's kept numbers (DashboardStats) equal the full recompute (dashboard_data), whatever
the events and whichever connection wrote them (issue 14: views kept, not recomputed)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from event_steps import KINDS, run_step, step_strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitl_widgets import Project
from hitl_widgets.core import quality

LABELS = ["ham", "spam", "eggs"]
ITEMS = [f"i{k}" for k in range(8)]  # more than the window: the kept curve is patched mid-way
ANNOTATORS = ["ana", "ben", "cy", "dee"]
OPTIONS = dict(window=3, target=0.5, rate_per_hour=20.0, threshold=0.6, min_count=1)

step = step_strategy(items=ITEMS, annotators=ANNOTATORS, labels=LABELS, annotate_weight=10,
                     ms_on_item=st.one_of(st.none(), st.integers(1, 5).map(lambda s: 1000 * s)),
                     kinds=[k for k in KINDS if k != "skip"])


def assert_same(mine: dict, full: dict) -> None:
    assert mine.keys() == full.keys()
    for key in full:
        a, b = mine[key], full[key]
        if isinstance(b, pd.DataFrame):
            a, b = a.reset_index(drop=True), b.reset_index(drop=True)
            if b.empty:  # an empty table's column types say nothing
                assert list(a.columns) == list(b.columns) and a.empty, key
                continue
            if key == "alerts":
                a, b = a.drop(columns="created_at"), b.drop(columns="created_at")
            pd.testing.assert_frame_equal(a, b, check_exact=True, obj=key)
        else:
            assert a == b, key


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=10, max_size=50))
def test_the_kept_dashboard_equals_a_recompute_after_every_step(tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("dash") / "p.hitl"
    a = Project(path, labels=LABELS)
    a.add_items([f"text {i}" for i in ITEMS], id=ITEMS)
    a.set_overlap(2)
    b = Project(path)  # another kernel on the same file
    kernels = [a, b]
    kept = [quality.DashboardStats(a), quality.DashboardStats(b)]
    try:
        for s in steps:
            run_step(kernels[s[1]], s)
            # The writer's view follows every step; the other kernel's only now and then, so it
            # must catch up over many steps at once.
            for k in {s[1]} | ({0, 1} if s[0] == "read" else set()):
                assert_same(kept[k].data(**OPTIONS), quality.dashboard_data(kernels[k], **OPTIONS))
        for k in (0, 1):
            assert_same(kept[k].data(**OPTIONS), quality.dashboard_data(kernels[k], **OPTIONS))
    finally:
        a.close()
        b.close()


def test_requests_overlaps_and_gold_written_elsewhere_are_taken_in(tmp_path):
    path = tmp_path / "p.hitl"
    with Project(path, labels=LABELS) as a, Project(path) as b:
        a.add_items([f"text {i}" for i in ITEMS], id=ITEMS)
        a.set_overlap(2)
        kept = quality.DashboardStats(a)
        for item, labels in zip(ITEMS, [("ham", "ham"), ("ham", "spam"), ("spam", "eggs")],
                                strict=False):
            for who, label in zip(["ana", "ben"], labels, strict=True):
                a.annotate(item, label, annotator=who, ms_on_item=1000)
        assert_same(kept.data(**OPTIONS), quality.dashboard_data(a, **OPTIONS))
        for write in (lambda: b.spot_check(rate=1.0), lambda: b.set_overlap(3, ["i0"]),
                      lambda: b.set_gold({"i1": "spam"}), lambda: b.set_overlap(1),
                      lambda: b.check_agreement(window=4, threshold=0.9, min_items=1),
                      lambda: b.undo(annotator="ben"), lambda: b.remove_gold(["i1"]),
                      lambda: b.add_items(["one more"], id=["x"])):
            write()
            assert_same(kept.data(**OPTIONS), quality.dashboard_data(a, **OPTIONS))


def test_dawid_skene_consensus_is_the_full_fit(make_project):
    p = make_project(labels=LABELS, items=[f"t{k}" for k in range(8)],
                     ids=[f"i{k}" for k in range(8)])
    p.set_overlap(3)
    for k in range(8):
        for j, who in enumerate(["ana", "ben", "cy"]):
            p.annotate(f"i{k}", LABELS[(k + j * (k % 2)) % 3], annotator=who)
    stats = quality.DashboardStats(p)
    assert_same(stats.data(method="dawid_skene"), quality.dashboard_data(p, method="dawid_skene"))


def test_a_multi_label_project_counts_joined_categories(make_project):
    p = make_project(labels=LABELS, items=3, ids=["a", "b", "c"], multi_label=True)
    p.set_overlap(2)
    stats = quality.DashboardStats(p)
    p.annotate("a", ["ham", "eggs"], annotator="ana")
    p.annotate("a", ["ham", "eggs"], annotator="ben")
    p.annotate("b", ["spam"], annotator="ana")
    p.annotate("b", ["ham"], annotator="ben")
    assert_same(stats.data(), quality.dashboard_data(p))
    assert "ham|eggs" in stats.data()["confusion"].columns


def test_label_cache_is_deprecated_and_reads_the_log(make_project):
    p = make_project()
    p.annotate("0", "ham", annotator="ana")
    with pytest.warns(DeprecationWarning, match="DashboardStats"):
        cache = quality.LabelCache()
    assert cache.rows(p) == p.store.current_labels()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert quality.dashboard_data(p, cache=cache)["totals"]["labels"] == 1


def test_bad_options_are_refused_before_any_work(make_project):
    stats = quality.DashboardStats(make_project())
    with pytest.raises(ValueError, match="window must be"):
        stats.data(window=0)
    with pytest.raises(ValueError, match="Unknown consensus method"):
        quality.DashboardStats.options(method="vote")


def test_a_change_early_in_a_long_curve_redoes_its_middle_exactly(tmp_path):
    """More items than the window: relabeling, undoing and retracting an early item moves it
    (or changes its value) mid-curve; the kept curve patches those windows and equals the
    recompute bit for bit at every step."""
    items = [f"j{k}" for k in range(40)]
    options = dict(OPTIONS, window=5)
    with Project(tmp_path / "p.hitl", labels=LABELS) as a, Project(tmp_path / "p.hitl") as b:
        a.add_items([f"text {i}" for i in items], id=items)
        a.set_overlap(2)
        kept = quality.DashboardStats(a)
        for k, item in enumerate(items):
            a.annotate(item, LABELS[k % 3], annotator="ana")
            a.annotate(item, LABELS[(k * k) % 3], annotator="ben")
        assert len(kept.data(**options)["agreement"]) == 40
        steps = [lambda: a.annotate("j3", "eggs", annotator="cy"),  # j3 moves to the end
                 lambda: a.undo(annotator="cy"),  # and back to the middle
                 lambda: a.annotate("j10", "spam", annotator="ana"),  # j10 to the end, new value
                 lambda: b.annotate("j20", "ham", annotator="dee"),  # another kernel's write
                 lambda: a.ledger.retract([a.store.events()[7]["seq"]], notify="retraction"),
                 lambda: [a.annotate(i, "ham", annotator="cy") for i in ("j1", "j30", "j2")]]
        for step in steps:
            step()
            before = kept.data(**options)["agreement"]
            assert_same(kept.data(**options), quality.dashboard_data(a, **options))
        assert before["item_id"].tolist()[-3:] == ["j1", "j30", "j2"]
        # A different window recomputes the whole curve; still the same as the recompute.
        assert_same(kept.data(**dict(options, window=3)),
                    quality.dashboard_data(a, **dict(options, window=3)))
