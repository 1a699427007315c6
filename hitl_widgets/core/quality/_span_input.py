"""The spans frame every span function takes, checked once and coded as integers.

A span is a row ``(item_id, annotator, start, end, label)``: ``start``/``end`` are character
offsets in Python code points, end exclusive (``text[start:end]`` is the span's text). More
columns are allowed; ``text`` (the covered text) is carried along where a result shows spans.

**Who labeled an item.** An annotator who marked at least one span on an item labeled it. An
annotator who submitted an item with *no* spans leaves no row, so the functions take
``submitted``: the ``(item_id, annotator)`` pairs that were submitted, as a DataFrame with those
two columns or an iterable of pairs. It is joined with the pairs the spans show (a span implies a
submission), so it only needs to list what the spans cannot. Without it, an annotator with no
span on an item is taken not to have seen it, and is left out of that item's comparisons.

Rows are checked before anything is counted; bad rows raise ``ValueError`` naming the rows (by
the frame's index) and what to do: missing columns, a missing item id, annotator or label,
offsets that are not whole numbers or are negative, ``start >= end``. A span repeated exactly
(same item, annotator, label and offsets) counts once.

Example
-------
>>> import pandas as pd
>>> spans = pd.DataFrame({"item_id": ["a"], "annotator": ["x"], "start": [0], "end": [5],
...                       "label": ["PER"]})
>>> coded = code_spans(spans, submitted=[("a", "y")])
>>> coded.annotators.tolist(), coded.n_submissions
(['x', 'y'], 2)
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._checks import item_id

SPAN_COLUMNS = ("item_id", "annotator", "start", "end", "label")


@dataclass(frozen=True)
class CodedSpans:
    """Spans as integer arrays, with the submissions they come from.

    ``frame`` has one row per distinct span: ``item`` (code into ``items``), ``who`` (code into
    ``annotators``), ``lab`` (code into ``labels``), ``start``, ``end``, and ``text`` when the
    input had it. ``sub_item``/``sub_who`` list every submission (item, annotator), sorted.
    """

    frame: pd.DataFrame
    items: pd.Index
    annotators: pd.Index
    labels: pd.Index
    sub_item: np.ndarray
    sub_who: np.ndarray

    @property
    def n_submissions(self) -> int:
        return int(self.sub_item.size)


def _rows(index: pd.Index, mask: np.ndarray) -> str:
    bad = list(index[np.asarray(mask)])
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return f"{bad[:5]}{more}"


def _offsets(col: pd.Series, name: str) -> np.ndarray:
    """A column of offsets as int64, or a ValueError naming the rows that are not offsets."""
    values = col.to_numpy()
    if values.dtype.kind == "b":
        raise ValueError(f"spans column {name!r} holds booleans; offsets are whole numbers of "
                         "characters (code points)")
    missing = pd.isna(col).to_numpy()
    if missing.any():
        raise ValueError(f"spans column {name!r} is missing in rows {_rows(col.index, missing)}; "
                         "every span needs start and end offsets (drop those rows or fill them)")
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        whole = np.isfinite(values) & (values == np.round(values))
    else:
        whole = np.array([isinstance(v, numbers.Integral) and not isinstance(v, bool)
                          for v in values], dtype=bool)
    if not whole.all():
        first = values[~whole][0]
        raise ValueError(f"spans column {name!r} has values that are not whole numbers (e.g. "
                         f"{first!r}) in rows {_rows(col.index, ~whole)}; offsets are integer "
                         "character positions: convert the column with .astype('int64')")
    return values.astype(np.int64)


def _factorize(values: Any, order: Sequence | None, what: str) -> tuple[np.ndarray, pd.Index]:
    if order is not None:
        domain = pd.Index(list(order))
        if domain.has_duplicates:
            raise ValueError(f"{what}= has repeated entries: {list(order)}")
        codes = domain.get_indexer(values)
        if (codes < 0).any():
            bad = sorted({str(v) for v in np.asarray(values, dtype=object)[codes < 0]})[:5]
            raise ValueError(f"{what.capitalize()} {bad} are not in {what}={list(order)}; add "
                             "them there or drop those spans")
        return codes, domain
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # mixed types cannot be sorted: first appearance
        codes, uniques = pd.factorize(values)
    return codes, pd.Index(uniques)


def item_ids(col: pd.Series) -> pd.Series:
    """Item ids as the store keeps them (``7`` and ``"7"`` are one item), NaN refused."""
    if not col.isna().any() and pd.api.types.infer_dtype(col, skipna=False) == "string":
        return col.astype(object)
    try:
        return col.map(item_id).astype(object)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"spans column 'item_id': {exc}") from None


def _submissions(submitted: Any) -> pd.DataFrame:
    if submitted is None:
        return pd.DataFrame({"item_id": pd.Series([], dtype=object),
                             "annotator": pd.Series([], dtype=object)})
    if isinstance(submitted, pd.DataFrame):
        missing = {"item_id", "annotator"} - set(submitted.columns)
        if missing:
            raise ValueError(f"submitted needs columns item_id and annotator; missing "
                             f"{sorted(missing)}")
        out = submitted[["item_id", "annotator"]]
    elif isinstance(submitted, (str, bytes)) or not isinstance(submitted, Iterable):
        raise TypeError("submitted: expected (item_id, annotator) pairs, as a DataFrame with "
                        f"those columns or a list of tuples; got {type(submitted).__name__}")
    else:
        pairs = list(submitted)
        if any(not isinstance(p, (tuple, list)) or len(p) != 2 for p in pairs):
            raise ValueError("submitted: every entry must be an (item_id, annotator) pair, e.g. "
                             "[('doc1', 'ann'), ...]")
        out = pd.DataFrame(pairs, columns=["item_id", "annotator"], dtype=object)
    if out["annotator"].isna().any():
        raise ValueError(f"submitted has a missing annotator in rows "
                         f"{_rows(out.index, out['annotator'].isna().to_numpy())}")
    return out.assign(item_id=item_ids(out["item_id"]))


def code_spans(spans: Any, submitted: Any = None, labels: Sequence | None = None) -> CodedSpans:
    """Check a spans frame and code it (see the module docstring for the rules)."""
    if not isinstance(spans, pd.DataFrame):
        raise TypeError(f"spans must be a DataFrame with columns {list(SPAN_COLUMNS)}; got "
                        f"{type(spans).__name__}")
    missing = [c for c in SPAN_COLUMNS if c not in spans.columns]
    if missing:
        raise ValueError(f"spans needs columns {list(SPAN_COLUMNS)}; missing {missing} "
                         "(project.spans() returns this frame)")
    for name in ("annotator", "label"):
        absent = spans[name].isna().to_numpy()
        if absent.any():
            raise ValueError(f"spans column {name!r} is missing in rows "
                             f"{_rows(spans.index, absent)}; give every span its {name}, or "
                             "drop those rows (a submission with no spans goes in submitted=)")
    start, end = _offsets(spans["start"], "start"), _offsets(spans["end"], "end")
    for name, values in (("start", start), ("end", end)):
        if (values < 0).any():
            raise ValueError(f"spans column {name!r} is negative in rows "
                             f"{_rows(spans.index, values < 0)}; offsets count characters from 0")
    if (start >= end).any():
        raise ValueError(f"spans with start >= end in rows {_rows(spans.index, start >= end)}: "
                         "a span covers at least one character (end is exclusive); drop empty "
                         "spans or fix their offsets")
    ids = item_ids(spans["item_id"])
    subs = _submissions(submitted)
    all_items = pd.concat([ids, subs["item_id"]], ignore_index=True)
    all_who = pd.concat([spans["annotator"], subs["annotator"]], ignore_index=True)
    item, items = _factorize(all_items.to_numpy(), None, "item_ids")
    who, annotators = _factorize(all_who.to_numpy(), None, "annotators")
    lab, domain = _factorize(spans["label"].to_numpy(), labels, "labels")
    n = len(spans)
    frame = pd.DataFrame({"item": item[:n], "who": who[:n], "lab": lab, "start": start,
                          "end": end})
    if "text" in spans.columns:
        frame["text"] = spans["text"].to_numpy()
    frame = frame.drop_duplicates(["item", "who", "lab", "start", "end"], ignore_index=True)
    key = np.unique(item.astype(np.int64) * max(len(annotators), 1) + who)
    return CodedSpans(frame, items.rename("item_id"), annotators.rename("annotator"),
                      domain.rename("label"), key // max(len(annotators), 1),
                      key % max(len(annotators), 1))
