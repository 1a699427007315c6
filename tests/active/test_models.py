"""fit_clone never fits the user's estimator and refuses bad input with advice; the torch head
learns, clones and samples MC dropout like a scikit-learn classifier."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from hitl_widgets.core.active import (
    NotEnoughClasses,
    TorchClassifier,
    bald,
    fit_clone,
    mc_dropout_proba,
)

X4 = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]])
Y4 = np.array(["a", "b", "a", "b"])


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X.astype(np.float32), y, test_size=0.25, random_state=0)


# -- fit_clone ------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [LogisticRegression, lambda: TorchClassifier(max_epochs=3)],
                         ids=["sklearn", "torch"])
def test_fit_clone_leaves_the_users_estimator_unfitted(make):
    user = make()
    fitted = fit_clone(user, X4, Y4)
    assert fitted is not user
    check_is_fitted(fitted)
    with pytest.raises(NotFittedError):
        check_is_fitted(user)
    assert not [k for k in vars(user) if k.endswith("_")]
    assert fitted.predict_proba(X4).shape == (4, 2)


def test_fit_clone_refuses_an_estimator_without_predict_proba():
    with pytest.raises(TypeError, match=r"LogisticRegression\(\).*CalibratedClassifierCV"):
        fit_clone(SVC(), X4, Y4)
    wrapped = CalibratedClassifierCV(SVC(), ensemble=False, cv=2)
    assert fit_clone(wrapped, np.tile(X4, (5, 1)), np.tile(Y4, 5)).predict_proba(X4).shape == (4, 2)


def test_fit_clone_refuses_one_class_so_callers_can_keep_the_order():
    with pytest.raises(NotEnoughClasses, match="need labels of at least 2 classes"):
        fit_clone(LogisticRegression(), X4, ["a"] * 4)
    assert issubclass(NotEnoughClasses, ValueError)
    with pytest.raises(ValueError, match="at least 2 classes"):
        fit_clone(LogisticRegression(), X4[:0], [])


def test_fit_clone_names_the_rows_and_columns_holding_nan():
    X = X4.copy()
    X[1, 0] = np.nan
    X[3, 0] = np.inf
    with pytest.raises(ValueError, match=r"2 rows and 1 columns.*row 1, column 0.*impute"):
        fit_clone(LogisticRegression(), X, Y4)
    with pytest.raises(ValueError, match="1 rows and 1 columns"):
        fit_clone(LogisticRegression(), sparse.csr_matrix(np.where(np.isinf(X), 1, X)), Y4)


def test_fit_clone_refuses_a_row_count_mismatch():
    with pytest.raises(ValueError, match="4 rows but there are 3 labels"):
        fit_clone(LogisticRegression(), X4, Y4[:3])


# -- TorchClassifier ------------------------------------------------------------------------
def test_torch_classifier_learns_digits_on_cpu(digits):
    X_train, X_test, y_train, y_test = digits
    clf = TorchClassifier(device="cpu").fit(X_train, y_train)
    accuracy = clf.score(X_test, y_test)
    print(f"TorchClassifier digits accuracy {accuracy:.3f}")
    assert accuracy > 0.9
    proba = clf.predict_proba(X_test)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert clf.classes_.tolist() == list(range(10)) and clf.device_.type == "cpu"


def test_torch_classifier_linear_head_and_string_labels():
    clf = TorchClassifier(hidden=0, max_epochs=50, lr=0.1).fit(X4, Y4)
    assert clf.predict(X4).tolist() == Y4.tolist()


def test_torch_classifier_is_seeded_and_leaves_the_global_rng_alone(digits):
    X_train, _, y_train, _ = digits
    state = torch.random.get_rng_state()
    a = TorchClassifier(max_epochs=2, seed=3).fit(X_train[:200], y_train[:200])
    b = TorchClassifier(max_epochs=2, seed=3).fit(X_train[:200], y_train[:200])
    assert torch.equal(state, torch.random.get_rng_state())
    np.testing.assert_array_equal(a.predict_proba(X_train[:20]), b.predict_proba(X_train[:20]))


def test_torch_classifier_restores_the_thread_count_after_fit(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    seen = []
    before = torch.get_num_threads()
    clf = TorchClassifier(max_epochs=1)
    original = clf._train
    monkeypatch.setattr(clf, "_train", lambda *a: (seen.append(torch.get_num_threads()),
                                                   original(*a)))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(before)), raising=False)
    clf.fit(X4, Y4)
    assert seen == [1] and torch.get_num_threads() == before


def test_torch_classifier_keeps_a_thread_count_the_user_chose(monkeypatch):
    before = torch.get_num_threads()
    seen = []
    clf = TorchClassifier(max_epochs=1)
    original = clf._train
    monkeypatch.setattr(clf, "_train", lambda *a: (seen.append(torch.get_num_threads()),
                                                   original(*a)))
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    clf.fit(X4, Y4)
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(before + 3)),
                        raising=False)
    clf.fit(X4, Y4)
    clf.set_params(threads=1).fit(X4, Y4)
    assert seen == [before, before, 1] and torch.get_num_threads() == before


def test_torch_classifier_clones_with_its_parameters():
    clf = TorchClassifier(hidden=8, dropout=0.1, seed=4).fit(X4, Y4)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "module_")
    assert copy.set_params(hidden=16).hidden == 16
    with pytest.raises(TypeError):
        TorchClassifier(hiden=8)


def test_torch_classifier_refuses_bad_input():
    with pytest.raises(ValueError, match="not fitted"):
        TorchClassifier().predict_proba(X4)
    clf = TorchClassifier(max_epochs=1).fit(X4, Y4)
    with pytest.raises(ValueError, match="3 features; the model was fitted on 2"):
        clf.predict_proba(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        TorchClassifier().fit(np.array([[np.nan], [1.0]]), [0, 1])


def test_torch_classifier_takes_sparse_features():
    clf = TorchClassifier(max_epochs=2).fit(sparse.csr_matrix(X4), Y4)
    assert clf.predict_proba(sparse.csr_matrix(X4)).shape == (4, 2)


# -- MC dropout -----------------------------------------------------------------------------
def test_mc_dropout_passes_differ_and_feed_bald(digits):
    X_train, _, y_train, _ = digits
    clf = TorchClassifier(max_epochs=3, dropout=0.5).fit(X_train[:300], y_train[:300])
    passes = mc_dropout_proba(clf, X_train[:50], T=6)
    assert passes.shape == (6, 50, 10)
    assert not np.allclose(passes[0], passes[1])
    assert (bald(passes) > 0).all()
    assert not clf.module_.training  # back in eval mode: predictions are deterministic again
    np.testing.assert_array_equal(clf.predict_proba(X_train[:5]), clf.predict_proba(X_train[:5]))


def test_mc_dropout_takes_a_plain_module_and_refuses_one_without_dropout():
    module = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Dropout(0.5),
                                 torch.nn.Linear(4, 3))
    assert mc_dropout_proba(module, X4, T=2, device="cpu").shape == (2, 4, 3)
    with pytest.raises(ValueError, match="no dropout"):
        mc_dropout_proba(torch.nn.Linear(2, 3), X4, T=2, device="cpu")


def test_torch_classifier_scores_a_wide_sparse_pool_in_small_dense_chunks(monkeypatch):
    import hitl_widgets.core.active._models as models

    g = np.random.default_rng(0)
    X = sparse.csr_matrix((g.random(60_000, dtype=np.float32),
                           (g.integers(0, 3000, 60_000), g.integers(0, 20_000, 60_000))),
                          shape=(3000, 20_000))
    y = np.arange(3000) % 2
    clf = TorchClassifier(hidden=0, max_epochs=1).fit(X[:50], y[:50])
    widths = []
    dense = models._dense32
    monkeypatch.setattr(models, "_dense32", lambda rows: widths.append(rows.shape[0])
                        or dense(rows))
    assert clf.predict_proba(X).shape == (3000, 2)
    assert max(widths) <= 2**24 // 20_000
