"""Fingerprints of labeling functions and frames, and the cache of LF outputs they key.

An LF's fingerprint hashes what decides its output: its name, its code (the bytecode, and the
source text when ``inspect`` can find it), the values its closure and defaults capture, the plain
data it reads from module globals (a keyword list defined in another cell), Snorkel resources and
preprocessors. Editing one LF changes its fingerprint only, so re-applying a set of LFs re-runs
that one alone.

A frame's version hashes its index, column names, dtypes and every value (from the column
buffers: about 50 ms per million short texts). Callers that already
know their data version (a project's item count and last item) pass it instead and skip the hash.

Example
-------
>>> import pandas as pd
>>> cache = LFCache()
>>> df = pd.DataFrame({"text": ["a", "b"]})
>>> key = frame_version(df)
>>> frame_version(df) == key
True
>>> frame_version(df.assign(text=["a", "c"])) == key
False
"""

from __future__ import annotations

import hashlib
import inspect
import types
from collections import OrderedDict
from typing import Any

import numpy as np

_PLAIN = (str, bytes, int, float, complex, bool, type(None), tuple, list, dict, set, frozenset,
          range, np.ndarray, np.generic)
_MAX_DEPTH = 3  # helper functions called by an LF are followed this deep


def lf_fingerprint(lf: Any) -> str:
    """A hex digest that changes when the LF's behaviour may have changed.

    >>> from hitl_widgets.core.weak import keyword_lf
    >>> a = keyword_lf("kw", ["win"], 1)
    >>> lf_fingerprint(a) == lf_fingerprint(keyword_lf("kw", ["win"], 1))
    True
    >>> lf_fingerprint(a) == lf_fingerprint(keyword_lf("kw", ["prize"], 1))
    False
    """
    h = hashlib.sha1()
    h.update(type(lf).__qualname__.encode())
    h.update(repr(getattr(lf, "name", None)).encode())
    f = getattr(lf, "_f", None) or getattr(lf, "f", None) or lf
    _feed_callable(h, f, depth=0, seen=set())
    for attr in ("_resources", "_pre", "spec"):  # Snorkel resources / preprocessors, our helpers
        if hasattr(lf, attr):
            h.update(attr.encode())
            _feed_value(h, getattr(lf, attr), depth=0, seen=set())
    return h.hexdigest()


def _feed_callable(h, f: Any, depth: int, seen: set) -> None:
    if id(f) in seen or depth > _MAX_DEPTH:
        return
    seen.add(id(f))
    f = inspect.unwrap(f) if callable(f) else f
    code = getattr(f, "__code__", None)
    if code is None:  # a callable object (a Snorkel preprocessor, a class): its repr and type
        h.update(type(f).__qualname__.encode())
        h.update(_safe_repr(f).encode())
        call = type(f).__dict__.get("__call__")  # the class's own call, if written in Python
        if call is not None and hasattr(call, "__code__") and depth < _MAX_DEPTH:
            _feed_callable(h, call, depth + 1, seen)
        return
    try:  # the source catches edits that compile to the same bytecode (constants folded away)
        h.update(inspect.getsource(f).encode())
    except (OSError, TypeError):  # exec'd code, lambdas typed at a prompt: the bytecode decides
        pass
    _feed_code(h, code)
    for value in (f.__defaults__ or ()):
        _feed_value(h, value, depth, seen)
    _feed_value(h, f.__kwdefaults__ or {}, depth, seen)
    for cell in f.__closure__ or ():
        try:
            _feed_value(h, cell.cell_contents, depth, seen)
        except ValueError:  # an empty cell (a name assigned after the function was made)
            h.update(b"<empty cell>")
    # Globals the code names: plain data (keyword lists) and helper functions it calls.
    namespace = getattr(f, "__globals__", {})
    for name in _global_names(code):
        if name in namespace:
            h.update(name.encode())
            _feed_value(h, namespace[name], depth, seen)


def _feed_code(h, code: types.CodeType) -> None:
    h.update(code.co_code)
    h.update(repr(code.co_names).encode())
    h.update(repr(code.co_varnames).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _feed_code(h, const)
        else:
            h.update(repr(const).encode())


def _global_names(code: types.CodeType) -> list[str]:
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names += _global_names(const)
    return names


def _feed_value(h, value: Any, depth: int, seen: set) -> None:
    if isinstance(value, types.ModuleType):
        h.update(value.__name__.encode())
    elif isinstance(value, (types.FunctionType, types.MethodType)):
        _feed_callable(h, value, depth + 1, seen)
    elif isinstance(value, np.ndarray):
        h.update(str(value.dtype).encode() + repr(value.shape).encode())
        h.update(np.ascontiguousarray(value).tobytes() if value.dtype != object
                 else _safe_repr(value.tolist()).encode())
    elif isinstance(value, _PLAIN) or getattr(value, "pattern", None) is not None:
        h.update(_safe_repr(value).encode())  # a compiled regex's repr holds its pattern
    elif hasattr(value, "name") and hasattr(value, "_f"):  # an LF used inside another LF
        h.update(lf_fingerprint(value).encode())
    else:  # other objects (a model, a spaCy pipeline): their type; reload them to re-run
        h.update(type(value).__qualname__.encode())


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not break applying LFs
        return f"<{type(value).__qualname__}>"


def frame_version(df, columns=None) -> str:
    """A hex digest of a frame's index and of ``columns`` (all by default): names, dtypes, values.

    Arrow-backed columns (pandas' default ``str``) and numeric columns are hashed from their
    memory buffers (about 40 ms per million short texts); object columns through
    ``pandas.util.hash_pandas_object`` (ten times slower). Raises TypeError when a column holds
    unhashable values (lists, dicts): pass ``data_version=`` to
    :func:`~hitl_widgets.core.weak.apply_lfs` then.
    """
    return FrameDigests(df).key(columns)


class FrameDigests:
    """Digests of a frame's index and columns, each computed once, combined per LF: an LF that
    reads one column (a keyword LF) keeps its cached output when other columns change."""

    def __init__(self, df):
        self.df = df
        self._parts: dict = {}

    def _part(self, name, compute) -> str:
        if name not in self._parts:
            h = hashlib.sha1()
            compute(h)
            self._parts[name] = h.hexdigest()
        return self._parts[name]

    def key(self, columns=None) -> str:
        """The data version for an LF reading ``columns`` (None: every column)."""
        df = self.df
        if columns is None:
            positions = list(range(len(df.columns)))
        else:  # by position: a frame may repeat a column name
            wanted = set(columns)
            positions = [k for k, c in enumerate(df.columns) if c in wanted]
        h = hashlib.sha1()
        h.update(str(len(df)).encode())
        h.update(self._part(("index",), lambda g: _feed_index(g, df.index)).encode())
        for k in positions:
            h.update(repr((str(df.columns[k]), str(df.dtypes.iloc[k]))).encode())
            h.update(self._part(("col", k),
                                lambda g, k=k: _feed_column(g, df.iloc[:, k])).encode())
        return h.hexdigest()


def _feed_index(h, index) -> None:
    import pandas as pd

    if isinstance(index, pd.RangeIndex):
        h.update(repr((index.start, index.stop, index.step)).encode())
    else:
        _feed_column(h, index.to_series(index=pd.RangeIndex(len(index))))


def _feed_column(h, column) -> None:
    import pandas as pd

    values = column.array
    if hasattr(values, "__arrow_array__") and not isinstance(values, np.ndarray):
        try:  # Arrow memory: validity, offsets and data buffers of each chunk, as they are
            chunks = values.__arrow_array__()
            for chunk in getattr(chunks, "chunks", [chunks]):
                h.update(repr((chunk.offset, len(chunk))).encode())
                for buffer in chunk.buffers():
                    if buffer is not None:
                        h.update(memoryview(buffer))
            return
        except (TypeError, ValueError, AttributeError):
            pass  # not Arrow after all: hash the values below
    raw = column.to_numpy()
    if raw.dtype != object:
        h.update(np.ascontiguousarray(raw).view(np.uint8).tobytes())
    else:
        h.update(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes())


class LFCache:
    """LF outputs keyed by (LF fingerprint, data version), least recently used dropped first.

    Parameters
    ----------
    max_entries : how many (LF, data version) columns to keep; one column of a million rows
        takes 1 MB (int8) to 8 MB.

    Example
    -------
    >>> import pandas as pd
    >>> from hitl_widgets.core.weak import apply_lfs, keyword_lf
    >>> cache = LFCache()
    >>> df = pd.DataFrame({"text": ["win a prize", "hi mum"]})
    >>> apply_lfs(df, [keyword_lf("prize", ["prize"], 1)], cache=cache).tolist()
    [[1], [-1]]
    >>> cache.hits, cache.misses
    (0, 1)
    >>> _ = apply_lfs(df, [keyword_lf("prize", ["prize"], 1)], cache=cache)
    >>> cache.hits, cache.misses
    (1, 1)
    """

    def __init__(self, max_entries: int = 256):
        if not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a positive int, not {max_entries!r}")
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], tuple[np.ndarray, Any]] = OrderedDict()
        self._versions: dict[str, list[str]] = {}  # per LF name: its last two fingerprints
        self.hits = 0
        self.misses = 0

    def get(self, lf_key: str, data_key: str):
        """The stored (column, error) for this LF on this data, or None."""
        entry = self._entries.get((lf_key, data_key))
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end((lf_key, data_key))
        self.hits += 1
        return entry

    def put(self, lf_key: str, data_key: str, column: np.ndarray, error: Any = None) -> None:
        """Store one LF's validated output column (read-only) and its error record, if any."""
        column = np.asarray(column)
        column.setflags(write=False)  # a caller editing L must not edit the cache
        self._entries[(lf_key, data_key)] = (column, error)
        self._entries.move_to_end((lf_key, data_key))
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def previous(self, name: str, lf_key: str, data_key: str) -> np.ndarray | None:
        """The output of the version of LF ``name`` applied before ``lf_key`` on this data, if
        it is still stored; then ``lf_key`` becomes the version to compare the next edit to."""
        versions = self._versions.setdefault(name, [])
        if versions and versions[-1] == lf_key:
            before = versions[-2] if len(versions) > 1 else None
        else:
            before = versions[-1] if versions else None
            versions.append(lf_key)
            del versions[:-2]
        entry = self._entries.get((before, data_key)) if before is not None else None
        return None if entry is None else entry[0]

    def clear(self) -> None:
        """Forget every stored output."""
        self._entries.clear()
        self._versions.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"LFCache(entries={len(self)}, hits={self.hits}, misses={self.misses})"
