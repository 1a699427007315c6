"""Streams into batches, and what a batch is asked for: a column, some rows, a NaN check.

A stream is consumed a batch at a time and never materialised: an iterable of rows (dicts or
tuples; a list or an unbounded generator) is read ``batch_size`` rows at a time, an iterable
of pandas DataFrames (e.g. ``pd.read_csv(..., chunksize=...)``) a chunk at a time, and one
DataFrame in slices. With ``max_events`` exactly that many events are taken from the iterator,
no more, so the caller can go on reading it.

Example
-------
>>> import itertools
>>> counter = ({"i": i} for i in itertools.count())
>>> [len(b) for b in batches(counter, batch_size=4, max_events=10)]
[4, 4, 2]
>>> next(counter)
{'i': 10}
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def batches(stream: Any, *, batch_size: int, max_events: int | None = None) -> Iterator[Any]:
    """Batches (DataFrames or lists of rows) from a stream, reading no more than needed."""
    left = math.inf if max_events is None else max_events
    if isinstance(stream, pd.DataFrame):
        frame = stream
        stream = (frame.iloc[i: i + batch_size] for i in range(0, len(frame), batch_size))
    elif isinstance(stream, (str, bytes, Mapping)) or not isinstance(stream, Iterable):
        raise TypeError(f"a stream must be an iterable of rows (dicts or tuples), of pandas "
                        f"DataFrames, or a DataFrame; got {type(stream).__name__}")
    it = iter(stream)
    while left > 0:
        first = next(it, _END)
        if first is _END:
            return
        if isinstance(first, pd.DataFrame):
            chunk = first.iloc[: int(min(left, len(first)))] if left < len(first) else first
            left -= len(chunk)
            yield chunk
            continue
        rows = [first, *itertools.islice(it, int(min(left, batch_size)) - 1)]
        left -= len(rows)
        yield rows


_END = object()


class Batch:
    """One batch seen through one interface, whether a DataFrame or a list of rows."""

    def __init__(self, batch: Any):
        if isinstance(batch, Mapping):  # columns -> arrays
            batch = pd.DataFrame(dict(batch))
        self._columns: list | None = None
        if isinstance(batch, pd.DataFrame):
            self.frame: pd.DataFrame | None = batch
            self.rows: list | None = None
            self.n = len(batch)
        elif isinstance(batch, (list, tuple)):
            self.frame, self.rows, self.n = None, list(batch), len(batch)
            kinds = {type(r) for r in self.rows}
            # exact dicts or tuples (the common case) skip the slower abstract-class check
            if kinds <= {dict} or kinds <= {tuple}:
                return
            if not all(isinstance(r, (Mapping, tuple)) for r in self.rows):
                bad = next(r for r in self.rows if not isinstance(r, (Mapping, tuple)))
                raise TypeError(f"rows must be dicts or tuples, not {type(bad).__name__} "
                                f"{bad!r:.60}; wrap each event as a dict, e.g. "
                                "{'text': ..., 'label': ...}")
            if len({issubclass(k, Mapping) for k in kinds}) > 1:
                raise TypeError("a batch mixes dict and tuple rows; give every row the same form")
        else:
            raise TypeError(f"a batch must be a pandas DataFrame, a list of dicts or tuples, "
                            f"or a dict of columns; got {type(batch).__name__}")

    def column(self, by: str | int | Callable) -> Sequence:
        """The value ``by`` names for every event (a column, a tuple position or a function)."""
        if callable(by):
            return [by(row) for row in self._all_rows()]
        if self.frame is not None:
            if by in self.frame.columns:
                return self.frame[by].to_numpy()
            if isinstance(by, numbers.Integral) and 0 <= by < self.frame.shape[1]:
                return self.frame.iloc[:, int(by)].to_numpy()
            raise KeyError(f"no column {by!r} in this batch; its columns are "
                           f"{list(self.frame.columns)}")
        out = []
        for pos, row in enumerate(self.rows or ()):
            try:
                out.append(row[by])
            except (KeyError, IndexError, TypeError):
                have = list(row) if isinstance(row, Mapping) else f"a tuple of {len(row)}"
                raise KeyError(f"event {pos} of this batch has no {by!r}; it has {have}. "
                               "Name a key (dict rows), a position (tuple rows) or pass a "
                               "function of the row") from None
        return out

    def take(self, positions: np.ndarray) -> list:
        """The rows at ``positions`` (dicts for DataFrames), built only for those."""
        if self.frame is not None:
            # Columns as numpy arrays once per batch: a few rows at a time from them costs
            # microseconds, where DataFrame.iloc[...].to_dict costs a millisecond per call.
            if self._columns is None:
                # (times as Timestamps, as to_dict gives them, not datetime64's raw ints)
                self._columns = [c.to_numpy(dtype=object) if c.dtype.kind in "mM"
                                 else c.to_numpy() for _, c in self.frame.items()]
            names = list(self.frame.columns)
            picked = [col[positions].tolist() for col in self._columns]
            return [dict(zip(names, values, strict=True)) for values in zip(*picked, strict=True)]
        return [self.rows[p] for p in positions.tolist()]

    def _all_rows(self) -> list:
        if self.frame is not None:
            return self.frame.to_dict("records")
        return self.rows or []

    def check_finite(self, features: Sequence | None) -> None:
        """Refuse NaN or infinite features: ``features`` names them (None = every number)."""
        if self.frame is not None:
            cols = (self.frame.select_dtypes("number").columns if features is None
                    else list(features))
            for col in cols:
                if col not in self.frame.columns:
                    raise KeyError(f"feature column {col!r} is not in this batch; its columns "
                                   f"are {list(self.frame.columns)}")
                values = self.frame[col].to_numpy()
                if values.dtype.kind in "fc":
                    bad = np.flatnonzero(~np.isfinite(values))
                    if len(bad):
                        _not_finite(int(bad[0]), col, values[bad[0]])
                elif values.dtype.kind not in "iub":
                    for pos, value in enumerate(values):
                        _check_value(value, pos, col)
            return
        wanted = None if features is None else set(features)
        for pos, row in enumerate(self.rows or ()):
            pairs = (row.items() if isinstance(row, Mapping) else enumerate(row))
            for key, value in pairs:
                kind = type(value)
                if kind in _NOT_FEATURES or (wanted is not None and key not in wanted):
                    continue
                if kind is float:
                    if value - value != 0.0:  # NaN and inf give NaN here: one test for both
                        _not_finite(pos, key, value)
                else:
                    _check_value(value, pos, key)


_NOT_FEATURES = {int, str, bool, type(None)}  # cannot be NaN: skipped fast


def _check_value(value: Any, pos: int, key: Any) -> None:
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            _not_finite(pos, key, value)
    elif isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        if not np.isfinite(value).all():
            _not_finite(pos, key, "an array holding NaN or inf")


def _not_finite(pos: int, key: Any, value: Any) -> None:
    raise ValueError(f"event {pos} of this batch has {value} in feature {key!r}; features must "
                     "be finite: drop or impute such events before ingesting (features=[...] "
                     "names the columns checked). Nothing from this batch was ingested")
