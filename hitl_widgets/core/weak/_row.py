"""Rows for row-wise LFs: light, read-only, holding what Snorkel's PandasLFApplier passes.

Snorkel's applier runs ``df.apply(f, axis=1)``: each row reaches the LFs as a pandas Series whose
values have the frame's common row dtype (``object`` for a text and an int column, ``float64``
for an int and a float column, ``str`` for text columns only) and whose ``name`` is the index
label. Building and reading that Series costs microseconds per row and per field; this module
reads the same values column-wise once per chunk and hands each LF a :class:`tuple`-backed row:

- ``x.text``, ``x["text"]``, ``x.get("text", default)``, ``x.name``, ``"text" in x``,
  ``len(x)`` and ``x.keys()`` are answered by the row itself, with the value the Series would give
  (same type: a numpy scalar from a numeric row, the object itself from an ``object`` row);
- anything else (``x.index``, ``x.values``, ``x.to_dict()``, iteration, ``x.copy()``, ``x.str``,
  comparisons, ``pickle``/``copy``) is answered by a real Series built for that row on first use,
  so it behaves as in Snorkel;
- setting or deleting a field or an attribute is refused by the row (:class:`RowChanged`), naming
  the LF and the row; a change made through the Series (``x.loc[...] = ...``) is found by comparing
  that Series after the LF returns.

What differs from a Series: ``isinstance(x, pd.Series)`` is False. Frames whose rows this module
does not build (duplicate or MultiIndex columns, datetime rows, other extension dtypes) are left to
the caller, which then passes real Series.
"""

from __future__ import annotations

import keyword
from collections import namedtuple
from typing import Any

import numpy as np
import pandas as pd

# Row dtypes read column-wise here: numpy kinds, and extension dtypes whose column elements are
# exactly the row Series' elements (checked against df.apply in tests/weak/test_lf_rows.py).
_NUMPY_KINDS = frozenset("biufcO")
_EXTENSION_DTYPES = (pd.StringDtype, pd.BooleanDtype, pd.Int8Dtype, pd.Int16Dtype, pd.Int32Dtype,
                     pd.Int64Dtype, pd.UInt8Dtype, pd.UInt16Dtype, pd.UInt32Dtype, pd.UInt64Dtype,
                     pd.Float32Dtype, pd.Float64Dtype)


class RowChanged(ValueError):
    """An LF set or deleted something on the row it was given."""


class RowSource:
    """How ``df.apply(axis=1)`` builds each row of ``df``, read column-wise.

    ``RowSource.of(df)`` is None for frames whose rows are not built here.
    """

    def __init__(self, df, row_dtype, columns_2d, labels):
        self.df = df
        self.columns = df.columns
        self.row_dtype = row_dtype
        self._cols = columns_2d  # per column: an array-like whose elements are the row values
        self._labels = labels  # a list of index labels, or None: read df.index[pos]
        self.changed: tuple | None = None  # (row label, what) of the first change an LF made
        self.opened: list = []  # (label, Series, snapshot) built for the LF running now
        self.row_type = _row_type(self)

    @classmethod
    def of(cls, df) -> RowSource | None:
        columns = df.columns
        if len(df) == 0 or isinstance(columns, pd.MultiIndex) or not columns.is_unique:
            return None
        row_dtype = df.iloc[0].dtype  # df.apply takes the first row's dtype for every row
        if isinstance(row_dtype, np.dtype):
            if row_dtype.kind not in _NUMPY_KINDS:
                return None  # datetimes: apply wraps them in Timestamps
            values = df.values  # what apply iterates over (object rows: ints as Python ints)
            return cls(df, row_dtype, [values[:, k] for k in range(values.shape[1])],
                       list(df.index))
        if not isinstance(row_dtype, _EXTENSION_DTYPES):
            return None
        if any(dtype != row_dtype for dtype in df.dtypes):
            return None  # apply would re-cast each row; not reproduced here
        return cls(df, row_dtype, [df.iloc[:, k].array for k in range(len(columns))], None)

    def rows(self, a: int, b: int):
        """The rows a..b, in order."""
        make = tuple.__new__
        row_type = self.row_type
        columns = [list(col[a:b]) for col in self._cols]
        return [make(row_type, t) for t in zip(*columns, range(a, b), strict=True)]

    def label(self, pos: int):
        return self._labels[pos] if self._labels is not None else self.df.index[pos]

    def series(self, row) -> pd.Series:
        """A Series equal to the one df.apply passes for this row, watched for changes."""
        pos = tuple.__getitem__(row, -1)
        label = self.label(pos)
        if self._labels is not None:
            values = np.empty(len(self.columns), dtype=self.row_dtype)
            for k, col in enumerate(self._cols):
                values[k] = col[pos]
            series = pd.Series(values, index=self.columns, name=label, dtype=self.row_dtype,
                               copy=False)
        else:
            series = pd.Series(pd.array([col[pos] for col in self._cols], dtype=self.row_dtype),
                               index=self.columns, name=label)
        self.opened.append((label, series, _snapshot(series)))
        return series

    def refuse(self, row, what: str):
        label = self.label(tuple.__getitem__(row, -1))
        self.changed = self.changed or (label, what)
        raise RowChanged(change_message(None, label, what))

    def settle(self) -> None:
        """After an LF returns: a change made through a built Series is recorded; Series freed."""
        for label, series, snapshot in self.opened:
            what = _difference(series, snapshot)
            if what is not None and self.changed is None:
                self.changed = (label, what)
        self.opened.clear()


def change_message(lf: str | None, label, what: str) -> str:
    who = f"Labeling function {lf!r}" if lf else "This labeling function"
    return (f"{who} changed the row it was given ({what}, on row {label!r}). LFs must not modify "
            "their input: it would change what the other LFs see. Copy it first (y = x.copy()) "
            "or compute on a local value, e.g. text = x.text.lower().")


def _snapshot(series) -> tuple:
    return tuple(series.index), tuple(series.to_numpy())


def _difference(series, snapshot) -> str | None:
    index, values = snapshot
    if tuple(series.index) != index:
        added = [k for k in series.index if k not in index]
        dropped = [k for k in index if k not in series.index]
        return f"set {added[0]!r}" if added else f"deleted {dropped[0]!r}" if dropped else \
            "reordered its fields"
    for key, a, b in zip(index, series.to_numpy(), values, strict=True):
        if not (a is b or _equal(a, b)):
            return f"set {key!r}"
    return None


def _equal(a, b) -> bool:
    try:
        return bool(a == b) or (a != a and b != b)  # NaN stays NaN
    except Exception:
        return False


# -- the row type ------------------------------------------------------------------------------
# Dunder operations Python looks up on the type (so __getattr__ never sees them): a Series answers.
_SERIES_DUNDERS = (
    "__iter__", "__reversed__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
    "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__",
    "__rpow__", "__and__", "__rand__", "__or__", "__ror__", "__xor__", "__rxor__", "__neg__",
    "__pos__", "__abs__", "__invert__", "__bool__", "__array__", "__repr__", "__str__",
    "__copy__", "__deepcopy__", "__format__", "__matmul__",
    "__rmatmul__", "__divmod__", "__rdivmod__", "__round__",
)
# Tuple methods whose names a Series uses differently.
_SERIES_NAMES = ("index", "count")


def _to_series(name: str):
    def method(self, *args, **kwargs):
        return getattr(self._source.series(self), name)(*args, **kwargs)

    method.__name__ = name
    return method


def _row_type(source: RowSource) -> type:
    """A tuple subclass for this frame's rows: (value, ..., position)."""
    columns = list(source.columns)
    positions = {label: k for k, label in enumerate(columns)}
    getters = namedtuple("_Fields", [f"f{k}" for k in range(len(columns))])

    def __getitem__(self, key):
        try:
            return _get(self, positions[key])
        except (KeyError, TypeError):  # not a field label: slices, lists, masks, positions
            return self._source.series(self)[key]

    def get(self, key, default=None):
        try:
            return _get(self, positions[key])
        except (KeyError, TypeError):
            return self._source.series(self).get(key, default)

    def __contains__(self, key):
        return key in positions if type(key) is str else key in source.columns

    def __getattr__(self, name):  # not a plain field: ask a real Series (methods, odd labels)
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._source.series(self), name)

    def __setattr__(self, name, value):
        self._source.refuse(self, f"set {name!r}")

    def __delattr__(self, name):
        self._source.refuse(self, f"deleted {name!r}")

    def __setitem__(self, key, value):
        self._source.refuse(self, f"set {key!r}")

    def __delitem__(self, key):
        self._source.refuse(self, f"deleted {key!r}")

    namespace: dict[str, Any] = {
        "__slots__": (), "__hash__": None, "_source": source,
        "__getitem__": __getitem__, "get": get, "__contains__": __contains__,
        "__getattr__": __getattr__, "__setattr__": __setattr__, "__delattr__": __delattr__,
        "__setitem__": __setitem__, "__delitem__": __delitem__,
        "__len__": lambda self: len(columns),
        "keys": lambda self: source.columns,
        # pickled (Snorkel's mappers copy this way) as the Series it stands for
        "__reduce_ex__": lambda self, protocol: (_same, (source.series(self),)),
        "__reduce__": lambda self: (_same, (source.series(self),)),
        "name": property(lambda self: source.label(_get(self, -1))),
    }
    for name in _SERIES_DUNDERS:
        if hasattr(pd.Series, name):
            namespace[name] = _to_series(name)
    for name in _SERIES_NAMES:
        namespace[name] = property(lambda self, name=name: getattr(source.series(self), name))
    reserved = set(namespace) | set(dir(tuple))
    attribute_labels = isinstance(source.columns, pd.Index) and (
        source.columns.dtype == object or isinstance(source.columns.dtype, pd.StringDtype))
    for k, label in enumerate(columns):  # x.text: a C-level getter, as fast as a namedtuple's
        if (attribute_labels and isinstance(label, str) and label.isidentifier()
                and not keyword.iskeyword(label) and label not in reserved
                and not hasattr(pd.Series, label)):
            namespace[label] = getattr(getters, f"f{k}")
    return type("LFRow", (tuple,), namespace)


_get = tuple.__getitem__


def _same(value):
    return value
