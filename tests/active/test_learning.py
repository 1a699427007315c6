"""The live active-learning loop: background retraining, re-ranking, routing, bad input.

Real scikit-learn models on generated data, a real SQLite project per test. Models that must be
caught mid-fit wait on a gate (a threading.Event) rather than sleeping, so no assertion depends
on timing.
"""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from hitl_widgets.core.active import margin
from hitl_widgets.core.active._learning import ActiveLearning, wilson_interval
from hitl_widgets.core.project import Project

LABELS = ["a", "b", "c"]
# Shared with the models below by name: sklearn's clone deep-copies parameters, and an Event
# cannot be copied.
GATES: dict[str, threading.Event] = {}
STARTED: dict[str, threading.Event] = {}
FITS: list[dict] = []
HELD = (np.zeros((4, 2)), ["a", "b", "c", "a"])  # a stand-in test set: no cross-validation fits


class GatedModel(ClassifierMixin, BaseEstimator):
    """LogisticRegression whose fit waits for its gate; records every fit; can be told to fail.

    Tests that count fits give the loop a test set, so no cross-validation fits are added."""

    def __init__(self, gate: str = "", fail: bool = False):
        self.gate = gate
        self.fail = fail

    def fit(self, X, y):
        if self.gate:
            STARTED[self.gate].set()
            assert GATES[self.gate].wait(10), "the test never opened the gate"
        FITS.append({"n": len(y), "labels": list(y)})
        if self.fail:
            raise RuntimeError("boom: the model cannot fit")
        self.inner_ = LogisticRegression(max_iter=500).fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict_proba(self, X):
        return self.inner_.predict_proba(X)


@pytest.fixture(autouse=True)
def _clear():
    FITS.clear()
    yield
    for gate in GATES.values():
        gate.set()  # never leave a retrain thread blocked


def gate(name: str) -> tuple[threading.Event, threading.Event]:
    GATES[name], STARTED[name] = threading.Event(), threading.Event()
    return GATES[name], STARTED[name]


def label(project, ids, truth, items, annotator="ana"):
    for item_id in items:
        project.annotate(item_id, str(truth[int(item_id[1:])]), annotator=annotator)


def first_of_each_class(truth, ids, per_class):
    """``per_class`` items of each class, interleaved a, b, c, a, b, c, ..."""
    rows = [np.flatnonzero(truth == c)[:per_class] for c in LABELS]
    return [ids[k] for group in zip(*rows, strict=True) for k in group]


def test_retrain_runs_in_background_while_next_ids_answers(pool):
    project, X, truth, ids = pool
    opened, started = gate("bg")
    al = ActiveLearning(project, model=GatedModel(gate="bg"), features=X, retrain_every=6,
                        test=HELD)
    label(project, ids, truth, first_of_each_class(truth, ids, 2))  # the 6th label starts it
    assert started.wait(10)
    status = al.status()
    assert status["retraining"] and status["model_version"] is None
    served = al.next_ids(project, "ana", set(), 10)  # returns while the fit still waits
    assert len(served) == 10 and not opened.is_set() and al.status()["retraining"]
    opened.set()
    al.wait()
    assert al.status()["model_version"] == "m1" and not al.status()["retraining"]
    assert FITS[-1]["n"] == 6
    al.close()


def test_ranking_changes_to_the_models_margin_order_when_it_lands(pool):
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=9)
    before = al.next_ids(project, "ana", set(), 20)
    labeled = first_of_each_class(truth, ids, 3)
    label(project, ids, truth, labeled)
    al.wait()
    after = al.next_ids(project, "ana", set(), 20)
    assert after != before and not set(after) & set(labeled)
    # The head of the ranking is the pool's most uncertain unlabeled items, by margin.
    scores = margin(al._model_fitted.predict_proba(X))
    open_rows = [k for k in range(len(ids)) if ids[k] not in labeled]
    best = sorted(open_rows, key=lambda k: -scores[k])[:20]
    assert sorted(scores[[int(i[1:]) for i in after]]) == pytest.approx(sorted(scores[best]))
    al.close()


def test_before_any_model_order_is_random_under_the_seed_and_respects_exclude(pool):
    project, X, _, ids = pool
    one = ActiveLearning(project, model=LogisticRegression(), features=X, seed=3)
    two = ActiveLearning(project, model=LogisticRegression(), features=X, seed=3)
    other = ActiveLearning(project, model=LogisticRegression(), features=X, seed=4)
    first = one.next_ids(project, "ana", set(), 15)
    assert first == two.next_ids(project, "ana", set(), 15)
    assert first != other.next_ids(project, "ana", set(), 15)
    assert first != ids[:15]  # not the order items were added
    rest = one.next_ids(project, "ana", set(first[:5]), 10)
    assert rest == first[5:15]
    for al in (one, two, other):
        al.close()


def test_suggestions_carry_the_model_version(pool):
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=6,
                        suggest_top=25)
    label(project, ids, truth, first_of_each_class(truth, ids, 2))
    al.wait()
    head = al.next_ids(project, "ana", set(), 25)
    stored = project.store.latest_suggestions(head)
    assert set(stored) == set(head)
    assert {s["extra"]["version"] for s in stored.values()} == {"m1"}
    assert all(s["source"] == "model" and 0 < s["score"] <= 1 for s in stored.values())
    label(project, ids, truth, first_of_each_class(truth, ids, 4)[6:])  # 6 more: m2
    al.wait()
    head = al.next_ids(project, "ana", set(), 5)
    assert {s["extra"]["version"] for s in project.store.latest_suggestions(head).values()} == {"m2"}
    al.close()


def test_the_users_estimator_is_never_fitted(pool):
    project, X, truth, ids = pool
    model = LogisticRegression()
    al = ActiveLearning(project, model=model, features=X, retrain_every=6)
    label(project, ids, truth, first_of_each_class(truth, ids, 2))
    al.wait()
    assert al.status()["model_version"] == "m1"
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    al.close()


def test_a_model_failing_in_fit_keeps_the_old_ranking_and_reports_the_error(pool):
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=GatedModel(), features=X, retrain_every=1000,
                        test=HELD)
    label(project, ids, truth, first_of_each_class(truth, ids, 2))
    al.retrain(wait=True)
    before = al.next_ids(project, "ana", set(), 20)
    al.model.set_params(fail=True)
    al.retrain(wait=True)
    status = al.status()
    assert status["error"] == "RuntimeError: boom: the model cannot fit"
    assert status["model_version"] == "m1"
    assert al.next_ids(project, "ana", set(), 20) == before
    al.model.set_params(fail=False)  # the next retrain tries again, and clears the error
    al.retrain(wait=True)
    assert al.status()["error"] is None and al.status()["model_version"] == "m2"
    al.close()


def test_one_class_so_far_keeps_the_random_order_without_crashing(pool):
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=5)
    random_order = al.next_ids(project, "ana", set(), 30)
    only_a = [ids[k] for k in np.flatnonzero(truth == "a")[:5]]
    label(project, ids, truth, only_a)
    al.retrain(wait=True)
    status = al.status()
    assert status["model_version"] is None and status["error"] is None
    assert al.next_ids(project, "ana", set(), 20) == [i for i in random_order if i not in only_a][:20]
    al.close()


def test_labels_during_a_retrain_coalesce_into_one_more(pool):
    project, X, truth, ids = pool
    opened, started = gate("co")
    al = ActiveLearning(project, model=GatedModel(gate="co"), features=X, retrain_every=3,
                        test=HELD)
    order = first_of_each_class(truth, ids, 5)
    label(project, ids, truth, order[:3])
    assert started.wait(10)
    label(project, ids, truth, order[3:12])  # three more batches while the first fit waits
    opened.set()
    al.wait()
    assert [f["n"] for f in FITS] == [3, 12]  # never two at once; one more with every label
    assert al.status()["model_version"] == "m2"
    al.close()


def test_majority_of_annotators_trains_ties_go_to_the_latest(pool):
    project, X, _, _ = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=1000)
    project.annotate("i000", "a", annotator="ana")
    project.annotate("i000", "b", annotator="bob")
    project.annotate("i000", "b", annotator="cy")
    project.annotate("i001", "a", annotator="ana")
    project.annotate("i001", "c", annotator="bob")
    rows, y, n = al._training_set()
    assert n == 2 and dict(zip(rows.tolist(), y.tolist(), strict=True)) == {0: "b", 1: "c"}
    al.close()


def test_auto_labels_are_model_sourced_and_never_training_labels(pool):
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=GatedModel(), features=X, retrain_every=1000,
                        auto_accept=0.95, test=HELD, spot_check=0.0)
    humans = first_of_each_class(truth, ids, 4)
    label(project, ids, truth, humans)
    al.retrain(wait=True)
    events = project.events().query("kind == 'annotation' and annotator == 'model'")
    assert len(events) > 100  # well-separated blobs: most of the pool is sure
    assert set(events["source"]) == {"model"}
    assert (events["score"] >= 0.95).all()
    assert {e["version"] for e in events["extra"]} == {"m1"}
    status = al.status()
    assert status["n_human_labels"] == len(humans)
    assert status["n_auto_labeled"] == len(events)
    assert status["share_auto_labeled"] == pytest.approx(len(events) / len(ids))
    al.retrain(wait=True)
    assert [f["n"] for f in FITS] == [len(humans), len(humans)]  # auto-labels never train
    served = al.next_ids(project, "ana", set(), len(ids))
    assert not set(served) & set(events["item_id"])  # auto-labeled items left the human queue
    dist = al.label_distribution().set_index("label")
    assert dist["human"].sum() == len(humans) and dist["model"].sum() == len(events)
    al.close()


def test_spot_checks_come_first_and_measure_auto_label_accuracy(pool):
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=1000,
                        auto_accept=0.9, spot_check=0.2, seed=1)
    label(project, ids, truth, first_of_each_class(truth, ids, 3))
    al.retrain(wait=True)
    auto = project.events().query("kind == 'annotation' and annotator == 'model'")
    spots = [e["item_id"] for _, e in auto.iterrows() if e["extra"]["spot_check"]]
    share = 0.2 * len(auto)
    assert np.floor(share) <= len(spots) <= np.ceil(share)
    assert al.next_ids(project, "ana", set(), len(spots)) == spots  # due spot checks first
    # A simulated human answers them; one on purpose against the model.
    answers = {i: str(truth[int(i[1:])]) for i in spots}
    wrong = spots[0]
    answers[wrong] = next(lab for lab in LABELS if lab != auto.set_index("item_id").loc[wrong,
                                                                                        "labels"][0])
    for item_id, answer in answers.items():
        project.annotate(item_id, answer, annotator="ana")
    model_said = {e["item_id"]: e["labels"][0] for _, e in auto.iterrows()}
    correct = sum(model_said[i] == answers[i] for i in spots)
    status = al.status()
    assert status["spot_checks_done"] == len(spots)
    assert status["auto_accept_accuracy"] == pytest.approx(correct / len(spots))
    assert status["auto_accept_interval"] == pytest.approx(wilson_interval(correct, len(spots)))
    assert spots[0] not in al.next_ids(project, "ana", set(), 5)
    # A reopened loop reads the same figures back from the log.
    again = ActiveLearning(project, model=LogisticRegression(), features=X)
    assert again.status()["auto_accept_accuracy"] == pytest.approx(correct / len(spots))
    al.close()
    again.close()


def test_wilson_interval_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(9, 10), (0, 7), (50, 50), (13, 40)]:
        assert wilson_interval(k, n) == pytest.approx(proportion_confint(k, n, method="wilson"))
    assert wilson_interval(0, 0) is None


def test_learning_curve_on_a_test_set_and_by_cross_validation(pool):
    project, X, truth, ids = pool
    held = (X[:50], truth[:50])
    with_test = ActiveLearning(project, model=LogisticRegression(), features=X,
                               retrain_every=1000, test=held)
    label(project, ids, truth, first_of_each_class(truth, ids, 3))
    with_test.retrain(wait=True)
    curve = with_test.learning_curve()
    assert curve[["n_labels", "model_version", "method"]].values.tolist() == [[9, "m1", "test"]]
    expected = np.mean(with_test._model_fitted.predict(held[0]) == held[1])
    assert curve["accuracy"].iloc[0] == pytest.approx(expected)
    with_test.close()
    cv = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=1000)
    cv.retrain(wait=True)
    curve = cv.learning_curve()
    assert curve["method"].tolist() == ["cv"] and 0 <= curve["accuracy"].iloc[0] <= 1
    cv.close()


def test_in_an_event_loop_the_model_lands_on_the_loops_thread(pool):
    project, X, truth, ids = pool
    seen = []

    async def main():
        al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=6)
        al.subscribe(lambda kind, info: seen.append((kind, threading.current_thread().name)))
        project.subscribe(lambda kind, info: kind == "suggestion" and seen.append(
            ("suggestion", threading.current_thread().name)))
        label(project, ids, truth, first_of_each_class(truth, ids, 2))
        while al.status()["model_version"] is None:  # the loop runs the landing when idle
            await asyncio.sleep(0.01)
        await asyncio.to_thread(al._thread.join) if al._thread else None
        await asyncio.sleep(0.05)
        al.close()

    asyncio.run(main())
    main_thread = threading.main_thread().name
    assert ("suggestion", main_thread) in seen and ("model", main_thread) in seen
    assert {name for _, name in seen} == {main_thread}


def test_close_stops_the_loop(pool):
    project, X, truth, ids = pool
    opened, started = gate("close")
    al = ActiveLearning(project, model=GatedModel(gate="close"), features=X, retrain_every=6,
                        test=HELD)
    label(project, ids, truth, first_of_each_class(truth, ids, 2))
    assert started.wait(10)
    opened.set()
    al.close()
    assert al._thread is None and al.status()["model_version"] is None  # its result dropped
    label(project, ids, truth, first_of_each_class(truth, ids, 4)[6:])
    assert al._thread is None  # no longer listening


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": LinearSVC()}, TypeError, "predict_proba"),
        ({"model": LogisticRegression}, TypeError, "instance"),
        ({"features": np.zeros((299, 2))}, ValueError, "299 rows but the project has 300"),
        ({"features": np.full((300, 2), np.nan)}, ValueError, "NaN"),
        ({"strategy": "confusion"}, ValueError, "Unknown strategy"),
        ({"auto_accept": 1.5}, ValueError, "auto_accept"),
        ({"spot_check": -0.1}, ValueError, "spot_check"),
        ({"retrain_every": 0}, ValueError, "retrain_every"),
        ({"test": (np.zeros((3, 5)), ["a"] * 3)}, ValueError, "test X"),
        ({"retrain_evry": 5}, TypeError, "retrain_evry"),
    ],
)
def test_bad_input_is_refused_with_advice(pool, kwargs, error, match):
    project, X, _, _ = pool
    args = {"model": LogisticRegression(), "features": X, **kwargs}
    with pytest.raises(error, match=match):
        ActiveLearning(project, **args)


def test_a_multi_label_project_is_refused(tmp_path):
    project = Project(tmp_path / "m.hitl", labels=["x", "y"], multi_label=True)
    project.add_items(["one", "two"])
    with pytest.raises(ValueError, match="single-label"):
        ActiveLearning(project, model=LogisticRegression(), features=np.zeros((2, 2)))
    project.close()


@pytest.mark.slow  # plotly's first import takes seconds on a busy machine
def test_live_plots_follow_the_loop(pool):
    pytest.importorskip("plotly")
    from hitl_widgets.learning_plots import live_plots, stop_live_plots

    project, X, truth, ids = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=6,
                        auto_accept=0.99, test=(X[:30], truth[:30]))
    fig = live_plots(al)
    assert fig.data[0].y in (None, ()) and sum(fig.data[1].y) == 0
    label(project, ids, truth, first_of_each_class(truth, ids, 2))
    al.wait()
    curve = al.learning_curve()
    assert list(fig.data[0].y) == curve["accuracy"].tolist() and list(fig.data[0].x) == [6]
    assert sum(fig.data[1].y) == 6 and sum(fig.data[2].y) == al.status()["n_auto_labeled"] > 0
    assert list(fig.data[3].y) == [al.status()["share_auto_labeled"]]
    assert fig.layout.title.text.startswith("model m1")
    stop_live_plots(fig)
    label(project, ids, truth, first_of_each_class(truth, ids, 4)[6:])
    al.wait()
    assert len(al.learning_curve()) == 2 and list(fig.data[0].x) == [6]  # no longer following
    al.close()


def test_diverse_strategy_spreads_the_first_batch(pool):
    project, X, truth, ids = pool
    runs = {}
    for strategy in ("margin", "diverse"):
        al = ActiveLearning(project, model=LogisticRegression(), features=X, strategy=strategy,
                            batch_size=10, retrain_every=1000, seed=0)
        if strategy == "margin":
            label(project, ids, truth, first_of_each_class(truth, ids, 3))
        al.retrain(wait=True)
        head = [int(i[1:]) for i in al.next_ids(project, "ana", set(), 10)]
        gaps = np.linalg.norm(X[head][:, None] - X[head][None], axis=-1)
        runs[strategy] = gaps[np.triu_indices(10, 1)].min()
        al.close()
    assert runs["diverse"] > runs["margin"]  # no two of the batch nearly the same point


def test_text_items_without_features_learn_from_tfidf(tmp_path):
    project = Project(tmp_path / "t.hitl", labels=["ham", "spam"])
    texts = [f"win a prize now {k}" for k in range(20)] + [f"lunch at noon {k}" for k in range(20)]
    ids = [f"t{k}" for k in range(40)]
    project.add_items(texts, id=ids)
    al = ActiveLearning(project, model=LogisticRegression(), retrain_every=4)  # features from the texts
    for k in (0, 1, 20, 21):
        project.annotate(ids[k], "spam" if k < 20 else "ham", annotator="ana")
    al.wait()
    assert al.status()["model_version"] == "m1"
    suggested = project.store.latest_suggestions(ids[2:20])
    assert {s["labels"][0] for s in suggested.values()} == {"spam"}
    al.close()
    project.close()


def test_explore_mixes_random_items_into_the_ranking_under_the_seed(pool):
    project, X, truth, ids = pool
    heads = {}
    for explore, seed in ((0.0, 0), (0.5, 0), (0.5, 0), (0.5, 1)):
        al = ActiveLearning(project, model=LogisticRegression(), features=X, explore=explore,
                            seed=seed, retrain_every=1000)
        if not heads:
            label(project, ids, truth, first_of_each_class(truth, ids, 3))
        al.retrain(wait=True)
        heads.setdefault((explore, seed), []).append(al.next_ids(project, "ana", set(), 20))
        ranked = al.next_ids(project, "ana", set(), len(ids))
        assert len(ranked) == len(set(ranked)) == len(ids) - 9  # every open item, once
        al.close()
    pure = set(heads[(0.0, 0)][0])
    first, again = heads[(0.5, 0)]
    assert first == again and first != heads[(0.5, 1)][0]  # a seed repeats its picks
    assert 3 <= len(set(first) - pure) <= 17  # about half of the places went to random items


def test_public_name():
    import hitl_widgets as hw

    assert hw.ActiveLearning is ActiveLearning


def test_an_undone_label_puts_its_item_back_in_the_ranking(pool):
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=1000)
    head = al.next_ids(project, "ana", set(), 3)
    label(project, ids, truth, head[:1])
    assert al.next_ids(project, "ana", set(), 2) == head[1:]
    project.undo(annotator="ana")
    assert al.next_ids(project, "ana", set(), 3) == head
    al.close()


def test_the_labelers_window_follows_the_model_and_shows_its_suggestions(pool):
    import hitl_widgets as hw

    project, X, truth, ids = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=1000)
    w = hw.Labeler(project, annotator="ana", queue=al, prefetch=5)
    sent: list[dict] = []
    w.send = lambda content, buffers=None: sent.append(content)
    for k in range(6):  # label what the Labeler shows, as the browser would
        item_id = w.window[0]
        w._dispatch(w, {"type": "submit", "item_id": item_id, "client_seq": k,
                        "labels": [str(truth[int(item_id[1:])])]}, [])
    random_window = list(w.window)
    al.retrain(wait=True)
    assert w.window == al.next_ids(project, "ana", w.session._done, 5) != random_window
    redrawn = {p["item_id"]: p for m in sent if m["type"] == "items" for p in m["items"]}
    assert all(redrawn[i]["suggestion"]["source"] == "model" for i in w.window)
    w.close()
    al.close()


def test_bald_ranks_by_mc_dropout_with_a_torch_head(pool):
    from hitl_widgets.core.active import TorchClassifier, bald, mc_dropout_proba

    project, X, truth, ids = pool
    model = TorchClassifier(hidden=16, dropout=0.3, max_epochs=20, device="cpu", seed=0)
    al = ActiveLearning(project, model=model, features=X, strategy="bald", retrain_every=1000)
    label(project, ids, truth, first_of_each_class(truth, ids, 5))
    al.retrain(wait=True)
    assert al.status()["model_version"] == "m1" and al.status()["error"] is None
    head = [int(i[1:]) for i in al.next_ids(project, "ana", set(), 10)]
    info = bald(mc_dropout_proba(al._model_fitted, X, T=20, device="cpu"))
    # The queue's head sits in the upper part of the pool by mutual information (MC passes are
    # random, so compare ranks loosely rather than item by item).
    assert np.median(info[head]) > np.median(info)
    al.close()


def test_bald_needs_a_model_with_dropout(pool):
    project, X, _, _ = pool
    with pytest.raises(ValueError, match="TorchClassifier"):
        ActiveLearning(project, model=LogisticRegression(), features=X, strategy="bald")


@pytest.mark.slow  # plotly's first import takes seconds on a busy machine
def test_live_plots_say_when_a_retrain_failed(pool):
    pytest.importorskip("plotly")
    from hitl_widgets.learning_plots import live_plots

    project, X, truth, ids = pool
    al = ActiveLearning(project, model=GatedModel(fail=True), features=X, retrain_every=6,
                        test=(X[:30], truth[:30]))
    fig = live_plots(al)
    label(project, ids, truth, first_of_each_class(truth, ids, 2))
    al.wait()
    assert "last retrain failed, serving the previous ranking: RuntimeError: boom" in (
        fig.layout.title.text)
    al.close()


# -- items added after the loop started -----------------------------------------------------------
def texts_project(tmp_path, n=40):
    project = Project(tmp_path / "grow.hitl", labels=["ham", "spam"])
    texts = [f"win a prize now {k}" for k in range(n // 2)] + [f"lunch at noon {k}" for k in
                                                                range(n // 2)]
    ids = [f"t{k:03d}" for k in range(n)]
    project.add_items(texts, id=ids)
    return project, ids


def test_items_added_later_join_the_pool_and_the_next_model_ranks_them(tmp_path):
    project, ids = texts_project(tmp_path)
    al = ActiveLearning(project, model=LogisticRegression(), retrain_every=4)  # TF-IDF
    for k in (0, 1, 20, 21):
        project.annotate(ids[k], "spam" if k < 20 else "ham", annotator="ana")
    al.wait()
    assert al.status()["model_version"] == "m1" and al.status()["pool_size"] == 40
    new = [f"n{k}" for k in range(6)]
    project.add_items([f"win a prize today {k}" for k in range(6)], id=new)
    al.wait()
    status = al.status()
    assert status["pool_size"] == 46 and status["items_outside_pool"] == 0
    assert status["model_version"] == "m2"  # the growth retrained, so the model ranks them
    served = al.next_ids(project, "ana", set(ids), 10)
    assert sorted(served) == new
    suggested = project.store.latest_suggestions(new)
    assert {s["labels"][0] for s in suggested.values()} == {"spam"}
    assert {s["extra"]["version"] for s in suggested.values()} == {"m2"}
    al.close()
    project.close()


def test_items_added_before_any_model_are_served_too(tmp_path):
    project, ids = texts_project(tmp_path, n=10)
    al = ActiveLearning(project, retrain_every=50)  # the default model and features
    assert type(al.model).__name__ == "LogisticRegression"
    al._start_retrain = lambda: None  # hold the growth back: label one new item first
    project.add_items(["one more", "and another", "a third"], id=["x1", "x2", "x3"])
    project.annotate("x3", "ham", annotator="bob")
    del al._start_retrain
    al.retrain(wait=True)
    assert al.status()["model_version"] is None and al.status()["pool_size"] == 13
    # x3 was labeled before it joined the pool: it counts as taken, not served again
    assert sorted(al.next_ids(project, "ana", set(ids), 5)) == ["x1", "x2"]
    al.close()
    project.close()


def test_a_fixed_feature_array_cannot_grow_and_says_what_to_do(pool):
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=1000)
    project.add_items(["late 1", "late 2"], id=["late1", "late2"])
    al.wait()
    status = al.status()
    assert status["pool_size"] == len(ids) and status["items_outside_pool"] == 2
    assert "2 item(s) added after the loop started are not in the pool" in status["error"]
    assert "late1" not in al.next_ids(project, "ana", set(), len(ids) + 2)  # still serving
    al.close()


def test_the_progress_line_says_which_model_ranks_the_queue(pool):
    from hitl_widgets.core.labeling import LabelingSession

    project, X, truth, ids = pool
    al = ActiveLearning(project, model=GatedModel(gate="progress"), features=X, retrain_every=6)
    session = LabelingSession(project, "ana", queue=al, prefetch=3)
    assert session.progress()["queue"] == "random order (no model yet)"
    opened, started = gate("progress")
    label(project, ids, truth, first_of_each_class(truth, ids, 2))
    assert started.wait(10)
    assert session.progress()["queue"] == "random order (no model yet), retraining"
    opened.set()
    al.wait()
    assert session.progress()["queue"] == "model m1"
    al.close()
