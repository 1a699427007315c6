"""The quality dashboard: its numbers against hand counts, and the widget's live redraws."""

from __future__ import annotations

import asyncio
import math
import threading
import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest

import hitl_widgets as hw
import hitl_widgets.core.quality._agreement as agreement
import hitl_widgets.core.quality._routing as routing
import hitl_widgets.core.quality._stats as stats_impl
from hitl_widgets.core import quality as quality_stats
from hitl_widgets.dashboard import Dashboard, summary_html

VOTES = {  # item: {annotator: label}; overlap 2
    "1": {"ana": "ham", "bob": "ham"},
    "2": {"ana": "spam", "bob": "ham"},
    "3": {"ana": "spam", "bob": "spam"},
    "4": {"ana": "ham", "cy": "ham"},
    "5": {"ana": "spam"},  # one of two: not finished
}
GOLD = {"g1": "spam", "g2": "ham"}
GOLD_VOTES = {"g1": {"ana": "spam", "bob": "ham"}, "g2": {"ana": "ham"}}
ANA_MS = [1000, 2000, 4000, 8000, 16000, 500, 3000]  # her 7 labels, in order: median 3 s


@pytest.fixture
def project(make_project):
    ids = [*VOTES, "6", *GOLD]
    p = make_project(items=[f"text {i}" for i in ids], ids=ids, name="q.hitl")
    p.set_overlap(2)
    p.set_gold(GOLD)
    ana_ms = iter(ANA_MS)
    for item, votes in {**VOTES, **GOLD_VOTES}.items():
        for who, label in votes.items():
            p.annotate(item, label, annotator=who,
                       ms_on_item=next(ana_ms) if who == "ana" else None)
    return p


def long_labels(votes: dict) -> pd.DataFrame:
    return pd.DataFrame([(i, a, lab) for i, v in votes.items() for a, lab in v.items()],
                        columns=["item", "annotator", "label"])


# -- the numbers -------------------------------------------------------------------------------
def test_agreement_over_time_rolls_over_completed_items(project):
    curve = quality_stats.agreement_over_time(project, window=2, target=0.5)
    assert curve["item_id"].tolist() == ["1", "2", "3", "4"]  # 5 unfinished, gold left out
    assert curve["window_items"].tolist() == [1, 2, 2, 2]
    # Hand: {1} all ham -> undefined; {1,2} and {2,3} -> 0; {3,4} no disagreement -> 1.
    values = curve["agreement"].tolist()
    assert math.isnan(values[0]) and values[1:] == pytest.approx([0.0, 0.0, 1.0])
    assert curve["below"].tolist() == [False, True, True, False]
    assert (curve["target"] == 0.5).all()


def test_agreement_over_the_whole_window_equals_krippendorff(project):
    curve = quality_stats.agreement_over_time(project, window=50)
    finished = long_labels({i: VOTES[i] for i in "1234"})
    # Hand: 5 ham, 3 spam, one split pair: 1 - 7 * 2 / (64 - 25 - 9).
    assert curve["agreement"].iloc[-1] == pytest.approx(1 - 14 / 30)
    assert curve["agreement"].iloc[-1] == pytest.approx(agreement.krippendorff_alpha(finished))
    wide = finished.pivot(index="annotator", columns="item", values="label")
    coded = wide.replace({"ham": 0.0, "spam": 1.0}).to_numpy(dtype=float)
    assert curve["agreement"].iloc[-1] == pytest.approx(
        krippendorff.alpha(reliability_data=coded, level_of_measurement="nominal"))


def test_rolling_agreement_equals_the_reference_on_a_random_crowd(tmp_path):
    rng = np.random.default_rng(3)
    p = hw.Project(tmp_path / "r.hitl", labels=["a", "b", "c"])
    ids = [f"i{k:03d}" for k in range(60)]
    p.add_items(ids, id=ids)
    p.set_overlap(3)
    for item in ids:
        for who in rng.choice(["w0", "w1", "w2", "w3", "w4"], 3, replace=False):
            p.annotate(item, str(rng.choice(["a", "b", "c"], p=[0.6, 0.3, 0.1])), annotator=who)
    curve = quality_stats.agreement_over_time(p, window=17)
    labels = p.labels().rename(columns={"item_id": "item"})
    for end in (5, 17, 40, 60):
        window = labels[labels["item"].isin(ids[max(0, end - 17):end])]
        assert curve["agreement"].iloc[end - 1] == pytest.approx(
            agreement.krippendorff_alpha(window), abs=1e-12)
    p.close()


def test_all_agree_windows_are_nan_not_an_error(tmp_path):
    p = hw.Project(tmp_path / "same.hitl", labels=["ham", "spam"])
    p.add_items(["a", "b"], id=["a", "b"])
    p.set_overlap(2)
    for item in "ab":
        for who in ("ana", "bob"):
            p.annotate(item, "ham", annotator=who)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division warning either
        curve = quality_stats.agreement_over_time(p)
    assert curve["agreement"].isna().all() and not curve["below"].any()
    with warnings.catch_warnings():  # the reference agrees: undefined
        warnings.simplefilter("ignore", agreement.UndefinedAgreementWarning)
        assert math.isnan(agreement.krippendorff_alpha(
            p.labels().rename(columns={"item_id": "item"})))
    p.close()


def test_annotator_stats_match_hand_counts(project):
    stats = quality_stats.annotator_stats(project, rate_per_hour=36.0, min_count=1)
    stats = stats.set_index("annotator")
    assert stats["labels"].to_dict() == {"ana": 7, "bob": 4, "cy": 1}
    assert stats.loc["ana", "median_s"] == 3.0
    assert stats.loc["ana", "cost_per_label"] == pytest.approx(0.03)  # 3 s at 36 an hour
    assert math.isnan(stats.loc["bob", "median_s"])  # no timings recorded
    # Consensus (ties to the smaller label): 1 ham, 2 ham, 3 spam, 4 ham.
    assert stats["consensus_agreement"].to_dict() == {"ana": 0.75, "bob": 1.0, "cy": 1.0}
    assert stats["gold_n"].to_dict() == {"ana": 2, "bob": 1, "cy": 0}
    assert stats["gold_correct"].to_dict() == {"ana": 2, "bob": 0, "cy": 0}
    assert stats.loc["ana", "gold_accuracy"] == 1.0 and stats.loc["bob", "gold_accuracy"] == 0.0
    assert math.isnan(stats.loc["cy", "gold_accuracy"])
    assert stats["flagged"].to_dict() == {"ana": False, "bob": True, "cy": False}
    assert math.isnan(quality_stats.annotator_stats(project)["cost_per_label"].iloc[0])


def test_gold_figures_equal_project_gold_accuracy(project):
    mine = stats_impl._gold_stats(stats_impl._snapshot(project), 0.85, 1)
    theirs = project.gold_accuracy(min_count=1)
    pd.testing.assert_frame_equal(mine.sort_values("annotator").reset_index(drop=True),
                                  theirs.sort_values("annotator").reset_index(drop=True),
                                  check_dtype=False)


def test_pair_confusion_counts_each_pair_both_ways(project):
    table = quality_stats.pair_confusion(project)
    assert table.loc["ham", "ham"] == 4 and table.loc["spam", "spam"] == 2
    assert table.loc["ham", "spam"] == table.loc["spam", "ham"] == 1
    assert table.to_numpy().sum() == 2 * 4  # four finished items, one pair each


def test_disagreement_by_label_matches_hand_counts(project):
    table = quality_stats.disagreement_by_label(project).set_index("label")
    assert table["items"].to_dict() == {"ham": 3, "spam": 1}
    assert table["disagreed"].to_dict() == {"ham": 1, "spam": 0}
    assert table.loc["ham", "rate"] == pytest.approx(1 / 3)
    ds = quality_stats.disagreement_by_label(project, method="dawid_skene")
    assert ds["items"].sum() == 4


def test_dashboard_data_gathers_queue_flags_alerts(project):
    project.flag_disagreements(threshold=0.75)
    project.resolve("2", "spam", annotator="sam")
    data = quality_stats.dashboard_data(project, min_count=1)
    assert data["queue"] == routing.queue_depth(project) == {
        "items": 2, "labels": 3, "requests": 0, "adjudication": 0}
    assert data["flags"] == {"flagged": 1, "resolved": 1}
    assert data["totals"] == {"labels": 12, "annotators": 3, "finished": 4, "gold": 2}
    assert data["flagged_annotators"]["annotator"].tolist() == ["bob"]
    html = summary_html(data)
    assert 'class="hitl-dashboard-summary"' in html and "resolved 1 of 1 flagged" in html
    assert "0 of 1 gold items right" in html


def test_empty_project_gives_empty_figures(tmp_path):
    with hw.Project(tmp_path / "e.hitl", labels=["ham", "spam"]) as p:
        data = quality_stats.dashboard_data(p)
    assert data["agreement"].empty and data["annotators"].empty
    assert data["confusion"].to_numpy().sum() == 0
    assert data["disagreement"]["items"].tolist() == [0, 0]
    assert "resolved 0 of 0 flagged" in summary_html(data)


def test_label_cache_follows_new_labels_undos_and_other_connections(project, tmp_path):
    with pytest.warns(DeprecationWarning, match="does nothing useful"):  # kept for one release
        cache = quality_stats.LabelCache()

    def same() -> bool:
        rows = sorted(cache.rows(project), key=lambda r: r["seq"])
        return rows == project.store.current_labels()

    assert same()
    project.annotate("5", "ham", annotator="bob")
    project.annotate("5", "spam", annotator="bob")  # a relabel replaces, in place
    assert same()
    project.undo(annotator="bob")  # brings "ham" back: a full read
    assert same()
    with hw.Project(project.path) as other:  # another connection, as another kernel would be
        other.annotate("6", "ham", annotator="dee")
    assert same()


def test_bad_options_say_what_to_do(project):
    with pytest.raises(ValueError, match="window must be a whole number"):
        quality_stats.agreement_over_time(project, window=0)
    with pytest.raises(ValueError, match="target must be"):
        quality_stats.dashboard_data(project, target=1.5)
    with pytest.raises(ValueError, match="rate_per_hour"):
        quality_stats.annotator_stats(project, rate_per_hour=-3)
    with pytest.raises(ValueError, match="Unknown consensus method"):
        quality_stats.dashboard_data(project, method="vote")
    with hw.Project(project.path.with_name("empty.hitl"), labels=["ham", "spam"]) as empty:
        with pytest.raises(ValueError, match="Unknown consensus method"):  # even with no labels
            quality_stats.disagreement_by_label(empty, method="vote")
        with pytest.raises(ValueError, match="Unknown consensus method"):
            quality_stats.annotator_stats(empty, method="vote")


def test_summary_escapes_names_and_reasons(project):
    # Names with markup are refused now; a file written before that may still hold one, so the
    # label is written as an older version would have, below the ledger's checks.
    project.store.append("annotation", "g1", annotator="<img src=x onerror=alert(1)>",
                         labels=["ham"], source="human")
    data = quality_stats.dashboard_data(project, min_count=1)
    data["alerts"] = pd.DataFrame({"reason": ["agreement on '<script>' fell"]})
    html = summary_html(data)
    assert "<img" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;script&gt;" in html


# -- the widget ----------------------------------------------------------------------------------
def test_dashboard_draws_every_panel(project):
    d = Dashboard(project, window=2, rate_per_hour=36.0, min_count=1)
    agreement_trace, target_line, gold, volume, pairs, dis, queue = d.figure.data
    assert list(agreement_trace.x) == [1, 2, 3, 4]
    assert agreement_trace.y[0] is None and list(agreement_trace.y[1:]) == pytest.approx([0, 0, 1])
    assert list(target_line.y) == [0.7, 0.7]
    assert list(gold.x) == ["ana", "bob"] and list(gold.y) == [1.0, 0.0]
    assert list(gold.text) == ["n=2", "n=1"]
    assert dict(zip(volume.x, volume.y, strict=True)) == {"ana": 7, "bob": 4, "cy": 1}
    assert "0.030 per label" in volume.hovertext[0]
    assert [list(r) for r in pairs.z] == [[4, 1], [1, 2]]
    assert list(dis.x) == ["ham", "spam"] and list(dis.text) == ["1/3", "0/1"]
    assert list(queue.y) == [2, 3, 0, 0]
    assert "hitl-dashboard-summary" in d.summary.value and "target 0.70" in d.summary.value
    assert "hitl-dashboard" in d._dom_classes
    d.close()


def test_dashboard_redraws_after_a_new_label(project):
    d = Dashboard(project, refresh_s=0)
    volume = d.figure.data[3]
    before = dict(zip(volume.x, volume.y, strict=True))
    project.annotate("6", "ham", annotator="cy")  # the subscription path, as a Labeler's write
    after = dict(zip(volume.x, volume.y, strict=True))
    assert after["cy"] == before["cy"] + 1
    assert list(d.figure.data[6].y) == [2, 2, 0, 0]  # item 6 now needs one more label
    # A write that bypassed the listeners shows once the subscription path is called.
    project.store.append("annotation", "6", annotator="dee", labels=["ham"], source="human")
    d._on_project_change("annotation", {"item_id": "6"})
    assert list(d.figure.data[6].y) == [1, 1, 0, 0]
    assert d.data["totals"]["labels"] == 14
    d.close()


def test_close_unsubscribes(project):
    d = Dashboard(project, refresh_s=0)
    assert d._on_project_change in project.ledger._listeners
    d.close()
    assert d._on_project_change not in project.ledger._listeners
    project.annotate("6", "ham", annotator="cy")  # nothing to redraw, nothing raised
    assert d.data["totals"]["labels"] == 12


def test_redraws_land_on_the_loop_thread_and_are_debounced(project, monkeypatch):
    drawn: list[threading.Thread] = []
    real = Dashboard.refresh

    def spy(self):
        drawn.append(threading.current_thread())
        real(self)

    monkeypatch.setattr(Dashboard, "refresh", spy)

    async def main():
        d = Dashboard(project, refresh_s=0.05)  # built inside a running loop, as in a notebook
        writer = threading.Thread(target=lambda: [
            project.annotate("6", lab, annotator=who) for who, lab in
            [("cy", "ham"), ("dee", "spam"), ("eve", "ham")]])
        writer.start()
        writer.join()
        for _ in range(1000):  # a loaded machine: the worker thread may take its time
            await asyncio.sleep(0.01)
            if drawn and d.data.get("totals", {}).get("labels") == 15:
                break
        return d

    d = asyncio.run(main())
    assert d.data["totals"]["labels"] == 15
    assert drawn and all(t is threading.main_thread() for t in drawn)
    assert len(drawn) < 3  # three labels, fewer redraws
    d.close()


def test_in_a_loop_the_first_load_runs_in_a_worker_and_lands_on_the_loop(project, monkeypatch):
    computed: list[threading.Thread] = []
    drawn: list[threading.Thread] = []
    real_data, real_draw = quality_stats.dashboard_data, Dashboard._draw
    release = threading.Event()

    def slow_data(*args, **kwargs):
        computed.append(threading.current_thread())
        data = real_data(*args, **kwargs)
        release.wait(10)  # a big project's first read: a label lands before it is drawn
        return data

    def spy_draw(self, data):
        drawn.append(threading.current_thread())
        real_draw(self, data)

    monkeypatch.setattr(quality_stats, "dashboard_data", slow_data)
    monkeypatch.setattr(Dashboard, "_draw", spy_draw)

    async def main():
        d = Dashboard(project, refresh_s=0)  # returns at once: the loop is free
        assert d.updating and "hitl-dashboard-updating" in d._dom_classes
        assert "Loading the dashboard" in d.summary.value and not drawn
        for _ in range(500):  # the loop runs meanwhile
            await asyncio.sleep(0.01)
            if computed:
                break
        await asyncio.sleep(0.05)
        project.annotate("6", "ham", annotator="cy")  # after the worker read the labels
        release.set()
        for _ in range(500):
            await asyncio.sleep(0.01)
            if not d.updating and d.data.get("totals", {}).get("labels") == 13:
                break
        return d

    d = asyncio.run(main())
    assert d.data["totals"]["labels"] == 13 and not d.updating  # the change was not lost
    assert "hitl-dashboard-updating" not in d._dom_classes
    assert computed and all(t is not threading.main_thread() for t in computed)
    assert drawn and all(t is threading.main_thread() for t in drawn)
    d.close()


def test_in_a_loop_labels_from_another_kernel_are_followed_and_polling_stops_at_close(
        project, tmp_path):
    other = hw.Project(tmp_path / "q.hitl")  # another kernel: its own connection, no listener here
    polls = []
    real_poll = project.poll
    project.poll = lambda: polls.append(1) or real_poll()  # counts the ticks, then polls

    async def main():
        d = Dashboard(project, refresh_s=0.05)
        await _until(lambda: d.data.get("totals", {}).get("labels") == 12)
        other.annotate("6", "ham", annotator="cy")
        other.annotate("6", "spam", annotator="dee")
        await _until(lambda: d.data.get("totals", {}).get("labels") == 14)
        d.close()
        ticks = len(polls)
        await asyncio.sleep(0.3)  # several poll periods: none after close
        return d, ticks

    d, ticks = asyncio.run(main())
    other.close()
    assert d.data["totals"]["labels"] == 14 and d.data["queue"]["items"] == 1  # "5"
    assert ticks and len(polls) == ticks


async def _until(cond, seconds: float = 20):
    """Let the loop run until ``cond()`` (a loaded machine: the worker may take its time)."""
    for _ in range(int(seconds / 0.01)):
        if cond():
            return
        await asyncio.sleep(0.01)


def test_a_long_agreement_curve_is_drawn_thinned_from_exact_values(project, monkeypatch):
    import hitl_widgets.dashboard as dashboard

    monkeypatch.setattr(dashboard, "MAX_POINTS", 3)
    d = Dashboard(project, window=2)
    curve = d.data["agreement"]
    assert list(d.figure.data[0].x) == [1, 3, 4] and len(curve) == 4  # first and last kept
    assert d.figure.data[0].y[1] == pytest.approx(curve["agreement"].iloc[2])
    d.close()


def test_a_failed_redraw_is_shown_escaped_and_the_next_one_works(project, monkeypatch):
    d = Dashboard(project, refresh_s=0)
    real = quality_stats.dashboard_data

    def broken(*args, **kwargs):
        raise RuntimeError("disk <gone>")

    monkeypatch.setattr(quality_stats, "dashboard_data", broken)
    project.annotate("6", "ham", annotator="cy")  # the writer is not troubled by it
    assert "Dashboard redraw failed: disk &lt;gone&gt;" in d.summary.value
    monkeypatch.setattr(quality_stats, "dashboard_data", real)
    project.annotate("6", "spam", annotator="dee")
    assert "hitl-dashboard-summary" in d.summary.value and d.data["totals"]["labels"] == 14
    d.close()


def test_empty_project_renders(tmp_path):
    with hw.Project(tmp_path / "e.hitl", labels=["ham", "spam"]) as p:
        d = Dashboard(p)
        assert list(d.figure.data[0].x) == [] and list(d.figure.data[6].y) == [0, 0, 0, 0]
        assert "no finished item" in d.summary.value
        d.close()


def test_all_agree_window_shows_a_gap(tmp_path):
    with hw.Project(tmp_path / "same.hitl", labels=["ham", "spam"]) as p:
        p.add_items(["a"], id=["a"])
        p.set_overlap(2)
        p.annotate("a", "ham", annotator="ana")
        p.annotate("a", "ham", annotator="bob")
        d = Dashboard(p)
        assert list(d.figure.data[0].y) == [None]
        assert "undefined" in d.summary.value
        d.close()


def test_dashboard_shows_no_gold_item(project):
    d = Dashboard(project, min_count=1)
    shown = d.figure.to_json() + d.summary.value
    assert '"g1"' not in shown and '"g2"' not in shown
    d.close()


def test_dashboard_bad_input(project):
    with pytest.raises(TypeError, match="needs a hitl_widgets.Project"):
        Dashboard("q.hitl")
    with pytest.raises(TypeError):
        Dashboard(project, windw=10)  # a misspelt option is not ignored
    with pytest.raises(ValueError, match="refresh_s"):
        Dashboard(project, refresh_s=-1)
    with pytest.raises(ValueError, match="window"):
        Dashboard(project, window=0)
    assert project.ledger._listeners == []  # nothing half-built left subscribed


def test_hw_dashboard_is_this_class():
    assert hw.Dashboard is Dashboard


def test_a_redraw_after_the_project_closed_closes_the_dashboard_quietly(tmp_path, caplog):
    project = hw.Project(tmp_path / "c.hitl", labels=["ham", "spam"])
    project.add_items(["a", "b"], id=["a", "b"])
    dash = hw.Dashboard(project, refresh_s=0)
    project.close()
    dash._live.redraw()
    assert dash._live.throttle.closed and "redraw failed" not in caplog.text
