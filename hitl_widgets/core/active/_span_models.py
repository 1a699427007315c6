"""Uncertainty for span tasks: pure reductions of a span model's output, and a small model.

A span model for active learning follows a text-in contract (scikit-learn's, with texts and
spans for X and y): ``fit(texts, spans) -> self`` (``spans``: per text, a list of
``(start, end, label)``) and one or both of

- ``predict_spans_proba(texts)``: per text, a ``(n_tokens, n_tags)`` array of tag
  probabilities (rows sum to 1), reduced by ``"least_confident_token"`` or ``"entropy_mean"``;
- ``predict_spans(texts)``: per text, ``(start, end, label, score)`` spans, reduced by
  ``"min_span_score"`` and stored as suggestions when a model lands.

The reductions are pure functions (scores out, higher = ask sooner), as the classification
scores are. :class:`TokenTagger` is a small model that keeps the contract: a logistic
regression over hashed token features, trained on BIO tags.

Example
-------
>>> least_confident_token([np.array([[0.9, 0.1], [0.6, 0.4]]), np.zeros((0, 2))]).round(2)
array([0.4, 0. ])
>>> min_span_score([[(0, 3, "PER", 0.9), (4, 6, "ORG", 0.55)], []]).round(2)
array([0.45, 0.  ])
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._ranking import ModelOutputError, check_proba, entropy

SPAN_REDUCTIONS = ("least_confident_token", "min_span_score", "entropy_mean")
TOKEN = re.compile(r"\w+|[^\w\s]")


def least_confident_token(token_proba: Sequence[Any]) -> np.ndarray:
    """Per text: 1 − the top tag probability of its least sure token (0 for no tokens)."""
    return np.array([float((1.0 - p.max(axis=1)).max()) if len(p) else 0.0
                     for p in _checked_tokens(token_proba)])


def entropy_mean(token_proba: Sequence[Any]) -> np.ndarray:
    """Per text: the mean tag entropy (nats) of its tokens (0 for no tokens)."""
    return np.array([float(entropy(p).mean()) if len(p) else 0.0
                     for p in _checked_tokens(token_proba)])


def min_span_score(spans: Sequence[Sequence[Any]]) -> np.ndarray:
    """Per text: 1 − the score of its least sure predicted span (0 with no span: the model
    is sure there is nothing to mark)."""
    out = []
    for k, text_spans in enumerate(spans):
        scores = [_span_score(s, k) for s in text_spans]
        out.append(1.0 - min(scores) if scores else 0.0)
    return np.array(out, dtype=np.float64)


REDUCERS = {"least_confident_token": least_confident_token, "entropy_mean": entropy_mean,
            "min_span_score": min_span_score}


def _checked_tokens(token_proba: Sequence[Any]) -> list[np.ndarray]:
    out = []
    for k, p in enumerate(token_proba):
        p = np.asarray(p, dtype=np.float64)
        if p.ndim != 2:
            raise ModelOutputError(f"predict_spans_proba returned shape {p.shape} for text {k}; "
                                   "it must return one (n_tokens, n_tags) array per text")
        out.append(check_proba(p, p.shape[0], None, f"predict_spans_proba (text {k})"))
    return out


def _span_score(span: Any, k: int) -> float:
    score = span.get("score") if isinstance(span, dict) else (
        span[3] if isinstance(span, (tuple, list)) and len(span) > 3 else None)
    if score is None or isinstance(score, bool) or not isinstance(score, (int, float)) \
            or not math.isfinite(score) or not 0 <= score <= 1:
        raise ModelOutputError(f"predict_spans gave text {k} a span {span!r:.60} whose score "
                               "is not a probability in [0, 1]; min_span_score needs one per "
                               "span")
    return float(score)


# -- a small span model ---------------------------------------------------------------------
def tokens(text: str) -> list[tuple[int, int]]:
    """Word and punctuation tokens as (start, end) code-point offsets."""
    return [m.span() for m in TOKEN.finditer(text)]


def bio_tags(text: str, spans: Sequence[Sequence[Any]]) -> list[str]:
    """BIO tags of ``text``'s tokens for one layer of spans (a token takes the first span that
    covers it).

    >>> bio_tags("Ada Lovelace met Bob", [(0, 12, "PER"), (17, 20, "PER")])
    ['B-PER', 'I-PER', 'O', 'B-PER']
    """
    out = []
    for start, end in tokens(text):
        tag = "O"
        for s in spans:
            if s[0] <= start and end <= s[1]:
                tag = ("B-" if start == s[0] or not out or out[-1] == "O" else "I-") + s[2]
                break
        out.append(tag)
    return out


class TokenTagger:
    """A small span model: logistic regression over hashed features of each token and its
    neighbours, trained on BIO tags; keeps the span-model contract (see the module's doc).

    >>> tagger = TokenTagger().fit(["Ada met Bob", "Cy saw Ada"],
    ...                            [[(0, 3, "PER"), (8, 11, "PER")], [(0, 2, "PER"), (7, 10, "PER")]])
    >>> tagger.predict_spans_proba(["Ada met Cy"])[0].shape
    (3, 2)
    """

    def __init__(self, n_features: int = 2**16, C: float = 1.0):
        self.n_features = n_features
        self.C = C

    def get_params(self, deep: bool = True) -> dict:
        return {"n_features": self.n_features, "C": self.C}

    def set_params(self, **params: Any) -> TokenTagger:
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit(self, texts: Sequence[str], spans: Sequence[Sequence[Any]]) -> TokenTagger:
        from sklearn.linear_model import LogisticRegression

        X = self._features(texts)
        y = [tag for text, s in zip(texts, spans, strict=True) for tag in bio_tags(text, s)]
        self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_spans_proba(self, texts: Sequence[str]) -> list[np.ndarray]:
        X = self._features(texts)
        proba = self.model_.predict_proba(X) if X.shape[0] else np.zeros((0, len(self.classes_)))
        bounds = np.cumsum([0] + [len(tokens(t)) for t in texts])
        return [proba[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def predict_spans(self, texts: Sequence[str]) -> list[list[tuple]]:
        """Spans from the most likely tag per token; a span's score is its tokens' mean
        probability of their tags."""
        out = []
        for text, proba in zip(texts, self.predict_spans_proba(texts), strict=True):
            tags = self.classes_[proba.argmax(axis=1)] if len(proba) else []
            spans: list[tuple] = []
            current: list | None = None
            for (start, end), tag, p in zip(tokens(text), tags, proba.max(axis=1), strict=False):
                label = None if tag == "O" else tag[2:]
                if current is not None and label == current[2] and tag.startswith("I-"):
                    current[1], current[3] = end, current[3] + [p]
                    continue
                if current is not None:
                    spans.append((current[0], current[1], current[2], float(np.mean(current[3]))))
                current = None if label is None else [start, end, label, [p]]
            if current is not None:
                spans.append((current[0], current[1], current[2], float(np.mean(current[3]))))
            out.append(spans)
        return out

    def _features(self, texts: Sequence[str]):
        from sklearn.feature_extraction import FeatureHasher

        rows = []
        for text in texts:
            words = [text[a:b] for a, b in tokens(text)]
            for k, w in enumerate(words):
                prev = words[k - 1].lower() if k else "<s>"
                nxt = words[k + 1].lower() if k + 1 < len(words) else "</s>"
                rows.append([f"w={w.lower()}", f"suf={w[-3:].lower()}", f"title={w.istitle()}",
                             f"upper={w.isupper()}", f"digit={w.isdigit()}", f"prev={prev}",
                             f"next={nxt}"])
        return FeatureHasher(self.n_features, input_type="string").transform(rows)
