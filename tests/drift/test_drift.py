"""Drift checks: the statistics equal scipy's and statsmodels' on the same samples, an injected
shift is found, a stream without one stays within the false-alarm rate, and bad input is refused
with nothing taken in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from hitl_widgets.core.drift import (
    DriftError,
    DriftMonitor,
    adjust,
    compare,
    psi,
    request_labels,
)


def frames(seed: int, n_ref: int = 1500, n_cur: int = 400, shift: float = 0.0):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"a": rng.normal(size=n_ref), "b": rng.exponential(size=n_ref),
                        "c": rng.choice(["x", "y", "z"], n_ref, p=[0.5, 0.3, 0.2])})
    cur = pd.DataFrame({"a": rng.normal(shift, 1, n_cur), "b": rng.exponential(size=n_cur),
                        "c": rng.choice(["x", "y", "z", "w"], n_cur, p=[0.4, 0.3, 0.2, 0.1])})
    return ref, cur


def test_statistics_equal_scipys_on_the_same_samples():
    ref, cur = frames(0, shift=0.3)
    table = compare(ref, cur, correction="none").set_index("feature")
    for name in ("a", "b"):
        ks = stats.ks_2samp(ref[name], cur[name])
        assert table.loc[name, "statistic"] == ks.statistic
        assert table.loc[name, "p_value"] == ks.pvalue
        assert table.loc[name, "wasserstein"] == pytest.approx(
            stats.wasserstein_distance(ref[name], cur[name]), rel=1e-12, abs=1e-15)
        assert table.loc[name, "kind"] == "numeric"
    counts = pd.crosstab(np.r_[np.zeros(len(ref)), np.ones(len(cur))],
                         np.r_[ref["c"].to_numpy(), cur["c"].to_numpy()])
    chi = stats.chi2_contingency(counts.to_numpy())
    assert table.loc["c", "statistic"] == pytest.approx(chi.statistic, rel=1e-12)
    assert table.loc["c", "p_value"] == pytest.approx(chi.pvalue, rel=1e-12)
    assert table.loc["c", "test"] == "chi2" and np.isnan(table.loc["c", "wasserstein"])


@pytest.mark.parametrize("n_ref, n_cur", [(12_000, 11_000), (30_000, 4_000)])
def test_on_large_samples_the_kept_reference_gives_scipys_figures(n_ref, n_cur):
    """Above scipy's exact range the KS statistic and the Wasserstein distance come from the
    reference sorted once (what a monitor keeps): the same numbers as scipy's functions."""
    ref, cur = frames(7, n_ref=n_ref, n_cur=n_cur, shift=0.05)
    table = compare(ref, cur, correction="none").set_index("feature")
    for name in ("a", "b"):
        ks = stats.ks_2samp(ref[name], cur[name])
        assert table.loc[name, "statistic"] == ks.statistic
        assert table.loc[name, "p_value"] == ks.pvalue
        w = stats.wasserstein_distance(ref[name], cur[name])
        assert table.loc[name, "wasserstein"] == pytest.approx(w, rel=1e-12, abs=1e-15)


def test_the_correction_is_statsmodels():
    p = np.array([0.001, 0.01, 0.02, 0.04, 0.2, 0.5])
    for method in ("fdr_bh", "fdr_by", "bonferroni", "holm"):
        reject, adjusted, _, _ = multipletests(p, alpha=0.05, method=method)
        got_adjusted, got_reject = adjust(p, 0.05, method)
        assert got_adjusted.tolist() == adjusted.tolist() and got_reject.tolist() == reject.tolist()
    raw, flags = adjust(p, 0.05, "none")
    assert raw.tolist() == p.tolist() and flags.tolist() == (p < 0.05).tolist()


def test_psi_is_its_formula():
    r, c = np.array([0.25, 0.25, 0.5]), np.array([0.2, 0.3, 0.5])
    want = sum((ci - ri) * np.log(ci / ri) for ri, ci in zip(r, c, strict=True))
    assert psi(r, c) == pytest.approx(want, rel=1e-12)
    assert psi(r, r) == 0.0
    # An empty bin is floored, not infinite.
    assert np.isfinite(psi(np.array([0.5, 0.5, 0.0]), np.array([0.4, 0.4, 0.2])))
    # Numeric PSI: the reference's own deciles give it 10 equal shares.
    ref, cur = frames(1)
    a = ref["a"].to_numpy()
    edges = np.quantile(a, np.linspace(0, 1, 11)[1:-1])
    shares = [np.bincount(np.searchsorted(edges, v, side="right"), minlength=10) / len(v)
              for v in (a, cur["a"].to_numpy())]
    table = compare(ref, cur).set_index("feature")
    assert table.loc["a", "psi"] == pytest.approx(psi(*shares), rel=1e-12)


def test_an_injected_shift_is_found_in_the_windows_after_it():
    rng = np.random.default_rng(3)
    features = [f"f{k}" for k in range(12)]
    ref = pd.DataFrame(rng.normal(size=(3000, 12)), columns=features)
    monitor = DriftMonitor(ref, window=500, every=250)
    before = pd.DataFrame(rng.normal(size=(2000, 12)), columns=features)
    after = pd.DataFrame(rng.normal(size=(1000, 12)), columns=features)
    after[["f2", "f7"]] += 0.6  # a shift in two features, from row 2000 on
    ids = [f"r{k}" for k in range(3000)]
    early = monitor.update(before, item_ids=ids[:2000])
    alerts = monitor.update(after, item_ids=ids[2000:])
    assert not early  # no false alarm on the 7 checks before the shift (this seed)
    assert alerts and alerts[0].rows_seen <= 2500  # found within a window of the shift
    assert {"f2", "f7"} <= set(alerts[0].features)
    last = alerts[-1]
    assert last.item_ids == tuple(ids[-500:])  # the window's own items
    assert "f2" in last.reason and "drift in check" in last.reason
    history = monitor.history
    assert len(history) == 12 * monitor._checks
    assert list(history.columns[:2]) == ["check", "rows_seen"]


def test_without_a_shift_alerts_stay_within_the_false_alarm_rate():
    """Under no drift, Benjamini-Hochberg at alpha bounds the chance that a check flags any
    feature by alpha. 300 checks (independent windows, 10 features each) over 30 seeds."""
    alerts = checks = 0
    for seed in range(30):
        rng = np.random.default_rng(100 + seed)
        ref = pd.DataFrame(rng.normal(size=(1000, 10)))
        ref.columns = [str(c) for c in ref.columns]
        monitor = DriftMonitor(ref, window=300, alpha=0.05)
        stream = pd.DataFrame(rng.normal(size=(3000, 10)), columns=ref.columns)
        alerts += len(monitor.update(stream))
        checks += monitor._checks
    low, high = proportion_confint(alerts, checks, alpha=0.01, method="wilson")
    print(f"\nfalse alarms: {alerts} of {checks} checks ({alerts / checks:.3f}; "
          f"99% interval {low:.3f}-{high:.3f}; alpha 0.05)")
    assert checks == 300
    assert low <= 0.05  # not above the chosen rate (the interval reaches below it)


def test_bad_input_is_refused_with_what_to_do():
    ref, cur = frames(2)
    holed = cur.copy()
    holed.loc[3, "a"] = np.nan
    with pytest.raises(DriftError, match="'a' has 1 missing values.*nan_policy='omit'"):
        compare(ref, holed)
    table = compare(ref, holed, nan_policy="omit").set_index("feature")
    assert table.loc["a", "n_current"] == len(cur) - 1
    with pytest.raises(DriftError, match="lacks the features"):
        compare(ref, cur.drop(columns="b"))
    with pytest.raises(DriftError, match="DataFrame or a 2-d numpy array"):
        compare(ref["a"], cur)
    with pytest.raises(DriftError, match="correction must be"):
        compare(ref, cur, correction="bh")
    with pytest.raises(DriftError, match="alpha"):
        compare(ref, cur, alpha=1.5)
    with pytest.raises(DriftError, match="not among the features"):
        compare(ref, cur, categorical=["nope"])
    inf = cur.copy()
    inf.loc[0, "b"] = np.inf
    with pytest.raises(DriftError, match="infinite"):
        compare(ref, inf)
    with pytest.raises(DriftError, match="at least 2"):
        compare(ref, cur.iloc[:1])
    with pytest.raises(DriftError, match="window must be"):
        DriftMonitor(ref, window=1)


def test_a_bad_batch_changes_nothing():
    ref, cur = frames(4)
    monitor = DriftMonitor(ref, window=100)
    monitor.update(cur.iloc[:50])
    state = (monitor._seen, monitor._held, monitor._since)
    holed = cur.iloc[50:100].copy()
    holed.iloc[0, 0] = np.nan
    with pytest.raises(DriftError, match="missing values in \\['a'\\]"):
        monitor.update(holed)
    with pytest.raises(DriftError, match="lacks the monitored features"):
        monitor.update(cur.iloc[50:100].drop(columns="c"))
    with pytest.raises(DriftError, match="3 item ids for 50 rows"):
        monitor.update(cur.iloc[50:100], item_ids=[1, 2, 3])
    assert (monitor._seen, monitor._held, monitor._since) == state


def test_a_drifted_windows_items_go_back_to_labeling(make_project):
    project = make_project(items=40)
    rng = np.random.default_rng(5)
    monitor = DriftMonitor(pd.DataFrame({"x": rng.normal(size=500)}), window=20)
    [alert] = monitor.update(pd.DataFrame({"x": rng.normal(3, 1, 20)}),
                             item_ids=[str(k) for k in range(20)])
    assert project.queue_depth()["requests"] == 0
    chosen = request_labels(project, alert, n=5)
    assert len(chosen) == 5 and set(chosen) <= {str(k) for k in range(20)}
    assert project.queue_depth()["requests"] == 5
    requests = [e for e in project.store.live_events(["request"])]
    assert {e["extra"]["reason"] for e in requests} == {"drift"}
    assert requests[0]["extra"]["why"].startswith("drift in check 1")
    stranger = monitor.update(pd.DataFrame({"x": rng.normal(3, 1, 20)}),
                              item_ids=[f"new{k}" for k in range(20)])
    with pytest.raises(DriftError, match="not in the project"):
        request_labels(project, stranger[0])
    assert project.queue_depth()["requests"] == 5  # nothing written
    assert request_labels(project, stranger[0], known_only=True) == []  # none of them is known


def test_with_a_project_every_alert_reopens_labeling(make_project):
    project = make_project(items=30)
    rng = np.random.default_rng(7)
    monitor = DriftMonitor(pd.DataFrame({"x": rng.normal(size=500)}), window=20, project=project)
    quiet = monitor.update(pd.DataFrame({"x": rng.normal(size=20)}),
                           item_ids=[str(k) for k in range(20)])
    assert quiet == [] and project.queue_depth()["requests"] == 0
    # A shifted window: half its events are project items (the rest were never sampled in).
    ids = [str(k) for k in range(20, 30)] + [f"unsampled{k}" for k in range(10)]
    [alert] = monitor.update(pd.DataFrame({"x": rng.normal(3, 1, 20)}), item_ids=ids)
    assert alert.requested == tuple(str(k) for k in range(20, 30))
    assert project.queue_depth()["requests"] == 10
