"""The cost view: rates, tiers and their history priced by seq, the budget, bad settings.

Money is checked to the cent and below on known sequences; every refused setting leaves the
file as it was (events and meta).
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitl_widgets.core.project import Project


def _state(project):
    """What a refused write must leave alone: the events and every meta entry."""
    store = project.store
    return len(store.events()), {k: store.get_meta(k) for k in store.meta_keys()}


def spent(project) -> float:
    return project.ledger.costs.spent()


def test_spent_is_active_seconds_times_the_rate_in_force(project):
    project.set_rate("*", 36.0)  # 36 an hour: 10 s cost 0.10
    project.annotate("0", "ham", annotator="ana", ms_on_item=10_000)
    project.skip("1", annotator="ana", ms_on_item=5_000)  # paid time too: 0.05
    assert spent(project) == pytest.approx(0.15, abs=1e-12)
    project.set_rate("ana", 72.0)  # her own rate wins over the default, from now on
    project.annotate("1", "ham", annotator="ana", ms_on_item=10_000)  # 0.20
    project.annotate("1", "spam", annotator="bob", ms_on_item=10_000)  # default: 0.10
    assert spent(project) == pytest.approx(0.45, abs=1e-12)
    project.ledger.costs.check()


def test_a_tier_rate_applies_to_its_members_below_their_own_rate(project):
    project.set_rate("*", 36.0)
    project.set_rate("senior", 54.0, tier=True)
    project.set_tier("bob", "senior")
    project.annotate("0", "ham", annotator="bob", ms_on_item=10_000)  # tier: 0.15
    project.set_rate("bob", 18.0)  # his own rate beats the tier's: 0.05
    project.annotate("1", "ham", annotator="bob", ms_on_item=10_000)
    project.set_tier("bob", None)
    project.ledger.set_rate("bob", 90.0)
    project.annotate("2", "ham", annotator="bob", ms_on_item=10_000)  # 0.25
    assert spent(project) == pytest.approx(0.45, abs=1e-12)
    rows = project.ledger.costs.charges()
    assert [r.tier for r in rows] == ["senior", "senior", None]
    assert [r.rate for r in rows] == [54.0, 18.0, 90.0]


def test_a_rate_change_never_reprices_work_already_done(project):
    project.set_rate("*", 36.0)
    project.annotate("0", "ham", annotator="ana", ms_on_item=10_000)
    assert spent(project) == pytest.approx(0.10, abs=1e-12)
    project.set_rate("*", 360.0)
    assert spent(project) == pytest.approx(0.10, abs=1e-12)  # old work keeps its price
    project.annotate("1", "ham", annotator="ana", ms_on_item=10_000)
    assert spent(project) == pytest.approx(1.10, abs=1e-12)


def test_a_clock_that_goes_backwards_cannot_reprice_old_work(project, monkeypatch):
    clock = [2_000_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    project.set_rate("*", 36.0)
    project.annotate("0", "ham", annotator="ana", ms_on_item=10_000)
    project.set_rate("*", 72.0)
    clock[0] -= 86_400  # the machine's clock jumps back a day
    project.annotate("1", "ham", annotator="ana", ms_on_item=10_000)
    project.set_rate("*", 720.0)
    clock[0] -= 86_400
    project.annotate("2", "ham", annotator="ana", ms_on_item=10_000)
    # Each event at the rate set before it in the log, whatever its timestamp says.
    assert [r.rate for r in project.ledger.costs.charges()] == [36.0, 72.0, 720.0]
    assert spent(project) == pytest.approx(0.1 + 0.2 + 2.0, abs=1e-12)


def test_unmeasured_events_are_charged_the_annotators_median(project):
    project.set_rate("*", 36.0)
    project.annotate("0", "ham", annotator="ana", ms_on_item=10_000)
    project.annotate("1", "ham", annotator="ana", ms_on_item=30_000)
    project.annotate("2", "ham", annotator="ana")  # no time sent: median 20 s = 0.20
    project.annotate("3", "ham", annotator="cy")  # nothing measured for cy: 0
    assert spent(project) == pytest.approx(0.1 + 0.3 + 0.2, abs=1e-12)
    rows = {r.item_id: r for r in project.ledger.costs.charges()}
    assert (rows["2"].measured, rows["2"].active_s) == (False, 20.0)
    assert (rows["3"].measured, rows["3"].cost) == (False, 0.0)


def test_undo_refunds_nothing_and_model_labels_cost_nothing(project):
    project.set_rate("*", 36.0)
    project.annotate("0", "ham", annotator="ana", ms_on_item=10_000)
    project.undo(annotator="ana")  # the time was spent
    project.annotate("0", "spam", annotator="ana", source="model")  # not paid time
    project.suggest(["1"], ["ham"], [0.9])
    project.resolve("2", "ham", annotator="sam", ms_on_item=20_000)  # an adjudicator's: 0.20
    assert spent(project) == pytest.approx(0.30, abs=1e-12)
    assert [r.kind for r in project.ledger.costs.charges()] == ["annotation", "resolution"]


def test_events_without_a_rate_cost_nothing_and_say_so(project):
    project.annotate("0", "ham", annotator="ana", ms_on_item=10_000)
    project.set_rate("*", 36.0)
    project.annotate("1", "ham", annotator="ana", ms_on_item=10_000)
    rows = project.ledger.costs.charges()
    assert [r.rate for r in rows] == [None, 36.0]
    assert spent(project) == pytest.approx(0.10, abs=1e-12)


def test_spending_follows_another_kernels_work_incrementally(project):
    project.set_rate("*", 36.0)
    other = Project(project.store.path)
    try:
        assert spent(project) == 0
        for k in range(5):
            other.annotate(str(k), "ham", annotator="bob", ms_on_item=10_000)
        version = project.ledger.costs.version
        assert spent(project) == pytest.approx(0.5, abs=1e-12)
        other.set_rate("*", 72.0)  # another kernel's new rate, then its work
        other.annotate("6", "ham", annotator="bob", ms_on_item=10_000)
        assert project.ledger.costs.sync() == 1  # only the new event is read
        assert project.ledger.costs.version > version
        assert project.ledger.costs.sync() == 0
        assert spent(project) == pytest.approx(0.7, abs=1e-12)
        project.ledger.costs.check()
    finally:
        other.close()


def test_budget_state_is_read_fresh(project):
    assert project.budget() is None
    project.set_rate("*", 36.0)
    project.set_budget(0.25)
    project.annotate("0", "ham", annotator="ana", ms_on_item=10_000)
    assert project.budget() == {"spent": pytest.approx(0.1), "limit": 0.25, "reached": False}
    for k in (1, 2):
        project.annotate(str(k), "ham", annotator="ana", ms_on_item=10_000)
    assert project.budget()["reached"] is True
    project.set_budget(None)  # the cap is gone
    assert project.budget() is None


# -- bad input: a clear error, nothing written ---------------------------------------------
BAD_RATES = [
    ((("ana", -1.0), {}), ValueError, "hourly"),
    ((("ana", math.nan), {}), ValueError, "hourly"),
    ((("ana", math.inf), {}), ValueError, "hourly"),
    ((("ana", True), {}), TypeError, "hourly"),
    ((("ana", "18"), {}), TypeError, "hourly"),
    ((("ana", None), {}), TypeError, "hourly"),
    ((("ana",), {}), TypeError, "hourly"),  # missing
    ((("", 18.0), {}), ValueError, "non-empty"),
    ((("   ", 18.0), {}), ValueError, "non-empty"),
    (((None, 18.0), {}), TypeError, "who"),
    ((("<b>ana</b>", 18.0), {}), ValueError, "markup"),
    ((("ana & bob", 18.0), {}), ValueError, "markup"),
    ((('"ana"', 18.0), {}), ValueError, "markup"),
    ((("ana\nbob", 18.0), {}), ValueError, "control"),
    ((("ana\x00", 18.0), {}), ValueError, "control"),
    ((("*", 18.0), {"tier": True}), ValueError, "default rate"),
    ((("senior", 18.0), {"tier": "yes"}), TypeError, "tier"),
]


@pytest.mark.parametrize("args, error, words", BAD_RATES,
                         ids=[repr(a[0])[:30] for a, _, _ in BAD_RATES])
def test_a_bad_rate_is_refused_and_writes_nothing(project, args, error, words):
    project.set_rate("*", 18.0)
    before = _state(project)
    with pytest.raises(error, match=words):
        project.set_rate(*args[0], **args[1])
    assert _state(project) == before


@pytest.mark.parametrize("args, words", [
    (("<script>", "senior"), "markup"),
    (("", "senior"), "non-empty"),
    (("ana", "<i>senior</i>"), "markup"),
    (("ana", "*"), "default rate"),
    (("ana", ""), "non-empty"),
])
def test_a_bad_tier_is_refused_and_writes_nothing(project, args, words):
    before = _state(project)
    with pytest.raises(ValueError, match=words):
        project.set_tier(*args)
    assert _state(project) == before


@pytest.mark.parametrize("amount, error", [
    (0, ValueError), (0.0, ValueError), (-5, ValueError), (math.nan, ValueError),
    (math.inf, ValueError), (True, TypeError), ("100", TypeError),
])
def test_a_bad_budget_is_refused_and_writes_nothing(project, amount, error):
    project.set_budget(50.0)
    before = _state(project)
    with pytest.raises(error, match="budget"):
        project.set_budget(amount)
    assert _state(project) == before
    assert project.budget()["limit"] == 50.0


def test_a_budget_of_zero_is_refused_saying_what_to_do_instead(project):
    with pytest.raises(ValueError, match="budget of 0 would stop all work") as info:
        project.set_budget(0)
    assert "None" in str(info.value)
    assert project.budget() is None


def test_an_apostrophe_is_a_name_not_markup(project):
    project.set_rate("o'brien", 20.0)
    project.annotate("0", "ham", annotator="o'brien", ms_on_item=36_000)
    assert spent(project) == pytest.approx(0.2, abs=1e-12)


# -- the kept figure against an independent reckoning ----------------------------------------
WHO = ["ana", "bob", "cy"]
EXAMPLES = itertools.count()
OPS = st.one_of(
    st.tuples(st.just("annotate"), st.sampled_from(WHO), st.one_of(st.none(), st.integers(0, 60_000))),
    st.tuples(st.just("skip"), st.sampled_from(WHO), st.integers(0, 60_000)),
    st.tuples(st.just("undo"), st.sampled_from(WHO), st.none()),
    st.tuples(st.just("rate"), st.sampled_from([*WHO, "*", "senior"]), st.integers(0, 100)),
    st.tuples(st.just("tier"), st.sampled_from(WHO), st.sampled_from([None, "senior"])),
    st.tuples(st.just("sync"), st.booleans(), st.none()),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, max_size=40))
def test_kept_spending_equals_an_independent_reckoning(make_project, ops):
    project = make_project(name=f"h{next(EXAMPLES)}.hitl")  # a fresh file per example
    other = Project(project.store.path)  # half the writes come from another kernel
    try:
        rates: dict[tuple[str, str], float] = {}
        tiers: dict[str, str | None] = {}
        charged = []  # (who, ms or None, rate or None) per paid event, in order
        for k, (op, who, value) in enumerate(ops):
            writer = project if k % 2 else other
            if op == "sync":
                (project if who else other).ledger.costs.spent()
                continue
            if op == "rate":
                tier = who == "senior"
                writer.set_rate(who, float(value), tier=tier)
                rates[("tier" if tier else "who", who)] = float(value)
                continue
            if op == "tier":
                writer.set_tier(who, value)
                tiers[who] = value
                continue
            if op == "undo":
                writer.undo(annotator=who)  # refunds nothing
                continue
            if op == "annotate":
                writer.annotate(str(k % 8), "ham", annotator=who, ms_on_item=value)
            else:
                writer.skip(str(k % 8), annotator=who, ms_on_item=value)
            rate = next((rates[key] for key in (("who", who), ("tier", tiers.get(who)),
                                                ("who", "*")) if key in rates), None)
            charged.append((who, value, rate))
        expected = 0.0
        for who, ms, rate in charged:
            times = sorted(m / 1000 for w, m, _ in charged if w == who and m is not None)
            median = float(np.median(times)) if times else 0.0
            if rate is not None:
                expected += (median if ms is None else ms / 1000) * rate / 3600
        for p in (project, other):
            assert p.ledger.costs.spent() == pytest.approx(expected, abs=1e-9)
            p.ledger.costs.check()
        assert sum(c.cost for c in project.ledger.costs.charges()) == pytest.approx(expected,
                                                                                   abs=1e-9)
    finally:
        other.close()
