"""Models for active learning: fit a clone of the user's estimator, or a small torch head.

Any scikit-learn-style classifier works (``fit``, ``predict_proba``, ``classes_``); the engine
always fits :func:`fit_clone`'s copy, never the object the user holds. :class:`TorchClassifier`
is such a classifier in torch: a linear or one-hidden-layer head on features, trained on the
device :func:`~hitl_widgets.core.device.pick_device` chooses.

Example
-------
>>> from sklearn.linear_model import LogisticRegression
>>> user_model = LogisticRegression()
>>> fitted = fit_clone(user_model, [[0.0], [1.0], [0.1], [0.9]], ["a", "b", "a", "b"])
>>> fitted is user_model, hasattr(user_model, "coef_"), fitted.predict([[0.95]]).tolist()
(False, False, ['b'])
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from ..device import pick_device, torch_threads


class NotEnoughClasses(ValueError):
    """The labels so far hold fewer than two classes: no classifier can be trained yet."""


def fit_clone(estimator: Any, X, y):
    """Fit and return a clone of ``estimator`` on ``(X, y)``; ``estimator`` stays unfitted.

    Raises
    ------
    TypeError : the estimator has no ``predict_proba``.
    NotEnoughClasses : (a ValueError) ``y`` holds one class only; keep the current order and
        retry after more labels.
    ValueError : ``X`` has NaN or its row count differs from ``len(y)``.

    >>> from sklearn.linear_model import LogisticRegression
    >>> fit_clone(LogisticRegression(), [[0.0], [1.0]], ["a", "a"])
    Traceback (most recent call last):
    ...
    hitl_widgets.core.active.NotEnoughClasses: need labels of at least 2 classes to train; so far all 2 are 'a'
    """
    check_estimator(estimator)
    y = np.asarray(y)
    n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
    if n_rows != len(y):
        raise ValueError(f"X has {n_rows} rows but there are {len(y)} labels; "
                         "pass one feature row per labeled item")
    check_finite(X)
    if np.unique(y).size < 2:
        raise NotEnoughClasses(
            f"need labels of at least 2 classes to train; so far all {len(y)} are "
            f"{y[0].tolist()!r}" if len(y) else "need labels of at least 2 classes to train; none yet")
    model = clone(estimator, safe=False)
    model.fit(X, y)
    return model


def check_estimator(estimator: Any) -> None:
    """Refuse an estimator that cannot give probabilities, saying what to use instead."""
    if not hasattr(estimator, "fit"):
        raise TypeError(f"{type(estimator).__name__} has no fit(X, y); pass a scikit-learn-style "
                        "classifier such as LogisticRegression()")
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"{type(estimator).__name__} has no predict_proba, which active learning needs to "
            "score items; use e.g. LogisticRegression(), or wrap yours as "
            "CalibratedClassifierCV(your_model, ensemble=False) (for SVC on scikit-learn "
            "before 1.9, SVC(probability=True))")


def check_finite(X) -> None:
    """Raise ValueError naming how many rows and columns hold NaN or infinity.

    >>> check_finite(np.array([[1.0, np.nan], [2.0, 3.0]]))
    Traceback (most recent call last):
    ...
    ValueError: features have NaN or infinite values in 1 rows and 1 columns (first at row 0, column 1); impute them first, e.g. sklearn.impute.SimpleImputer().fit_transform(X), or drop those items
    """
    data = X.data if hasattr(X, "tocoo") else X  # scipy sparse: only stored values matter
    if hasattr(data, "detach"):
        data = data.detach().cpu().numpy()
    arr = np.asarray(data)
    if arr.dtype.kind not in "fc" or np.isfinite(arr).all():
        return
    if hasattr(X, "tocoo"):
        coo = X.tocoo()
        bad = ~np.isfinite(coo.data)
        rows, cols = np.unique(coo.row[bad]), np.unique(coo.col[bad])
    else:
        bad = ~np.isfinite(arr.reshape(arr.shape[0], -1))
        rows, cols = np.flatnonzero(bad.any(axis=1)), np.flatnonzero(bad.any(axis=0))
    raise ValueError(
        f"features have NaN or infinite values in {rows.size} rows and {cols.size} columns "
        f"(first at row {rows[0]}, column {cols[0]}); impute them first, e.g. "
        "sklearn.impute.SimpleImputer().fit_transform(X), or drop those items")


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """A small torch classifier head with the scikit-learn contract.

    Parameters
    ----------
    hidden : units of the hidden layer; 0 for a linear (logistic) head.
    dropout : dropout before each linear layer; also what :func:`mc_dropout_proba` samples.
    lr, weight_decay : Adam's settings.
    max_epochs, batch_size : passes over the labeled data and mini-batch size.
    standardize : centre and scale features with the training set's mean and spread.
    seed : seeds the weights and the batch order (the global torch RNG is left untouched).
    device : ``None`` for :func:`pick_device`'s choice, or a device name.
    threads : CPU threads while fitting. ``None``: one thread (small heads train fastest so
        on a CPU) unless the user chose a count: ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``
        is set, or ``torch.get_num_threads()`` differs from the number of usable CPUs (torch's
        default), e.g. after ``torch.set_num_threads(4)``. The previous count is restored
        after ``fit``.

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TorchClassifier(max_epochs=40, device="cpu").fit(X, y)
    >>> bool(clf.score(X, y) > 0.9), clf.predict_proba(X[:2]).shape
    (True, (2, 3))
    """

    def __init__(self, hidden: int = 64, dropout: float = 0.2, lr: float = 1e-2,
                 weight_decay: float = 1e-4, max_epochs: int = 25, batch_size: int = 128,
                 standardize: bool = True, seed: int = 0, device: Any = None,
                 threads: int | None = None):
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.standardize = standardize
        self.seed = seed
        self.device = device
        self.threads = threads

    # -- training -------------------------------------------------------------------------
    def fit(self, X, y) -> TorchClassifier:
        import torch

        check_finite(X)
        X = _dense32(X)
        y = np.asarray(y)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        self.n_features_in_ = X.shape[1]
        self.mean_ = X.mean(axis=0) if self.standardize else np.zeros(X.shape[1], np.float32)
        scale = X.std(axis=0) if self.standardize else np.ones(X.shape[1], np.float32)
        self.scale_ = np.where(scale > 1e-8, scale, 1.0).astype(np.float32)
        self.device_ = pick_device(self.device)
        with _fit_threads(self.device_, self.threads), torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.module_ = self._build(len(self.classes_)).to(self.device_)
            self._train(torch, self._tensor(X), torch.as_tensor(y_idx, device=self.device_))
        self.module_.eval()
        return self

    def _build(self, n_classes: int):
        from torch import nn

        d = self.n_features_in_
        if not self.hidden:
            return nn.Sequential(nn.Dropout(self.dropout), nn.Linear(d, n_classes))
        return nn.Sequential(nn.Linear(d, self.hidden), nn.ReLU(), nn.Dropout(self.dropout),
                             nn.Linear(self.hidden, n_classes))

    def _train(self, torch, X, y) -> None:
        optimiser = torch.optim.Adam(self.module_.parameters(), lr=self.lr,
                                     weight_decay=self.weight_decay)
        loss_fn = torch.nn.CrossEntropyLoss()
        order_rng = np.random.default_rng(self.seed)
        self.module_.train()
        for _ in range(self.max_epochs):
            order = torch.as_tensor(order_rng.permutation(X.shape[0]), device=X.device)
            for start in range(0, X.shape[0], self.batch_size):
                batch = order[start:start + self.batch_size]
                optimiser.zero_grad()
                loss_fn(self.module_(X[batch]), y[batch]).backward()
                optimiser.step()

    # -- prediction -----------------------------------------------------------------------
    def predict_proba(self, X) -> np.ndarray:
        return self.proba_tensor(X).cpu().double().numpy()

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def proba_tensor(self, X, *, chunk: int = 65536, device: Any = None):
        """Probabilities as a torch tensor on the model's device (what pool scoring uses)."""
        import torch

        if not hasattr(self, "module_"):
            raise ValueError("TorchClassifier is not fitted yet; call fit(X, y) first")
        if device is not None:
            self.module_.to(device)
            self.device_ = torch.device(device)
        # Rows are made dense per chunk: bound a chunk to ~16M values (64 MB), so a wide sparse
        # TF-IDF pool is not densified whole.
        chunk = max(1, min(int(chunk), 2**24 // max(1, self.n_features_in_)))
        out = []
        with torch.no_grad():
            for start in range(0, X.shape[0], chunk):
                rows = self._tensor(_dense32(X[start:start + chunk]))
                out.append(torch.softmax(self.module_(rows), dim=1))
        if not out:
            return torch.zeros((0, len(self.classes_)), device=self.device_)
        return torch.cat(out)

    def _tensor(self, X: np.ndarray):
        import torch

        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the model was fitted on "
                             f"{self.n_features_in_}")
        return torch.as_tensor((X - self.mean_) / self.scale_, device=self.device_)


def mc_dropout_proba(model: Any, X, T: int = 20, device: Any = None) -> np.ndarray:
    """``(T, n, k)`` probabilities from ``T`` forward passes with dropout on (for ``bald``).

    ``model`` is a fitted :class:`TorchClassifier` or a ``torch.nn.Module`` returning logits
    (run on ``device``, default :func:`pick_device`). Only dropout layers are switched to
    training mode, so batch-norm statistics are not disturbed.

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = TorchClassifier(max_epochs=5, device="cpu").fit(X, y)
    >>> mc_dropout_proba(clf, X[:4], T=3).shape
    (3, 4, 3)
    """
    import torch

    if isinstance(model, TorchClassifier):
        if not hasattr(model, "module_"):
            raise ValueError("TorchClassifier is not fitted yet; call fit(X, y) first")
        module, to_tensor = model.module_, model._tensor
    elif not isinstance(model, torch.nn.Module):
        raise TypeError(f"MC dropout (bald) needs a torch model with dropout, not "
                        f"{type(model).__name__}; use TorchClassifier(dropout=0.2) or another "
                        "strategy such as 'margin'")
    else:
        dev = pick_device(device)
        module = model.to(dev)

        def to_tensor(rows):
            return torch.as_tensor(rows, device=dev)
    dropouts = [m for m in module.modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd)]
    if not dropouts:
        raise ValueError("the model has no dropout layer, so MC dropout passes would all agree; "
                         "use TorchClassifier(dropout=0.2) or add torch.nn.Dropout")
    was_training = [m.training for m in dropouts]
    rows = to_tensor(_dense32(X))
    try:
        for m in dropouts:
            m.train()
        with torch.no_grad():
            passes = [torch.softmax(module(rows), dim=1) for _ in range(int(T))]
    finally:
        for m, flag in zip(dropouts, was_training, strict=True):
            m.train(flag)
    return torch.stack(passes).cpu().double().numpy()


def _dense32(X) -> np.ndarray:
    if hasattr(X, "toarray"):
        X = X.toarray()
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    X = np.asarray(X, dtype=np.float32)
    return X.reshape(X.shape[0], -1) if X.ndim != 2 else X


@contextmanager
def _fit_threads(device, threads: int | None):
    """One CPU thread while fitting unless the user chose a count (why: see TorchClassifier)."""
    import torch

    chosen = threads if threads is not None else (None if _user_set_threads(torch) else 1)
    if device.type != "cpu" or chosen is None:
        yield
        return
    with torch_threads(chosen):
        yield


def _user_set_threads(torch) -> bool:
    """Did the user choose torch's CPU thread count (environment, or torch.set_num_threads)?"""
    if os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return True
    usable = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count() or 1)
    return torch.get_num_threads() != usable
