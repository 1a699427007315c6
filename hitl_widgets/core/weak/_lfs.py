"""Labeling functions written for the whole frame, and the glue between LFs and a project.

The vectorised LFs run once on the whole frame, hundreds of times faster than row by row:

- :func:`vectorized_lf` decorates ``f(df) -> int array (n,)``;
- :func:`keyword_lf`, :func:`regex_lf`, :func:`threshold_lf` build vectorised LFs. Missing or
  non-string text (NaN, None, numbers in an object column) makes keyword and regex LFs abstain.

For a project: :func:`apply_to_project`, :func:`human_labels`, :func:`store_weak_labels` and
:class:`WeakLabelQueue`.

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"text": ["Subscribe to my channel", "great song", None]})
>>> lfs = [keyword_lf("subscribe", ["subscribe"], "spam", labels=["ham", "spam"]),
...        keyword_lf("song", ["song"], "ham", labels=["ham", "spam"])]
>>> apply_lfs(df, lfs).tolist()
[[1, -1], [-1, 0], [-1, -1]]
"""

from __future__ import annotations

import operator
import re
import weakref
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..labeling import Queue, SequentialQueue
from ..store import Ledger
from ._apply import LFReport, apply_lfs
from ._cache import LFCache

__all__ = ["ABSTAIN", "AppliedLFs", "VectorizedLF", "WeakLabelQueue", "apply_to_project",
           "human_labels", "keyword_lf", "regex_lf", "store_weak_labels", "threshold_lf",
           "vectorized_lf"]

ABSTAIN = -1
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
        "==": operator.eq, "!=": operator.ne}


class VectorizedLF:
    """A labeling function over the whole frame: ``f(df)`` returns one int label per row.

    Calling it on a frame returns that array; :func:`apply_lfs` checks it (length, ints in range)
    and hands ``f`` a shallow copy-on-write copy, so an accidental assignment never reaches the
    caller's frame (and is reported).
    """

    vectorized = True

    def __init__(self, name: str, f: Callable, spec: dict | None = None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"A labeling function needs a non-empty name, not {name!r}")
        if not callable(f):
            raise TypeError(f"f must be a function of the frame, not {type(f).__name__}")
        self.name = name
        self.f = f
        self.spec = spec or {}  # what a helper was built from; part of the cache key

    def __call__(self, df):
        return self.f(df)

    def __repr__(self) -> str:
        detail = ", ".join(f"{k}={v!r}" for k, v in self.spec.items())
        return f"VectorizedLF({self.name!r}{', ' + detail if detail else ''})"


def vectorized_lf(name: str | None = None) -> Callable[[Callable], VectorizedLF]:
    """Decorate ``f(df) -> int array (n,)`` (-1 abstains) as a vectorised LF.

    >>> import pandas as pd
    >>> @vectorized_lf()
    ... def has_link(df):
    ...     return np.where(df["text"].str.contains("http", na=False), 1, -1)
    >>> has_link(pd.DataFrame({"text": ["see http://x", "hi"]})).tolist()
    [1, -1]
    """
    if callable(name):
        raise TypeError("vectorized_lf needs parentheses: @vectorized_lf() or "
                        "@vectorized_lf(name='...')")

    def wrap(f: Callable) -> VectorizedLF:
        return VectorizedLF(name or f.__name__, f)

    return wrap


def _label_int(label: Any, labels: Sequence[str] | None) -> int:
    if isinstance(label, str):
        if labels is None:
            raise TypeError(f"label {label!r} is a name: pass labels=[...] (the schema's label "
                            "names, in order) or give its int position")
        if label not in list(labels):
            raise ValueError(f"Unknown label {label!r}; expected one of {list(labels)}")
        return list(labels).index(label)
    if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)):
        raise TypeError(f"label must be an int position or a label name, not {label!r}")
    if label < 0 or (labels is not None and label >= len(labels)):
        raise ValueError(f"label {label} is out of range; expected 0..{len(labels or [0, 0]) - 1}")
    return int(label)


def _text(df, column: str, name: str):
    if column not in df.columns:
        raise KeyError(f"LF {name!r} reads column {column!r}, which the frame lacks; columns: "
                       f"{list(df.columns)}")
    col = df[column]
    if col.dtype.kind in "iufcbmM":  # numbers or dates: no text to search
        raise TypeError(f"LF {name!r} searches text but column {column!r} is {col.dtype}; "
                        "use threshold_lf for numbers")
    return col


def keyword_lf(name: str, keywords: Sequence[str] | str, label: Any, column: str = "text",
               case: bool = False, labels: Sequence[str] | None = None) -> VectorizedLF:
    """Vote ``label`` where ``column`` contains any of ``keywords`` (substrings), else abstain.

    Case-insensitive by default, like the Snorkel tutorial's ``word in x.text.lower()``. Missing
    or non-string values abstain.

    >>> import pandas as pd
    >>> lf = keyword_lf("check", ["check", "subscribe"], 1)
    >>> lf(pd.DataFrame({"text": ["CHECK this", "nice", float("nan")]})).tolist()
    [1, -1, -1]
    """
    words = [keywords] if isinstance(keywords, str) else list(keywords)
    if not words or not all(isinstance(w, str) and w for w in words):
        raise ValueError(f"keywords must be non-empty strings, got {keywords!r}")
    value = _label_int(label, labels)

    def f(df):
        text = _text(df, column, name)
        hit = np.zeros(len(df), dtype=bool)
        for word in words:  # plain substring tests: no regex engine, no lowered copy
            found = text.str.contains(word, case=case, regex=False, na=False)
            hit |= found.to_numpy(dtype=bool)
        return np.where(hit, value, ABSTAIN)

    spec = {"keywords": words, "label": value, "column": column, "case": case}
    return VectorizedLF(name, f, spec)


def regex_lf(name: str, pattern: str, label: Any, column: str = "text", flags: int = 0,
             labels: Sequence[str] | None = None) -> VectorizedLF:
    """Vote ``label`` where ``re.search(pattern, value, flags)`` matches, else abstain.

    Missing or non-string values abstain.

    >>> import pandas as pd, re
    >>> lf = regex_lf("check_out", r"check.*out", 1, flags=re.I)
    >>> lf(pd.DataFrame({"text": ["Check it out", "out check"]})).tolist()
    [1, -1]
    """
    try:
        re.compile(pattern, flags)
    except (re.error, TypeError) as exc:
        raise ValueError(f"regex_lf {name!r}: invalid pattern {pattern!r} ({exc})") from exc
    value = _label_int(label, labels)

    inline = _inline_flags(pattern, flags)

    def f(df):
        text = _text(df, column, name)
        hit = None
        if inline is not None:  # Arrow's regex engine (RE2), 10x faster than Python's re
            try:
                hit = text.str.contains(inline, regex=True, na=False)
            except Exception:  # syntax RE2 lacks (look-arounds, back-references)
                hit = None
        if hit is None:
            hit = text.astype(object).str.contains(pattern, flags=flags, regex=True, na=False)
        return np.where(hit.to_numpy(dtype=bool), value, ABSTAIN)

    spec = {"pattern": pattern, "flags": int(flags), "label": value, "column": column}
    return VectorizedLF(name, f, spec)


def _inline_flags(pattern: str, flags: int) -> str | None:
    """The pattern with IGNORECASE / MULTILINE / DOTALL written inline, or None when other
    flags make only Python's re safe."""
    letters = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s"}
    rest = flags & ~(re.IGNORECASE | re.MULTILINE | re.DOTALL)
    if rest not in (0, re.UNICODE):  # re.UNICODE is the default for str patterns
        return None
    inline = "".join(c for flag, c in letters.items() if flags & flag)
    return f"(?{inline}){pattern}" if inline else pattern


def threshold_lf(name: str, column: str, op: str, value: float, label: Any,
                 labels: Sequence[str] | None = None) -> VectorizedLF:
    """Vote ``label`` where ``df[column] <op> value`` (op one of > >= < <= == !=); NaN abstains.

    >>> import pandas as pd
    >>> lf = threshold_lf("short", "n_words", "<", 5, 0)
    >>> lf(pd.DataFrame({"n_words": [3, 9, None]})).tolist()
    [0, -1, -1]
    """
    if op not in _OPS:
        raise ValueError(f"op must be one of {list(_OPS)}, not {op!r}")
    target = _label_int(label, labels)

    def f(df):
        if column not in df.columns:
            raise KeyError(f"LF {name!r} reads column {column!r}, which the frame lacks; "
                           f"columns: {list(df.columns)}")
        col = df[column]
        hit = _OPS[op](col, value) & col.notna()
        return np.where(hit.to_numpy(dtype=bool), target, ABSTAIN)

    spec = {"column": column, "op": op, "value": value, "label": target}
    return VectorizedLF(name, f, spec)


# -- project glue ---------------------------------------------------------------------------
class AppliedLFs(NamedTuple):
    """``L`` (n_items, n_lfs), the item ids of its rows, and the apply report."""

    L: np.ndarray
    item_ids: list[str]
    report: LFReport


_PROJECT_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _frame_and_version(project, column: str):
    import json

    import pandas as pd

    rows = project.store.items_table()
    records = []
    for r in rows:
        meta, fields = r["meta"], r["fields"]
        # most items carry neither: skip the parse (a million of them cost seconds)
        record = {**(json.loads(meta) if meta and meta != "{}" else {}),
                  **(json.loads(fields) if fields and fields != "{}" else {})}
        record[column] = r["text"]
        records.append(record)
    ids = [r["item_id"] for r in rows]
    frame = pd.DataFrame.from_records(records, index=pd.Index(ids, name="item_id"))
    if column not in frame.columns:
        frame[column] = pd.Series(dtype=object)
    # Items are append-only (re-adding an id is a no-op): count + last seq identify the data.
    version = f"{project.store.path}:{len(rows)}:{rows[-1]['seq'] if rows else 0}:{column}"
    return frame, version


def apply_to_project(project, lfs: Sequence, column: str = "text", *,
                     cache: LFCache | None = None, progress=None, n_jobs: int = 1) -> AppliedLFs:
    """Apply ``lfs`` to the project's items; LFs may return the schema's label names.

    Outputs are cached per project (keyed by the item count and last item, which change whenever
    items are added), so re-applying after editing one LF re-runs only that one.

    >>> import tempfile, os
    >>> from hitl_widgets.core.project import Project
    >>> p = Project(os.path.join(tempfile.mkdtemp(), "w.hitl"), labels=["ham", "spam"])
    >>> _ = p.add_items(["win a prize", "hi mum"], id=["a", "b"])
    >>> out = apply_to_project(p, [keyword_lf("prize", ["prize"], "spam", labels=p.schema.labels)])
    >>> out.L.tolist(), out.item_ids
    ([[1], [-1]], ['a', 'b'])
    """
    project = Ledger.of(project)
    _single_label(project)
    if cache is None:
        cache = _PROJECT_CACHES.setdefault(project, LFCache())
    frame, version = _frame_and_version(project, column)
    L, report = apply_lfs(frame, lfs, labels=project.schema.labels, cache=cache,
                          data_version=version, progress=progress,
                          n_jobs=n_jobs, return_report=True)
    return AppliedLFs(L, [str(i) for i in frame.index], report)


def _single_label(project) -> None:
    if project.schema.multi_label:
        raise ValueError("Weak supervision here is single-label: this project is multi-label. "
                         "Use one project per label.")


def human_labels(project, item_ids: Sequence[str]) -> np.ndarray:
    """Y for ``item_ids``: each item's human label as its schema position, -1 where none yet.

    With several annotators, an item's most frequent label counts (the first in schema order on
    a tie).
    """
    import pandas as pd

    _single_label(project)
    rows = [r for r in project.store.current_labels() if r["source"] == "human"]
    if not rows:
        return np.full(len(item_ids), -1, dtype=np.int64)
    position = {name: k for k, name in enumerate(project.schema.labels)}
    # items x schema positions (ascending), so argmax's first maximum is the first label in
    # schema order on a tie; vectorised because the LFStudio recomputes Y on every human label.
    counts = pd.crosstab(pd.Series([r["item_id"] for r in rows]),
                         pd.Series([position[r["labels"][0]] for r in rows]))
    best = pd.Series(counts.columns.to_numpy()[counts.to_numpy().argmax(axis=1)],
                     index=counts.index)
    return best.reindex(list(item_ids)).fillna(-1).to_numpy(dtype=np.int64)


def store_weak_labels(project, probs, item_ids: Sequence[str], threshold: float = 0.8, *,
                      version: str | None = None) -> list[str]:
    """Store probabilistic labels as ``source="lf"`` suggestions; return the items humans
    should label: top probability below ``threshold``, least confident first.

    Rows whose top labels tie (no LF voted, or a tied vote) get no suggestion and are returned.
    Serve the returned ids with :class:`WeakLabelQueue`; the Labeler shows the weak label as
    each item's suggestion.
    """
    _single_label(project)
    probs = np.asarray(probs, dtype=float)
    item_ids = [str(i) for i in item_ids]
    k = len(project.schema.labels)
    if probs.ndim != 2 or probs.shape != (len(item_ids), k):
        raise ValueError(f"probs must have shape (len(item_ids), n_labels) = "
                         f"({len(item_ids)}, {k}), got {probs.shape}")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a probability in [0, 1], not {threshold!r}")
    top = probs.max(axis=1)
    tied = (np.abs(probs - top[:, None]) < 1e-9).sum(axis=1) > 1
    best = probs.argmax(axis=1)
    keep = np.flatnonzero(~tied)
    if len(keep):
        Ledger.of(project).suggest([item_ids[i] for i in keep],
                        [project.schema.labels[best[i]] for i in keep],
                        [float(top[i]) for i in keep], source="lf", version=version)
    unsure = np.flatnonzero(tied | (top < threshold))
    order = unsure[np.argsort(top[unsure], kind="stable")]
    return [item_ids[i] for i in order]


class WeakLabelQueue(Queue):
    """Serve the given items first (e.g. those the label model is unsure of), then the rest in
    the order they were added. A :class:`~hitl_widgets.core.labeling.Queue`: an item undone
    anywhere, even in another kernel, is served again.

    >>> import tempfile, os
    >>> from hitl_widgets.core.project import Project
    >>> p = Project(os.path.join(tempfile.mkdtemp(), "q.hitl"), labels=["ham", "spam"])
    >>> _ = p.add_items(["a", "b", "c"], id=["1", "2", "3"])
    >>> WeakLabelQueue(["3"]).next_ids(p, "ana", set(), 2)
    ['3', '1']
    """

    def __init__(self, item_ids: Sequence[str]):
        if isinstance(item_ids, str):
            raise TypeError("item_ids must be a list of item ids, not one string")
        self.item_ids = list(dict.fromkeys(str(i) for i in item_ids))
        self._rest = SequentialQueue()
        self._checked_in = None  # the project whose items the ids were checked against

    def next_ids(self, project, annotator: str, exclude: set[str], n: int) -> list[str]:
        if self._checked_in is not project:
            _check_known(project, self.item_ids)
            self._checked_in = project
        out = [i for i in self.item_ids if i not in exclude][:n]
        if len(out) < n:
            out += self._rest.next_ids(project, annotator, exclude | set(out), n - len(out))
        return out

    def reset(self, annotator: str) -> None:
        """Forget the fallback cursor (after an undo, here or in another kernel)."""
        self._rest.reset(annotator)


def _check_known(project, item_ids: list[str]) -> None:
    known = project.store.get_items(item_ids)
    missing = [i for i in item_ids if i not in known]
    if missing:
        raise KeyError(f"WeakLabelQueue was given item id(s) {missing[:5]!r} ({len(missing)} in "
                       "all) that are not items of this project; give ids from project.items(), "
                       "e.g. the ones store_weak_labels returned")
