"""The active-learning loop when the model misbehaves: output that is not probabilities, a fit
that hangs, and numbers a widget message cannot carry.

Real scikit-learn models on generated data and a real SQLite project per test. The misbehaving
models are tiny estimators around real scikit-learn ones, each making one mistake a user can
make (``predict_proba = decision_function``, one column, NaN, one-vs-rest scores that do not sum
to 1). A fit that hangs waits on a threading.Event; no assertion depends on timing.
"""

from __future__ import annotations

import json
import re
import threading
import warnings

import numpy as np
import pytest
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

import hitl_widgets.core.active._learning as learning
from hitl_widgets.core import active
from hitl_widgets.core.active import ActiveLearning, PoolScorer

LABELS = ["a", "b", "c"]
GATES: dict[str, threading.Event] = {}  # by name: sklearn's clone cannot copy an Event
STARTED: dict[str, threading.Event] = {}


@pytest.fixture(autouse=True)
def _open_gates():
    yield
    for gate in GATES.values():
        gate.set()  # never leave a retrain thread blocked


def label_some(project, truth, ids, per_class=4):
    rows = [np.flatnonzero(truth == c)[:per_class] for c in LABELS]
    for k in np.concatenate(rows):
        project.annotate(ids[k], str(truth[k]), annotator="ana")


def written_by_the_model(project) -> list[dict]:
    """Suggestions and auto-labels in the file: everything the loop writes."""
    return [e for e in project.store.events()
            if e["kind"] == "suggestion" or e["source"] == "model"]


# -- models that do not return probabilities -------------------------------------------------------
class _Wrapped(ClassifierMixin, BaseEstimator):
    """A real scikit-learn classifier inside; subclasses get its output wrong one way each."""

    def fit(self, X, y):
        self.inner_ = self._inner().fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def _inner(self):
        return LogisticRegression(max_iter=500)

    def predict(self, X):
        return self.inner_.predict(X)


class DecisionFunctionAsProba(_Wrapped):
    """predict_proba = LinearSVC's decision_function: raw scores, far outside [0, 1]."""

    def _inner(self):
        return LinearSVC()

    def predict_proba(self, X):
        return self.inner_.decision_function(X) * 4


class OneColumn(_Wrapped):
    """Only the top probability, as one column (the shape a binary habit gives)."""

    def predict_proba(self, X):
        return self.inner_.predict_proba(X).max(axis=1, keepdims=True)


class SomeNaN(_Wrapped):
    def predict_proba(self, X):
        proba = self.inner_.predict_proba(X)
        proba[::7] = np.nan
        return proba


class OneVsRestScores(_Wrapped):
    """A sigmoid per class: each value in [0, 1], but rows do not sum to 1."""

    def predict_proba(self, X):
        return expit(self.inner_.decision_function(X) * 3)


class OneClassAfterFit(_Wrapped):
    """Knows one class whatever it was fitted on: probability 1 for it, everywhere."""

    def fit(self, X, y):
        self.classes_ = np.array([sorted(set(y))[0]])
        return self

    def predict_proba(self, X):
        return np.ones((np.asarray(X).shape[0], 1))


class IntegerClasses(_Wrapped):
    """Encodes the labels as 0, 1, 2 and keeps the codes as classes_."""

    def fit(self, X, y):
        codes = np.unique(y, return_inverse=True)[1]
        self.inner_ = LogisticRegression(max_iter=500).fit(X, codes)
        self.classes_ = self.inner_.classes_
        return self

    def predict_proba(self, X):
        return self.inner_.predict_proba(X)


BAD_MODELS = [
    (DecisionFunctionAsProba, "predict_proba of DecisionFunctionAsProba returned values outside "
                              r"\[0, 1\] \(min -\d.*CalibratedClassifierCV"),
    (OneColumn, r"predict_proba of OneColumn returned shape \(300, 1\) for 300 rows and 3 "
                r"classes in classes_; it must return \(300, 3\) probabilities"),
    (SomeNaN, "predict_proba of SomeNaN returned NaN or infinite values in 43 of 300 rows "
              r"\(first at row 0\)"),
    (OneVsRestScores, r"predict_proba of OneVsRestScores returned rows that do not sum to 1 "
                      r"\(row \d+ sums to .*CalibratedClassifierCV"),
    (OneClassAfterFit, r"classes_ of OneClassAfterFit holds one class \(\['a'\]\) though it was "
                       r"fitted on 3 .* cannot rank items or auto-label"),
    (IntegerClasses, r"classes_ of IntegerClasses holds \['0', '1', '2'\], which are not labels "
                     "of the project"),
]


@pytest.mark.parametrize(("model", "error"), BAD_MODELS, ids=[m.__name__ for m, _ in BAD_MODELS])
def test_a_model_without_probabilities_auto_labels_and_suggests_nothing_and_says_why(
        pool, model, error):
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=model(), features=X, retrain_every=1000,
                        auto_accept=0.5, test=(X[:30], truth[:30]))
    label_some(project, truth, ids)
    before = al.next_ids(project, "ana", set(), 50)
    al.retrain(wait=True)
    status = al.status()
    assert status["n_auto_labeled"] == 0 and written_by_the_model(project) == []
    assert status["model_version"] is None and al.learning_curve().empty
    assert status["error"] is not None
    assert re.search(error, status["error"]), status["error"]
    assert al.next_ids(project, "ana", set(), 50) == before  # the previous ranking stays
    al.close()


def test_after_a_bad_model_a_good_one_lands_and_clears_the_error(pool):
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=DecisionFunctionAsProba(), features=X,
                        retrain_every=1000, auto_accept=0.99, test=(X[:30], truth[:30]))
    label_some(project, truth, ids)
    al.retrain(wait=True)
    assert "outside [0, 1]" in al.status()["error"]
    al.model = LogisticRegression(max_iter=500)
    al.retrain(wait=True)
    status = al.status()
    assert status["error"] is None and status["model_version"] == "m1"
    auto = [e for e in written_by_the_model(project) if e["kind"] == "annotation"]
    assert len(auto) == status["n_auto_labeled"] > 0
    assert all(0.99 <= e["score"] <= 1.0 for e in auto)  # stored scores are probabilities
    al.close()


def test_one_class_labeled_so_far_neither_auto_labels_nor_fails(pool):
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=1000,
                        auto_accept=0.5)
    for k in np.flatnonzero(truth == "a")[:10]:
        project.annotate(ids[k], "a", annotator="ana")
    al.retrain(wait=True)
    status = al.status()
    assert status["n_auto_labeled"] == 0 and written_by_the_model(project) == []
    assert status["error"] is None and status["model_version"] is None
    al.close()


def test_pool_scorer_refuses_raw_scores_and_keeps_its_previous_scores():
    X, y = make_blobs(n_samples=200, centers=2, random_state=1)
    good = LogisticRegression().fit(X[:50], y[:50])
    scorer = PoolScorer("margin", seed=0).rescore(good, X)
    kept = scorer.scores.copy()
    with pytest.raises(active.ModelOutputError, match=r"returned shape \(200,\) for 200 rows and 2"):
        scorer.rescore(DecisionFunctionAsProba().fit(X[:50], y[:50]), X)  # binary: 1-D scores
    with pytest.raises(active.ModelOutputError, match=r"shape \(37, 1\)"):
        scorer.rescore(lambda rows: np.ones((len(rows), 1))[:37], X)
    np.testing.assert_array_equal(scorer.scores, kept)
    assert scorer.version == 1


@pytest.mark.slow  # torch's first import takes seconds on a busy machine
def test_pool_scorer_checks_a_torch_models_probabilities_on_its_device():
    torch = pytest.importorskip("torch")
    from hitl_widgets.core.active import TorchClassifier

    X, y = make_blobs(n_samples=120, centers=2, random_state=2)
    clf = TorchClassifier(hidden=4, max_epochs=2, device="cpu").fit(X, y)
    PoolScorer("margin").rescore(clf, X)  # softmax output passes

    class Logits(TorchClassifier):
        def proba_tensor(self, X, *, chunk=65536, device=None):
            return super().proba_tensor(X, chunk=chunk, device=device) * 5 - 1

    bad = Logits(hidden=4, max_epochs=2, device="cpu").fit(X, y)
    with pytest.raises(active.ModelOutputError, match="predict_proba of Logits returned values outside"):
        PoolScorer("margin").rescore(bad, X)
    assert torch.is_tensor(active.check_proba(torch.full((2, 2), 0.5), 2, 2))


@pytest.mark.parametrize(
    ("proba", "n_rows", "n_classes", "match"),
    [
        ([["spam", "ham"]], 1, 2, "non-numeric"),
        ([[0.5, 0.5]], 1, 3, r"shape \(1, 2\) for 1 rows and 3 classes"),
        ([0.5, 0.5], 2, None, r"shape \(2,\) for 2 rows; it must return \(2, n_classes\)"),
        ([[0.5, 0.5]], 2, 2, r"shape \(1, 2\) for 2 rows"),
        ([[np.inf, 0.0]], 1, 2, "NaN or infinite values in 1 of 1 rows"),
        ([[1.5, -0.5]], 1, 2, r"outside \[0, 1\] \(min -0.5, max 1.5\)"),
        ([[0.3, 0.3]], 1, 2, r"do not sum to 1 \(row 0 sums to 0.6"),
    ],
)
def test_check_proba_says_what_is_wrong(proba, n_rows, n_classes, match):
    with pytest.raises(active.ModelOutputError, match=match):
        active.check_proba(proba, n_rows, n_classes, "M")


def test_check_proba_accepts_rounding_within_the_tolerance():
    proba = np.array([[0.3334, 0.3333, 0.3333], [1.0, 0.0, 0.0]])
    assert active.check_proba(proba, 2, 3).dtype == np.float64
    assert active.check_proba(np.zeros((0, 3)), 0, 3).shape == (0, 3)


def test_simulation_refuses_a_model_without_probabilities():
    from hitl_widgets.core.active import run_simulation

    X, y = make_blobs(n_samples=200, centers=3, random_state=0)
    with pytest.raises(active.ModelOutputError, match="DecisionFunctionAsProba returned values outside"):
        run_simulation(X, y, model=DecisionFunctionAsProba(), strategies=["margin"], seeds=1,
                       budget=40, initial=10, step=10)


# -- close() while a fit hangs ---------------------------------------------------------------------
class HangingFit(ClassifierMixin, BaseEstimator):
    """LogisticRegression whose fit waits on its gate (forever, as far as the test knows)."""

    def __init__(self, gate: str = ""):
        self.gate = gate

    def fit(self, X, y):
        if self.gate:
            STARTED[self.gate].set()
            GATES[self.gate].wait()
        self.inner_ = LogisticRegression(max_iter=500).fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict_proba(self, X):
        return self.inner_.predict_proba(X)


def gate(name):
    GATES[name], STARTED[name] = threading.Event(), threading.Event()
    return GATES[name], STARTED[name]


def returns(call, limit=60.0) -> bool:
    """Whether ``call()`` returned within a generous ``limit`` (a watchdog, not a timing test)."""
    done = threading.Event()
    thread = threading.Thread(target=lambda: (call(), done.set()), daemon=True)
    thread.start()
    thread.join(limit)
    return done.is_set()


def test_close_returns_while_a_fit_hangs_and_its_result_never_lands(pool):
    project, X, truth, ids = pool
    opened, started = gate("hang")
    al = ActiveLearning(project, model=HangingFit(gate="hang"), features=X, retrain_every=12,
                        auto_accept=0.5)
    label_some(project, truth, ids)  # the 12th label starts the retrain
    assert started.wait(30)
    status = al.status()
    assert status["fitting"] is True and status["retraining"] is True
    assert status["fit_seconds"] >= 0 and status["closed"] is False

    assert returns(lambda: al.close(timeout=0.5))  # the fit is still blocked on its gate
    status = al.status()
    assert status["closed"] is True and status["fitting"] is True

    opened.set()  # the fit ends after close: everything it computes is discarded
    al.wait(timeout=60)
    status = al.status()
    assert written_by_the_model(project) == [] and status["n_auto_labeled"] == 0
    assert status["model_version"] is None and al.learning_curve().empty
    assert status["fitting"] is False and status["error"] is None


def test_status_warns_about_a_fit_running_past_the_threshold(pool, monkeypatch):
    project, X, truth, ids = pool
    opened, started = gate("slow")
    al = ActiveLearning(project, model=HangingFit(gate="slow"), features=X, retrain_every=12)
    assert al.status()["fitting"] is False and al.status()["warning"] is None
    label_some(project, truth, ids)
    assert started.wait(30)
    monkeypatch.setattr(learning, "SLOW_FIT_SECONDS", -1.0)  # any running fit is past it
    status = al.status()
    assert "fit has been running for" in status["warning"] and "close(timeout" in status["warning"]
    assert "fit running for" in al.describe()
    opened.set()
    al.wait(timeout=60)
    assert al.status()["fitting"] is False and al.status()["warning"] is None
    al.close()


def test_close_without_a_running_fit_returns_and_refuses_a_bad_timeout(pool):
    project, X, _, _ = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X)
    with pytest.raises(ValueError, match="timeout is a number of seconds"):
        al.close(timeout=-1)
    assert returns(lambda: al.close(timeout=0))
    assert al.status()["closed"] is True


# -- no NaN in a widget message --------------------------------------------------------------------
def _recording_comm(sent: list):
    from comm.base_comm import BaseComm

    class RecordingComm(BaseComm):
        """Stands in for ipykernel's comm: keeps every message it would publish."""

        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            sent.append({"msg_type": msg_type, "data": data, "metadata": metadata, **keys})

    return RecordingComm


@pytest.mark.slow  # plotly's first import takes seconds on a busy machine
def test_live_plots_without_a_test_split_send_no_nan_and_say_why(pool, monkeypatch):
    pytest.importorskip("plotly")
    import comm
    from jupyter_client.session import json_packer

    from hitl_widgets.learning_plots import live_plots

    sent: list = []
    monkeypatch.setattr(comm, "create_comm", _recording_comm(sent))
    project, X, truth, ids = pool
    al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=1000)
    fig = live_plots(al)
    # 4 labels of 'a' and 'b' but one of 'c': too few to cross-validate, so accuracy is NaN
    for c, n in (("a", 4), ("b", 4), ("c", 1)):
        for k in np.flatnonzero(truth == c)[:n]:
            project.annotate(ids[k], c, annotator="ana")
    al.retrain(wait=True)
    assert np.isnan(al.learning_curve()["accuracy"].iloc[0])  # the loop's own record keeps NaN

    assert any(m["msg_type"] == "comm_msg" for m in sent)  # the redraw was sent
    for message in sent:
        json.dumps(message["data"], allow_nan=False)  # raises on NaN or infinity
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "Message serialization failed" is a warning
            json_packer(message["data"])
    assert list(fig.data[0].y) == [None] and list(fig.data[0].x) == [9]  # a gap
    from hitl_widgets.learning_plots import NOTE

    notes = [a.text for a in fig.layout.annotations if a.name == NOTE]
    assert len(notes) == 1 and "no accuracy for m1" in notes[0]
    assert "pass test=(X_test, y_test)" in notes[0].replace("<br>", " ")
    assert "'c' has 1" in notes[0].replace("<br>", " ").replace("&#x27;", "'")
    al.close()


def test_every_widget_message_carries_null_for_nan_and_infinity(pool, monkeypatch):
    import comm

    import hitl_widgets as hw

    sent: list = []
    monkeypatch.setattr(comm, "create_comm", _recording_comm(sent))
    project, _, _, _ = pool
    labeler = hw.Labeler(project, annotator="ana")
    labeler.send({"type": "probe", "score": float("nan"), "eta": [1.5, float("inf")],
                  "n": np.int64(3)})
    probe = [m["data"]["content"] for m in sent
             if m["msg_type"] == "comm_msg" and m["data"].get("method") == "custom"
             and m["data"]["content"].get("type") == "probe"]
    assert probe == [{"type": "probe", "score": None, "eta": [1.5, None], "n": 3}]
    json.dumps(probe, allow_nan=False)
    labeler.close()
