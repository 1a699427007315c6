"""SimulatedCrowd: a seeded, SIMULATED crowd with known truth, skills per task type and costs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from hitl_widgets.core.quality import SimulatedCrowd


def test_same_seed_gives_the_same_crowd_and_another_seed_another():
    a, b, c = SimulatedCrowd(seed=3), SimulatedCrowd(seed=3), SimulatedCrowd(seed=4)
    assert a.truth.equals(b.truth) and a.types.equals(b.types)
    assert a.accuracy.equals(b.accuracy) and a.annotators.equals(b.annotators)
    pairs = [(who, f"item-{i}") for who in a.names for i in range(0, 600, 7)]
    assert a.answers(pairs).equals(b.answers(pairs))
    assert not a.truth.equals(c.truth)
    assert not a.answers(pairs)["label"].equals(c.answers(pairs)["label"])


def test_answers_do_not_depend_on_the_order_of_calls():
    crowd = SimulatedCrowd(n_items=50, n_annotators=6, seed=1)
    pairs = [(who, f"item-{i}") for who in crowd.names for i in range(50)]
    forward = {p: (crowd.answer(*p), crowd.seconds(*p)) for p in pairs}
    backward = {p: (crowd.answer(*p), crowd.seconds(*p)) for p in reversed(pairs)}
    assert forward == backward


def test_skills_lie_in_the_stated_range_with_generalists_specialists_and_weak():
    crowd = SimulatedCrowd(n_items=10, n_annotators=12, n_types=3, seed=0)
    acc = crowd.accuracy
    assert acc.to_numpy().min() >= 0.55 and acc.to_numpy().max() <= 0.95
    kinds = crowd.annotators.set_index("name")["kind"]
    assert kinds.value_counts().to_dict() == {"generalist": 4, "specialist": 4, "weak": 4}
    strong = crowd.annotators.set_index("name")["strong_type"]
    for name, kind in kinds.items():
        row = acc.loc[name]
        if kind == "generalist":
            assert row.between(0.75, 0.85).all()
        elif kind == "weak":
            assert row.between(0.55, 0.65).all()
        else:  # strong on their one type only
            assert row[strong[name]] >= 0.88
            assert row.drop(strong[name]).between(0.55, 0.65).all()
    # every type has a specialist
    assert set(strong[kinds == "specialist"]) == set(crowd.task_types)


def test_answers_are_right_at_the_annotators_accuracy():
    crowd = SimulatedCrowd(n_items=4000, n_annotators=3, n_types=2, seed=5)
    for who in crowd.names:
        for t in crowd.task_types:
            ids = crowd.types.index[crowd.types == t]
            right = sum(crowd.answer(who, i) == crowd.truth[i] for i in ids)
            # a two-sided binomial test at 0.001: the draws follow the stated accuracy
            assert binomtest(right, len(ids), crowd.accuracy.loc[who, t]).pvalue > 1e-3


def test_wrong_answers_are_other_labels_and_all_labels_occur():
    crowd = SimulatedCrowd(n_items=300, n_annotators=3, n_labels=4, seed=2)
    given = crowd.answers([(who, i) for who in crowd.names for i in crowd.truth.index])
    assert set(given["label"]) == set(crowd.labels)
    assert set(crowd.truth) == set(crowd.labels)


def test_stronger_annotators_cost_more_and_times_are_positive():
    crowd = SimulatedCrowd(n_items=200, n_annotators=30, seed=0)
    people = crowd.annotators.set_index("name")
    best = crowd.accuracy.max(axis=1)
    assert np.corrcoef(best, people["hourly_rate"])[0, 1] > 0.8
    kind_rate = people.groupby("kind")["hourly_rate"].mean()
    assert kind_rate["weak"] < kind_rate["generalist"] < kind_rate["specialist"]
    seconds = [crowd.seconds(w, i) for w in crowd.names for i in crowd.truth.index[:20]]
    assert min(seconds) > 0
    rate = people.loc["sim-00", "hourly_rate"]
    assert crowd.cost("sim-00", 3600) == pytest.approx(rate)
    df = crowd.answers([("sim-00", "item-1"), ("sim-01", "item-1")])
    assert df["cost"].tolist() == pytest.approx(
        [crowd.cost(w, s) for w, s in zip(df["annotator"], df["seconds"], strict=True)])


def test_items_go_into_a_real_project_with_their_task_type(make_project):
    crowd = SimulatedCrowd(n_items=20, n_annotators=3, seed=0)
    project = make_project(labels=crowd.labels, items=0)
    project.add_items(crowd.items(), text="text", id="item_id", fields=["task_type"])
    assert len(project) == 20
    records = project.store.get_items(list(crowd.truth.index))
    assert {i: r.fields["task_type"] for i, r in records.items()} == crowd.types.to_dict()
    # the text gives the label away nowhere
    assert not any(label in r.text for r in records.values() for label in crowd.labels)
    assert "SIMULATED" in repr(crowd)


@pytest.mark.parametrize("kwargs, word", [
    ({"n_items": 0}, "n_items"), ({"n_annotators": 2.5}, "n_annotators"),
    ({"n_labels": 1}, "n_labels"), ({"n_types": True}, "n_types"), ({"seed": -1}, "seed"),
])
def test_bad_sizes_are_refused_naming_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        SimulatedCrowd(**kwargs)


def test_unknown_annotator_or_item_is_refused_with_what_exists():
    crowd = SimulatedCrowd(n_items=5, n_annotators=2, seed=0)
    with pytest.raises(ValueError, match="Unknown annotator 'bob'.*sim-00"):
        crowd.answer("bob", "item-0")
    with pytest.raises(ValueError, match="Unknown item_id 'item-9'.*item-4"):
        crowd.seconds("sim-00", "item-9")
    with pytest.raises(ValueError, match="seconds"):
        crowd.cost("sim-00", -1)
