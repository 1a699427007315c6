"""Apply labeling functions to a frame: the L matrix, checked, cached, with a report of failures.

The L matrix follows Snorkel's contract: ``(n_rows, n_lfs)`` ints, ``-1`` abstains; for Snorkel
LFs it equals ``PandasLFApplier(lfs).apply(df)``. Vectorised LFs (see
:func:`~hitl_widgets.core.weak.vectorized_lf`) run once on the whole frame; row-wise (Snorkel) LFs
run together in one pass over the rows, in chunks, on several processes when asked; each row
reaches them as a light read-only row (see :mod:`._lf_row`) holding what Snorkel's Series holds.

What is refused, naming the LF (and the row): duplicate names; a label outside ``-1 ..
cardinality - 1`` or unknown to ``labels``; a float, even a whole one (``1.0``), and a bool
(``True`` is not label 1); ``None`` (Snorkel fails on it too; return ``-1`` to abstain); a
vectorised output of the wrong length or of a float, bool or object dtype; a vectorised pandas
Series whose index is not the frame's rows; an LF that changes the row or frame it was given.
Other LFs' outputs are cached before the error is raised, so fixing the one LF re-runs only it.

A vectorised LF's pandas Series is aligned on the frame's index (a Series in another row order
puts each vote on its own row); a numpy array is taken in row order.

Where Snorkel (0.10) differs on bad outputs: it raises an unexplained TypeError on ``None``
(also with ``fault_tolerant=True``), truncates 0.5 to label 0, reads ``1.0`` as label 1 and
``True`` as label 1, stores any label >= 0 whatever the cardinality, and reads -3 as abstain.
Here ``None``, floats and bools are TypeErrors naming the LF, row and fix; -3 is a ValueError; a
label >= cardinality is a ValueError when ``labels`` or ``cardinality`` is given (without them,
any label >= 0 is kept, as in Snorkel).

What is not refused: an LF raising an exception. Its other rows keep their labels, the failing
rows abstain, and the failures are listed in an :class:`LFReport` (``return_report=True``; a
warning otherwise).
"""

from __future__ import annotations

import multiprocessing
import numbers
import os
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..progress import Progress, check_progress, progress_bar
from ._cache import FrameDigests, LFCache, frame_version, lf_fingerprint
from ._row import RowSource, change_message

FAILED = object()  # a vectorised LF's output when it raised
PARALLEL_MIN_ROWS = 20_000  # below this, starting processes costs more than it saves
CHUNK_ROWS = 5_000  # rows per chunk of the row-wise pass: the progress callback's granularity
BAR_FROM = 200_000  # LF-row applications from which apply_lfs shows a bar by default


@dataclass
class LFError:
    """An LF that raised: on which rows (the frame's index labels), how often, and why."""

    lf: str
    count: int
    rows: list
    error: str  # repr of the first exception
    errors: dict[str, int] = field(default_factory=dict)  # each distinct repr and its count

    def __repr__(self) -> str:
        head = ", ".join(map(repr, self.rows[:5])) + (", ..." if self.count > 5 else "")
        return f"LFError(lf={self.lf!r}, count={self.count}, rows=[{head}], error={self.error})"


@dataclass
class LFChange:
    """Rows (positions in the frame) where an edited LF's output differs from its previous
    version's, with the labels before and after (-1 = abstain)."""

    rows: np.ndarray
    before: np.ndarray
    after: np.ndarray

    def __repr__(self) -> str:
        gained = int(((self.before == -1) & (self.after != -1)).sum())
        lost = int(((self.before != -1) & (self.after == -1)).sum())
        return (f"LFChange({len(self.rows)} rows: {gained} newly labeled, {lost} no longer "
                f"labeled, {len(self.rows) - gained - lost} relabeled)")


@dataclass
class LFReport:
    """What happened while applying: LF failures and cache use. Falsy when nothing failed."""

    errors: list[LFError] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)  # LFs computed by this call
    cached: list[str] = field(default_factory=list)  # LFs read from the cache
    # Per LF edited since its last apply on the same data (cache needed): what its edit changed.
    changed: dict[str, LFChange] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def to_frame(self):
        """One row per failing LF: lf, count, error, rows."""
        import pandas as pd

        return pd.DataFrame([(e.lf, e.count, e.error, e.rows) for e in self.errors],
                            columns=["lf", "count", "error", "rows"])


def lf_name(lf: Any) -> str:
    name = getattr(lf, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"{lf!r} is not a labeling function: decorate a row function with Snorkel's "
            "@labeling_function() or a frame function with @vectorized_lf(), or use "
            "keyword_lf / regex_lf / threshold_lf")
    if not callable(lf):
        raise TypeError(f"labeling function {name!r} is not callable")
    return name


def check_lfs(lfs: Sequence) -> list[str]:
    """The LFs' names; TypeError for a non-LF, ValueError naming duplicated names."""
    if callable(lfs) and hasattr(lfs, "name"):
        raise TypeError("lfs must be a list of labeling functions; wrap a single one: [lf]")
    names = [lf_name(lf) for lf in lfs]
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise ValueError(f"Labeling function names must be unique; repeated: {dupes}. "
                         "Give each a distinct name (e.g. @labeling_function(name='...')).")
    return names


def apply_lfs(
    df,
    lfs: Sequence,
    *,
    labels: Sequence[str] | None = None,
    cardinality: int | None = None,
    cache: LFCache | None = None,
    data_version: Any = None,
    progress: Progress = None,
    n_jobs: int = 1,
    return_report: bool = False,
):
    """The L matrix of ``lfs`` on ``df``: ``(len(df), len(lfs))`` ints, ``-1`` = abstain.

    Parameters
    ----------
    df : pandas DataFrame; row-wise LFs get each row as a light read-only row that reads like
        the Series Snorkel passes (``x.text``, ``x["text"]``, ``x.get``, ``x.name``; other
        Series methods on a Series built for that row); LFs with preprocessors get the Series.
    lfs : Snorkel ``LabelingFunction`` objects and/or vectorised LFs, with unique names.
    labels : label names; LFs may then return names (``"spam"``), read as their position.
    cardinality : number of classes, to check outputs (defaults to ``len(labels)``).
    cache : an :class:`LFCache`; LFs whose fingerprint and data are unchanged are not re-run.
    data_version : any value that changes whenever ``df`` changes (a project's item count),
        used instead of hashing the frame. Leave it None unless you are sure.
    progress : a bar from ``BAR_FROM`` LF-row applications (rows x LFs not cached) by default;
        True, False, or a function called as ``progress(done, total)`` in LF-row applications
        (see :mod:`~hitl_widgets.core.progress`). An interrupt stops the pass and caches nothing
        of it: the next call runs those LFs afresh.
    n_jobs : processes for row-wise LFs (fork; only from ``PARALLEL_MIN_ROWS`` rows; -1 = all
        cores). Measured at 100k rows on 2 cores: 1.9x when the second core is idle, no gain
        when it is busy. Keep 1 for LFs that run torch or other OpenMP code (unsafe after fork).
    return_report : return ``(L, LFReport)``; otherwise LF failures become one warning.

    Example
    -------
    >>> import pandas as pd
    >>> from snorkel.labeling import labeling_function
    >>> @labeling_function()
    ... def short(x):
    ...     return 0 if len(x.text) < 6 else -1
    >>> df = pd.DataFrame({"text": ["hi mum", "win a prize", "ok"]})
    >>> apply_lfs(df, [short]).tolist()
    [[-1], [-1], [0]]
    """
    lfs = list(lfs) if not callable(lfs) else lfs  # a generator of LFs is fine
    names = check_lfs(lfs)
    label_map, card = _label_map(labels, cardinality)
    _jobs(n_jobs, 0)  # refuse a bad n_jobs even when no row-wise LF needs it
    n, m = len(df), len(lfs)
    report = LFReport()
    L = np.full((n, m), -1, dtype=np.int64)
    if n == 0 or m == 0:
        return (L, report) if return_report else L
    versions = _data_versions(df, data_version, cache)
    todo, keys = [], []
    for j, lf in enumerate(lfs):
        data_key = versions(lf) if versions is not None else None
        lf_key = lf_fingerprint(lf) if data_key is not None else None
        keys.append((lf_key, data_key))
        entry = cache.get(lf_key, data_key) if data_key is not None else None
        if entry is not None:
            L[:, j] = entry[0]
            if entry[1] is not None:
                report.errors.append(entry[1])
            report.cached.append(names[j])
        else:
            todo.append((j, lf, (lf_key, data_key)))
    check_progress(progress)
    with progress_bar(n * len(todo), "apply_lfs", progress, large=BAR_FROM, unit="row") as bar:
        raw = _run(df, todo, lambda done, _total: bar.set(done), n_jobs)
    problem = None
    for j, _lf, (lf_key, data_key) in todo:
        values, error = raw[j]
        try:
            column = _validate(values, names[j], df.index, card, label_map)
        except (TypeError, ValueError) as exc:
            problem = problem or exc  # keep the good columns in the cache, then refuse
            continue
        L[:, j] = column
        report.ran.append(names[j])
        if error is not None:
            report.errors.append(error)
        if data_key is not None:
            cache.put(lf_key, data_key, column.astype(_small_int(card)), error)
    if problem is not None:
        raise problem
    if versions is not None:
        _note_changes(cache, names, keys, L, report)
    report.errors.sort(key=lambda e: names.index(e.lf))
    if report.errors and not return_report:
        warnings.warn(_error_summary(report), RuntimeWarning, stacklevel=2)
    return (L, report) if return_report else L


def _note_changes(cache: LFCache, names, keys, L, report: LFReport) -> None:
    for j, (lf_key, data_key) in enumerate(keys):
        if data_key is None:
            continue
        before = cache.previous(names[j], lf_key, data_key)
        if before is not None:
            rows = np.flatnonzero(before != L[:, j])
            report.changed[names[j]] = LFChange(rows, before[rows].astype(np.int64), L[rows, j])


def _label_map(labels, cardinality) -> tuple[dict[str, int] | None, int | None]:
    if labels is None:
        if cardinality is not None and (not isinstance(cardinality, int) or cardinality < 2):
            raise ValueError(f"cardinality must be an int >= 2, not {cardinality!r}")
        return None, cardinality
    if isinstance(labels, str):
        raise TypeError(f"labels must be a list of names, e.g. ['ham', 'spam'], not {labels!r}")
    labels = list(labels)
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be two or more distinct names, e.g. ['ham', 'spam']; "
                         f"got {labels!r}")
    if cardinality is not None and cardinality != len(labels):
        raise ValueError(f"cardinality={cardinality} but {len(labels)} labels were given")
    return {str(name): k for k, name in enumerate(labels)}, len(labels)


def _data_versions(df, data_version, cache) -> Callable[[Any], str | None] | None:
    """A function giving each LF its data version: the caller's, or a hash of the index and the
    columns the LF reads (a helper LF's ``column``; every column for other LFs)."""
    if cache is None:
        return None
    if data_version is not None:
        return lambda lf: f"given:{data_version!r}"
    digests = FrameDigests(df)

    def version(lf) -> str | None:
        column = getattr(lf, "spec", {}).get("column") if getattr(lf, "vectorized", False) \
            else None
        try:
            return digests.key([column] if column in df.columns else None)
        except TypeError as exc:
            warnings.warn(f"Cannot hash this frame ({exc}); LF outputs are not cached. Pass "
                          "data_version= (anything that changes when the data changes).",
                          RuntimeWarning, stacklevel=4)
            return None

    return version


def _small_int(card: int | None):
    return np.int8 if card is not None and card < 127 else np.int64


def _error_summary(report: LFReport) -> str:
    parts = [f"{e.lf!r} on {e.count} rows ({e.error})" for e in report.errors]
    return ("Some labeling functions raised and abstain on those rows: " + "; ".join(parts)
            + ". Pass return_report=True to get the row ids.")


# -- running -----------------------------------------------------------------------------------
def _run(df, todo, progress, n_jobs) -> dict[int, tuple[Any, LFError | None]]:
    """Raw outputs per LF index: a vectorised LF's array, or a row-wise LF's list of values."""
    n = len(df)
    vec = [(j, lf) for j, lf, _ in todo if getattr(lf, "vectorized", False)]
    rows = [(j, lf) for j, lf, _ in todo if not getattr(lf, "vectorized", False)]
    total, done = n * len(todo), 0
    out: dict[int, tuple[Any, LFError | None]] = {}
    for j, lf in vec:
        out[j] = _run_vectorized(df, lf)
        done += n
        if progress is not None:
            progress(done, total)
    if rows:
        step = (lambda k: progress(done + k * len(rows), total)) if progress else None
        out.update(_run_rowwise(df, rows, step, n_jobs))
    return out


def _run_vectorized(df, lf) -> tuple[Any, LFError | None]:
    shallow = df.copy(deep=False)  # with copy-on-write, a change here never reaches df
    before = _frame_signature(shallow)
    try:
        values = lf(shallow)
    except Exception as exc:  # the whole column fails: it abstains, the others go on
        return FAILED, LFError(lf.name, len(df), list(df.index), repr(exc), {repr(exc): len(df)})
    if _frame_signature(shallow) != before:
        raise ValueError(f"Labeling function {lf.name!r} changed the frame it was given "
                         "(assigned or dropped a column or values). LFs must not modify their "
                         "input: compute on a copy, e.g. df['text'].str.lower(), without "
                         "assigning it back.")
    return values, None


def _frame_signature(df) -> tuple:
    # Block identities change on any write to the frame (copy-on-write); cheaper than hashing.
    try:
        return tuple(df.columns), tuple(id(b.values) for b in df._mgr.blocks)
    except AttributeError:  # a future pandas without blocks: hash the values (slower)
        return tuple(df.columns), frame_version(df)


# Row-wise LFs: one pass over the rows, every LF on each row, like Snorkel's applier.
_FORK_STATE: dict[str, Any] = {}


def _run_rowwise(df, rows, step, n_jobs) -> dict[int, tuple[list, LFError | None]]:
    n = len(df)
    bounds = [(a, min(a + CHUNK_ROWS, n)) for a in range(0, n, CHUNK_ROWS)]
    lfs = [lf for _, lf in rows]
    source = RowSource.of(df)
    jobs = _jobs(n_jobs, n)
    results = []
    if jobs > 1:
        _FORK_STATE.update(df=df, source=source, lfs=lfs)
        try:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(jobs) as pool:
                for k, res in enumerate(pool.imap(_chunk_in_child, bounds)):
                    results.append(res)
                    if step:
                        step(bounds[k][1])
        finally:
            _FORK_STATE.clear()
    else:
        for a, b in bounds:
            results.append(_run_chunk(df, source, lfs, a, b))
            if step:
                step(b)
    for res in results:
        if isinstance(res, _Mutation):
            if res.message is not None:
                raise ValueError(res.message)
            _raise_mutation(df, lfs, res.position)
    out = {}
    for k, (j, lf) in enumerate(rows):
        values = [v for res in results for v in res[0][k]]
        failures = [f for res in results for f in res[1][k]]
        out[j] = (values, _lf_error(lf.name, failures))
    return out


def _jobs(n_jobs: int, n: int) -> int:
    if not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs must be a positive int or -1 (all cores), not {n_jobs!r}")
    cores = os.cpu_count() or 1
    jobs = cores if n_jobs == -1 else min(n_jobs, cores)
    if n < PARALLEL_MIN_ROWS or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return jobs


def _chunk_in_child(bounds: tuple[int, int]):
    return _run_chunk(_FORK_STATE["df"], _FORK_STATE["source"], _FORK_STATE["lfs"], *bounds)


@dataclass
class _Mutation:
    position: int
    message: str | None = None  # None: find the LF by re-running each on a copy of the row


def _run_chunk(df, source: RowSource | None, lfs, a: int, b: int):
    """Values and failures per LF for rows a..b; or a _Mutation naming the first changed row."""
    if source is None:
        return _run_chunk_series(df, lfs, a, b)
    values: list[list] = [[] for _ in lfs]
    failures: list[list] = [[] for _ in lfs]
    # An LF with Snorkel preprocessors gets a real Series, as in Snorkel: its preprocessors copy
    # it (pickle) and may memoize on it (hashing its items), which the light row does not allow.
    plan = [(lf, bool(getattr(lf, "_pre", None)), values[k].append, failures[k].append)
            for k, lf in enumerate(lfs)]
    opened = source.opened
    for row in source.rows(a, b):
        for lf, as_series, put, failed in plan:
            try:
                put(lf(source.series(row) if as_series else row))
            except Exception as exc:  # isolate: this LF abstains on this row only
                put(-1)
                failed((row.name, repr(exc)))
            if opened:
                source.settle()
            if source.changed is not None:  # refused by the row, or found on a built Series
                label, what = source.changed
                return _Mutation(a, change_message(lf.name, label, what))
    return values, failures


def _run_chunk_series(df, lfs, a: int, b: int):
    """Rows as pandas Series (frames RowSource does not build), each compared after the LFs."""
    values: list[list] = [[] for _ in lfs]
    failures: list[list] = [[] for _ in lfs]
    state = {"pos": a, "mutated": None}

    def one_row(row):
        snapshot = _row_snapshot(row)
        for k, lf in enumerate(lfs):
            try:
                values[k].append(lf(row))
            except Exception as exc:  # isolate: this LF abstains on this row only
                values[k].append(-1)
                failures[k].append((row.name, repr(exc)))
        if state["mutated"] is None and not _same_row(row, snapshot):
            state["mutated"] = state["pos"]
        state["pos"] += 1

    # df.apply(axis=1) builds each row exactly as Snorkel's PandasLFApplier does (same dtype).
    df.iloc[a:b].apply(one_row, axis=1)
    if state["mutated"] is not None:
        return _Mutation(state["mutated"])
    return values, failures


def _row_snapshot(row) -> tuple:
    return tuple(row.index), tuple(row.to_numpy())


def _same_row(row, snapshot) -> bool:
    index, values = snapshot
    if tuple(row.index) != index:
        return False
    return all(a is b or _equal(a, b) for a, b in zip(row.to_numpy(), values, strict=True))


def _equal(a, b) -> bool:
    try:
        return bool(a == b) or (a != a and b != b)  # NaN stays NaN
    except Exception:
        return False


def _raise_mutation(df, lfs, position: int) -> None:
    culprit = "one of the LFs"
    for lf in lfs:  # find which LF: give each a fresh copy of the row
        row = df.iloc[position].copy()
        snapshot = _row_snapshot(row)
        try:
            lf(row)
        except Exception:
            continue
        if not _same_row(row, snapshot):
            culprit = repr(lf.name)
            break
    raise ValueError(f"Labeling function {culprit} changed the row it was given (row "
                     f"{df.index[position]!r}). LFs must not modify their input: it would change "
                     "what the other LFs see. Compute on a local value instead, e.g. "
                     "text = x.text.lower().")


def _lf_error(name: str, failures: list[tuple[Any, str]]) -> LFError | None:
    if not failures:
        return None
    counts = Counter(msg for _, msg in failures)
    return LFError(name, len(failures), [r for r, _ in failures], failures[0][1], dict(counts))


# -- checking outputs ----------------------------------------------------------------------------
def _validate(values, name: str, index, card: int | None, label_map) -> np.ndarray:
    """One LF's output as an int64 column, or a TypeError/ValueError naming the LF and row."""
    if values is FAILED:  # the vectorised LF raised: the column abstains (reported elsewhere)
        return np.full(len(index), -1, dtype=np.int64)
    if values is None:
        raise TypeError(f"Vectorised LF {name!r} returned None; return an int array with -1 "
                        "for abstain, e.g. np.where(mask, 1, -1).")
    if isinstance(values, list):
        arr = _rowwise_column(values, name, index, label_map)
    else:
        arr = _vectorized_column(_aligned(values, name, index), name, len(index), label_map)
    _check_range(arr, name, index, card, label_map)
    return arr


# Integer types an LF may return; a bool is an int to Python but not a label (True is not 1).
_INT_TYPES = frozenset({int, np.int8, np.int16, np.int32, np.int64,
                        np.uint8, np.uint16, np.uint32, np.uint64})


def _rowwise_column(values: list, name: str, index, label_map) -> np.ndarray:
    if set(map(type, values)) <= _INT_TYPES:  # the common case: one vectorised conversion
        try:
            return np.asarray(values, dtype=np.int64)
        except OverflowError:
            pass  # a huge int: found and named below
    out = np.empty(len(values), dtype=np.int64)
    for pos, value in enumerate(values):
        out[pos] = _one_label(value, name, index[pos], label_map)
    return out


def _one_label(value, name: str, row, label_map) -> int:
    if value is None:
        raise TypeError(f"Labeling function {name!r} returned None on row {row!r}; return -1 "
                        "to abstain (Snorkel's ABSTAIN) or a label.")
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Labeling function {name!r} returned the bool {value!r} on row "
                        f"{row!r}; return an int label index (e.g. 1) or -1 to abstain, "
                        "e.g. 1 if cond else -1.")
    if isinstance(value, numbers.Integral):
        if not -(2**63) <= value < 2**63:
            raise ValueError(f"Labeling function {name!r} returned {value!r} on row {row!r}; "
                             "expected -1 (abstain) or a label index >= 0.")
        return int(value)
    if isinstance(value, numbers.Real):
        raise TypeError(f"Labeling function {name!r} returned the float {value!r} on row "
                        f"{row!r}; return an int label index or -1 to abstain (convert with "
                        "int(...) if the float is meant as a label).")
    if isinstance(value, str):
        if label_map is None:
            raise TypeError(f"Labeling function {name!r} returned the name {value!r} on row "
                            f"{row!r}; pass labels=[...] to apply_lfs to use label names.")
        if value not in label_map:
            raise ValueError(f"Labeling function {name!r} returned unknown label {value!r} on "
                             f"row {row!r}; expected one of {list(label_map)} (or -1).")
        return label_map[value]
    raise TypeError(f"Labeling function {name!r} returned {type(value).__name__} {value!r} on "
                    f"row {row!r}; return an int label or -1 to abstain.")


def _aligned(values, name: str, index):
    """A pandas Series reordered to the frame's rows by its index; anything else as it is."""
    import pandas as pd

    if not isinstance(values, pd.Series) or values.index.equals(index):
        return values
    missing = index[~index.isin(values.index)]
    extra = values.index[~values.index.isin(index)]
    if len(missing) or len(extra):
        parts = [f"{len(missing)} of the frame's rows are not in it (e.g. {list(missing[:3])!r})"
                 if len(missing) else "",
                 f"{len(extra)} of its labels are not rows of the frame (e.g. "
                 f"{list(extra[:3])!r})" if len(extra) else ""]
        raise ValueError(
            f"Vectorised LF {name!r} returned a Series whose index does not match the frame's "
            f"rows: {'; '.join(p for p in parts if p)}. Return a Series indexed like the frame "
            "(compute from its columns, e.g. np.where(df.text.str.contains('win'), 1, -1)), or "
            "a numpy array in row order.")
    if not (index.is_unique and values.index.is_unique):
        raise ValueError(
            f"Vectorised LF {name!r} returned a Series in another row order, and the "
            f"{'frame' if not index.is_unique else 'Series'}'s index repeats labels, so its "
            "rows cannot be matched; return it in the frame's row order, or a numpy array.")
    return values.reindex(index)


def _vectorized_column(values, name: str, n: int, label_map) -> np.ndarray:
    hasna = getattr(values, "hasnans", False)
    arr = np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"Vectorised LF {name!r} returned shape {arr.shape}; it must return "
                         f"one label per row, shape ({n},).")
    kind = arr.dtype.kind
    if kind in "iu" and not hasna:
        return arr.astype(np.int64, copy=False)
    if kind in "US" or (kind == "O" and label_map is not None and not hasna
                        and all(isinstance(v, str) for v in arr)):
        if label_map is None:
            raise TypeError(f"Vectorised LF {name!r} returned label names; pass labels=[...] "
                            "to apply_lfs to use them.")
        return _names_to_ints(arr, name, label_map)
    what = {"f": "floats", "b": "booleans (a mask)", "O": "objects (None or mixed values)"}
    raise TypeError(f"Vectorised LF {name!r} returned {what.get(kind, arr.dtype)}; return an "
                    "int array with -1 for abstain, e.g. np.where(mask, 1, -1).")


def _names_to_ints(arr, name: str, label_map) -> np.ndarray:
    uniq, inverse = np.unique(arr.astype(str), return_inverse=True)
    lookup = {**label_map, "-1": -1}
    bad = [u for u in uniq if u not in lookup]
    if bad:
        raise ValueError(f"Vectorised LF {name!r} returned unknown labels {bad[:5]}; expected "
                         f"names in {list(label_map)}.")
    return np.array([lookup[u] for u in uniq], dtype=np.int64)[inverse]


def _check_range(arr: np.ndarray, name: str, index, card: int | None, label_map) -> None:
    bad = arr < -1 if card is None else (arr < -1) | (arr >= card)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        allowed = (f"0..{card - 1}" if label_map is None else f"0..{card - 1} "
                   f"({list(label_map)})") if card is not None else "a label >= 0"
        raise ValueError(f"Labeling function {name!r} returned {int(arr[pos])} on row "
                         f"{index[pos]!r} ({int(bad.sum())} rows out of range); expected -1 "
                         f"(abstain) or {allowed}.")
