"""Skill profiles (Beta posteriors per annotator and task type) and the router's scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hitl_widgets.core.quality import route_scores, skill_posteriors, skill_profiles


def _answers(rows):
    return pd.DataFrame(rows, columns=["item_id", "annotator", "label", "task_type"])


# -- Beta posteriors on known sequences --------------------------------------------------------
def test_eight_right_and_two_wrong_gold_answers_give_beta_9_3_with_scipys_interval():
    answers = _answers([(f"g{k}", "ana", "a" if k < 8 else "b", "all") for k in range(10)])
    gold = {f"g{k}": "a" for k in range(10)}
    row = skill_posteriors(answers, gold, level=0.9).iloc[0]
    assert (row.alpha, row.beta, row["mean"]) == (9.0, 3.0, 0.75)
    assert row.low == pytest.approx(stats.beta.ppf(0.05, 9, 3))
    assert row.high == pytest.approx(stats.beta.ppf(0.95, 9, 3))
    assert (row.n_gold, row.n_consensus) == (10, 0)


def test_the_prior_adds_to_the_evidence():
    answers = _answers([("g1", "ana", "a", "all"), ("g2", "ana", "b", "all")])
    row = skill_posteriors(answers, {"g1": "a", "g2": "a"}, prior=(2, 5)).iloc[0]
    assert (row.alpha, row.beta) == (3.0, 6.0)


def test_answers_in_sequence_update_the_posterior_one_at_a_time():
    truth = ["a", "b", "a", "a", "b", "b", "a", "b"]
    given = ["a", "b", "b", "a", "b", "a", "a", "b"]
    gold = {f"g{k}": t for k, t in enumerate(truth)}
    for n in range(1, len(truth) + 1):
        answers = _answers([(f"g{k}", "ana", given[k], "t") for k in range(n)])
        row = skill_posteriors(answers, gold).iloc[0]
        right = sum(g == t for g, t in zip(given[:n], truth[:n], strict=True))
        assert (row.alpha, row.beta) == (1 + right, 1 + n - right)


def test_consensus_evidence_is_leave_one_out_majority_with_ties_split():
    # x: a, b say spam, c says ham. y: a says spam, b says ham (a tie for each).
    answers = _answers([("x", "a", "spam", "t"), ("x", "b", "spam", "t"), ("x", "c", "ham", "t"),
                        ("y", "a", "spam", "t"), ("y", "b", "ham", "t"),
                        ("z", "c", "ham", "t")])  # z: c alone, no evidence
    out = skill_posteriors(answers, method="majority").set_index("annotator")
    # a on x: others {b: spam, c: ham} tie -> 1/2; on y: others {ham} -> 0.
    assert (out.loc["a", "alpha"], out.loc["a", "beta"]) == (1.5, 2.5)
    assert (out.loc["c", "alpha"], out.loc["c", "beta"]) == (1.0, 2.0)
    assert out.loc["c", "n_consensus"] == 1
    assert out.attrs["method"] == "majority"


def test_gold_items_give_gold_evidence_only_and_method_gold_ignores_consensus():
    answers = _answers([("g", "a", "spam", "t"), ("g", "b", "ham", "t"),
                        ("x", "a", "spam", "t"), ("x", "b", "spam", "t")])
    out = skill_posteriors(answers, {"g": "ham"}).set_index("annotator")
    assert out.loc["a", ["alpha", "beta", "n_gold", "n_consensus"]].tolist() == [2, 2, 1, 1]
    only_gold = skill_posteriors(answers, {"g": "ham"}, method="gold").set_index("annotator")
    assert only_gold.loc["b", ["alpha", "beta", "n_consensus"]].tolist() == [2, 1, 0]


def test_a_later_answer_of_the_same_annotator_replaces_the_earlier_one():
    answers = _answers([("g", "a", "b", "t"), ("g", "a", "a", "t")])
    assert skill_posteriors(answers, {"g": "a"})[["alpha", "beta"]].values.tolist() == [[2, 1]]


def _crowd(seed, n_items=300, skills=None):
    """Simulated answers: 3 binary types, 5 annotators of known skill, 4 answers per item."""
    rng = np.random.default_rng(seed)
    skills = skills or {"s0": 0.95, "s1": 0.9, "s2": 0.75, "s3": 0.6, "s4": 0.55}
    names = list(skills)
    rows, truth = [], {}
    for k in range(n_items):
        item, t = f"i{k}", rng.integers(2)
        truth[item] = int(t)
        for who in rng.choice(names, 4, replace=False):
            right = rng.random() < skills[who]
            rows.append((item, who, int(t) if right else 1 - int(t), "all"))
    return _answers(rows), truth, skills


def test_dawid_skene_path_recovers_the_simulated_skills():
    answers, _, skills = _crowd(0)
    out = skill_posteriors(answers).set_index("annotator")
    assert out.attrs["method"] == "dawid_skene"  # auto: plenty of items with 3+ answers
    for who, skill in skills.items():
        assert out.loc[who, "low"] - 0.05 < skill < out.loc[who, "high"] + 0.05
    ranked = out["mean"].sort_values(ascending=False).index.tolist()
    assert ranked[:3] == ["s0", "s1", "s2"]


def test_auto_uses_majority_with_few_items_and_each_method_can_be_forced():
    answers, _, _ = _crowd(1, n_items=10)
    assert skill_posteriors(answers).attrs["method"] == "majority"
    assert skill_posteriors(answers, method="dawid_skene").attrs["method"] == "dawid_skene"


def test_no_answers_give_an_empty_frame_with_the_columns():
    out = skill_posteriors(_answers([]))
    assert out.empty
    assert list(out.columns) == ["annotator", "task_type", "alpha", "beta", "mean", "low", "high",
                                 "n_gold", "n_consensus"]


@pytest.mark.parametrize("kw, match", [
    (dict(prior=(0, 1)), "prior"), (dict(prior="x"), "prior"), (dict(level=1.0), "level"),
    (dict(method="vote"), "method"), (dict(gold=["a"]), "gold")])
def test_bad_arguments_to_skill_posteriors_are_refused(kw, match):
    with pytest.raises((TypeError, ValueError), match=match):
        skill_posteriors(_answers([("g", "a", "x", "t")]), **kw)


def test_answers_that_are_not_a_frame_or_lack_columns_are_refused():
    with pytest.raises(TypeError, match="DataFrame"):
        skill_posteriors([("g", "a", "x")])
    with pytest.raises(ValueError, match="missing"):
        skill_posteriors(pd.DataFrame({"item_id": ["g"], "label": ["x"]}))


# -- a project's profiles ----------------------------------------------------------------------
@pytest.fixture
def typed(make_project):
    """Six items with a 'source' field: three news, three sports; gold on two of them."""
    project = make_project(items=0, name="typed.hitl")
    project.add_items(pd.DataFrame({"text": [f"text {k}" for k in range(6)],
                                    "id": [f"i{k}" for k in range(6)],
                                    "source": ["news"] * 3 + ["sports"] * 3}),
                      text="text", id="id", fields=["source"])
    project.set_gold({"i0": "spam", "i3": "ham"})
    project.annotate("i0", "spam", annotator="ana")  # right
    project.annotate("i3", "spam", annotator="ana")  # wrong
    project.annotate("i1", "ham", annotator="ana")
    project.annotate("i1", "ham", annotator="bo")
    return project


def test_profiles_by_a_field_of_the_items(typed):
    out = typed.skill_profiles("source").set_index(["annotator", "task_type"])
    assert out.loc[("ana", "news"), ["alpha", "beta", "n_gold", "n_consensus"]].tolist() == [3, 1, 1, 1]
    assert out.loc[("ana", "sports"), ["alpha", "beta"]].tolist() == [1, 2]
    assert out.loc[("bo", "news"), ["alpha", "beta"]].tolist() == [2, 1]


def test_profiles_by_a_function_of_the_record_and_by_default_one_type(typed):
    by_fn = skill_profiles(typed, lambda r: r["fields"]["source"][0])
    assert sorted(set(by_fn["task_type"])) == ["n", "s"]
    one = skill_profiles(typed)
    assert set(one["task_type"]) == {"all"}
    assert one.set_index("annotator").loc["ana", "n_gold"] == 2


def test_profiles_follow_new_labels_and_undo_and_repeat_calls_hit_the_cache(typed):
    first = typed.skill_profiles()
    assert typed.skill_profiles().equals(first)
    typed.annotate("i4", "ham", annotator="bo")
    typed.annotate("i4", "ham", annotator="ana")
    after = typed.skill_profiles().set_index("annotator")
    assert after.loc["ana", "n_consensus"] == 2
    typed.undo(annotator="ana")
    assert typed.skill_profiles().set_index("annotator").loc["ana", "n_consensus"] == 1


def test_model_labels_are_not_skill_evidence(typed):
    typed.annotate("i5", "ham", annotator="model-1", source="model")
    assert "model-1" not in set(typed.skill_profiles()["annotator"])


def _raises_on_i1(record):
    if record["item_id"] == "i1":
        raise RuntimeError("no source here")
    return "x"


def test_a_task_type_function_that_raises_names_the_item_and_chains_the_cause(typed):
    n_events = len(typed.events())
    with pytest.raises(ValueError, match=r"_raises_on_i1.*RuntimeError.*'i1'") as info:
        typed.skill_profiles(_raises_on_i1)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert len(typed.events()) == n_events


@pytest.mark.parametrize("task_type, error, match", [
    (lambda r: ["list"], TypeError, "unhashable list.*item"),
    (lambda r: None, ValueError, "no type.*item"),
    ("topic", KeyError, "'topic' is not a field.*source"),
    (42, TypeError, "task_type must be"),
])
def test_bad_task_types_are_refused_clearly(typed, task_type, error, match):
    with pytest.raises(error, match=match):
        typed.skill_profiles(task_type)


def test_a_misspelled_option_is_refused(typed):
    with pytest.raises(TypeError, match="levle"):
        typed.skill_profiles(levle=0.9)


# -- the router's scores ----------------------------------------------------------------------
def _profiles(rows):
    return pd.DataFrame(rows, columns=["annotator", "task_type", "alpha", "beta", "n_gold",
                                       "n_consensus"])


def test_the_baseline_is_accuracy_over_one_plus_load_per_hundred():
    profiles = _profiles([("ana", "t", 9, 1, 8, 0), ("bo", "t", 6, 4, 8, 0)])
    out = route_scores(profiles, ["ana", "bo"], ["t"], {"ana": 100}, policy="baseline")
    assert out.loc["ana", "t"] == pytest.approx(0.9 / 2)
    assert out.loc["bo", "t"] == pytest.approx(0.6)


def test_a_specialist_gets_their_type_and_the_generalist_the_other():
    profiles = _profiles([("spec", "news", 95, 5, 100, 0), ("spec", "sports", 55, 45, 100, 0),
                          ("gen", "news", 80, 20, 100, 0), ("gen", "sports", 80, 20, 100, 0)])
    out = route_scores(profiles, ["spec", "gen"], ["news", "sports"], explore=0)
    assert out.idxmax(axis=1).to_dict() == {"spec": "news", "gen": "sports"}
    # The baseline gives the generalist news as readily as sports: no comparison.
    base = route_scores(profiles, ["spec", "gen"], ["news", "sports"], policy="baseline")
    assert base.loc["gen", "news"] == base.loc["gen", "sports"]


def test_exploration_reaches_a_new_annotator():
    profiles = _profiles([("old", "t", 8, 4, 10, 0)])  # mean 0.67, still uncertain
    rng = np.random.default_rng(0)
    picks = [route_scores(profiles, ["old", "new"], ["t"], rng=rng)["t"].idxmax()
             for _ in range(200)]
    assert 10 < picks.count("new") < 190
    greedy = route_scores(profiles, ["old", "new"], ["t"], explore=0)["t"].idxmax()
    assert greedy == "old"


def test_load_discounts_an_annotator():
    profiles = _profiles([("ana", "t", 90, 10, 100, 0), ("bo", "t", 85, 15, 100, 0)])
    idle = route_scores(profiles, ["ana", "bo"], ["t"], explore=0)
    busy = route_scores(profiles, ["ana", "bo"], ["t"], {"ana": 50}, explore=0)
    assert idle["t"].idxmax() == "ana" and busy["t"].idxmax() == "bo"


def test_the_floor_holds_a_clearly_worse_annotator_off_a_type_while_a_better_one_is_there():
    profiles = _profiles([("bad", "t", 12, 18, 30, 0), ("good", "t", 27, 3, 30, 0),
                          ("bad", "u", 2, 1, 1, 0)])
    out = route_scores(profiles, ["bad", "good"], ["t", "u"], explore=0)
    assert out.loc["bad", "t"] == -np.inf and np.isfinite(out.loc["bad", "u"])
    alone = route_scores(profiles, ["bad"], ["t"], explore=0)
    assert np.isfinite(alone.loc["bad", "t"])  # nobody better is available


def test_route_scores_refuses_bad_input():
    profiles = _profiles([("ana", "t", 9, 1, 8, 0)])
    with pytest.raises(ValueError, match="policy"):
        route_scores(profiles, ["ana"], ["t"], policy="greedy")
    with pytest.raises(ValueError, match="explore"):
        route_scores(profiles, ["ana"], ["t"], explore=-1)
    with pytest.raises(ValueError, match=r"load\['ana'\]"):
        route_scores(profiles, ["ana"], ["t"], {"ana": float("nan")})
    with pytest.raises(TypeError, match="list of annotator names"):
        route_scores(profiles, "ana", ["t"])
    with pytest.raises(TypeError, match="profiles"):
        route_scores([1, 2], ["ana"], ["t"])
    with pytest.raises(ValueError, match="prior"):
        route_scores(profiles, ["ana"], ["t"], prior=(0, 1))
    with pytest.raises(ValueError, match="twice"):
        route_scores(profiles, ["ana", "ana"], ["t"])


def test_a_multi_label_answer_is_right_only_when_the_whole_set_matches(make_project):
    project = make_project(labels=["x", "y", "z"], multi_label=True, name="multi.hitl")
    project.set_gold({"0": ["x", "y"], "1": ["z"]})
    project.annotate("0", ["y", "x"], annotator="ana")  # the same set, in another order
    project.annotate("1", ["x", "z"], annotator="ana")
    row = project.skill_profiles().iloc[0]
    assert (row.alpha, row.beta, row.n_gold) == (2.0, 2.0, 2)


def test_the_floor_leaves_an_item_enough_annotators_for_its_k():
    """Two clearly better annotators on a type hold a third off it when items need one label
    each (or two), not when they need three: the third's label is needed anyway."""
    profiles = pd.DataFrame({"annotator": ["a", "b", "c"], "task_type": ["t"] * 3,
                             "alpha": [95.0, 94.0, 60.0], "beta": [5.0, 6.0, 40.0],
                             "n_gold": [100, 100, 100]})
    for slots, held_off in ((1, True), (2, True), (3, False)):
        scores = route_scores(profiles, ["a", "b", "c"], ["t"], explore=0, slots=slots)
        assert bool(np.isneginf(scores.loc["c", "t"])) is held_off
        assert np.isfinite(scores.loc[["a", "b"], "t"]).all()
    with pytest.raises(ValueError, match="slots"):
        route_scores(profiles, ["a"], ["t"], slots=0)
