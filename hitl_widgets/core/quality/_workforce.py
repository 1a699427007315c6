"""The workforce figures the Dashboard draws, as DataFrames: what labeling cost and how fast it
went, what is left of the budget, and how skilled each annotator is per task type.

Every number comes from the functions users call: :func:`cost_report` and
:func:`cost_summary` (the same pricing the budget cap uses), :func:`skill_profiles`, and the
project's budget state. Nothing here is stored.

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> project = Project(os.path.join(tempfile.mkdtemp(), "w.hitl"), labels=["a", "b"])
>>> _ = project.add_items(["x", "y"], id=["1", "2"])
>>> _ = project.set_rate("*", 36.0)
>>> _ = project.annotate("1", "a", annotator="ana", ms_on_item=10_000)
>>> data = workforce_data(project)
>>> round(float(data["cost_over_time"]["cost"].iloc[-1]), 2), data["turnaround"]["item_id"].tolist()
(0.1, ['1'])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..store import Ledger
from ._cost import ANSWER_KINDS, cost_report, cost_summary
from ._routing import needed
from ._skills import skill_profiles

THROUGHPUT_BIN = "1h"


def workforce_data(project: Any, task_type: Any = None, *, method: str = "majority",
                   bin: str = THROUGHPUT_BIN) -> dict[str, Any]:
    """Every workforce figure of the Dashboard, from one cost report.

    Keys:

    - ``cost_over_time``: ``at``, ``cost`` (cumulative), ``labels`` (cumulative), in the log's
      order; ``at`` never goes back (a clock that went back is drawn at the latest time seen);
    - ``by_annotator``: :func:`cost_summary` (labels, cost, cost per label and per accepted
      label, labels per hour of active time, ...);
    - ``throughput``: per ``bin`` of wall-clock time (default one hour): ``period``, ``labels``,
      ``cost``, ``annotators`` at work;
    - ``turnaround``: per finished item (its annotators all in, gold left out): ``item_id``,
      ``added_at``, ``finished_at``, ``hours`` (NaN when the clock ran backwards between the two);
    - ``budget``: ``{"spent", "limit", "reached"}`` or None without a budget;
    - ``skills``: :func:`skill_profiles` per annotator and ``task_type``.
    """
    ledger = Ledger.of(project)
    report = cost_report(ledger, method)
    answers = report[report["kind"].isin(ANSWER_KINDS)]
    return {
        "cost_over_time": _cost_over_time(report),
        "by_annotator": cost_summary(report),
        "throughput": _throughput(answers, bin),
        "turnaround": turnaround(ledger),
        "budget": ledger.costs.budget_state(),
        "skills": skill_profiles(ledger, task_type),
    }


def _cost_over_time(report: pd.DataFrame) -> pd.DataFrame:
    at = report["at"]
    if len(at):
        # The log's order is the truth; a writer's clock that went back would draw a zigzag.
        at = pd.Series(pd.to_datetime(np.maximum.accumulate(at.astype("int64").to_numpy()), utc=True),
                       index=report.index)
    return pd.DataFrame({"at": at, "cost": report["cost"].cumsum(),
                         "labels": report["kind"].isin(ANSWER_KINDS).cumsum().astype(int)})


def _throughput(answers: pd.DataFrame, bin: str) -> pd.DataFrame:
    columns = ["period", "labels", "cost", "annotators"]
    if answers.empty:
        return pd.DataFrame(columns=columns)
    g = answers.groupby(answers["at"].dt.floor(bin))
    out = pd.DataFrame({"labels": g.size(), "cost": g["cost"].sum(),
                        "annotators": g["annotator"].nunique()})
    out.index.name = "period"
    return out.reset_index()[columns]


def turnaround(project: Any) -> pd.DataFrame:
    """Per finished item: when it was added, when its last needed label came, and the hours
    between. Finished: as many current human labels as it needs (its k plus open requests
    left out; gold items are not counted)."""
    ledger = Ledger.of(project)
    columns = ["item_id", "added_at", "finished_at", "hours"]
    gold = ledger.store.latest_live("gold")
    per_item: dict[str, list[tuple[int, float]]] = {}
    for r in ledger.label_index.rows():  # kept up to date by the ledger: no read of the log
        if r.item_id not in gold:
            per_item.setdefault(r.item_id, []).append((r.seq, r.created_at))
    need = needed(ledger, list(per_item), requests=False)
    done: dict[str, float] = {}
    for item_id, labels in per_item.items():
        k = need[item_id]
        if len(labels) >= k:
            labels.sort()
            done[item_id] = labels[k - 1][1]  # the label that completed it
    if not done:
        return pd.DataFrame(columns=columns)
    added = {r["item_id"]: r["added_at"] for r in ledger.store.items_table() if r["item_id"] in done}
    ids = list(done)
    start = np.array([added[i] for i in ids], dtype=float)
    end = np.array([done[i] for i in ids], dtype=float)
    hours = (end - start) / 3600.0
    hours[hours < 0] = math.nan
    return pd.DataFrame({"item_id": ids, "added_at": pd.to_datetime(start, unit="s", utc=True),
                         "finished_at": pd.to_datetime(end, unit="s", utc=True), "hours": hours},
                        columns=columns)
