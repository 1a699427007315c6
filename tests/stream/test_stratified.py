"""Stratified reservoirs: the cap, quotas and min/max sizes hold after every batch; streams are
read batch by batch and never materialised; bad batches are refused whole; state round-trips."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stream_checks import P_MIN, inclusion_p, same

from hitl_widgets.core.stream import StratifiedReservoir, allocate, batches

STRATA = ["a", "b", "c", "d"]


# -- invariants under random streams (hypothesis) --------------------------------------------
@st.composite
def setups(draw):
    declared = draw(st.booleans())
    k = draw(st.integers(1, 4))
    strata = STRATA[:k]
    capacity = draw(st.integers(1, 40))
    kwargs = {"algorithm": draw(st.sampled_from(["L", "R"]))}
    if declared:
        kwargs["strata"] = strata
        kwargs["quotas"] = {s: draw(st.integers(1, 5)) for s in strata}
        mins = {s: draw(st.integers(0, 6)) for s in strata}
        while sum(mins.values()) > capacity:
            mins = {s: m // 2 for s, m in mins.items()}
        kwargs["min_size"] = mins
        kwargs["max_size"] = {s: draw(st.one_of(st.none(), st.integers(max(mins[s], 1), 30)))
                              for s in strata}
    labels = draw(st.lists(st.sampled_from(strata), min_size=1, max_size=300))
    sizes = draw(st.lists(st.integers(1, 60), min_size=1, max_size=20))
    return capacity, kwargs, labels, sizes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setups(), st.integers(0, 2**32 - 1))
def test_cap_quotas_and_sizes_hold_after_every_batch(setup, seed):
    capacity, kwargs, labels, sizes = setup
    res = StratifiedReservoir(capacity, by="label", seed=seed, **kwargs)
    events = [{"i": i, "label": s} for i, s in enumerate(labels)]
    seen: dict = {}
    grew_after_discarding = []
    start = 0
    for size in itertools.cycle(sizes):
        if start >= len(events):
            break
        before = res.counts()
        part = events[start:start + size]
        res.add(part)
        start += len(part)
        for e in part:
            seen[e["label"]] = seen.get(e["label"], 0) + 1
        counts = res.counts()
        # the places are exactly the rule's (allocate), strata that had discarded held back
        limit = {s: c["capacity"] for s, c in before.items() if c["seen"] > c["capacity"]}
        assert {s: c["capacity"] for s, c in counts.items()} == allocate(
            capacity, {s: c["seen"] for s, c in counts.items()}, res.quotas, res.min_size,
            res.max_size, limit)
        assert res.size <= capacity
        assert sum(c["capacity"] for c in counts.values()) <= capacity
        for s, c in counts.items():
            assert c["seen"] == seen.get(s, 0)
            assert c["held"] == min(c["seen"], c["capacity"])
            top = res.max_size[s]
            assert top is None or c["held"] <= top
            assert c["held"] >= min(res.min_size[s], c["seen"])
            held = res.held(s)
            assert all(e["label"] == s for e in held)
            assert len({e["i"] for e in held}) == len(held)
            assert [e["i"] for e in held] == res.held_index(s).tolist()
            old = before.get(s)
            if old and old["seen"] > old["capacity"] and c["capacity"] > old["capacity"]:
                grew_after_discarding.append(s)
    assert not grew_after_discarding


@settings(max_examples=100, deadline=None)
@given(setups(), st.integers(0, 2**32 - 1))
def test_the_whole_cap_is_used_when_there_is_enough(setup, seed):
    capacity, kwargs, labels, sizes = setup
    res = StratifiedReservoir(capacity, by="label", seed=seed, **kwargs)
    start = 0
    for size in itertools.cycle(sizes):
        if start >= len(labels):
            break
        res.add(pd.DataFrame({"label": labels[start:start + size]}))
        start += size
        usable = sum(c["seen"] if res.max_size[s] is None else min(c["seen"], res.max_size[s])
                     for s, c in res.counts().items())
        assert sum(c["capacity"] for c in res.counts().values()) == min(capacity, usable)


def test_plentiful_strata_hold_their_quotas_and_scarce_ones_lend_room():
    res = StratifiedReservoir(100, by="label", strata=["a", "b", "c", "rare"],
                              quotas={"a": 50, "b": 25, "c": 20, "rare": 5}, seed=0)
    rng = np.random.default_rng(0)
    res.add(pd.DataFrame({"label": rng.choice(["a", "b", "c"], size=5000)}))
    assert {s: c["held"] for s, c in res.counts().items()} == {"a": 53, "b": 26, "c": 21,
                                                              "rare": 0}
    res.add(pd.DataFrame({"label": ["rare"] * 3}))  # can't fill its 5: keeps its 3
    assert res.counts()["rare"]["held"] == 3
    res.add(pd.DataFrame({"label": ["rare"] * 100}))
    assert {s: c["held"] for s, c in res.counts().items()} == {"a": 50, "b": 25, "c": 20,
                                                              "rare": 5}


@pytest.mark.parametrize("algorithm", ["L", "R"])
def test_a_stratum_squeezed_by_a_late_one_stays_uniform(algorithm):
    # 'a' fills the whole cap, then 'b' arrives and takes half: 'a' shrinks by random eviction
    # and must remain a uniform sample of its 40 events.
    runs, counts = 1500, np.zeros(40, dtype=np.int64)
    for run in range(runs):
        res = StratifiedReservoir(8, by=1, seed=[3, run], algorithm=algorithm)
        res.add([(i, "a") for i in range(25)])
        res.add([("b", "b")] * 30 + [(i, "a") for i in range(25, 40)])
        held = [row[0] for row in res.held("a")]
        assert len(held) == 4
        counts[held] += 1
    assert inclusion_p(counts, runs, 4) > P_MIN


# -- multi-label ----------------------------------------------------------------------------
def test_multilabel_events_go_to_their_rarest_label_so_far():
    res = StratifiedReservoir(50, by="labels", strata=["x", "y", "z"], seed=0)
    res.add([{"labels": "x"}, {"labels": "x"}, {"labels": "y"}])
    res.add([{"labels": ["x", "y"]},  # y has 1 < x's 2
             {"labels": ["y", "x"]},  # now tied at 2: the earlier declared, x
             {"labels": np.array(["z", "x"])},  # z has 0
             {"labels": {"y"}}])
    assert {s: c["seen"] for s, c in res.counts().items()} == {"x": 3, "y": 3, "z": 1}


def test_a_tuple_is_one_composite_stratum():
    res = StratifiedReservoir(10, by=lambda row: (row["region"], row["label"]), seed=0)
    res.add([{"region": "eu", "label": 1}, {"region": "us", "label": 1}])
    assert res.strata == [("eu", 1), ("us", 1)]


# -- streams --------------------------------------------------------------------------------
def test_an_endless_generator_is_read_exactly_as_far_as_asked():
    def endless():
        for i in itertools.count():
            yield {"id": i, "label": "spam" if i % 5 == 0 else "ham", "x": float(i)}

    stream = endless()
    res = StratifiedReservoir(20, by="label", seed=0)
    assert res.ingest(stream, batch_size=999, max_events=12_345) == 12_345
    assert next(stream)["id"] == 12_345  # nothing read beyond
    assert res.seen == 12_345 and res.size == 20


def test_dataframe_chunks_tuples_and_dicts_of_columns_are_all_batches():
    chunks = (pd.DataFrame({"x": np.arange(i, i + 100.0), "label": ["p", "q"] * 50})
              for i in range(0, 1000, 100))
    res = StratifiedReservoir(10, by="label", seed=0)
    assert res.ingest(chunks, max_events=550) == 550
    assert res.held("p")[0].keys() == {"x", "label"}
    res.add({"x": np.zeros(3), "label": np.array(["p", "q", "r"])})
    res.add([(1.0, "q")] * 0)
    assert res.seen == 553
    tuples = StratifiedReservoir(3, by=1, seed=0)
    tuples.ingest(iter([(0.1, "u"), (0.2, "v")] * 10), batch_size=3)
    assert tuples.counts()["u"]["seen"] == 10


def test_rows_held_from_a_dataframe_are_its_records():
    frame = pd.DataFrame({"n": np.arange(6), "x": np.linspace(0, 1, 6), "label": list("abcabc"),
                          "at": pd.date_range("2026-01-01", periods=6, freq="h"),
                          "tags": [["t"]] * 6})
    res = StratifiedReservoir(6, by="label", seed=0)
    res.add(frame)
    assert sorted(res.held(), key=lambda r: r["n"]) == frame.to_dict("records")
    assert type(res.held("a")[0]["n"]) is int


def test_batches_split_one_dataframe_and_stop_at_max_events():
    frame = pd.DataFrame({"label": list("abcdefg")})
    assert [len(b) for b in batches(frame, batch_size=3)] == [3, 3, 1]
    assert [len(b) for b in batches(frame, batch_size=3, max_events=4)] == [3, 1]


# -- bad input: clear errors, nothing half-ingested ------------------------------------------
def _refused(res, batch, error, message):
    before = res.state()
    with pytest.raises(error, match=message):
        res.add(batch)
    same(res.state(), before)


@pytest.fixture
def declared():
    res = StratifiedReservoir(10, by="label", strata=["ham", "spam"], seed=0)
    res.add([{"label": "ham", "x": 1.0}] * 20)
    return res


def test_unknown_label_is_refused_naming_it_and_the_known_ones(declared):
    _refused(declared, [{"label": "ham", "x": 1.0}, {"label": "spma", "x": 0.0}], ValueError,
             r"unknown stratum 'spma' at event 1 of this batch; expected one of "
             r"\['ham', 'spam'\]")
    _refused(declared, [{"label": ["ham", "eggs"], "x": 1.0}], ValueError,
             "unknown stratum 'eggs' at event 0")


def test_nan_feature_is_refused_naming_event_and_column(declared):
    _refused(declared, pd.DataFrame({"label": ["ham", "spam"], "x": [1.0, np.nan]}),
             ValueError, "event 1 of this batch has nan in feature 'x'")
    _refused(declared, [{"label": "ham", "x": 1.0, "emb": np.array([0.0, np.inf])}],
             ValueError, "feature 'emb'")


def test_missing_and_unhashable_strata_are_refused(declared):
    _refused(declared, pd.DataFrame({"label": ["ham", None]}), ValueError,
             "event 1 of this batch has no stratum")
    _refused(declared, [{"label": {"ham": 1}}], TypeError, "not hashable")
    _refused(declared, [{"label": []}], ValueError, "has no labels")
    _refused(declared, [{"text": "no label"}], KeyError, "has no 'label'")


def test_a_cap_below_the_minimums_names_both_numbers():
    with pytest.raises(ValueError, match=r"memory cap \(10 events\) is smaller than the sum "
                                         r"of the minimum sizes \(12\)"):
        StratifiedReservoir(10, by="label", strata=["a", "b", "c"], min_size=4, seed=0)
    res = StratifiedReservoir(10, by="label", min_size=4, seed=0)  # strata as they come
    res.add([{"label": "a"}, {"label": "b"}])
    _refused(res, [{"label": "c"}], ValueError, r"\(10 events\).*\(12\) \(with the new strata")


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"quotas": 0}, ValueError, "quotas must be positive, got 0"),
    ({"quotas": {"a": -1}, "strata": ["a"]}, ValueError, r"quotas\['a'\] must be positive"),
    ({"quotas": {"zz": 1}, "strata": ["a"]}, ValueError, "not declared: \\['zz'\\]"),
    ({"quotas": {"a": 1}}, ValueError, "needs the strata declared"),
    ({"min_size": -1}, ValueError, "min_size must be >= 0"),
    ({"max_size": {"a": 2}, "min_size": 3, "strata": ["a"]}, ValueError, "below min_size"),
    ({"algorithm": "Z"}, ValueError, "expected one of \\['L', 'R'\\]"),
    ({"strata": ["a", "a"]}, ValueError, "lists a stratum twice"),
    ({"strata": [["a"]]}, TypeError, "not hashable"),
])
def test_bad_settings_say_what_to_do(kwargs, error, message):
    with pytest.raises(error, match=message):
        StratifiedReservoir(10, by="label", seed=0, **kwargs)


def test_a_refused_batch_in_a_stream_leaves_the_earlier_ones_in():
    res = StratifiedReservoir(10, by="label", strata=["a"], seed=0)
    with pytest.raises(ValueError, match="unknown stratum 'b'") as info:
        res.ingest([{"label": "a"}] * 7 + [{"label": "b"}], batch_size=3)
    assert res.seen == 6
    assert "6 events of this stream were ingested before this batch" in info.value.__notes__[0]


# -- state ----------------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["L", "R"])
def test_state_round_trips_exactly_and_continues_thesame(algorithm):
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame({"x": rng.normal(size=500),
                            "label": rng.choice(["a", "b", "c"], p=[0.8, 0.15, 0.05], size=500)})
              for _ in range(6)]
    res = StratifiedReservoir(30, by="label", strata=["a", "b", "c"], min_size={"c": 4},
                              max_size={"a": 12}, algorithm=algorithm, seed=1)
    for f in frames[:3]:
        res.add(f)
    copy = StratifiedReservoir.from_state(res.state())
    same(copy.state(), res.state())
    for f in frames[3:]:
        res.add(f)
        copy.add(f)
    same(copy.state(), res.state())


def test_a_function_stratum_is_passed_again_on_load():
    res = StratifiedReservoir(4, by=lambda row: row["n"] % 2, seed=0)
    res.add([{"n": i} for i in range(10)])
    with pytest.raises(TypeError, match="pass it again"):
        StratifiedReservoir.from_state(res.state())
    back = StratifiedReservoir.from_state(res.state(), by=lambda row: row["n"] % 2)
    assert back.counts() == res.counts()


def test_per_stratum_samples_are_uniform_under_the_cap():
    # Two strata in one stream, many seeds: within each stratum every event equally likely.
    runs = 1500
    rows = [(k // 2, "ab"[k % 2]) for k in range(30)]
    counts = {"a": np.zeros(15, dtype=np.int64), "b": np.zeros(15, dtype=np.int64)}
    for run in range(runs):
        res = StratifiedReservoir(6, by=1, seed=[8, run])
        res.add(rows[:11])
        res.add(rows[11:])
        for s in counts:
            counts[s][[row[0] for row in res.held(s)]] += 1
    for s in counts:
        assert inclusion_p(counts[s], runs, 3) > P_MIN


# -- the allocation rule --------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.integers(1, 200), st.lists(st.tuples(st.integers(0, 300), st.integers(1, 9),
                                               st.integers(0, 20), st.one_of(st.none(),
                                               st.integers(20, 120))), min_size=1, max_size=6))
def test_allocate_shares_the_cap_by_quota_within_bounds(capacity, rows):
    names = [f"s{i}" for i in range(len(rows))]
    seen = {n: r[0] for n, r in zip(names, rows, strict=True)}
    quotas = {n: r[1] for n, r in zip(names, rows, strict=True)}
    mins = {n: r[2] for n, r in zip(names, rows, strict=True)}
    maxs = {n: r[3] for n, r in zip(names, rows, strict=True)}
    if sum(mins.values()) > capacity:
        return
    places = allocate(capacity, seen, quotas, mins, maxs)
    usable = {n: seen[n] if maxs[n] is None else min(seen[n], maxs[n]) for n in names}
    assert sum(places.values()) == min(capacity, sum(usable.values()))
    for n in names:
        assert min(mins[n], usable[n]) <= places[n] <= usable[n]
    # strata strictly inside their bounds share by quota, up to one place of rounding
    inside = [n for n in names if min(mins[n], usable[n]) < places[n] < usable[n]]
    for s in inside:
        for t in inside:
            assert (places[s] - 1) / quotas[s] < (places[t] + 1) / quotas[t]


def test_allocate_never_grows_a_stratum_as_the_stream_goes_on():
    rng = np.random.default_rng(0)
    quotas = {"a": 3, "b": 2, "c": 1, "d": 1}
    seen = dict.fromkeys(quotas, 0)
    places = dict.fromkeys(quotas, 0)
    for _ in range(400):
        s = rng.choice(list(quotas), p=[0.1, 0.2, 0.6, 0.1])
        seen[s] += int(rng.integers(1, 4))
        limit = {t: places[t] for t in quotas if seen[t] > places[t]}
        new = allocate(17, seen, quotas, {"d": 3}, {"c": 6}, limit)
        for t in quotas:
            if t in limit and t != s:
                assert new[t] <= places[t]
        places = new
