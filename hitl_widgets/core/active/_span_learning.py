"""Active learning for span tasks: the live loop of :class:`ActiveLearning`, on spans.

:class:`SpanActiveLearning` is the same queue and the same machinery (a ranking kept in
memory, retrains on a daemon thread every ``retrain_every`` new submissions, results landed on
the kernel's loop, ``wait``/``close``/``status``), and it ranks through the same policy
(:meth:`PoolScorer.rank_scores`, i.e. :func:`asking_order`). What differs is the task:

- an item is answered by a submission of spans (``project.submit_spans``), not a label;
- the model is a span model (see :mod:`._span_models`): fitted as a clone on the texts and
  the current human spans (the latest submission per item), then asked for an uncertainty per
  text, reduced by ``uncertainty`` (``"least_confident_token"``, ``"min_span_score"``,
  ``"entropy_mean"``); or ``uncertainty`` is a scorer ``uncertainty(texts) -> (n,)`` array,
  called again at each retrain (no model is fitted);
- when a model with ``predict_spans`` lands, its spans for the next ``suggest_top`` items are
  stored as span suggestions (``model_version="m<n>"``), checked first: output that is not
  spans of the item fails the retrain, and the previous ranking stays.

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> p = Project(os.path.join(tempfile.mkdtemp(), "al.hitl"), span_labels=["PER"])
>>> _ = p.add_items(["Ada met Bob", "Cy saw Dee", "a quiet day", "Eve and Fay"],
...                 id=["a", "b", "c", "d"])
>>> al = SpanActiveLearning(p, retrain_every=2)
>>> _ = p.submit_spans("a", [(0, 3, "PER"), (8, 11, "PER")], annotator="ana")
>>> _ = p.submit_spans("c", [], annotator="ana")
>>> al.wait(); al.status()["model_version"]
'm1'
>>> sorted(p.span_suggestions(["b", "d"]))
['b', 'd']
>>> al.close()
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np

from .._checks import check_count, check_rate
from ..store import Ledger, SpanError, check_suggestion, submitted_spans
from ._learning import ActiveLearning, LoopClosed
from ._ranking import ModelOutputError, PoolScorer
from ._span_models import REDUCERS, SPAN_REDUCTIONS, TokenTagger

SPAN_CHUNK = 512  # texts per model call when scoring the pool


class SpanActiveLearning(ActiveLearning):
    """Serve the span items a model is least sure about; retrain it in the background.

    Parameters
    ----------
    project : a :class:`~hitl_widgets.Project` with a span task.
    model : a span model (``fit(texts, spans)``, ``predict_spans_proba`` and/or
        ``predict_spans``); fitted as a clone, never the object given. Default:
        :class:`TokenTagger`. None with a callable ``uncertainty``.
    uncertainty : a reduction of the model's output, one of ``SPAN_REDUCTIONS`` (default
        ``"least_confident_token"``), or a scorer ``uncertainty(texts) -> (n,) array``.
    strategy : ``"uncertainty"`` (default: most uncertain first) or ``"random"``.
    retrain_every, seed, explore, suggest_top, annotator_for_model : as for
        :class:`ActiveLearning` (``retrain_every`` counts submissions of spans).
    """

    _ANSWER = "spans"

    def __init__(self, project: Any, *, model: Any = "default",
                 uncertainty: Any = "least_confident_token", strategy: str = "uncertainty",
                 retrain_every: int = 20, seed: int = 0, explore: float = 0.0,
                 suggest_top: int = 200, annotator_for_model: str = "model"):
        ledger = Ledger.of(project)
        if ledger.span_schema is None:
            raise ValueError("SpanActiveLearning needs a project with a span task: "
                             "Project(path, span_labels=['PER', 'ORG'])")
        if strategy not in ("uncertainty", "random"):
            raise ValueError(f"strategy must be 'uncertainty' or 'random'; got {strategy!r}")
        if model == "default":
            model = None if callable(uncertainty) else TokenTagger()
        _check_span_model(model, uncertainty)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int; got {seed!r}")
        if not isinstance(annotator_for_model, str) or not annotator_for_model.strip():
            raise ValueError("annotator_for_model must be a non-empty name, e.g. 'model'")
        self.project, self.ledger, self.model = project, ledger, model
        self.uncertainty = uncertainty
        self.strategy = "random" if strategy == "random" else (
            uncertainty if isinstance(uncertainty, str) else "uncertainty")
        self.retrain_every = check_count(retrain_every, "retrain_every")
        self.suggest_top = check_count(suggest_top, "suggest_top")
        self.batch_size, self.auto_accept, self.spot_check = 10, None, 0.0
        self.explore = check_rate(explore, "explore")
        self.seed, self.model_annotator = int(seed), annotator_for_model
        self._features, self._test = None, None
        self._ids, self._X = self._make_pool()
        if not self._ids:
            raise ValueError("the project has no text items yet: add them before starting "
                             "active learning")
        self._start()
        if self.model is None:  # a fixed scorer ranks the pool at once, in the background
            self._start_retrain()

    # -- the task: texts, answered by submissions of spans ------------------------------------
    def _make_pool(self) -> tuple[list[str], Any]:
        rows = [r for r in self.ledger.store.items_table() if r["text"] is not None]
        self._texts = {r["item_id"]: r["text"] for r in rows}
        return [r["item_id"] for r in rows], None

    def _human_submissions(self) -> dict[str, list[tuple]]:
        """Item → spans of its latest human submission (annotators are not told apart)."""
        out = {}
        for sub in submitted_spans(self.ledger.store):
            if sub["annotator"] != self.model_annotator:
                out[sub["item_id"]] = [(s["start"], s["end"], s["label"]) for s in sub["spans"]]
        return out

    def _load_state(self) -> None:
        self._taken = set(self._human_submissions()) & set(self._row)

    def reset(self, annotator: str) -> None:
        """After an undo anywhere: items whose submissions were all retracted are open again."""
        latest = self.ledger.store.max_seq(("retraction",))
        if latest == self._retracted:
            return
        answered = set(self._human_submissions())
        with self._lock:
            self._retracted = latest
            self._taken &= answered
            self._cursor = 0

    def _on_project_change(self, kind: str, info: dict) -> None:
        if kind == "spans" and "span_ids" not in info:
            return  # a relation added to a submission: not a new answer
        super()._on_project_change(kind, info)

    def _training_set(self) -> tuple[np.ndarray, list, int]:
        """Pool rows and spans of the items with a human submission."""
        subs = self._human_submissions()
        ids = [i for i in subs if i in self._row]
        return (np.asarray([self._row[i] for i in ids], dtype=np.int64), [subs[i] for i in ids],
                len(ids))

    def label_distribution(self):
        """Per span label: how many spans the human submissions hold."""
        import pandas as pd

        counts = Counter(s[2] for spans in self._training_set()[1] for s in spans)
        labels = list(self.ledger.span_schema.labels)
        return pd.DataFrame({"label": labels, "human": [counts.get(lab, 0) for lab in labels],
                             "model": [0] * len(labels)})

    def _scorer(self) -> PoolScorer:
        return PoolScorer("random" if self.strategy == "random" else "least_confidence",
                          rng=self._rng, explore=self.explore, head=self.suggest_top)

    # -- the retrain thread ------------------------------------------------------------------
    def _retrain_once(self) -> None:
        started = time.monotonic()
        rows, spans, _ = self._training_set()
        with self._lock:
            ids = list(self._ids)
        texts = [self._texts[i] for i in ids]
        fitted = None
        try:
            if self.model is not None:
                if not any(spans):  # no span marked yet: nothing to learn, keep the order
                    return
                with self._fitting():
                    fitted = _fit_span_clone(self.model, [texts[r] for r in rows], spans)
                if self._is_closed():
                    return
            scores = self._score(fitted, texts)
            scorer = self._scorer().rank_scores(scores, exclude=self._taken_rows())
            suggestions = self._predict_head(fitted, scorer.order, ids, texts)
        except LoopClosed:
            return
        except Exception as exc:
            self._fail(exc)
            return
        finally:
            with self._lock:
                self._rescoring = None
        self._hand_over(dict(model=fitted, order=scorer.order, version=self._next_version(),
                             suggestions=suggestions), started)

    def _score(self, fitted: Any, texts: list[str]) -> np.ndarray:
        """The uncertainty of every text of the pool, in chunks (close() stops between two)."""
        parts = []
        for start in range(0, len(texts), SPAN_CHUNK):
            chunk = texts[start:start + SPAN_CHUNK]
            if callable(self.uncertainty):
                part = self.uncertainty(chunk)
            elif self.uncertainty == "min_span_score":
                part = REDUCERS[self.uncertainty](_call(fitted.predict_spans, chunk))
            else:
                part = REDUCERS[self.uncertainty](_call(fitted.predict_spans_proba, chunk))
            parts.append(_checked_uncertainty(part, len(chunk)))
            self._rescore_step(start + len(chunk), len(texts))
        return np.concatenate(parts) if parts else np.zeros(0)

    def _predict_head(self, fitted: Any, order: np.ndarray, ids: list[str],
                      texts: list[str]) -> dict[str, list[dict]]:
        """The model's spans for the next ``suggest_top`` open items, checked here (in the
        thread) so that landing writes only spans the store accepts."""
        if fitted is None or not hasattr(fitted, "predict_spans"):
            return {}
        taken = set(self._taken)
        head = [k for k in order if ids[k] not in taken][:self.suggest_top]
        predicted = _call(fitted.predict_spans, [texts[k] for k in head])
        out = {}
        for k, spans in zip(head, predicted, strict=True):
            try:
                out[ids[k]] = check_suggestion(texts[k], spans, self.ledger.span_schema,
                                               item_id=ids[k])
            except SpanError as exc:
                raise ModelOutputError(f"predict_spans of {type(fitted).__name__}: {exc}") from None
        return out

    def _suggest(self, result: dict, taken: set[str], version: str) -> int:
        pairs = [(i, spans) for i, spans in result["suggestions"].items() if i not in taken]
        if pairs:
            self.ledger.suggest_spans(pairs, model_version=version, source="model")
        return len(pairs)


def _fit_span_clone(model: Any, texts: list[str], spans: list) -> Any:
    from sklearn.base import clone

    fitted = clone(model, safe=False).fit(texts, spans)
    return model if fitted is None else fitted


def _call(method: Any, texts: list[str]) -> list:
    out = list(method(texts))
    if len(out) != len(texts):
        raise ModelOutputError(f"{getattr(method, '__qualname__', method)} returned {len(out)} "
                               f"results for {len(texts)} texts; it must return one per text")
    return out


def _checked_uncertainty(values: Any, n: int) -> np.ndarray:
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelOutputError("the uncertainty scorer returned non-numeric values; it must "
                               "return one number per text") from None
    if values.shape != (n,):
        raise ModelOutputError(f"the uncertainty scorer returned shape {values.shape} for {n} "
                               f"texts; it must return ({n},): one number per text")
    if not np.isfinite(values).all():
        raise ModelOutputError(f"the uncertainty scorer returned NaN or infinite values for "
                               f"{int((~np.isfinite(values)).sum())} of {n} texts; it must "
                               "return finite numbers (higher = ask sooner)")
    return values


def _check_span_model(model: Any, uncertainty: Any) -> None:
    if callable(uncertainty):
        if model is not None:
            raise TypeError("give a model with a named uncertainty reduction, or a scorer "
                            "uncertainty(texts) and model=None; not both")
        return
    if uncertainty not in SPAN_REDUCTIONS:
        raise ValueError(f"Unknown uncertainty {uncertainty!r}; expected one of "
                         f"{list(SPAN_REDUCTIONS)}, or a function uncertainty(texts) -> scores")
    if model is None:
        raise TypeError(f"uncertainty={uncertainty!r} reduces a span model's output: give "
                        "model=TokenTagger() (or your own), or a scorer as uncertainty")
    if isinstance(model, type):
        raise TypeError(f"model must be an instance, e.g. {model.__name__}(), not the class")
    need = "predict_spans" if uncertainty == "min_span_score" else "predict_spans_proba"
    missing = [m for m in ("fit", need) if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"{type(model).__name__} has no {' or '.join(missing)}; a span model "
                        f"has fit(texts, spans) and {need}(texts) for uncertainty="
                        f"{uncertainty!r}")
