"""The LFStudio widget: iterate on labeling functions live, against the human labels in the store.

The table is :func:`~hitl_widgets.core.weak.lf_summary` (Snorkel's columns, plus the count and
95 % interval behind each empirical accuracy), sortable by clicking a header. Click an LF to page
through the items it labels, where it conflicts with another LF, and where it disagrees with a
human label. The workflow is one cell per LF::

    studio = hw.LFStudio(project, [lf_prize, lf_hi])    # a cell that shows the table
    @vectorized_lf()                                     # edit this cell and re-run it:
    def lf_prize(df): ...
    studio.update(lf_prize)                              # only this LF is re-applied

Every update shows what changed since the LF's previous version: coverage and accuracy before
and after, how many votes changed, and a page of the items whose vote changed.

In a notebook (a running event loop) the heavy work -- opening (applying the LFs, the first read
of the human labels), ``refresh`` and the Compare button's label-model fit -- runs in a worker
thread and lands on the kernel's loop (``_background``, as the Dashboard's figures do), the
``updating`` trait true meanwhile; ``update``, ``set_lfs``, ``remove`` and ``compare()`` stay
synchronous, so a cell that calls them sees their result or their error. Outside a loop everything
runs at once.

Human labels written by other kernels (annotators labeling elsewhere) are looked for every
``FOLLOW_S`` seconds on the kernel's loop (``Project.poll``) and move the table like this kernel's.

Example
-------
>>> import hitl_widgets as hw                                      # doctest: +SKIP
>>> from hitl_widgets.core.weak import keyword_lf                  # doctest: +SKIP
>>> lf = keyword_lf("prize", ["prize"], "spam", labels=project.schema.labels)  # doctest: +SKIP
>>> hw.LFStudio(project, [lf])                                     # doctest: +SKIP
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import traitlets

from ._background import Background, Follow
from ._base import Field, HitlWidget, Intent, integer, nullable, text
from .core.project import Project
from .core.weak import (
    LiveHumanLabels,
    LiveSummary,
    apply_to_project,
    check_lfs,
    compare_label_models,
    lf_fingerprint,
    lf_name,
)

_JS = Path(__file__).parent / "js"
PAGE_SIZE = 10
TEXT_CHARS = 300  # an example's text is cut here: a page must stay small on the wire
KINDS = ("labels", "conflicts", "disagrees", "changed")
# Notices after which Y may have moved; "external" is another kernel's write.
LABEL_CHANGES = ("annotation", "retraction", "resolution", "external")
FOLLOW_S = 0.5  # how often the studio looks for other kernels' labels


# What lf_studio.js sends for a page of examples; checked before the handler runs.
_PAGE_REQUEST = {"lf": Field(text()), "kind": Field(nullable(text()), required=False),
                 "offset": Field(nullable(integer(minimum=0)), required=False),
                 "request_id": Field(nullable(integer()), required=False)}


class LFStudio(HitlWidget):
    """A live, sortable table of labeling functions on a project, with their examples.

    Parameters
    ----------
    project : the :class:`~hitl_widgets.Project` whose items the LFs label (single-label).
    lfs : Snorkel ``@labeling_function`` objects and/or vectorised LFs, with unique names.
    column : the name the item text has in the frame the LFs see (``df[column]``, ``x.text``).
    labels : the label names, in schema order (default: the project's schema).
    """

    _esm = _JS / "lf_studio.js"
    _css = _JS / "lf_studio.css"

    labels = traitlets.List(traitlets.Unicode()).tag(sync=True)
    lf_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    n_items = traitlets.Int(0).tag(sync=True)
    n_human = traitlets.Int(0).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    page = traitlets.Dict().tag(sync=True)
    changes = traitlets.Dict().tag(sync=True)  # per LF: its last update's delta
    last_update = traitlets.List(traitlets.Unicode()).tag(sync=True)  # LFs the last update changed
    comparison = traitlets.List(traitlets.Dict()).tag(sync=True)
    busy = traitlets.Unicode("").tag(sync=True)
    updating = traitlets.Bool(False).tag(sync=True)  # heavy work runs in a worker thread

    _intents = {"page": Intent("_on_page", _PAGE_REQUEST),
                "select": Intent("_on_page", _PAGE_REQUEST),
                "compare": Intent("_on_compare"), "refresh": Intent("_on_refresh")}
    _reply_ids = ("request_id",)

    def __init__(self, project: Project, lfs: Sequence, *, column: str = "text",
                 labels: Sequence[str] | None = None, **kwargs: Any) -> None:
        if not isinstance(project, Project):
            raise TypeError(f"LFStudio needs a hitl_widgets.Project, not {type(project).__name__}; "
                            "open one with hw.Project('file.hitl', labels=[...])")
        if project.schema.multi_label:
            raise ValueError("LFStudio works on single-label projects; this one is multi-label. "
                             "Use one project per label.")
        if labels is not None and list(labels) != list(project.schema.labels):
            raise ValueError(f"labels={list(labels)!r} differ from the project's labels "
                             f"{list(project.schema.labels)!r}; leave labels out to use the "
                             "project's, in its order")
        self._lfs = self._checked(lfs)
        self.project = project
        self.column = column
        self._unsubscribe = lambda: None
        self._L = np.full((0, len(self._lfs)), -1, dtype=np.int64)
        self._item_ids: list[str] = []
        self._Y = np.full(0, -1, dtype=np.int64)
        # Y and the table's accuracy columns, kept up to date from the items whose labels
        # changed (a full recompute is seconds per label on a big project)
        self._live: LiveHumanLabels | None = None
        self._table: LiveSummary | None = None
        self._row_of: dict[str, int] = {}
        self._counts: dict[str, dict[str, int]] = {}  # per LF: its page counts that ignore Y
        self._fingerprints: dict[str, str] = {}
        # per LF: the items its last edit changed, with their vote before the edit
        self._changed_rows: dict[str, dict[str, int]] = {}
        self._errors: dict[str, dict] = {}
        self._page_request: dict = {}
        self._applied = 0  # applies landed: a job that started before one is stale
        self._apply_lock = threading.Lock()  # one apply at a time (they share the LF cache)
        super().__init__(labels=list(project.schema.labels), **kwargs)
        self._bg = Background("hitl-lf-studio", self._set_updating)
        self._ready = True
        self._unsubscribe = project.subscribe(self._on_project_change)
        self._follow = Follow(project, FOLLOW_S, self._bg.loop)  # other kernels' labels too
        self.refresh()

    # -- the Python API -----------------------------------------------------------------------
    @property
    def lfs(self) -> list:
        """The LFs, in table order."""
        return list(self._lfs.values())

    @property
    def L(self) -> np.ndarray:
        """The current L matrix (items in :attr:`item_ids` order, LFs in table order)."""
        return self._L.copy()

    @property
    def item_ids(self) -> list[str]:
        return list(self._item_ids)

    def summary(self):
        """The table as a DataFrame: :func:`~hitl_widgets.core.weak.lf_summary` with the human
        labels in the store as Y."""
        if self._table is None:  # no items yet
            return LiveSummary(self._L, list(self._lfs), self._Y).frame()
        return self._table.frame()

    def set_lfs(self, lfs: Sequence) -> None:
        """Replace the whole set of LFs; unchanged ones come from the cache, not re-run."""
        self._apply(self._checked(lfs))

    def update(self, *lfs) -> None:
        """Add an LF, or replace the LF of the same name, and re-apply only what changed.

        Define or edit the LF in a cell, then call ``studio.update(lf)`` (in the same cell, so
        re-running it is the whole loop). The table shows what the edit changed. Returns None,
        so the cell does not draw a second view of the studio.
        """
        if not lfs:
            raise TypeError("update needs at least one labeling function: studio.update(my_lf)")
        new = dict(self._lfs)
        for lf in lfs:
            new[self._name(lf)] = lf
        self._apply(new)

    def remove(self, name: str) -> None:
        """Drop the LF called ``name`` from the table."""
        if name not in self._lfs:
            raise KeyError(f"No LF named {name!r}; the studio has {list(self._lfs)}")
        self._apply({k: v for k, v in self._lfs.items() if k != name})

    def refresh(self) -> None:
        """Re-read the project (new items, new human labels) and re-apply what is stale. In a
        notebook it runs in a worker thread and the table lands when ready."""
        seen: dict[str, Any] = {}

        def compute():  # the LFs of when it starts: a refresh asked for meanwhile runs later
            seen.update(lfs=self._lfs, applied=self._applied)
            return self._compute(seen["lfs"])

        def land(computed) -> None:
            if seen["applied"] == self._applied:  # else a newer apply (update...) landed first
                self._land(seen["lfs"], computed)

        self._bg.run(compute, land,
                     lambda exc: self._fail(_apply_error(exc)), key="refresh")

    def compare(self):
        """Majority vote vs Snorkel's label model on the human-labeled items (a DataFrame);
        also shown under the table."""
        table = compare_label_models(self._L, self._Y, len(self.labels))
        self._show_comparison(table)
        return table

    def _show_comparison(self, table) -> None:
        self.comparison = [_jsonable({"model": model, **row})
                           for model, row in table.to_dict(orient="index").items()]

    # -- applying ---------------------------------------------------------------------------
    def _name(self, lf) -> str:
        try:
            return lf_name(lf)
        except TypeError as exc:
            self._fail(str(exc))
            raise

    def _checked(self, lfs) -> dict[str, Any]:
        if isinstance(lfs, dict):
            lfs = list(lfs.values())
        try:
            names = check_lfs(list(lfs))
        except (TypeError, ValueError) as exc:
            if self.__dict__.get("_ready"):
                self._fail(str(exc))
            raise
        return dict(zip(names, lfs, strict=True))

    def _apply(self, lfs: dict[str, Any]) -> None:
        """Apply ``lfs`` now; on bad input keep the previous table, set ``error`` and raise."""
        try:
            if self._applied == 0 and self._bg.updating:
                # The opening table is still being computed in the worker, and this cell cannot
                # wait for it to land (the loop runs this cell): build it here first, so the edit
                # is shown against it. The worker's copy is then dropped as stale.
                self._land(self._lfs, self._compute(self._lfs))
            self._land(lfs, self._compute(lfs))
        except (TypeError, ValueError, KeyError) as exc:
            self._fail(_apply_error(exc))
            raise

    def _compute(self, lfs: dict[str, Any]) -> _Computed | None:
        """The heavy half of an apply, safe in a worker thread (it reads, never sets a trait):
        L, Y's first read when the rows are new, the table and the counts that do not depend
        on Y. None: the project has no items."""
        if not self.project.store.item_count():
            return None
        with self._apply_lock:
            # progress=False: driven from the view, a bar would print in whichever cell ran
            # last, not under the studio; the view's busy line says it is working instead
            applied = apply_to_project(self.project, list(lfs.values()), self.column,
                                       progress=False)
        live = self._live
        if live is None or live.item_ids != applied.item_ids:
            live = LiveHumanLabels(self.project, applied.item_ids)
        # the kernel's thread may move the current Y in place meanwhile: the table starts from
        # a copy, and landing moves it by the rows that differ then
        Y = live.Y.copy()
        L = applied.L
        counts = {name: {"labels": int(np.count_nonzero(_mask(L, Y, j, "labels"))),
                         "conflicts": int(np.count_nonzero(_mask(L, Y, j, "conflicts")))}
                  for j, name in enumerate(lfs)}
        return _Computed(applied, live, Y, LiveSummary(L, list(lfs), Y), counts,
                         {name: lf_fingerprint(lf) for name, lf in lfs.items()})

    def _land(self, lfs: dict[str, Any], computed: _Computed | None) -> None:
        """Take in what :meth:`_compute` found and show it (on the kernel's thread)."""
        self._applied += 1
        if computed is None:
            self._lfs = lfs
            self._set_empty()
            return
        applied, live, prints = computed.applied, computed.live, computed.prints
        old_ids, old_L, old_names = self._item_ids, self._L, list(self._lfs)
        self._lfs, self._L, self._item_ids = lfs, applied.L, applied.item_ids
        self._errors = {e.lf: {"count": e.count, "error": e.error,
                               "rows": [str(r) for r in e.rows[:5]]}
                        for e in applied.report.errors}
        if live is not self._live:
            self._live = live
            self._row_of = {item_id: k for k, item_id in enumerate(self._item_ids)}
        self._live.update()  # the labels written since the worker read them
        self._Y = self._live.Y
        rows = np.flatnonzero(computed.Y != self._Y)
        self._table = computed.table
        self._table.move(rows, computed.Y[rows], self._Y[rows])
        edited = [n for n in lfs if n in self._fingerprints and n in old_names
                  and self._fingerprints[n] != prints[n]]
        changes = {n: c for n, c in self.changes.items() if n in lfs and n not in edited}
        for name in edited:
            before = _align(old_L[:, old_names.index(name)], old_ids, self._item_ids)
            changes[name] = self._delta(name, before)
        self._fingerprints = prints
        self._counts = {name: {**computed.counts[name],
                               "changed": len(self._positions(name, "changed"))}
                        for name in lfs}
        with self.hold_sync():
            self.lf_names = list(lfs)
            self.changes = changes
            if edited:
                self.last_update = edited
            self._publish()
            self.comparison = []  # fitted on the old L: stale, compare again on request
            self.error = ""

    def _set_empty(self) -> None:
        self._L = np.full((0, len(self._lfs)), -1, dtype=np.int64)
        self._item_ids, self._Y = [], np.full(0, -1, dtype=np.int64)
        self._live = self._table = None
        self._row_of, self._counts = {}, {}
        with self.hold_sync():
            self.lf_names = list(self._lfs)
            self.rows = []
            self.n_items = 0
            self.n_human = 0
            self.error = ("The project has no items yet: add some with project.add_items(...), "
                          "then call studio.refresh().")

    def _publish(self) -> None:
        """The table, counts and current page from the current L and Y."""
        table = self.summary()
        rows = []
        for name, row in table.iterrows():
            rows.append(_jsonable({
                "name": name, "j": row["j"], "polarity": row["Polarity"],
                "coverage": row["Coverage"], "overlaps": row["Overlaps"],
                "conflicts": row["Conflicts"], "correct": row["Correct"],
                "incorrect": row["Incorrect"], "emp_acc": row["Emp. Acc."],
                "emp_acc_n": row["Emp. Acc. n"], "emp_acc_low": row["Emp. Acc. low"],
                "emp_acc_high": row["Emp. Acc. high"], "error": self._errors.get(name)}))
        self.rows = rows
        self.n_items = len(self._item_ids)
        self.n_human = int((self._Y != -1).sum())
        if self.selected and self.selected not in self._lfs:
            self.selected, self.page = "", {}
        elif self._page_request:
            self.page = self._page(**self._page_request)

    def _delta(self, name: str, before: np.ndarray) -> dict:
        after = self._L[:, list(self._lfs).index(name)]
        diff = np.flatnonzero(before != after)
        self._changed_rows[name] = {self._item_ids[i]: int(before[i]) for i in diff}
        gained = int(((before[diff] == -1) & (after[diff] != -1)).sum())
        lost = int(((before[diff] != -1) & (after[diff] == -1)).sum())
        return {"before": self._stats(before), "after": self._stats(after),
                "n_changed": int(len(diff)), "gained": gained, "lost": lost,
                "relabeled": int(len(diff)) - gained - lost}

    def _stats(self, column: np.ndarray) -> dict:
        n = len(column)
        voted = column != -1
        judged = voted & (self._Y != -1)
        right = int((column[judged] == self._Y[judged]).sum())
        count = int(judged.sum())
        return {"coverage": float(voted.sum() / n) if n else 0.0,
                "accuracy": right / count if count else None, "n": count}

    # -- pages of examples -------------------------------------------------------------------
    def rows_of(self, name: str, kind: str = "labels") -> list[str]:
        """Item ids for one of the LF's pages: ``labels`` (it votes), ``conflicts`` (another LF
        votes differently), ``disagrees`` (a human label differs) or ``changed`` (its last
        edit changed the vote)."""
        if name not in self._lfs:
            raise KeyError(f"No LF named {name!r}; the studio has {list(self._lfs)}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}, not {kind!r}")
        return [self._item_ids[i] for i in self._positions(name, kind)]

    def _positions(self, name: str, kind: str) -> np.ndarray:
        """Rows of L for one of the LF's pages (``changed``: in the order the edit found them)."""
        if kind == "changed":
            return np.array([self._row_of[i] for i in self._changed_rows.get(name, {})
                             if i in self._row_of], dtype=np.int64)
        return np.flatnonzero(self._mask(list(self._lfs).index(name), kind))

    def _count(self, name: str, kind: str) -> int:
        known = self._counts.get(name, {}).get(kind)  # all but disagrees: fixed until an apply
        if known is not None:
            return known
        return int(np.count_nonzero(self._mask(list(self._lfs).index(name), kind)))

    def _mask(self, j: int, kind: str) -> np.ndarray:
        return _mask(self._L, self._Y, j, kind)

    def _page(self, lf: str, kind: str, offset: int, request_id: Any = None) -> dict:
        if lf not in self._lfs:
            raise KeyError(f"No LF named {lf!r}; the studio has {list(self._lfs)}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}, not {kind!r}")
        rows = self._positions(lf, kind)
        offset = max(0, min(int(offset), (len(rows) - 1) // PAGE_SIZE * PAGE_SIZE))
        counts = {k: len(rows) if k == kind else self._count(lf, k) for k in KINDS}
        shown = [(self._item_ids[row], int(row)) for row in rows[offset:offset + PAGE_SIZE]]
        # a page's texts are read when it is shown: holding every item's text costs the open
        records = self.project.store.get_items([item_id for item_id, _ in shown])
        items = [self._example(lf, item_id, row, records.get(item_id)) for item_id, row in shown]
        return {"request_id": request_id, "lf": lf, "kind": kind, "offset": offset,
                "size": PAGE_SIZE, "total": len(rows), "counts": counts, "items": items}

    def _example(self, lf: str, item_id: str, row: int, record) -> dict:
        text = "" if record is None or record.text is None else str(record.text)
        names = list(self._lfs)
        votes = {name: int(self._L[row, k]) for k, name in enumerate(names)}
        label = self._label
        changed = self._changed_rows.get(lf, {})
        before = label(changed[item_id]) if item_id in changed else None
        return {"item_id": item_id, "text": text[:TEXT_CHARS],
                "truncated": len(text) > TEXT_CHARS, "vote": label(votes[lf]),
                "changed": item_id in changed, "before": before,  # before: None = abstained
                "others": [{"lf": n, "vote": label(v)} for n, v in votes.items()
                           if n != lf and v != -1],
                "human": label(int(self._Y[row]))}

    def _label(self, value: int) -> str | None:
        return None if value == -1 else self.labels[value]

    # -- intents -----------------------------------------------------------------------------
    def _on_page(self, msg: dict) -> None:
        lf = msg["lf"]
        request = {"lf": lf, "kind": msg["kind"] or "labels", "offset": msg["offset"] or 0,
                   "request_id": msg["request_id"]}
        page = self._page(**request)  # raises on an unknown LF / kind: the error trait says so
        self._page_request = request
        with self.hold_sync():
            self.selected = lf
            self.page = page
            self.error = ""

    def _on_compare(self, msg: dict) -> None:
        seen: dict[str, int] = {}

        def compute():  # Y changes in place as labels arrive: the fit takes a copy
            seen["applied"] = self._applied
            return compare_label_models(self._L, self._Y.copy(), len(self.labels))

        def land(table) -> None:
            self.busy = ""
            if seen["applied"] == self._applied:  # else fitted on an old L: ask again
                self._show_comparison(table)
                self.error = ""

        def fail(exc: Exception) -> None:
            self.busy = ""
            self._fail(f"compare failed: {exc}")

        self.busy = "Fitting the label model…"
        self._bg.run(compute, land, fail, key="compare")

    def _on_refresh(self, msg: dict) -> None:
        self.refresh()

    def _set_updating(self, updating: bool) -> None:
        self.updating = updating

    def _on_project_change(self, kind: str, info: dict) -> None:
        # "external": another kernel wrote (heard through Follow's polls); items it added need
        # the LFs applied to them, labels only move Y.
        if kind == "items" or (kind == "external"
                               and self.project.store.item_count() != len(self._item_ids)):
            self.refresh()
        elif kind in LABEL_CHANGES and self._live is not None:
            rows, old = self._live.update()  # only the items whose labels changed
            if not len(rows):
                return  # no item's Y moved: the table, counts and page are as they were
            self._table.move(rows, old, self._Y[rows])
            with self.hold_sync():
                self._publish()
                self.comparison = []

    def close(self) -> None:
        if "_unsubscribe" in self.__dict__:
            self._unsubscribe()
        if "_follow" in self.__dict__:
            self._follow.stop()
        if "_bg" in self.__dict__:
            self._bg.close()
        super().close()


class _Computed(NamedTuple):
    """What an apply's heavy half found (in a worker thread, in a notebook)."""

    applied: Any  # AppliedLFs
    live: LiveHumanLabels
    Y: np.ndarray  # Y when the table was computed
    table: LiveSummary
    counts: dict[str, dict[str, int]]  # per LF: its page counts that ignore Y
    prints: dict[str, str]


def _mask(L: np.ndarray, Y: np.ndarray, j: int, kind: str) -> np.ndarray:
    """The rows of LF ``j``'s page of ``kind`` (not "changed")."""
    col = L[:, j]
    voted = col != -1
    if kind == "labels":
        return voted
    if kind == "disagrees":
        return voted & (Y != -1) & (col != Y)
    others = np.delete(L, j, axis=1)
    return voted & ((others != -1) & (others != col[:, None])).any(axis=1)


def _apply_error(exc: Exception) -> str:
    """What the error trait says when applying failed (the previous table stays)."""
    if isinstance(exc, (TypeError, ValueError, KeyError)):
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        return f"{text} The table still shows the previous LFs."
    return f"Applying the LFs failed: {exc}. The table still shows the previous LFs."


def _align(column: np.ndarray, old_ids: list[str], new_ids: list[str]) -> np.ndarray:
    """``column`` (rows in ``old_ids`` order) in ``new_ids`` order; new items abstained."""
    if old_ids == new_ids:
        return column
    where = {item_id: k for k, item_id in enumerate(old_ids)}
    return np.array([column[where[i]] if i in where else -1 for i in new_ids], dtype=np.int64)


def _jsonable(d: dict) -> dict:
    """Numpy scalars to Python; NaN to None (JSON has no NaN)."""
    out = {}
    for key, value in d.items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and math.isnan(value):
            value = None
        if isinstance(value, (list, tuple)):
            value = [v.item() if isinstance(v, np.generic) else v for v in value]
        out[key] = value
    return out
