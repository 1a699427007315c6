"""Teaching mode: hw.simulate runs the labeling loop with an oracle, repeatably and honestly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import check_is_fitted
from statsmodels.stats.weightstats import DescrStatsW

import hitl_widgets as hw
from hitl_widgets.core.active import (
    DEFAULT_STRATEGIES,
    STRATEGIES,
    ActiveLearning,
    labels_to_reach,
    summarize,
)
from hitl_widgets.core.project import Project
from hitl_widgets.simulation import SimulationResult

ALL = list(DEFAULT_STRATEGIES)  # every strategy but BALD, which needs a torch model


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y  # pixels in [0, 1]: LogisticRegression converges in a few dozen steps


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def small(X, y, **kw):
    args = dict(model=LogisticRegression(max_iter=500), strategies=ALL, seeds=2, budget=40,
                initial=10, step=10)
    return hw.simulate(X, y, **(args | kw))


def test_same_seeds_give_the_same_curves(iris):
    first, second = small(*iris), small(*iris)
    pd.testing.assert_frame_equal(first.curves, second.curves)
    assert all(np.array_equal(first.order[k], second.order[k]) for k in first.order)


@pytest.mark.slow  # starts worker processes
def test_worker_processes_give_the_same_curves_as_one(iris):
    serial = small(*iris, strategies=["random", "diverse"])
    parallel = small(*iris, strategies=["random", "diverse"], n_jobs=2)
    pd.testing.assert_frame_equal(serial.curves, parallel.curves)
    # joblib keeps its workers for reuse; stop them so the test leaves no process behind.
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def test_the_users_model_is_never_fitted(iris):
    model = LogisticRegression(max_iter=500)
    small(*iris, model=model)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    assert not [k for k in vars(model) if k.endswith("_") and not k.startswith("_")]


def test_curves_have_a_row_per_strategy_seed_and_round(iris):
    result = small(*iris, budget=35)  # 10, 20, 30, then a short last step to the budget
    assert result.curves.columns.tolist() == ["strategy", "seed", "n_labels", "accuracy"]
    assert len(result.curves) == len(ALL) * 2 * 4
    assert sorted(result.curves.n_labels.unique()) == [10, 20, 30, 35]
    assert result.curves.accuracy.between(0, 1).all()
    assert all(len(rows) == 35 == len(set(rows)) for rows in result.order.values())


def test_random_label_sets_differ_across_seeds(iris):
    result = small(*iris, strategies=["random"], seeds=3)
    sets = [frozenset(result.order[("random", s)]) for s in range(3)]
    assert len(set(sets)) == 3


def test_every_strategy_of_a_seed_starts_from_the_same_items(iris):
    result = small(*iris)
    for seed in (0, 1):
        firsts = {tuple(sorted(result.order[(s, seed)][:10])) for s in ALL}
        assert len(firsts) == 1


def test_margin_asks_for_the_items_a_fitted_model_is_least_sure_of(iris):
    X, y = iris
    # With a test set given, the pool is all of X, so "the rest" below is exactly the pool.
    result = small(X, y, strategies=["margin"], seeds=1, budget=20, test=(X, y))
    order = result.order[("margin", 0)]
    fitted = LogisticRegression(max_iter=500).fit(X[order[:10]], y[order[:10]])
    pool = np.setdiff1d(np.arange(len(y)), order[:10])
    proba = np.sort(fitted.predict_proba(X[pool]), axis=1)
    margins = proba[:, -1] - proba[:, -2]
    picked = np.isin(pool, order[10:])
    assert margins[picked].max() <= margins[~picked].min() + 1e-12


REPLAY = [("random", 0.0), ("margin", 0.0), ("entropy", 0.0), ("diverse", 0.0),
          ("margin", 0.3), ("diverse", 0.3)]


@pytest.mark.parametrize(("strategy", "explore"), REPLAY, ids=[f"{s}-{e}" for s, e in REPLAY])
def test_the_simulation_asks_for_what_the_live_loop_serves(iris, tmp_path, strategy, explore):
    # The teaching mode replays the live engine: label in a real project what the simulation
    # labelled so far, let ActiveLearning (same seed, batch and explore) retrain, and the
    # next items it serves are the ones the simulation asked for in that round.
    X, y = iris
    result = small(X, y, strategies=[strategy], seeds=[3], budget=40, test=(X, y),
                   explore=explore)
    order = result.order[(strategy, 3)]
    project = Project(tmp_path / "replay.hitl", labels=["0", "1", "2"])
    ids = [f"r{k}" for k in range(len(y))]
    project.add_items([f"row {k}" for k in range(len(y))], id=ids)
    al = ActiveLearning(project, model=LogisticRegression(max_iter=500), features=X,
                        strategy=strategy, seed=3, batch_size=10, explore=explore,
                        retrain_every=10_000, test=(X, y))
    try:
        for start in (10, 20, 30):
            for row in order[start - 10:start]:
                project.annotate(ids[row], str(y[row]), annotator="ana")
            al.retrain(wait=True)
            assert al.status()["error"] is None
            served = al.next_ids(project, "ana", set(), 10)
            assert served == [ids[row] for row in order[start:start + 10]]
    finally:
        al.close()
        project.close()


def test_the_simulation_knows_every_strategy_name_and_bald_needs_dropout(iris):
    with pytest.raises(ValueError) as info:
        small(*iris, strategies=["margn"])
    assert all(name in str(info.value) for name in STRATEGIES)
    with pytest.raises(ValueError, match=r"TorchClassifier\(dropout=0.2\).*LogisticRegression"):
        small(*iris, strategies=["bald"])


def test_summary_interval_matches_statsmodels(iris):
    result = small(*iris, seeds=4, strategies=["margin"])
    row = result.summary.query("strategy == 'margin' and n_labels == 30").iloc[0]
    acc = result.curves.query("strategy == 'margin' and n_labels == 30").accuracy.to_numpy()
    low, high = DescrStatsW(acc).tconfint_mean(alpha=0.05)
    if acc.std() == 0:
        assert row.ci_low == pytest.approx(row.ci_high)
    else:
        assert (row.ci_low, row.ci_high) == pytest.approx((low, high))
    assert row["mean"] == pytest.approx(acc.mean())


def test_summary_of_known_numbers_equals_scipy_t_interval():
    acc = [0.81, 0.84, 0.79, 0.88, 0.83]
    df = pd.DataFrame({"strategy": "m", "seed": range(5), "n_labels": 50, "accuracy": acc})
    row = summarize(df).iloc[0]
    low, high = stats.t.interval(0.95, 4, loc=np.mean(acc), scale=stats.sem(acc))
    assert (row.ci_low, row.ci_high) == pytest.approx((low, high))


def test_one_seed_has_no_interval(iris):
    result = small(*iris, seeds=1, strategies=["random"])
    assert result.summary.ci_low.isna().all()
    assert result.figure.data  # the figure still draws the mean


def test_labels_to_reach_reads_the_first_round_at_target():
    df = pd.DataFrame({"strategy": ["a"] * 6, "seed": [0, 0, 0, 1, 1, 1],
                       "n_labels": [10, 20, 30] * 2, "accuracy": [0.5, 0.7, 0.9, 0.6, 0.8, 0.9]})
    out = labels_to_reach(df, 0.75).iloc[0]
    assert (out.labels, out.seeds_reached, out.labels_mean_curve) == (25.0, 2, 20.0)
    assert np.isnan(labels_to_reach(df, 0.95).iloc[0].labels)


def test_labels_to_reach_defaults_to_random_at_the_budget(iris):
    result = small(*iris, strategies=["random", "margin"])
    out = result.labels_to_reach().set_index("strategy")
    random_final = result.curves.query("strategy == 'random' and n_labels == 40").accuracy.mean()
    assert out.target.unique().tolist() == [pytest.approx(random_final)]
    no_random = small(*iris, strategies=["margin"])
    with pytest.raises(ValueError, match="no 'random' strategy"):
        no_random.labels_to_reach()


def test_without_a_test_set_a_quarter_is_held_out_and_said(iris):
    X, y = iris
    result = small(X, y, strategies=["random"])
    assert any("held out 38 rows" in note for note in result.notes)
    # Labelled rows are rows of the caller's X, never the documented held-out ones.
    _, held_out = train_test_split(np.arange(150), test_size=0.25, random_state=0, stratify=y)
    labelled = set().union(*(set(rows.tolist()) for rows in result.order.values()))
    assert labelled and not labelled & set(held_out.tolist())
    with_test = small(X, y, test=(X, y), strategies=["random"])
    assert with_test.notes == []


def test_a_single_class_initial_set_falls_back_to_random_picks(iris):
    X, y = iris
    result = small(X, y, initial=1, budget=21, strategies=["margin"])
    first = result.fallbacks.query("n_labels == 1")
    assert len(first) == 2 and set(first.reason) == {"single class labelled"}
    assert len(result.curves) == 2 * 3
    assert any("single class" in note for note in result.notes)


def test_stratify_puts_every_class_in_the_initial_set(iris):
    result = small(*iris, stratify=True, initial=9, budget=19)
    _, y = iris
    for rows in result.order.values():
        assert set(y[rows[:9]]) == {0, 1, 2}


def test_explore_mixes_random_picks_into_a_batch(iris):
    plain = small(*iris, strategies=["margin"], seeds=1)
    mixed = small(*iris, strategies=["margin"], seeds=1, explore=0.5)
    assert not np.array_equal(plain.order[("margin", 0)], mixed.order[("margin", 0)])


def test_unseeded_models_are_seeded_per_run(iris):
    tree = DecisionTreeClassifier()
    first = small(*iris, model=tree, strategies=["margin"])
    second = small(*iris, model=tree, strategies=["margin"])
    pd.testing.assert_frame_equal(first.curves, second.curves)
    assert tree.random_state is None


def test_result_unpacks_to_curves_and_figure(iris):
    result = small(*iris, strategies=["random", "margin"])
    df, fig = result
    assert df is result.curves and fig is result.figure
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert names == ["random", "margin"]
    assert fig.data[2].line.dash == "dash"  # random: band (2 traces) then its dashed mean
    assert "text/plain" in result._repr_mimebundle_()
    assert "margin" in repr(result)
    assert isinstance(result, SimulationResult)


def test_margin_beats_random_on_digits(digits):
    # Correctness, not timing: on digits, asking about the least sure items learns faster.
    X, y = digits
    result = hw.simulate(X, y, model=LogisticRegression(max_iter=1000),
                         strategies=["random", "margin"], seeds=3, budget=60)
    late = result.summary.query("n_labels >= 40").groupby("strategy")["mean"].mean()
    assert late["margin"] > late["random"] + 0.02


BAD = [
    (dict(model=SVC()), TypeError, "predict_proba"),
    (dict(strategies=["margn"]), ValueError, "Unknown strategy.*'margin'"),
    (dict(budget=5, initial=10), ValueError, "budget=5 is below initial=10"),
    (dict(seeds=0), ValueError, "seeds is how many repeats"),
    (dict(seeds=[1, -2]), ValueError, "non-negative"),
    (dict(seeds=[1, 1]), ValueError, "seeds repeat"),
    (dict(step=0), ValueError, "step"),
    (dict(explore=1.5), ValueError, "explore"),
    (dict(budget=5000), ValueError, "more labels than the pool"),
    (dict(stratify=True, initial=2), ValueError, "stratify=True needs initial"),
    (dict(test=([[1.0, 2.0]], [0])), ValueError, "X_test has 2 features but X has 4"),
    (dict(test=np.zeros((3, 4))), ValueError, "pair"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_settings_are_refused_with_advice(iris, kwargs, error, message):
    with pytest.raises(error, match=message):
        small(*iris, **kwargs)


def test_bad_data_is_refused_with_advice(iris):
    X, y = iris
    with pytest.raises(ValueError, match="X has 150 rows but y has 149"):
        small(X, y[:-1])
    holed = X.copy()
    holed[[3, 7], 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN in 2 row\(s\) \(first: \[3, 7\]\).*impute"):
        small(holed, y)
    with pytest.raises(ValueError, match="single class"):
        small(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="2-D"):
        small(X[:, 0], y)


def test_sparse_text_features_are_simulated_as_they_are():
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.default_rng(0)
    spam = [f"win a prize {w} now" for w in rng.integers(0, 50, 60)]
    ham = [f"lunch at {w} tomorrow" for w in rng.integers(0, 50, 60)]
    X = TfidfVectorizer().fit_transform(spam + ham)
    y = np.array([1] * 60 + [0] * 60)
    result = hw.simulate(X, y, model=LogisticRegression(), strategies=["random", "margin",
                         "diverse"], seeds=2, budget=30, initial=6, step=6)
    assert set(result.curves["strategy"]) == {"random", "margin", "diverse"}
    assert result.curves["accuracy"].between(0, 1).all()
    bad = X.copy().astype(float)
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN in 1 row"):
        hw.simulate(bad, y, model=LogisticRegression(), budget=30, initial=6, step=6)
