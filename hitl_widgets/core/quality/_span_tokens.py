"""Token-level agreement on spans: BIO tags per token and annotator, scored by the agreement
functions of this package (Krippendorff's alpha, Fleiss' and Cohen's kappa).

Each item's text is cut into tokens by a tokeniser: whitespace by default, a regular
expression that matches one token (e.g. ``r"\\w+|[^\\w\\s]"``), or a callable returning
``(start, end)`` offsets. Every annotator who submitted an item tags every one of its tokens
(``O`` outside spans, ``B-LABEL`` on a span's first token, ``I-LABEL`` on the rest; IOB2), so an
annotator who submitted the item with no spans tags it all ``O``. A span that covers part of a
token tags the whole token (spaCy's ``alignment_mode="expand"``); a span that covers no token
(whitespace only), offsets past the end of the text, a ``text`` column that no longer matches
the item's text, and spans of one annotator that share a token (BIO holds one tag per token:
score one label at a time, or use :func:`span_f1`) raise ``ValueError``.

Example
-------
>>> import pandas as pd
>>> spans = pd.DataFrame({"item_id": ["a", "a"], "annotator": ["x", "y"], "start": [0, 0],
...                       "end": [9, 4], "label": ["PER", "PER"]})
>>> tags = span_tags(spans, {"a": "Ada Byron wrote"})
>>> tags.pivot(index="token", columns="annotator", values="tag").values.tolist()
[['B-PER', 'B-PER'], ['I-PER', 'O'], ['O', 'O']]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from .._checks import item_id
from ._agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha
from ._span_input import CodedSpans, code_spans

WHITESPACE = re.compile(r"\S+")
_METRICS: dict[str, Callable] = {"krippendorff_alpha": krippendorff_alpha,
                                 "fleiss_kappa": fleiss_kappa}


def _tokenizer(tokenizer: Any) -> Callable[[str], Any]:
    if tokenizer is None:
        tokenizer = WHITESPACE
    if isinstance(tokenizer, str):
        tokenizer = re.compile(tokenizer)
    if isinstance(tokenizer, re.Pattern):
        pattern = tokenizer
        return lambda text: (m.span() for m in pattern.finditer(text) if m.end() > m.start())
    if callable(tokenizer):
        return tokenizer
    raise TypeError(f"tokenizer must be None (whitespace), a regex matching one token, or a "
                    f"callable text -> [(start, end), ...]; got {type(tokenizer).__name__}")


def _texts(texts: Any, c: CodedSpans) -> list[str]:
    if isinstance(texts, pd.Series):
        texts = dict(zip(texts.index, texts.to_numpy(), strict=True))
    if not isinstance(texts, Mapping):
        raise TypeError("texts must map item_id -> text (a dict, or a Series indexed by "
                        f"item_id); got {type(texts).__name__}")
    by_id = {item_id(k): v for k, v in texts.items()}
    absent = [i for i in c.items if i not in by_id]
    if absent:
        raise ValueError(f"texts has no text for items {absent[:5]}"
                         f"{f' and {len(absent) - 5} more' if len(absent) > 5 else ''}; "
                         "pass the text of every item with spans or submissions")
    out = [by_id[i] for i in c.items]
    bad = [i for i, t in zip(c.items, out, strict=True) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts of items {bad[:5]} are not str")
    return out


def _tokens(texts: list[str], tokenize: Callable,
            ids: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per item, token offsets: (starts, ends, tokens per item), items in code order."""
    starts, ends, counts = [], [], []
    for code, text in enumerate(texts):
        offs = np.fromiter(chain.from_iterable(tokenize(text)), dtype=np.int64).reshape(-1, 2)
        if len(offs) and ((offs[:, 0] >= offs[:, 1]).any() or (offs[1:, 0] < offs[:-1, 1]).any()
                          or offs[0, 0] < 0 or offs[-1, 1] > len(text)):
            raise ValueError(f"the tokenizer's offsets for item {ids[code]!r} are not ordered, "
                             "non-empty, non-overlapping (start, end) pairs within the text")
        starts.append(offs[:, 0])
        ends.append(offs[:, 1])
        counts.append(len(offs))
    return (np.concatenate(starts) if starts else np.zeros(0, np.int64),
            np.concatenate(ends) if ends else np.zeros(0, np.int64), np.asarray(counts, np.int64))


def _check_offsets(c: CodedSpans, texts: list[str]) -> None:
    f = c.frame
    length = np.array([len(t) for t in texts], dtype=np.int64)
    past = f["end"].to_numpy() > length[f["item"].to_numpy()]
    if past.any():
        row = next(f[past].itertuples())
        raise ValueError(f"{int(past.sum())} spans end past their item's text, e.g. "
                         f"[{row.start}, {row.end}) on item {c.items[row.item]!r} (length "
                         f"{length[row.item]}); offsets count code points in the item's text")
    if "text" in f.columns:
        for row in f.itertuples():
            if isinstance(row.text, str) and texts[row.item][row.start:row.end] != row.text:
                raise ValueError(f"span [{row.start}, {row.end}) on item "
                                 f"{c.items[row.item]!r} has text {row.text!r}, but the item's "
                                 f"text there is {texts[row.item][row.start:row.end]!r}; the "
                                 "text changed after labeling, or the offsets are wrong")


def span_tags(spans: pd.DataFrame, texts: Mapping | pd.Series, *, tokenizer: Any = None,
              submitted: Any = None, labels: Sequence | None = None) -> pd.DataFrame:
    """IOB2 tags of every token of every submitted item, per annotator.

    Returns one row per (item, annotator, token): ``item_id``, ``annotator``, ``token`` (its
    position in the item), ``start``, ``end`` (its offsets) and ``tag``.

    >>> import pandas as pd
    >>> spans = pd.DataFrame({"item_id": [1], "annotator": ["x"], "start": [3], "end": [9],
    ...                       "label": ["LOC"]})
    >>> span_tags(spans, {1: "in New York."}, tokenizer=r"\\w+|[^\\w\\s]")["tag"].tolist()
    ['O', 'B-LOC', 'I-LOC', 'O']
    """
    c = code_spans(spans, submitted, labels)
    text_list = _texts(texts, c)
    _check_offsets(c, text_list)
    t_start, t_end, n_tok = _tokens(text_list, _tokenizer(tokenizer), c.items)
    off = np.concatenate([[0], np.cumsum(n_tok)])
    t_item = np.repeat(np.arange(len(n_tok)), n_tok)
    width = max((len(t) for t in text_list), default=0) + 1
    # One sorted key per token start/end across items: a span finds its tokens with one search.
    g_start, g_end = t_item * width + t_start, t_item * width + t_end
    f = c.frame
    item, start, end = (f[k].to_numpy() for k in ("item", "start", "end"))
    first = np.searchsorted(g_end, item * width + start, side="right")
    last = np.searchsorted(g_start, item * width + end, side="left") - 1
    covers = (first <= last) & (first < off[item + 1]) & (last >= off[item])
    if not covers.all():
        row = next(f[~covers].itertuples())
        raise ValueError(f"{int((~covers).sum())} spans cover no token, e.g. [{row.start}, "
                         f"{row.end}) on item {c.items[row.item]!r}; choose a tokenizer whose "
                         "tokens include these characters, or drop the spans")
    n_who = max(len(c.annotators), 1)
    sub_key = c.sub_item * n_who + c.sub_who
    sub = np.searchsorted(sub_key, item * n_who + f["who"].to_numpy())
    base = np.concatenate([[0], np.cumsum(n_tok[c.sub_item])])
    length = last - first + 1
    rows = np.repeat(base[sub] + first - off[item], length)
    rows += np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    lab = f["lab"].to_numpy()
    is_first = np.zeros(length.sum(), dtype=bool)
    is_first[np.cumsum(length) - length] = True
    codes = np.where(is_first, 1, 2) + 2 * np.repeat(lab, length)
    tags = np.zeros(base[-1], dtype=np.int64)
    if rows.size and np.bincount(rows).max() > 1:
        hit = np.repeat(np.arange(len(f)), length)[np.isin(rows, np.flatnonzero(
            np.bincount(rows) > 1))][0]
        row = next(f.iloc[[hit]].itertuples())
        raise ValueError(f"annotator {c.annotators[row.who]!r} has spans sharing a token on item "
                         f"{c.items[row.item]!r} (one is [{row.start}, {row.end})); BIO tags hold "
                         "one span per token: score one label at a time (spans[spans.label == "
                         "...]) or compare spans with span_f1")
    tags[rows] = codes
    names = np.array(["O"] + [f"{p}-{label}" for label in c.labels for p in ("B", "I")],
                     dtype=object)
    sub_rows = np.repeat(np.arange(len(sub_key)), n_tok[c.sub_item])
    tok = np.arange(base[-1]) - np.repeat(base[:-1], n_tok[c.sub_item])
    g_tok = off[c.sub_item][sub_rows] + tok
    return pd.DataFrame({"item_id": c.items[c.sub_item][sub_rows],
                         "annotator": c.annotators[c.sub_who][sub_rows], "token": tok,
                         "start": t_start[g_tok], "end": t_end[g_tok], "tag": names[tags]})


def token_agreement(spans: pd.DataFrame, texts: Mapping | pd.Series, *,
                    metric: str | Callable = "krippendorff_alpha", tokenizer: Any = None,
                    submitted: Any = None, labels: Sequence | None = None) -> Any:
    """Agreement on the BIO tags of every token (see :func:`span_tags`), by the package's own
    agreement functions.

    ``metric`` is ``"krippendorff_alpha"`` (default; annotators may differ per item),
    ``"fleiss_kappa"`` (the same number of annotators on every item), ``"cohen_kappa"``
    (exactly two annotators), or a callable given the long ratings frame (columns ``item``: one
    per token, ``annotator``, ``label``: the tag), e.g. ``pairwise_kappa``.

    >>> import pandas as pd
    >>> spans = pd.DataFrame({"item_id": ["a"] * 3, "annotator": ["x", "y", "x"],
    ...                       "start": [0, 0, 16], "end": [3, 3, 23], "label": ["PER"] * 3})
    >>> round(token_agreement(spans, {"a": "Ada wrote about Babbage"}, metric="cohen_kappa"), 3)
    0.5
    """
    tags = span_tags(spans, texts, tokenizer=tokenizer, submitted=submitted, labels=labels)
    item = pd.factorize(tags["item_id"])[0].astype(np.int64)
    token = tags["token"].to_numpy()
    ratings = pd.DataFrame({"item": item * (int(token.max(initial=0)) + 1) + token,
                            "annotator": tags["annotator"], "label": tags["tag"]})
    if callable(metric):
        return metric(ratings)
    if metric == "cohen_kappa":
        who = ratings["annotator"].unique()
        if len(who) != 2:
            raise ValueError(f"cohen_kappa compares two annotators; these spans have "
                             f"{len(who)} ({list(who)[:5]}): use krippendorff_alpha, or "
                             "metric=pairwise_kappa for every pair")
        wide = ratings.pivot(index="item", columns="annotator", values="label")
        return cohen_kappa(wide[who[0]].to_numpy(), wide[who[1]].to_numpy())
    if metric not in _METRICS:
        raise ValueError(f"Unknown metric {metric!r}; expected one of "
                         f"{[*_METRICS, 'cohen_kappa']} or a callable on the ratings frame")
    return _METRICS[metric](ratings)
