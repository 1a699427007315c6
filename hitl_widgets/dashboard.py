"""The quality Dashboard: a project lead's live view of agreement, annotators and what is left.

Six plotly panels in one ``FigureWidget`` -- agreement over time with its target line, accuracy on
gold per annotator, labels per annotator, label pairs between annotators, disagreement by label,
queue depth -- under one line of text with the adjudication count, the agreement alerts and their
reasons, and the annotators flagged for retraining. The numbers come from
:mod:`hitl_widgets.core.quality`; this module only draws them.

It follows the project: every change (a label, a flag, a resolution), made in this kernel or in
another (looked for every ``refresh_s`` seconds with ``Project.poll``), schedules a redraw, at
most one per ``refresh_s`` seconds. Its numbers are kept by a
:class:`~hitl_widgets.core.quality.DashboardStats`, which takes in only the items changed since
the last redraw. Project listeners run in the thread that wrote, and a widget's comm belongs to
the kernel's main thread, so in a notebook the redraw is handed to the kernel's event loop
(``call_soon_threadsafe``); the numbers are computed in a worker thread (``_background``) (the first load of a big
project takes seconds, a Dawid-Skene consensus too) and drawn on the loop when ready, the widget
carrying the class ``hitl-dashboard-updating`` meanwhile. Outside a loop (scripts, tests)
everything runs at once in the caller's thread.

With ``workforce=True`` a second figure follows the project's workforce: cost over time
against the budget, cost per label by annotator, throughput per hour, turnaround, what is left
of the budget, and each annotator's skill (accuracy with its interval) per task type -- from
:func:`~hitl_widgets.core.quality.workforce_data`, the same numbers ``project.cost_report()``,
``project.budget()`` and ``project.skill_profiles()`` return. Those are read in full at each
redraw (a cost report is one row per paid event), which is why they are asked for, not drawn
by default.

The dashboard is for whoever runs the project, not for annotators: it shows accuracy on gold but
never the gold answers, and it never attaches to a Labeler.

Example
-------
>>> import hitl_widgets as hw                         # doctest: +SKIP
>>> hw.Dashboard(project, target=0.7, window=50)      # doctest: +SKIP
"""

from __future__ import annotations

import html
import logging
import math
from typing import Any

import ipywidgets
import numpy as np

from ._background import LiveView
from ._json import json_safe
from .core import quality
from .core.project import Project

log = logging.getLogger("hitl_widgets")

TITLES = ("Agreement over time", "Accuracy on gold", "Labels per annotator",
          "Label pairs between annotators", "Disagreement by label", "Queue depth")
WORKFORCE_TITLES = ("Cost over time", "Cost per label by annotator", "Labels per hour",
                    "Turnaround (hours to finish an item)", "Budget", "Skill by task type")
QUEUE_KEYS = ("items", "labels", "requests", "adjudication")
MAX_POINTS = 2000  # of the agreement curve drawn


class Dashboard(ipywidgets.VBox):
    """A live quality dashboard of a project.

    Parameters
    ----------
    project : the :class:`~hitl_widgets.Project` to watch.
    target : the agreement (Krippendorff's alpha) the project aims at; drawn as a line.
    window : how many of the latest completed items each agreement point rests on.
    refresh_s : at most one redraw per this many seconds while labels arrive.
    rate_per_hour : what an hour of labeling costs; with it, cost per label is shown.
    threshold, min_count : an annotator below ``threshold`` accuracy on at least ``min_count``
        gold items is flagged for retraining (as in ``project.gold_accuracy``).
    method : the consensus disagreement is measured against, ``"majority"`` or
        ``"dawid_skene"``.
    workforce : also draw the workforce figure (cost, throughput, turnaround, budget, skills).
    task_type : what the skill panel splits by, as ``project.skill_profiles(task_type)`` takes
        it (None: one type; a field name; or a function of the item's record).

    Attributes
    ----------
    data : the figures last drawn (:func:`~hitl_widgets.core.quality.dashboard_data`).
    figure : the plotly ``FigureWidget``; summary : the ``HTML`` widget above it.
    workforce_figure : the workforce ``FigureWidget`` (None unless ``workforce=True``).
    """

    def __init__(self, project: Project, *, target: float = 0.7, window: int = 50,
                 refresh_s: float = 0.5, rate_per_hour: float | None = None,
                 threshold: float = 0.85, min_count: int = 5, method: str = "majority",
                 workforce: bool = False, task_type: Any = None) -> None:
        if not isinstance(project, Project):
            raise TypeError(f"Dashboard needs a hitl_widgets.Project, not {type(project).__name__}; "
                            "open one with hw.Project('file.hitl')")
        if isinstance(refresh_s, bool) or not isinstance(refresh_s, (int, float)) or not (
                math.isfinite(refresh_s) and refresh_s >= 0):
            raise ValueError(f"refresh_s must be a number of seconds, 0 or more; got {refresh_s!r}")
        options = quality.DashboardStats.options(  # checked before anything is built
            window=window, target=target, rate_per_hour=rate_per_hour, threshold=threshold,
            min_count=min_count, method=method)
        if not isinstance(workforce, bool):
            raise ValueError(f"workforce must be True or False; got {workforce!r}")
        if workforce:
            quality.check_task_type(task_type)
        summary = ipywidgets.HTML()
        figure = _make_figure(target)
        self.workforce_figure = _make_workforce_figure() if workforce else None
        self.task_type = task_type
        super().__init__(children=[summary, figure] + ([self.workforce_figure] if workforce else []))
        self.add_class("hitl-dashboard")
        self.project, self.summary, self.figure = project, summary, figure
        self.refresh_s, self._options = float(refresh_s), options
        self._stats = quality.DashboardStats(project)
        self.data: dict[str, Any] = {}
        # Annotators label in other kernels too: their writes reach _on_project_change as well.
        self._live = LiveView("hitl-dashboard", project, refresh=self.refresh,
                              on_change=self._on_project_change, on_updating=self._set_updating,
                              on_gone=self.close, refresh_s=self.refresh_s)
        if self._live.bg.threaded:  # a big project's first read takes seconds: not on the kernel's thread
            summary.value = ('<div class="hitl-dashboard-summary hitl-dashboard-loading">'
                             'Loading the dashboard…</div>')
        self.refresh()

    # -- redrawing --------------------------------------------------------------------------
    @property
    def updating(self) -> bool:
        """True while the figures are being computed in a worker thread."""
        return self._live.bg.updating

    def refresh(self) -> None:
        """Bring every figure up to date and redraw. In a notebook (a running event loop) the
        numbers are computed in a worker thread and drawn on the kernel's loop when ready."""
        self._live.bg.run(self._compute, self._draw, self._show_error)

    def _compute(self) -> dict[str, Any]:
        data = quality.dashboard_data(self.project, cache=self._stats, **self._options)
        if self.workforce_figure is not None:
            data = {**data, "workforce": quality.workforce_data(
                self.project, self.task_type, method=self._options["method"])}
        return data

    def _set_updating(self, updating: bool) -> None:
        if updating:
            self.add_class("hitl-dashboard-updating")
        else:
            self.remove_class("hitl-dashboard-updating")

    def _on_project_change(self, kind: str, info: dict) -> None:
        self._live.throttle.ask()

    def _show_error(self, exc: BaseException) -> None:
        log.error("Dashboard redraw failed", exc_info=exc)
        self.summary.value = (f'<div class="hitl-dashboard-error">Dashboard redraw failed: '
                              f'{html.escape(str(exc))}</div>')

    def _draw(self, data: dict[str, Any]) -> None:
        self.data = data
        with self.figure.batch_update():
            _fill(self.figure, data, self._options)
        if self.workforce_figure is not None:
            with self.workforce_figure.batch_update():
                _fill_workforce(self.workforce_figure, data["workforce"])
        self.summary.value = (summary_html(data) + _agreement_line(data, self._options)
                              + (_budget_line(data["workforce"]) if "workforce" in data else ""))
        self._live.throttle.drawn()

    def close(self) -> None:
        """Stop following the project and close the widget."""
        if "_live" in self.__dict__:  # ipywidgets may call close() on a half-built widget
            self._live.close()
            self.figure.close()
            self.summary.close()
            if self.workforce_figure is not None:
                self.workforce_figure.close()
        super().close()


# -- the summary line -----------------------------------------------------------------------------
def summary_html(data: dict[str, Any], *, max_alerts: int = 5) -> str:
    """One HTML block saying what needs attention, every piece of text escaped.

    ``data`` is :func:`~hitl_widgets.core.quality.dashboard_data`'s result. The root
    element carries the class ``hitl-dashboard-summary`` and ``data-*`` attributes with the
    counts, for tests and styling.
    """
    q, f, t = data["queue"], data["flags"], data["totals"]
    alerts, people = data["alerts"], data["flagged_annotators"]
    esc = html.escape
    parts = [
        f"<b>{t['labels']}</b> labels from <b>{t['annotators']}</b> annotators; "
        f"<b>{t['finished']}</b> items finished",
        f"adjudication: resolved {f['resolved']} of {f['flagged']} flagged",
        f"queue depth: {q['items']} items ({q['labels']} labels) to go, "
        f"{q['requests']} open requests, {q['adjudication']} to adjudicate",
    ]
    lines = ["<li>" + esc(str(r)) + "</li>" for r in alerts["reason"].tolist()[-max_alerts:]]
    if len(alerts) > max_alerts:
        lines.insert(0, f"<li>… {len(alerts) - max_alerts} earlier alerts</li>")
    people_lines = [f"<li>{esc(str(a))}: {esc(str(r))}</li>"
                    for a, r in zip(people["annotator"], people["reason"], strict=True)]
    attrs = (f'data-flagged="{f["flagged"]}" data-resolved="{f["resolved"]}" '
             f'data-queue-items="{q["items"]}" data-queue-adjudication="{q["adjudication"]}" '
             f'data-alerts="{len(alerts)}" data-flagged-annotators="{len(people)}"')
    body = " · ".join(parts)
    body += ("<div>Alerts (relabeling): <ul>" + "".join(lines) + "</ul></div>" if lines
             else "<div>No agreement alerts.</div>")
    body += ("<div>Annotators flagged for retraining: <ul>" + "".join(people_lines)
             + "</ul></div>" if people_lines else "<div>No annotator flagged.</div>")
    return f'<div class="hitl-dashboard-summary" {attrs}>{body}</div>'


# -- the figure ------------------------------------------------------------------------------------
def _make_figure(target: float) -> Any:
    from plotly import graph_objects as go  # heavy: only when a dashboard is made
    from plotly.subplots import make_subplots

    fig = go.FigureWidget(make_subplots(rows=2, cols=3, subplot_titles=TITLES,
                                        horizontal_spacing=0.09, vertical_spacing=0.2))
    fig.add_trace(go.Scatter(name="agreement", mode="lines+markers", connectgaps=False,
                             marker=dict(size=4)), row=1, col=1)
    fig.add_trace(go.Scatter(name="target", mode="lines", line=dict(dash="dash", color="gray"),
                             hoverinfo="skip"), row=1, col=1)
    # Counts sit above the bars, so a 0 % bar still says what it rests on.
    fig.add_trace(go.Bar(name="gold accuracy", textposition="outside", cliponaxis=False),
                  row=1, col=2)
    fig.add_trace(go.Bar(name="labels"), row=1, col=3)
    fig.add_trace(go.Heatmap(name="pairs", colorscale="Blues", showscale=False,
                             texttemplate="%{z}", hovertemplate="%{y} / %{x}: %{z}<extra></extra>"),
                  row=2, col=1)
    fig.add_trace(go.Bar(name="disagreement", textposition="outside", cliponaxis=False),
                  row=2, col=2)
    fig.add_trace(go.Bar(name="queue"), row=2, col=3)
    fig.update_layout(height=560, showlegend=False, margin=dict(t=50, b=40, l=50, r=20),
                      title=dict(text="Quality dashboard", x=0.01, y=0.99))
    fig.update_xaxes(title_text="items completed", row=1, col=1)
    fig.update_yaxes(title_text="Krippendorff's α", row=1, col=1)
    shares = dict(range=[0, 1.15], tickvals=[0, 0.25, 0.5, 0.75, 1], tickformat=".0%")
    fig.update_yaxes(shares, row=1, col=2)  # headroom above 100 % for the counts
    fig.update_yaxes(shares, row=2, col=2)
    fig.update_yaxes(autorange="reversed", row=2, col=1)  # the table reads top-down
    return fig


def _fill(fig: Any, data: dict[str, Any], options: dict) -> None:
    agreement, target_line, gold, volume, pairs, disagreement, queue = fig.data
    curve = data["agreement"]
    n = curve["n"].to_numpy()
    # A long curve is drawn thinned to MAX_POINTS of its exact values (data keeps them all):
    # a million-label project has 300k points, more than a plot shows and seconds to send.
    shown = _thin(len(n), MAX_POINTS)
    agreement.x = n[shown].tolist()
    agreement.y = json_safe(curve["agreement"].to_numpy()[shown].tolist())  # NaN: a gap, not 0
    agreement.text = curve["item_id"].iloc[shown].tolist()  # not all 300k ids converted
    target_line.x = [1, max(int(n[-1]), 2)] if len(n) else []
    target_line.y = [options["target"]] * 2 if len(n) else []

    people = data["annotators"]
    on_gold = people[people["gold_n"] > 0]
    gold.x, gold.y = on_gold["annotator"].tolist(), json_safe(on_gold["gold_accuracy"].tolist())
    gold.text = [f"n={k}" for k in on_gold["gold_n"]]
    gold.marker.color = ["#d62728" if f else "#1f77b4" for f in on_gold["flagged"]]
    volume.x, volume.y = people["annotator"].tolist(), people["labels"].tolist()
    volume.hovertext = [_volume_hover(r) for r in people.itertuples()]

    table = data["confusion"]
    pairs.z = table.to_numpy().tolist()
    pairs.x = pairs.y = [str(c) for c in table.columns]

    dis = data["disagreement"]
    disagreement.x, disagreement.y = dis["label"].astype(str).tolist(), json_safe(dis["rate"].tolist())
    disagreement.text = [f"{d}/{n}" for d, n in zip(dis["disagreed"], dis["items"], strict=True)]

    queue.x = list(QUEUE_KEYS)
    queue.y = [data["queue"][k] for k in QUEUE_KEYS]


def _thin(n: int, most: int) -> np.ndarray:
    """At most ``most`` positions out of ``n``, evenly spread, the first and last included."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))


def _volume_hover(row: Any) -> str:
    parts = [f"{row.annotator}: {row.labels} labels"]
    if not math.isnan(row.median_s):
        parts.append(f"median {row.median_s:.1f} s per label")
    if not math.isnan(row.cost_per_label):
        parts.append(f"{row.cost_per_label:.3f} per label")
    return "<br>".join(html.escape(p) for p in parts)


def _agreement_line(data: dict[str, Any], options: dict) -> str:
    curve = data["agreement"]
    if curve.empty:
        return '<div class="hitl-dashboard-agreement">Agreement: no finished item with two or ' \
               'more labels yet.</div>'
    last = curve.iloc[-1]
    value = last["agreement"]
    said = ("undefined (every label in the window is the same)" if math.isnan(value)
            else f"{value:.2f}")
    return (f'<div class="hitl-dashboard-agreement">Agreement (Krippendorff\'s α, last '
            f'{int(last["window_items"])} items): {said}; target {options["target"]:.2f}</div>')


# -- the workforce figure -------------------------------------------------------------------------
def _make_workforce_figure() -> Any:
    from plotly import graph_objects as go
    from plotly.subplots import make_subplots

    fig = go.FigureWidget(make_subplots(rows=2, cols=3, subplot_titles=WORKFORCE_TITLES,
                                        horizontal_spacing=0.09, vertical_spacing=0.2))
    fig.add_trace(go.Scatter(name="cost", mode="lines"), row=1, col=1)
    fig.add_trace(go.Scatter(name="budget", mode="lines", line=dict(dash="dash", color="gray"),
                             hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Bar(name="cost per label", textposition="outside", cliponaxis=False),
                  row=1, col=2)
    fig.add_trace(go.Bar(name="labels per hour"), row=1, col=3)
    fig.add_trace(go.Histogram(name="turnaround", nbinsx=30), row=2, col=1)
    fig.add_trace(go.Bar(name="budget", orientation="h", textposition="inside"), row=2, col=2)
    fig.add_trace(go.Scatter(name="skill", mode="markers", error_y=dict(type="data", symmetric=False),
                             marker=dict(size=8)), row=2, col=3)
    fig.update_layout(height=560, showlegend=False, margin=dict(t=50, b=40, l=50, r=20),
                      title=dict(text="Workforce", x=0.01, y=0.99))
    fig.update_yaxes(title_text="money spent", row=1, col=1)
    fig.update_yaxes(title_text="labels", row=1, col=3)
    fig.update_xaxes(title_text="hours", row=2, col=1)
    fig.update_yaxes(dict(range=[0, 1.05], tickformat=".0%"), row=2, col=3)
    return fig


def _fill_workforce(fig: Any, data: dict[str, Any]) -> None:
    cost, budget_line, per_label, throughput, turnaround, budget, skill = fig.data
    over_time = data["cost_over_time"]
    shown = _thin(len(over_time), MAX_POINTS)
    cost.x = over_time["at"].iloc[shown].tolist()
    cost.y = json_safe(over_time["cost"].iloc[shown].tolist())
    limit = data["budget"]["limit"] if data["budget"] else None
    budget_line.x = [over_time["at"].iloc[0], over_time["at"].iloc[-1]] if limit and len(over_time) else []
    budget_line.y = [limit, limit] if limit and len(over_time) else []

    people = data["by_annotator"]
    per_label.x = people["annotator"].tolist()
    per_label.y = json_safe(people["cost_per_label"].astype(float).tolist())
    per_label.text = [f"{n} labels" for n in people["labels"]]
    per_label.hovertext = [_cost_hover(r) for r in people.itertuples()]

    per_hour = data["throughput"]
    throughput.x, throughput.y = per_hour["period"].tolist(), per_hour["labels"].tolist()
    turnaround.x = json_safe(data["turnaround"]["hours"].dropna().tolist())

    state = data["budget"]
    if state:
        left = max(state["limit"] - state["spent"], 0.0)
        budget.y, budget.x = ["spent", "left"], [state["spent"], left]
        budget.text = [f"{state['spent']:.2f}", f"{left:.2f}"]
    else:
        budget.y, budget.x, budget.text = ["no budget set"], [0], [""]

    skills = data["skills"]
    skill.x = [f"{a} · {t}" for a, t in zip(skills["annotator"], skills["task_type"], strict=True)]
    skill.y = json_safe(skills["mean"].tolist())
    skill.error_y.array = json_safe((skills["high"] - skills["mean"]).tolist())
    skill.error_y.arrayminus = json_safe((skills["mean"] - skills["low"]).tolist())
    skill.hovertext = [html.escape(f"{r.annotator} on {r.task_type}: {r.mean:.2f} "
                                   f"[{r.low:.2f}, {r.high:.2f}], {r.n_gold} gold, "
                                   f"{r.n_consensus:.0f} consensus") for r in skills.itertuples()]


def _cost_hover(row: Any) -> str:
    parts = [f"{row.annotator}: {row.labels} labels, cost {row.cost:.2f}"]
    if not math.isnan(row.cost_per_accepted):
        parts.append(f"{row.cost_per_accepted:.3f} per accepted label")
    if not math.isnan(row.labels_per_hour):
        parts.append(f"{row.labels_per_hour:.0f} labels per active hour")
    return "<br>".join(html.escape(p) for p in parts)


def _budget_line(data: dict[str, Any]) -> str:
    state = data["budget"]
    spent = float(data["cost_over_time"]["cost"].iloc[-1]) if len(data["cost_over_time"]) else 0.0
    if not state:
        return (f'<div class="hitl-dashboard-budget" data-spent="{spent:.2f}">Spent {spent:.2f}; '
                'no budget set.</div>')
    left = max(state["limit"] - state["spent"], 0.0)
    said = "reached: no new work is handed out" if state["reached"] else f"{left:.2f} left"
    return (f'<div class="hitl-dashboard-budget" data-spent="{state["spent"]:.2f}" '
            f'data-limit="{state["limit"]:.2f}" data-reached="{str(state["reached"]).lower()}">'
            f'Budget: spent {state["spent"]:.2f} of {state["limit"]:.2f}; {html.escape(said)}.</div>')
