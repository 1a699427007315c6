"""The human labels and the LF accuracies a live view shows, kept up to date from what changed.

:func:`human_labels` and :func:`lf_summary` read everything: at a million labels that is seconds
per call, too much to repeat on every new label. :class:`LiveHumanLabels` keeps Y and, on
:meth:`~LiveHumanLabels.update`, recomputes only the items the project's label index says
changed (labels, undos, relabels, by any kernel); :class:`LiveSummary` keeps each LF's correct /
incorrect counts and moves them by those rows' old and new Y. Both equal the full recompute
(tests/weak/test_live.py checks it on random event sequences).

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> p = Project(os.path.join(tempfile.mkdtemp(), "l.hitl"), labels=["ham", "spam"])
>>> _ = p.add_items(["win a prize", "hi mum"], id=["a", "b"])
>>> live = LiveHumanLabels(p, ["a", "b"])
>>> L = np.array([[1], [1]])
>>> table = LiveSummary(L, ["prize"], live.Y)
>>> _ = p.annotate("a", "spam", annotator="ana")
>>> rows, old = live.update()
>>> table.move(rows, old, live.Y[rows])
>>> live.Y.tolist(), table.frame()["Correct"].tolist()
([1, -1], [1])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..store import Ledger
from ._analysis import accuracy_from_counts, check_L, check_Y, lf_summary

__all__ = ["LiveHumanLabels", "LiveSummary"]


class LiveHumanLabels:
    """``Y`` for ``item_ids``, equal to :func:`human_labels` after each :meth:`update`.

    Parameters
    ----------
    project : a single-label project (or its Ledger).
    item_ids : the rows of Y, in order (e.g. :attr:`AppliedLFs.item_ids`).
    """

    def __init__(self, project, item_ids: Sequence[str]):
        ledger = Ledger.of(project)
        if ledger.schema.multi_label:
            raise ValueError("Weak supervision here is single-label: this project is "
                             "multi-label. Use one project per label.")
        self._index = ledger.label_index
        self._position = {name: k for k, name in enumerate(ledger.schema.labels)}
        self.item_ids = [str(i) for i in item_ids]
        self._row = {item_id: k for k, item_id in enumerate(self.item_ids)}
        self.Y = np.full(len(self.item_ids), -1, dtype=np.int64)
        self._index.sync()
        # Read before the rows: anything the rows already hold that is newer is read again by
        # the next update, which is harmless (an item's Y is a function of its current labels).
        self.version = self._index.version
        self._fill()

    def _fill(self) -> None:
        """Y from every current human label, counted with numpy (the first read)."""
        k = len(self._position)
        rows, labels = [], []
        for r in self._index.rows():
            row = self._row.get(r.item_id)
            if row is not None and r.source == "human":
                rows.append(row)
                labels.append(self._position[r.labels[0]])
        cell = np.asarray(rows, dtype=np.int64) * k + np.asarray(labels, dtype=np.int64)
        counts = np.bincount(cell, minlength=len(self.item_ids) * k).reshape(-1, k)
        # argmax's first maximum is the first label in schema order on a tie, as human_labels
        best = counts.argmax(axis=1) if k else np.zeros(len(self.item_ids), dtype=np.int64)
        self.Y = np.where(counts.any(axis=1), best, -1).astype(np.int64)

    def _label_of(self, item_id: str) -> int:
        counts = [0] * len(self._position)
        for r in self._index.item(item_id).values():
            if r.source == "human":
                counts[self._position[r.labels[0]]] += 1
        top = max(counts, default=0)
        return counts.index(top) if top else -1

    def update(self) -> tuple[np.ndarray, np.ndarray]:
        """Bring Y up to date; returns the rows whose Y changed and their previous values."""
        self._index.sync()
        version = self._index.version
        changed = self._index.changed_since(self.version)
        self.version = version
        rows, old = [], []
        for item_id in changed:
            row = self._row.get(item_id)
            if row is None:  # an item added after item_ids were taken: not a row of Y
                continue
            y = self._label_of(item_id)
            if y != self.Y[row]:
                rows.append(row)
                old.append(int(self.Y[row]))
                self.Y[row] = y
        order = np.argsort(rows, kind="stable")
        return (np.asarray(rows, dtype=np.int64)[order], np.asarray(old, dtype=np.int64)[order])


class LiveSummary:
    """:func:`lf_summary` of ``L`` with a Y that changes a few rows at a time.

    The columns that do not depend on Y are computed once; Correct / Incorrect per LF are moved
    by :meth:`move`, so :meth:`frame` costs the size of the table, not of L.
    """

    def __init__(self, L, lfs: Sequence | None, Y):
        self.L = check_L(L)
        full = lf_summary(self.L, lfs, Y=check_Y(Y, self.L.shape[0]))
        self.correct = full["Correct"].to_numpy(dtype=np.int64).copy()
        self.incorrect = full["Incorrect"].to_numpy(dtype=np.int64).copy()
        self._base = full.drop(columns=list(accuracy_from_counts(self.correct, self.incorrect)))

    def move(self, rows: np.ndarray, old: np.ndarray, new: np.ndarray) -> None:
        """Y[rows] went from ``old`` to ``new`` (-1 = no human label)."""
        if not len(rows):
            return
        votes = self.L[rows]
        voted = votes != -1
        for y, sign in ((np.asarray(old), -1), (np.asarray(new), 1)):
            judged = voted & (y[:, None] != -1)
            right = (judged & (votes == y[:, None])).sum(axis=0)
            self.correct += sign * right
            self.incorrect += sign * (judged.sum(axis=0) - right)

    def frame(self):
        """The table, equal to ``lf_summary(L, lfs, Y)`` for the current Y."""
        out = self._base.copy()
        for name, column in accuracy_from_counts(self.correct.copy(),
                                                 self.incorrect.copy()).items():
            out[name] = column
        return out
