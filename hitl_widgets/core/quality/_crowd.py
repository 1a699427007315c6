"""A SIMULATED crowd of annotators, for benchmarks, tests and the workforce notebook.

Nothing here is measured from people: every accuracy, rate and time below is drawn from a seeded
random generator. It exists so that routing, consensus and cost can be compared on a crowd whose
truth is known. Real crowd answers (Snow et al. 2008) are replayed in ``benchmarks/snow_replay.py``.

The crowd has ``n_items`` items, each with a true label among ``n_labels`` classes and a task type
among ``n_types`` types, and ``n_annotators`` annotators of three kinds, in turn:

- *generalists*: accuracy 0.75-0.85 on every type;
- *specialists*: 0.88-0.95 on one type (the types taken in turn), 0.55-0.65 on the others;
- *weak*: 0.55-0.65 on every type.

A wrong answer is one of the other labels, uniformly. Each annotator has an hourly rate that grows
with their best accuracy (a strong annotator costs more: about 12 to 45 per hour) and a median time
per label (8-30 s); each label's time is log-normal around it. Every draw is fixed per
``(seed, annotator, item)`` when the crowd is built, so ``answer`` and ``seconds`` give the same
result whatever the order of the calls, and two arms of a benchmark see the same crowd.

Example
-------
>>> crowd = SimulatedCrowd(n_items=6, n_annotators=3, seed=1)
>>> crowd.annotators["kind"].tolist()
['generalist', 'specialist', 'weak']
>>> items = crowd.items()
>>> list(items.columns), len(items)
(['item_id', 'text', 'task_type'], 6)
>>> crowd.answer("sim-00", "item-0") in crowd.labels
True
>>> crowd.answer("sim-00", "item-0") == crowd.answer("sim-00", "item-0")
True
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..store import Ledger

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SimulatedCrowd"]

KINDS = ("generalist", "specialist", "weak")
_RANGES = {  # (low, high) accuracy: on the annotator's strong type, and on the others
    "generalist": ((0.75, 0.85), (0.75, 0.85)),
    "specialist": ((0.88, 0.95), (0.55, 0.65)),
    "weak": ((0.55, 0.65), (0.55, 0.65)),
}
_SIGMA = 0.35  # spread of one label's time around the annotator's median (log scale)
IDLE_WAIT_S = 60.0  # an annotator who finds no work asks again a simulated minute later


def _count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}; got {value!r}")
    return int(value)


class SimulatedCrowd:
    """A SIMULATED crowd: items with a known truth and annotators with known skills and costs.

    Parameters
    ----------
    n_items, n_annotators, n_labels, n_types
        Sizes: items, annotators (named ``sim-00``, ``sim-01``, ...; kinds in turn generalist,
        specialist, weak), classes (``c0``, ``c1``, ...) and task types (``t0``, ``t1``, ...).
    seed
        Everything is drawn from ``numpy.random.default_rng(seed)``: the same seed, the same crowd.

    Attributes
    ----------
    labels, task_types : list of str
    truth, types : pandas.Series
        The true label and the task type of each item, indexed by item id.
    accuracy : pandas.DataFrame
        Each annotator's probability of a right answer (rows) on each task type (columns).
    annotators : pandas.DataFrame
        ``name``, ``kind``, ``strong_type`` (a specialist's type, else missing), ``hourly_rate``,
        ``median_seconds``.

    Example
    -------
    >>> crowd = SimulatedCrowd(n_items=200, n_annotators=6, seed=0)
    >>> spec = crowd.annotators.set_index("name").loc["sim-01"]
    >>> spec["kind"], spec["strong_type"]
    ('specialist', 't0')
    >>> float(crowd.accuracy.loc["sim-01", "t0"]) > 0.85
    True
    >>> round(crowd.seconds("sim-01", "item-3"), 1) > 0
    True
    """

    def __init__(self, n_items: int = 600, n_annotators: int = 12, *, n_labels: int = 3,
                 n_types: int = 3, seed: int = 0):
        import pandas as pd

        n_items = _count(n_items, "n_items", 1)
        n_annotators = _count(n_annotators, "n_annotators", 1)
        n_labels = _count(n_labels, "n_labels", 2)
        n_types = _count(n_types, "n_types", 1)
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"seed must be a non-negative whole number; got {seed!r}")
        self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        self.labels = [f"c{j}" for j in range(n_labels)]
        self.task_types = [f"t{j}" for j in range(n_types)]
        self._item_ids = [f"item-{i}" for i in range(n_items)]
        self._row = {item_id: i for i, item_id in enumerate(self._item_ids)}
        truth = rng.integers(0, n_labels, n_items)
        types = rng.integers(0, n_types, n_items)
        self.truth = pd.Series(np.array(self.labels, dtype=object)[truth], index=self._item_ids,
                               name="truth")
        self.types = pd.Series(np.array(self.task_types, dtype=object)[types],
                               index=self._item_ids, name="task_type")

        names = [f"sim-{a:02d}" for a in range(n_annotators)]
        self._col = {name: a for a, name in enumerate(names)}
        kinds = [KINDS[a % len(KINDS)] for a in range(n_annotators)]
        acc = np.empty((n_annotators, n_types))
        strong: list[str | None] = []
        for a, kind in enumerate(kinds):
            (lo_s, hi_s), (lo, hi) = _RANGES[kind]
            acc[a] = rng.uniform(lo, hi, n_types)
            if kind == "specialist":  # the specialists' types taken in turn: t0, t1, ...
                t = (a // len(KINDS)) % n_types
                acc[a, t] = rng.uniform(lo_s, hi_s)
                strong.append(self.task_types[t])
            else:
                strong.append(None)
        best = acc.max(axis=1)
        # Pay grows with the best skill: 12 per hour at 0.55, about 45 at 0.95, +-10 %.
        rate = (12 + 33 * (best - 0.55) / 0.40) * rng.uniform(0.9, 1.1, n_annotators)
        median_s = rng.uniform(8.0, 30.0, n_annotators)
        self.accuracy = pd.DataFrame(acc, index=pd.Index(names, name="annotator"),
                                     columns=self.task_types)
        self.annotators = pd.DataFrame({
            "name": names, "kind": kinds, "strong_type": strong,
            "hourly_rate": np.round(rate, 2), "median_seconds": np.round(median_s, 1),
        })
        # One draw per (annotator, item), made now: answers do not depend on the order of calls.
        right = rng.random((n_annotators, n_items)) < acc[:, types]
        shift = rng.integers(1, n_labels, (n_annotators, n_items))  # a wrong label: another one
        self._answers = np.where(right, truth[None, :], (truth[None, :] + shift) % n_labels)
        self._seconds = median_s[:, None] * np.exp(rng.normal(0, _SIGMA, (n_annotators, n_items)))

    # -- reading ----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """The annotators' names, in order."""
        return list(self._col)

    def items(self) -> pd.DataFrame:
        """The items to add to a project: ``item_id``, ``text`` and ``task_type``.

        ``project.add_items(crowd.items(), text="text", id="item_id", fields=["task_type"])``.
        The text says nothing about the label.
        """
        import pandas as pd

        return pd.DataFrame({
            "item_id": self._item_ids,
            "text": [f"simulated item {i}" for i in range(len(self._item_ids))],
            "task_type": self.types.to_numpy(),
        })

    def answer(self, annotator: str, item_id: str) -> str:
        """The label ``annotator`` gives ``item_id`` (the same on every call)."""
        a, i = self._where(annotator, item_id)
        return self.labels[self._answers[a, i]]

    def seconds(self, annotator: str, item_id: str) -> float:
        """How long ``annotator`` takes to label ``item_id``, in seconds."""
        a, i = self._where(annotator, item_id)
        return float(self._seconds[a, i])

    def cost(self, annotator: str, seconds: float) -> float:
        """What ``seconds`` of this annotator's time costs at their hourly rate."""
        a = self._annotator(annotator)
        if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or not (
                math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds must be a finite number >= 0; got {seconds!r}")
        return float(self.annotators["hourly_rate"].iat[a]) * float(seconds) / 3600.0

    def answers(self, pairs: Sequence[tuple[str, str]]) -> pd.DataFrame:
        """Many answers at once: ``item_id``, ``annotator``, ``label``, ``seconds``, ``cost``."""
        import pandas as pd

        rows = [(item_id, who, self.answer(who, item_id), self.seconds(who, item_id))
                for who, item_id in pairs]
        df = pd.DataFrame(rows, columns=["item_id", "annotator", "label", "seconds"])
        rates = self.annotators.set_index("name")["hourly_rate"]
        df["cost"] = df["seconds"] * df["annotator"].map(rates).astype(float) / 3600.0
        return df

    # -- working through a project ---------------------------------------------------------
    def price(self, project: Any) -> None:
        """Set each simulated annotator's hourly rate on the project (``project.set_rate``),
        so its cost report, budget and Dashboard price their work."""
        for name, rate in zip(self.annotators["name"], self.annotators["hourly_rate"], strict=True):
            Ledger.of(project).set_rate(name, float(rate))

    def work(self, project: Any, queue: Any, *, labels: int | None = None, prefetch: int = 8,
             annotators: Sequence[str] | None = None) -> pd.DataFrame:
        """The crowd labels ``project`` through ``queue``, in simulated time.

        Each annotator is a :class:`~hitl_widgets.core.labeling.LabelingSession` on ``queue``;
        they take turns by their own speed (whoever's simulated clock is earliest asks next and
        spends ``seconds(who, item)`` on the item, which is stored as its ``ms_on_item``), until
        ``labels`` labels are given (None: no limit) or every annotator in a row finds nothing
        to do (a budget reached, the items done, the router holding them off). The sessions are
        closed at the end, so what their windows held goes back to the pool.

        Returns the labels given, in order: ``item_id``, ``annotator``, ``label``, ``seconds``,
        ``at_s`` (simulated seconds since the start, when the label was given).

        >>> import tempfile, os
        >>> from hitl_widgets.core.project import Project
        >>> crowd = SimulatedCrowd(n_items=20, n_annotators=3, seed=0)
        >>> project = Project(os.path.join(tempfile.mkdtemp(), "c.hitl"), labels=crowd.labels)
        >>> _ = project.add_items(crowd.items(), text="text", id="item_id", fields=["task_type"])
        >>> log = crowd.work(project, None, labels=12)
        >>> len(log), len(project.labels())
        (12, 12)
        """
        import heapq

        import pandas as pd

        from ..labeling import LabelingSession

        if labels is not None:
            labels = _count(labels, "labels", 0)
        names = self.names if annotators is None else [self.names[self._annotator(a)]
                                                       for a in annotators]
        sessions = {who: LabelingSession(project, who, queue=queue, prefetch=prefetch)
                    for who in names}
        # Clocks start staggered by a second so the first turns do not tie.
        clock = [(float(a), who) for a, who in enumerate(names)]
        heapq.heapify(clock)
        log: list[tuple] = []
        idle: set[str] = set()
        try:
            while (labels is None or len(log) < labels) and len(idle) < len(sessions):
                now, who = heapq.heappop(clock)
                window = sessions[who].window()
                if not window:
                    idle.add(who)
                    heapq.heappush(clock, (now + IDLE_WAIT_S, who))
                    continue
                idle.clear()
                item_id = window[0]
                label, seconds = self.answer(who, item_id), self.seconds(who, item_id)
                sessions[who].submit(item_id, [label], ms_on_item=round(seconds * 1000))
                log.append((item_id, who, label, seconds, now + seconds))
                heapq.heappush(clock, (now + seconds, who))
        finally:
            for session in sessions.values():
                session.close()
        return pd.DataFrame(log, columns=["item_id", "annotator", "label", "seconds", "at_s"])

    def __repr__(self) -> str:
        return (f"SimulatedCrowd(SIMULATED: {len(self._item_ids)} items, {len(self._col)} "
                f"annotators, {len(self.labels)} labels, {len(self.task_types)} types, "
                f"seed={self.seed})")

    # -- checks -----------------------------------------------------------------------------
    def _annotator(self, annotator: str) -> int:
        try:
            return self._col[annotator]
        except (KeyError, TypeError):
            raise ValueError(f"Unknown annotator {annotator!r}; this simulated crowd has "
                             f"{self.names[:3]}... ({len(self._col)} in all)") from None

    def _where(self, annotator: str, item_id: str) -> tuple[int, int]:
        a = self._annotator(annotator)
        try:
            return a, self._row[item_id]
        except (KeyError, TypeError):
            raise ValueError(f"Unknown item_id {item_id!r}; this simulated crowd's items are "
                             f"'item-0' .. 'item-{len(self._row) - 1}'") from None
