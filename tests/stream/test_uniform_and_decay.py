"""The uniform reservoirs (R, L) and the decayed one sample what their docstrings say.

Statistical tests: many seeded runs, a chi-square against the exact law, and a fixed
threshold p > 1e-3 (the seeds are fixed, so a pass is reproducible; a correct sampler fails a
fresh seed 1 time in 1000). Each test also shows its statistic rejects a wrong sampler.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from stream_checks import P_MIN, inclusion_p, same

from hitl_widgets.core.stream import DecayedReservoir, ReservoirL, ReservoirR

KINDS = [ReservoirR, ReservoirL]


def _cuts(rng, n):
    """Random batch boundaries over n events (the samplers must not care)."""
    cuts = np.sort(rng.choice(np.arange(1, n), size=rng.integers(0, 4), replace=False))
    return np.split(np.arange(n), cuts)


def _run_uniform(kind, n, k, runs, seed):
    counts = np.zeros(n, dtype=np.int64)
    subsets = {}
    rng = np.random.default_rng(seed)
    for run in range(runs):
        r = kind(k, seed=[seed, run])
        for part in _cuts(rng, n):
            r.add(part.tolist())
        counts[r.items] += 1
        key = tuple(sorted(r.items))
        subsets[key] = subsets.get(key, 0) + 1
    return counts, subsets


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_inclusion_probabilities_are_uniform(kind):
    counts, _ = _run_uniform(kind, n=30, k=4, runs=3000, seed=11)
    assert inclusion_p(counts, 3000, 4) > P_MIN


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_subset_is_equally_likely(kind):
    # Stronger than inclusion: all C(6, 2) = 15 pairs equally likely.
    _, subsets = _run_uniform(kind, n=6, k=2, runs=3000, seed=12)
    observed = [subsets.get(pair, 0) for pair in itertools.combinations(range(6), 2)]
    assert sum(observed) == 3000
    assert stats.chisquare(observed).pvalue > P_MIN


def test_the_uniformity_check_rejects_a_biased_sampler():
    # "keep the last k" passes no uniformity test: the statistic has power.
    runs, n, k = 3000, 30, 4
    counts = np.zeros(n, dtype=np.int64)
    counts[-k:] = runs
    assert inclusion_p(counts, runs, k) < 1e-12
    # and a subtler bias: R with an off-by-one (event t kept with probability k/(t-1))
    rng = np.random.default_rng(0)
    counts = np.zeros(n, dtype=np.int64)
    for _ in range(runs):
        held = list(range(k))
        for t in range(k + 1, n + 1):
            j = rng.integers(0, t - 1)
            if j < k:
                held[j] = t - 1
        counts[held] += 1
    assert inclusion_p(counts, runs, k) < P_MIN


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_batch_boundaries_do_not_change_the_sample(kind):
    whole = kind(7, seed=3)
    whole.add(list(range(50_000)))
    cut = kind(7, seed=3)
    for part in _cuts(np.random.default_rng(1), 50_000):
        cut.add(part.tolist())
    assert cut.items == whole.items
    np.testing.assert_array_equal(cut.index, whole.index)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_shrinking_keeps_the_sample_uniform(kind):
    # Fill 40 events at capacity 8, shrink to 3 (as the stratified cap does), go on to 60:
    # every event must still be held with probability 3/60.
    n, runs = 60, 3000
    counts = np.zeros(n, dtype=np.int64)
    for run in range(runs):
        r = kind(8, seed=[5, run])
        r.add(list(range(40)))
        r.resize(3)
        r.add(list(range(40, n)))
        counts[r.items] += 1
    assert inclusion_p(counts, runs, 3) > P_MIN


def test_algorithm_l_consumes_a_batch_by_skipping():
    # After filling, L draws a few numbers per kept event, not one per event: count the 64-bit
    # outputs the generator advanced by over a million events.
    r = ReservoirL(10, seed=0)
    r.add(list(range(10)))
    before = r.rng.bit_generator.state
    kept = r.offer(1_000_000, lambda pos: [None] * len(pos))
    after = r.rng.bit_generator.state
    assert len(kept) == 10  # the last event sent to each slot (about 115 were kept in all)
    probe = np.random.PCG64()
    for outputs in range(5000):
        probe.state = before
        probe.advance(outputs)
        if probe.state["state"] == after["state"]:
            break
    else:
        pytest.fail("more than 5000 random outputs for a million events")
    assert outputs < 1000  # ~3 per kept event (skip, slot, threshold), not 1 per event


def test_growing_after_discarding_is_refused():
    r = ReservoirR(3, seed=0)
    r.add(list(range(10)))
    with pytest.raises(ValueError, match="cannot grow a reservoir from 3 to 5"):
        r.resize(5)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_state_round_trips_exactly(kind):
    r = kind(5, seed=9)
    r.add(list(range(1234)))
    r.resize(4)
    copy = kind.from_state(r.state())
    same(copy.state(), r.state())
    for part in (range(1234, 5000), range(5000, 5001), range(5001, 90_000)):
        r.add(list(part))
        copy.add(list(part))
    same(copy.state(), r.state())


def test_state_names_the_wrong_loader():
    with pytest.raises(ValueError, match="ReservoirR.from_state"):
        ReservoirL.from_state(ReservoirR(2, seed=0).state())


def test_seed_none_is_refused():
    with pytest.raises(TypeError, match="pass a seed"):
        ReservoirR(2, seed=None)


# -- the decayed reservoir -------------------------------------------------------------------
TIMES = np.array([0.0, 1.0, 1.0, 2.0, 3.0, 3.5, 4.0, 6.0])
WEIGHTS = np.array([5.0, 1.0, 2.0, 1.0, 0.5, 1.0, 3.0, 1.0])
DECAY = 0.4


def _decayed_runs(k, runs, seed, times=TIMES):
    picks = []
    for run in range(runs):
        r = DecayedReservoir(k, decay=DECAY, seed=[seed, run])
        r.add(list(range(4)), times=times[:4], weights=WEIGHTS[:4])
        r.add(list(range(4, 8)), times=times[4:], weights=WEIGHTS[4:])
        picks.append(tuple(sorted(r.items)))
    return picks


def test_decayed_capacity_one_matches_the_formula():
    # P(event i held) = w_i exp(lambda t_i) / sum_j w_j exp(lambda t_j)
    v = WEIGHTS * np.exp(DECAY * TIMES)
    runs = 6000
    picks = _decayed_runs(1, runs, seed=21)
    observed = np.bincount([p[0] for p in picks], minlength=8)
    assert stats.chisquare(observed, runs * v / v.sum()).pvalue > P_MIN
    # the same statistic rejects the undecayed law
    assert stats.chisquare(observed, runs * WEIGHTS / WEIGHTS.sum()).pvalue < 1e-12


def test_decayed_pairs_match_successive_sampling():
    # capacity 2: P({i, j}) = p_i p_j / (1 - p_i) + p_j p_i / (1 - p_j), p = v / sum v
    v = WEIGHTS * np.exp(DECAY * TIMES)
    p = v / v.sum()
    pairs = list(itertools.combinations(range(8), 2))
    expected = np.array([p[i] * p[j] / (1 - p[i]) + p[j] * p[i] / (1 - p[j]) for i, j in pairs])
    assert expected.sum() == pytest.approx(1.0)
    runs = 6000
    picks = _decayed_runs(2, runs, seed=22)
    observed = np.array([picks.count(pair) for pair in pairs])
    assert stats.chisquare(observed, runs * expected).pvalue > P_MIN


def test_large_times_do_not_overflow_and_shift_nothing():
    big = TIMES + 1e9  # exp(0.4 * 1e9) overflows; keys in log space do not
    near = _decayed_runs(3, 50, seed=23)
    far = _decayed_runs(3, 50, seed=23, times=big)
    assert near == far
    r = DecayedReservoir(2, decay=1.0, seed=0)
    r.add(list(range(8)), times=big)
    assert np.isfinite(r.keys).all()


def test_out_of_order_clock_is_refused_whole():
    r = DecayedReservoir(3, decay=0.1, seed=0)
    r.add(["a", "b"], times=[1.0, 2.0])
    before = r.state()
    with pytest.raises(ValueError, match=r"event 1 of this batch has time 1\.5, earlier than 3"):
        r.add(["c", "d"], times=[3.0, 1.5])
    with pytest.raises(ValueError, match="earlier than 2.0 already seen"):
        r.add(["c"], times=[0.5])
    same(r.state(), before)


def test_clamp_counts_late_events_and_uses_the_latest_time():
    r = DecayedReservoir(5, decay=0.1, seed=0, late="clamp")
    r.add(["a", "b", "c"], times=[1.0, 5.0, 2.0])
    r.add(["d"], times=[4.0])
    assert r.clamped == 2
    assert sorted(r.times.tolist()) == [1.0, 5.0, 5.0, 5.0]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"times": [0.0, float("nan")]}, "event 1 of this batch has time nan"),
    ({"times": [0.0, 1.0], "weights": [1.0, 0.0]}, "weight 0.0; weights must be finite and > 0"),
    ({"times": [0.0]}, "2 values but 1 times"),
])
def test_decayed_bad_batches_say_what_to_do(kwargs, message):
    r = DecayedReservoir(2, decay=0.1, seed=0)
    with pytest.raises(ValueError, match=message):
        r.add(["a", "b"], **kwargs)
    assert r.seen == 0 and r.size == 0


def test_decayed_state_round_trips_exactly():
    r = DecayedReservoir(4, decay=0.3, seed=4, late="clamp")
    r.add(list(range(100)), times=np.arange(100.0))
    copy = DecayedReservoir.from_state(r.state())
    same(copy.state(), r.state())
    r.add(list(range(100, 300)), times=np.arange(100.0, 300.0) - 1)
    copy.add(list(range(100, 300)), times=np.arange(100.0, 300.0) - 1)
    same(copy.state(), r.state())
