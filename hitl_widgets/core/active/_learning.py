"""The live active-learning loop: a queue that ranks items by a model retrained in the background.

:class:`ActiveLearning` is a :class:`~hitl_widgets.core.labeling.Queue`: give it to a Labeler
(``hw.Labeler(project, annotator="ana", queue=al)``) and the annotator is served the items the
model is least sure about. The annotator never waits for the model:

- ``next_ids`` reads a ranking kept in memory (no model call; a few µs per item handed out).
- Every ``retrain_every`` new human labels, a daemon thread fits a *clone* of the model on its
  own copy of the labeled rows, rescores the pool in chunks, and only then swaps ranking and
  model under a lock (one reference swap). Labels arriving meanwhile start one more retrain
  after it, never two at once.
- When a model lands, suggestions for the next ``suggest_top`` items are stored with
  ``project.suggest(..., version="m<n>")``; the Labeler redraws them.

**Which thread lands a model.** Project listeners run in the thread that writes, and a widget's
comm must be used from the kernel's main thread. At construction, inside a running event loop
(a notebook cell under ipykernel), the loop is kept; a finished retrain then hands its result to
that loop with ``call_soon_threadsafe``, so the suggestions are written, and the Labeler
refreshes, on the main thread between two messages. Outside a loop (scripts, tests) the retrain
thread lands its model itself. :meth:`ActiveLearning.wait` lands a waiting result at once in
either case, so ``al.retrain(wait=True)`` in a cell never waits on the loop it blocks.

**Training labels** are the human labels only (``source == "human"``, not the model's
annotator): the latest label of each annotator per item; where annotators disagree, the most
common label wins, ties going to the latest. Auto-labels (``auto_accept``) are never training
labels and never counted as human labels.

**Routing** (``auto_accept=0.98``): after each model lands, unlabeled items whose top
probability reaches the threshold are labeled ``source="model"`` by ``annotator_for_model``,
with ``score`` and ``extra={"version", "spot_check"}``. They leave the human queue, except a
seeded share ``spot_check`` of them, served first; the human answers on those give
``status()["auto_accept_accuracy"]`` with a Wilson 95 % interval. The auto-labels of one model are
written in one transaction through the project's store (the same events ``project.annotate``
writes), so a thousand of them cost one commit and no per-label listener calls.

**Items added later** join the pool: the retrain thread rebuilds the features from the same
``features`` argument (None, ``"embedding"``, a function, or a DataFrame indexed by item id that
has rows for them), serves the new items after the ranked ones, and retrains so the next model
ranks them too. A fixed array cannot grow: the new items stay outside the pool, and
``status()["items_outside_pool"]`` and ``status()["error"]`` say so and what to do.

Example
-------
>>> import tempfile, os
>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> from hitl_widgets.core.project import Project
>>> project = Project(os.path.join(tempfile.mkdtemp(), "al.hitl"), labels=["a", "b"])
>>> X = np.r_[np.zeros((20, 2)), np.ones((20, 2))] + np.linspace(0, 0.1, 40)[:, None]
>>> _ = project.add_items([f"item {k}" for k in range(40)], id=[f"i{k}" for k in range(40)])
>>> al = ActiveLearning(project, model=LogisticRegression(), features=X, retrain_every=4)
>>> for k in (0, 1, 38, 39):
...     _ = project.annotate(f"i{k}", "a" if k < 20 else "b", annotator="ana")
>>> al.wait()
>>> al.status()["model_version"]
'm1'
>>> len(al.next_ids(project, "ana", set(), 3))
3
>>> al.close()
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .._checks import check_count, check_rate
from ..labeling import ProjectView, Queue
from ..stats import wilson_interval
from ..store import Ledger
from ._features import features_for
from ._models import check_estimator, fit_clone
from ._ranking import ModelOutputError, PoolScorer, check_proba, check_strategy

if TYPE_CHECKING:
    import pandas as pd


log = logging.getLogger(__name__)

SCORE_CHUNK = 65_536  # rows per predict_proba call when rescoring the pool
WAIT_FOREVER = None
CLOSE_TIMEOUT = 5.0  # seconds close() waits for a running fit before leaving it behind
SLOW_FIT_SECONDS = 60.0  # status() warns about a fit running longer than this


class ActiveLearning(Queue):
    """Serve the items a model is least sure about; retrain it in the background.

    Parameters
    ----------
    project : the :class:`~hitl_widgets.Project` (single-label).
    model : a scikit-learn-style classifier (``fit``, ``predict_proba``); the loop fits clones
        and never the object given. Default: ``LogisticRegression(max_iter=1000)``.
    features : one row per item: an array / DataFrame in the order the items were added, a
        DataFrame indexed by item id, or None (default) for features made from the items:
        pixels of small grayscale images, TF-IDF of texts, numeric fields of table rows.
    strategy : ``"margin"`` (default), ``"least_confidence"``, ``"entropy"``, ``"random"``, or
        ``"diverse"``: margin, with the head of the ranking chosen in batches of ``batch_size``
        items unlike each other (k-center greedy on the features), or ``"bald"``: mutual
        information from MC-dropout passes (a :class:`~hitl_widgets.core.active.TorchClassifier`
        with ``dropout > 0``).
    batch_size : the batch for ``"diverse"`` (default 10).
    retrain_every : retrain after this many new human labels (default 20).
    auto_accept : None (default) or a probability threshold in (0, 1], e.g. 0.98.
    spot_check : the share of auto-labeled items sent to humans (default 0.05).
    seed : seeds every random choice (order before a model, ties, exploration, spot checks).
    explore : the share of ranked positions given to random items instead (default 0).
    annotator_for_model : the annotator name auto-labels are recorded under.
    test : optional ``(X_test, y_test)`` for the learning curve; without it, the curve is
        cross-validated on the human labels of the time.
    suggest_top : how many of the next items get the new model's suggestion (default 200).
    """

    _ANSWER = "annotation"  # the event kind that answers an item (a label)

    def __init__(self, project: Any, *, model: Any = None, features: Any = None,
                 strategy: str = "margin",
                 batch_size: int = 10, retrain_every: int = 20, auto_accept: float | None = None,
                 spot_check: float = 0.05, seed: int = 0, explore: float = 0.0,
                 annotator_for_model: str = "model", test: tuple | None = None,
                 suggest_top: int = 200):
        if model is None:
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(max_iter=1000)
        _check_model(model)
        if project.schema.multi_label:
            raise ValueError("ActiveLearning needs a single-label project; this one is "
                             "multi_label. Train a model per label outside the loop instead.")
        check_strategy(strategy, model)
        self.batch_size = check_count(batch_size, "batch_size")
        self.retrain_every = check_count(retrain_every, "retrain_every")
        self.suggest_top = check_count(suggest_top, "suggest_top")
        if auto_accept is not None and not (isinstance(auto_accept, (int, float))
                                            and not isinstance(auto_accept, bool)
                                            and 0 < auto_accept <= 1):
            raise ValueError("auto_accept is None or a probability threshold in (0, 1], e.g. "
                             f"0.98; got {auto_accept!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int; got {seed!r}")
        if not isinstance(annotator_for_model, str) or not annotator_for_model.strip():
            raise ValueError("annotator_for_model must be a non-empty name, e.g. 'model'")
        self.project, self.model, self.strategy = project, model, strategy
        self.ledger = Ledger.of(project)  # every write goes through it
        self.auto_accept = None if auto_accept is None else float(auto_accept)
        self.spot_check = check_rate(spot_check, "spot_check")
        self.explore = check_rate(explore, "explore")
        self.seed, self.model_annotator = int(seed), annotator_for_model
        self._features = features  # kept: items added later are featurized the same way
        self._ids, self._X = _pool(project, features)
        self._test = _check_test(test, self._X.shape[1])
        self._start()

    def _start(self) -> None:
        """The loop's state, from the pool (``_ids``, ``_X``) on: what every task shares.
        Ends by reading the state already in the file and subscribing to the project."""
        self._row = {item_id: k for k, item_id in enumerate(self._ids)}
        self._rng = np.random.default_rng([self.seed, 1])  # the retrain thread's own stream

        self._lock = threading.RLock()
        self._order = np.random.default_rng([self.seed, 0]).permutation(len(self._ids))
        self._cursor = 0  # every ranked item before it is taken: skipped for good
        self._model_fitted: Any = None
        self._version = 0
        self._taken: set[str] = set()  # labeled by a human, or auto-labeled
        self._auto: dict[str, str] = {}  # item → auto-label
        self._spot_pending: dict[str, str] = {}  # spot-check items no human labeled yet
        self._spot_results: list[bool] = []
        self._history: list[dict] = []
        self._new_labels = 0
        self._thread: threading.Thread | None = None
        self._rerun = False
        self._pending: dict | None = None  # a retrain's result waiting to land
        self._retraining = False
        self._fit_started: float | None = None  # monotonic time the running fit began
        self._rescoring: tuple[int, int] | None = None  # (rows scored, pool rows) while rescoring
        self._closed = False
        # Held around every write the loop makes (auto-labels, suggestions), with the closed
        # check inside it: once close() has it, nothing the loop computed can land any more.
        self._write_lock = threading.RLock()
        self._error: str | None = None
        self._last_retrain_s: float | None = None
        self._listeners: list[Callable[[str, dict], None]] = []
        self._pool_stale = False  # items were added: the retrain thread grows the pool first
        self._outside = 0  # items the pool could not take (features given as a fixed array)
        self._outside_error: str | None = None  # why, until the pool takes them
        self._loop = _running_loop()
        self._load_state()
        self._retracted = self.ledger.store.max_seq(("retraction",))  # the newest undo reset() saw
        self._unsubscribe = self.ledger.subscribe(self._on_project_change)

    # -- the Queue protocol: the UI path, no model call -------------------------------------
    def next_ids(self, project: ProjectView, annotator: str, exclude: set[str], n: int) -> list[str]:
        """Up to ``n`` items for ``annotator``: due spot checks first, then the kept ranking."""
        n = max(int(n), 0)
        # A landing swaps the order for a new array; `taken` only grows in place between
        # landings (membership tests are safe meanwhile), so references taken here are enough.
        with self._lock:  # ids with order: a grown pool swaps both
            order, cursor, taken, ids = self._order, self._cursor, self._taken, self._ids
            spots = list(self._spot_pending)
        out = [i for i in spots if i not in exclude][:n]
        k = cursor
        leading = True
        while len(out) < n and k < len(order):
            item_id = ids[order[k]]
            if item_id in taken:
                if leading:
                    cursor = k + 1
            else:
                leading = False
                if item_id not in exclude:
                    out.append(item_id)
            k += 1
        with self._lock:
            if self._order is order:
                self._cursor = max(self._cursor, cursor)
        return out

    def reset(self, annotator: str) -> None:
        """After an undo anywhere (another kernel too): items whose labels were all retracted
        are open again. Reads the labels only when a retraction is newer than the last seen."""
        latest = self.ledger.store.max_seq(("retraction",))
        if latest == self._retracted:
            return
        labeled = {r.item_id for r in self.ledger.label_index.rows()
                   if r.annotator != self.model_annotator or r.source != "model"}
        with self._lock:
            self._retracted = latest
            # In place, like every other change to it: next_ids may be testing membership.
            self._taken &= labeled | set(self._auto)
            self._cursor = 0

    # -- retraining -------------------------------------------------------------------------
    def retrain(self, wait: bool = False) -> None:
        """Start a retrain now (or mark one more after the running one); ``wait`` lands it."""
        self._start_retrain()
        if wait:
            self.wait()

    def wait(self, timeout: float | None = WAIT_FOREVER) -> None:
        """Block until no retrain runs, and land a model waiting for the main thread."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                thread = self._thread
            if thread is None:
                break
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                raise TimeoutError(f"the retrain is still running after {timeout} s")
            with self._lock:
                if self._thread is thread:  # it ended without clearing itself (an exception)
                    self._thread = None
        self._land_pending()

    def close(self, timeout: float | None = CLOSE_TIMEOUT) -> None:
        """Stop listening and stop the loop; returns within ``timeout`` seconds.

        A retrain in progress is not interrupted (Python cannot stop a thread): close waits up
        to ``timeout`` (default 5 s; None waits for it to end) and then returns anyway, leaving
        the fit's daemon thread to finish on its own. Whatever that retrain computes is
        discarded: after close returns, the loop writes no suggestion and no auto-label, and
        no model lands. ``status()`` keeps showing ``"fitting"`` until the thread ends.
        """
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float))
                                    or not timeout >= 0):
            raise ValueError(f"timeout is a number of seconds >= 0, or None to wait for a "
                             f"running fit to end; got {timeout!r}")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._closed = True
            self._rerun = False
            self._pending = None
            thread = self._thread
        self._unsubscribe()
        # A write that began before close (a batch of auto-labels, suggestions) may finish; none
        # can begin after this, as each checks `_closed` while holding the write lock.
        if not self._write_lock.acquire(timeout=-1 if deadline is None else _left(deadline)):
            log.warning("ActiveLearning.close: a write of the loop was still in progress after "
                        "%s s; it is the last one", timeout)
        else:
            self._write_lock.release()
        if thread is None or thread is threading.current_thread():
            return
        thread.join(None if deadline is None else _left(deadline))
        if thread.is_alive():
            log.warning("ActiveLearning.close: a retrain was still running after %s s; it was "
                        "left to finish on its own and its result will be discarded", timeout)

    def subscribe(self, callback: Callable[[str, dict], None]) -> Callable[[], None]:
        """``callback(kind, info)`` when a model lands (``"model"``) or is scored
        (``"evaluation"``): on the kernel's main thread when built in one. Returns unsubscribe."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _start_retrain(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._new_labels = 0
            if self._thread is not None:
                self._rerun = True  # coalesce: one more after this one
                return
            self._thread = threading.Thread(target=self._run, name="hitl-retrain", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    self._rerun = False
                    self._retraining = True
                try:
                    self._grow_pool()
                    self._retrain_once()
                except Exception as exc:  # anything else (a full disk, say): report, go on
                    self._fail(exc)
                with self._lock:
                    if not self._rerun or self._closed:
                        self._thread = None
                        return
        finally:
            with self._lock:
                self._retraining = False
                if self._thread is threading.current_thread():
                    self._thread = None

    def _grow_pool(self) -> None:
        """Take items added since the pool was built (in the retrain thread: featurizing a
        large pool, or embedding it, takes time the UI must not wait for)."""
        with self._lock:
            if not self._pool_stale:
                return
            self._pool_stale = False
            n_old = len(self._ids)
        try:
            ids, X = self._make_pool()
            if ids[:n_old] != self._ids:  # items are append-only, so this would be a bug
                raise ValueError("the project's items changed order")
        except (ValueError, TypeError) as exc:
            outside = self.ledger.store.item_count() - n_old
            message = (f"{outside} item(s) added after the loop started are not in the pool "
                       f"({exc}); give features for every item, or build a new ActiveLearning")
            with self._lock:
                self._outside, self._outside_error = outside, message
            log.warning("%s", message)
            self._deliver(lambda: self._notify("error", {"error": message}))
            return
        new_rows = np.arange(n_old, len(ids))
        row = {item_id: k for k, item_id in enumerate(ids)}
        # Labels given to the new items before they were in the pool: they are taken already.
        labeled = [i for i, who in self.ledger.store.labelers(ids[n_old:]).items()
                   if who - {self.model_annotator}]
        with self._lock:
            self._ids, self._X, self._row = ids, X, row
            self._taken.update(labeled)
            self._outside, self._outside_error = 0, None
            # Until the next model ranks them, the new items come after the ranked ones.
            self._order = np.concatenate([self._order, self._rng.permutation(new_rows)])
        self._deliver(lambda: self._notify("pool", {"added": len(new_rows)}))

    def _make_pool(self) -> tuple[list[str], Any]:
        """The pool anew, with the items added since (in the retrain thread)."""
        # No bar from this thread: a notebook's bar belongs to the cell that runs it.
        return _pool(self.project, self._features, progress=False)

    def _retrain_once(self) -> None:
        started = time.monotonic()
        rows, y, n_labels = self._training_set()
        if len(set(y)) < 2:  # one class: nothing to rank by yet; keep the current order
            return
        X = self._X[rows].copy()  # the thread's own copy: the caller may keep labeling
        try:
            with self._fitting():
                fitted = fit_clone(self.model, X, y)
            if self._is_closed():  # closed while fitting: the result is discarded
                return
            _check_classes(fitted, self.ledger.schema.labels, y)
            # The scorer checks every chunk of probabilities (check_proba): output that is not
            # probabilities stops here, before anything is ranked, suggested or auto-labeled.
            # It ranks with the one policy hw.simulate replays (asking_order).
            scorer = self._scorer().rescore(fitted, self._X, exclude=self._taken_rows(),
                                            progress=self._rescore_step)
        except LoopClosed:  # closed while rescoring: stopped between two chunks, nothing kept
            return
        except Exception as exc:
            self._fail(exc)
            return
        finally:
            with self._lock:
                self._rescoring = None
        version = self._next_version()
        order = scorer.order
        top, best = scorer.proba_top, np.asarray(scorer.pred).astype(str)
        if self.auto_accept is not None:
            self._auto_label(top, best, f"m{version}")
        if self._hand_over(dict(model=fitted, order=order, version=version, top=top, best=best),
                           started):
            self._evaluate(fitted, X, y, f"m{version}", n_labels)

    def _next_version(self) -> int:
        """The version the model being finished will land as."""
        with self._lock:  # a result still waiting for the main thread counts as landed
            return (self._version if self._pending is None else self._pending["version"]) + 1

    def _hand_over(self, result: dict, started: float) -> bool:
        """Give a finished retrain to the kernel's thread, which lands it (_land_pending);
        False when the loop was closed meanwhile (the result is dropped)."""
        with self._lock:
            if self._closed:
                return False
            self._error = None
            self._last_retrain_s = time.monotonic() - started
            self._pending = result
        self._deliver(self._land_pending)
        return True

    def _rescore_step(self, done: int, total: int) -> None:
        """The rescore's progress, for status(); stops it (between chunks) once closed."""
        with self._lock:
            if self._closed:
                raise LoopClosed
            self._rescoring = (done, total)

    def _is_closed(self) -> bool:
        with self._lock:
            return self._closed

    def _fitting(self) -> _FitClock:
        """Mark a fit as running, for ``status()["fitting"]`` and ``["fit_seconds"]``."""
        return _FitClock(self)

    def _fail(self, exc: Exception) -> None:
        with self._lock:
            if self._closed:
                return
            self._error = _error_text(exc)
        log.warning("retrain failed; serving the previous ranking: %s", self._error,
                    exc_info=exc)
        error = self._error
        self._deliver(lambda: self._notify("error", {"error": error}))

    def _scorer(self) -> PoolScorer:
        """Scores and asking order for the pool (a random order keeps the model's predictions
        for suggestions and auto-labels); draws on the retrain thread's own stream."""
        return PoolScorer(self.strategy, rng=self._rng, explore=self.explore,
                          batch_size=self.batch_size, head=self.suggest_top, chunk=SCORE_CHUNK)

    def _taken_rows(self) -> np.ndarray:
        with self._lock:
            return np.fromiter((self._row[i] for i in self._taken), np.intp, len(self._taken))

    def _training_set(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Pool rows and labels of the human labels now: majority per item, ties to the latest."""
        votes: dict[str, Counter] = {}
        latest: dict[str, dict[str, int]] = {}
        for r in self.ledger.label_index.rows():
            if r.source != "human" or r.annotator == self.model_annotator:
                continue
            if r.item_id not in self._row:
                continue
            label = r.labels[0]
            votes.setdefault(r.item_id, Counter())[label] += 1
            latest.setdefault(r.item_id, {})[label] = r.seq
        rows, y = [], []
        for item_id, counter in votes.items():
            top = max(counter.values())
            winners = [lab for lab, c in counter.items() if c == top]
            y.append(max(winners, key=latest[item_id].__getitem__))
            rows.append(self._row[item_id])
        return np.asarray(rows, dtype=np.int64), np.asarray(y, dtype=object), len(rows)

    def _auto_label(self, top: np.ndarray, best: np.ndarray, version: str) -> None:
        with self._lock:
            taken = set(self._taken)
        sure = [k for k in np.flatnonzero(top >= self.auto_accept) if self._ids[k] not in taken]
        if not sure:
            return
        # Stochastic rounding keeps the spot-checked share right in expectation for any count.
        n_spot = int(math.floor(self.spot_check * len(sure) + self._rng.random()))
        spot = set(self._rng.choice(len(sure), size=min(n_spot, len(sure)), replace=False).tolist())
        events = [dict(kind="annotation", item_id=self._ids[k], annotator=self.model_annotator,
                       labels=self.ledger.schema.validate(str(best[k])), source="model",
                       score=float(top[k]), extra={"version": version, "spot_check": j in spot})
                  for j, k in enumerate(sure)]
        with self._write_lock:
            if self._is_closed():
                return
            # Silent: this runs on the retrain thread, and listeners (widgets) belong to the
            # kernel's thread; the model's landing, on that thread, tells them.
            self.ledger.append_many(events, notify=False)
        with self._lock:
            for j, k in enumerate(sure):
                item_id = self._ids[k]
                self._auto[item_id] = str(best[k])
                if j in spot:
                    self._spot_pending[item_id] = str(best[k])
            self._taken.update(self._ids[k] for k in sure)

    def _land_pending(self) -> None:
        """Swap in a waiting model, then store its suggestions (listeners refresh views)."""
        with self._write_lock:
            with self._lock:
                result, self._pending = self._pending, None
                if result is None or self._closed:
                    return
                order = result["order"]
                if len(order) < len(self._ids):  # the pool grew after this model ranked it
                    order = np.concatenate([order, np.arange(len(order), len(self._ids))])
                self._model_fitted, self._order = result["model"], order
                self._version, self._cursor = result["version"], 0
                taken = self._taken
            version = f"m{result['version']}"
            suggested = self._suggest(result, taken, version)
        self._notify("model", {"version": version, "suggested": suggested})

    def _suggest(self, result: dict, taken: set[str], version: str) -> int:
        """Store the landed model's suggestions for the next items; how many."""
        head = self._head(result["order"], taken)
        if head:
            rows = [self._row[i] for i in head]
            self.ledger.suggest(head, [str(result["best"][k]) for k in rows],
                                [float(result["top"][k]) for k in rows],
                                source="model", version=version)
        return len(head)

    def _head(self, order: np.ndarray, taken: set[str]) -> list[str]:
        out = []
        for k in order:
            if self._ids[k] not in taken:
                out.append(self._ids[k])
                if len(out) == self.suggest_top:
                    break
        return out

    def _evaluate(self, fitted: Any, X: np.ndarray, y: np.ndarray, version: str,
                  n_labels: int) -> None:
        """One point of the learning curve: held-out accuracy if given, else cross-validated."""
        if self._test is not None:
            X_test, y_test = self._test
            accuracy, note = float(np.mean(_predict(fitted, X_test) == y_test)), None
            method = "test"
        else:
            with self._fitting():
                accuracy, note = _cv_accuracy(self.model, X, y, self.seed)
            method = "cv"
        with self._lock:
            if self._closed:
                return
            share = len(self._auto) / len(self._ids)
            point = dict(n_labels=n_labels, accuracy=accuracy, model_version=version,
                         at=time.time(), method=method, share_auto_labeled=share, note=note)
            self._history.append(point)
        self._deliver(lambda: self._notify("evaluation", point))

    def _deliver(self, callback: Callable[[], None]) -> None:
        """Run on the kernel's loop when there is one (its main thread), else here."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(callback)
                return
            except RuntimeError:  # the loop closed meanwhile
                pass
        callback()

    def _notify(self, kind: str, info: dict) -> None:
        for callback in list(self._listeners):
            try:
                callback(kind, info)
            except Exception:
                log.exception("ActiveLearning listener %r failed on %s", callback, kind)

    # -- the project's events ------------------------------------------------------------------
    def _on_project_change(self, kind: str, info: dict) -> None:
        """Count human labels (cheap: this runs on the labeling path)."""
        if kind == self._ANSWER and info.get("annotator") != self.model_annotator:
            item_id = info.get("item_id")
            with self._lock:
                if item_id in self._row:  # in place: a membership test never sees half a set
                    self._taken.add(item_id)
                if item_id in self._spot_pending:
                    self._check_spot(item_id, info.get("seq"))
                self._new_labels += 1
                due = self._new_labels >= self.retrain_every
            if due:
                self._start_retrain()
        elif kind == "retraction":
            self._reload_taken(info.get("item_id"))
        elif kind == "items" and info.get("added"):
            with self._lock:
                self._pool_stale = True
            self._start_retrain()

    def _check_spot(self, item_id: str, seq: int | None) -> None:
        auto = self._spot_pending.pop(item_id)
        for r in self.ledger.store.live_events(["annotation"], [item_id]):
            if r["seq"] == seq:
                self._spot_results.append(r["labels"][0] == auto)

    def _reload_taken(self, item_id: str | None) -> None:
        """After an undo: the item is open again unless someone else's label still holds."""
        if item_id not in self._row:
            return
        live = self.ledger.store.live_events([self._ANSWER], [item_id])
        if not any(r["annotator"] != self.model_annotator for r in live):
            with self._lock:
                if item_id not in self._auto:
                    self._taken.discard(item_id)
                self._cursor = 0

    def _load_state(self) -> None:
        """Auto-labels and spot checks already in the file (a reopened project)."""
        answered: dict[str, list[str]] = {}
        for r in self.ledger.store.current_labels():
            if r["annotator"] == self.model_annotator and r["source"] == "model":
                self._auto[r["item_id"]] = r["labels"][0]
                if (r.get("extra") or {}).get("spot_check"):
                    self._spot_pending[r["item_id"]] = r["labels"][0]
            else:
                answered.setdefault(r["item_id"], []).append(r["labels"][0])
        for item_id in list(self._spot_pending):
            if item_id in answered:
                self._spot_results.append(answered[item_id][-1] == self._spot_pending.pop(item_id))
        self._taken = (set(answered) | set(self._auto)) & set(self._row)

    # -- reporting -----------------------------------------------------------------------------
    def status(self) -> dict:
        """Where the loop stands.

        ``model_version`` (``"m<n>"``, None before the first model), ``n_human_labels`` (items
        with a human label), ``retraining``, ``last_retrain_s`` (fit + rescore), ``error`` (the
        last failed retrain's exception line, None once one succeeds), ``n_auto_labeled``,
        ``share_auto_labeled`` (of the pool), ``spot_checks_done`` / ``spot_checks_pending``,
        ``auto_accept_accuracy`` (auto-labels the spot checks confirmed),
        ``auto_accept_interval`` (its Wilson 95 % interval), ``pool_size`` and
        ``items_outside_pool`` (added items the features could not cover), ``fitting`` (a
        fit of the model runs now), ``fit_seconds`` (for how long; None when none runs),
        ``rescoring`` (``(rows scored, pool rows)`` while the new model scores the pool, else
        None; ``close()`` stops a rescore between two chunks of ``SCORE_CHUNK`` rows),
        ``warning`` (a fit running longer than ``SLOW_FIT_SECONDS``, else None) and
        ``closed``.

        A model whose output is not probabilities (raw scores, NaN, rows not summing to 1, the
        wrong number of columns, classes that are not the project's labels) fails its retrain:
        ``error`` says what was wrong and what to do, nothing is suggested or auto-labeled from
        it, and the previous ranking stays.
        """
        now = time.monotonic()
        with self._lock:
            n_auto, results = len(self._auto), list(self._spot_results)
            started = self._fit_started
            fit_seconds = None if started is None else now - started
            out = {
                "model_version": f"m{self._version}" if self._version else None,
                "n_human_labels": None,
                "retraining": self._retraining,
                "fitting": started is not None,
                "fit_seconds": fit_seconds,
                "rescoring": self._rescoring,
                "warning": _slow_fit_warning(fit_seconds, self._closed),
                "closed": self._closed,
                "last_retrain_s": self._last_retrain_s,
                "error": self._error or self._outside_error,
                "n_auto_labeled": n_auto,
                "share_auto_labeled": n_auto / len(self._ids) if self._ids else 0.0,
                "spot_checks_done": len(results),
                "spot_checks_pending": len(self._spot_pending),
                "pool_size": len(self._ids),
                "items_outside_pool": self._outside,
            }
        out["n_human_labels"] = int(self._training_set()[2])
        correct = sum(results)
        out["auto_accept_accuracy"] = correct / len(results) if results else None
        out["auto_accept_interval"] = wilson_interval(correct, len(results))
        return out

    def describe(self) -> str:
        """A few words for the Labeler's progress line: which model ranks the queue, e.g.
        ``"model m3"``, ``"model m3, retraining"`` or ``"random order (no model yet)"``."""
        with self._lock:
            version, busy, error = self._version, self._retraining, self._error
            started = self._fit_started
        words = f"model m{version}" if version else "random order (no model yet)"
        if busy and started is not None and time.monotonic() - started > SLOW_FIT_SECONDS:
            words += f", retraining (fit running for {time.monotonic() - started:.0f} s)"
        elif busy:
            words += ", retraining"
        elif error:
            words += ", last retrain failed"
        return words

    def learning_curve(self) -> pd.DataFrame:
        """Accuracy per model version: n_labels, accuracy, model_version, at, method
        (``"test"`` on the given test set, ``"cv"`` cross-validated on the labels then), the
        share of the pool auto-labeled by then, and ``note``: why ``accuracy`` is missing (NaN)
        when it could not be measured, else None."""
        import pandas as pd

        with self._lock:
            rows = list(self._history)
        df = pd.DataFrame(rows, columns=["n_labels", "accuracy", "model_version", "at", "method",
                                         "share_auto_labeled", "note"])
        df["at"] = pd.to_datetime(df["at"], unit="s", utc=True)
        return df

    def label_distribution(self) -> pd.DataFrame:
        """Per label: how many items humans gave it, and how many the model auto-labeled."""
        import pandas as pd

        _, y, _ = self._training_set()
        human = Counter(y.tolist())
        with self._lock:
            auto = Counter(self._auto.values())
        labels = list(self.ledger.schema.labels)
        return pd.DataFrame({"label": labels, "human": [human.get(lab, 0) for lab in labels],
                             "model": [auto.get(lab, 0) for lab in labels]})

    def __repr__(self) -> str:
        s = self.status()
        return (f"ActiveLearning(strategy={self.strategy!r}, pool={len(self._ids)}, "
                f"model_version={s['model_version']!r}, human_labels={s['n_human_labels']})")


# -- helpers ------------------------------------------------------------------------------------
class _FitClock:
    """While a fit runs: its start time in the loop's state (read by ``status()``)."""

    def __init__(self, loop: ActiveLearning):
        self.loop = loop

    def __enter__(self) -> None:
        with self.loop._lock:
            self.loop._fit_started = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        with self.loop._lock:
            self.loop._fit_started = None


class LoopClosed(Exception):
    """Raised in the retrain thread to stop a rescore once the loop is closed."""


def _slow_fit_warning(fit_seconds: float | None, closed: bool) -> str | None:
    if fit_seconds is None or fit_seconds <= SLOW_FIT_SECONDS:
        return None
    if closed:
        return (f"a fit started before close() has been running for {fit_seconds:.0f} s; its "
                "result will be discarded when it ends")
    return (f"the model's fit has been running for {fit_seconds:.0f} s; the queue serves the "
            "previous ranking meanwhile. If it hangs, al.close(timeout=5) returns anyway and "
            "discards its result; a smaller model or fewer features fit faster")


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _check_classes(fitted: Any, labels: Any, y: np.ndarray) -> None:
    """Refuse a fitted model whose ``classes_`` are not two or more of the project's labels.

    A model that knows one class would give every item probability 1 for it; it must neither
    rank the queue nor auto-label, so its retrain fails and the previous ranking stays."""
    name = type(fitted).__name__
    classes = getattr(fitted, "classes_", None)
    if classes is None:
        raise ModelOutputError(f"{name} has no classes_ after fit; set classes_ in fit (the "
                               "labels, in the order of predict_proba's columns)")
    names = [str(c) for c in np.asarray(classes).ravel().tolist()]
    unknown = [c for c in names if c not in labels]
    if unknown:
        raise ModelOutputError(
            f"classes_ of {name} holds {unknown[:5]!r}, which are not labels of the project "
            f"({list(labels)!r}); fit must keep the labels it is given in y as classes_")
    if len(set(names)) < 2:
        trained = sorted(set(y.tolist()))
        raise ModelOutputError(
            f"classes_ of {name} holds one class ({names!r}) though it was fitted on "
            f"{len(trained)} ({trained!r}); a one-class model cannot rank items or auto-label, "
            "so the previous ranking stays: fit must keep every class of y in classes_")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _check_model(model: Any) -> None:
    if isinstance(model, type):
        raise TypeError(f"model must be an estimator instance, e.g. {model.__name__}(), "
                        "not the class")
    check_estimator(model)


def _error_text(exc: BaseException) -> str:
    """The traceback's last line: the exception's type and message (the message alone for a
    model's bad output, which names the model and says what to do)."""
    if isinstance(exc, ModelOutputError):
        return str(exc)
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _predict(model: Any, X: Any) -> np.ndarray:
    """Predicted labels (as strings) from ``predict_proba`` (checked), in chunks."""
    classes = np.asarray(model.classes_).astype(str)
    parts = []
    for k in range(0, X.shape[0], SCORE_CHUNK):
        rows = X[k:k + SCORE_CHUNK]
        proba = check_proba(model.predict_proba(rows), rows.shape[0], len(classes),
                            type(model).__name__)
        parts.append(classes[proba.argmax(axis=1)])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=str)


def _cv_accuracy(model: Any, X: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, str | None]:
    """Cross-validated accuracy on the labels (up to 3 folds), and why it is NaN when it is:
    too few labels of some class, or a failing fold.

    Predicts with ``predict_proba`` (the only method the loop asks of a model)."""
    from sklearn.model_selection import StratifiedKFold

    counts = Counter(y.tolist())
    fewest = min(counts, key=lambda label: (counts[label], label))
    folds = min(3, counts[fewest])
    if folds < 2:
        return float("nan"), (f"cross-validation needs 2 human labels of every class "
                              f"({fewest!r} has {counts[fewest]}); pass test=(X_test, y_test) "
                              "to measure on a held-out set")
    hits = 0
    try:
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
            fitted = fit_clone(model, X[train], y[train])
            hits += int((_predict(fitted, X[test]) == y[test]).sum())
    except Exception as exc:  # the curve is a report: a failing fold must not stop the loop
        log.warning("cross-validation for the learning curve failed: %s", _error_text(exc))
        return float("nan"), (f"cross-validation failed ({_error_text(exc)}); pass "
                              "test=(X_test, y_test) to measure on a held-out set")
    return hits / len(y), None


def _pool(project: Any, features: Any, progress: Any = None) -> tuple[list[str], Any]:
    """Item ids and feature rows (numpy, or scipy sparse for TF-IDF) for the pool."""
    if project.store.item_count() == 0:
        raise ValueError("the project has no items yet: add them before starting active learning")
    ids, X = features_for(project, features, progress=progress)
    if hasattr(X, "detach"):  # torch: the pool is read in chunks by numpy-facing code
        X = X.detach().cpu().numpy()
    if not hasattr(X, "tocoo"):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"features must be 2-D (one row per item); got shape {X.shape}")
    return [str(i) for i in ids], X


def _check_test(test: Any, n_features: int) -> tuple[np.ndarray, np.ndarray] | None:
    if test is None:
        return None
    if not isinstance(test, (tuple, list)) or len(test) != 2:
        raise ValueError("test must be a pair (X_test, y_test)")
    X_test, y_test = test[0], np.asarray(test[1]).astype(str)
    if not hasattr(X_test, "tocoo"):
        X_test = np.asarray(X_test, dtype=np.float64)
    if X_test.ndim != 2 or X_test.shape[1] != n_features or len(X_test) != len(y_test):
        raise ValueError(f"test X must be (n, {n_features}) with one label per row; got "
                         f"{X_test.shape} and {len(y_test)} labels")
    return X_test, y_test
