"""A live plot of what correcting a model's span suggestions costs, per model version and label.

What became of every suggested span (accepted, edited, deleted; and the spans added by hand) and
the seconds per accepted suggestion, from :func:`~hitl_widgets.core.spans.span_outcomes` and
:func:`~hitl_widgets.core.spans.correction_cost`, drawn by
:func:`~hitl_widgets.plots.correction_cost_figure`. It follows the project as the Dashboard does:
a submission of spans in this kernel, or in another (looked for every ``refresh_s`` seconds),
schedules a redraw, at most one per ``refresh_s``; in a notebook the numbers are computed in a
worker thread and drawn on the kernel's loop.

Example
-------
>>> import hitl_widgets as hw                                        # doctest: +SKIP
>>> hw.CorrectionCost(project)   # beside hw.SpanLabeler(project, suggest=...)  # doctest: +SKIP
"""

from __future__ import annotations

import html
import logging
import math

import ipywidgets

from ._background import LiveView
from .core import spans
from .core.project import Project
from .plots import correction_cost_figure

log = logging.getLogger("hitl_widgets")

CHANGES = ("spans", "retraction", "suggestion", "external")  # notices that can move the figures


class CorrectionCost(ipywidgets.VBox):
    """The correction cost of a span project's suggestions, kept up to date.

    Parameters
    ----------
    project : a :class:`~hitl_widgets.Project` with a span task.
    annotator : only this annotator's submissions (default: everyone's).
    refresh_s : at most one redraw per this many seconds while submissions arrive.

    Attributes
    ----------
    cost : the table last drawn (:func:`~hitl_widgets.core.spans.correction_cost`).
    figure : the plotly ``FigureWidget``; summary : the line of text above it.
    """

    def __init__(self, project: Project, *, annotator: str | None = None,
                 refresh_s: float = 1.0) -> None:
        if not isinstance(project, Project):
            raise TypeError(f"CorrectionCost needs a hitl_widgets.Project, not "
                            f"{type(project).__name__}")
        if project.span_schema is None:
            raise ValueError(f"{project.path} has no span task, so no span suggestions to "
                             "correct; open one with hw.Project(path, span_labels=[...])")
        if isinstance(refresh_s, bool) or not isinstance(refresh_s, (int, float)) or not (
                math.isfinite(refresh_s) and refresh_s >= 0):
            raise ValueError(f"refresh_s must be a number of seconds, 0 or more; got {refresh_s!r}")
        from plotly import graph_objects as go

        self.project, self.annotator, self.refresh_s = project, annotator, float(refresh_s)
        self.summary = ipywidgets.HTML()
        self.figure = go.FigureWidget(correction_cost_figure(spans.correction_cost(
            spans.span_outcomes(project, annotator).iloc[:0])))
        super().__init__(children=[self.summary, self.figure])
        self.add_class("hitl-correction-cost")
        self.cost = None
        self._live = LiveView("hitl-correction-cost", project, refresh=self.refresh,
                              on_change=self._on_change, on_updating=self._set_updating,
                              on_gone=self.close, refresh_s=self.refresh_s)
        self.refresh()

    def refresh(self) -> None:
        """Recompute and redraw (in a notebook: computed in a worker thread)."""
        self._live.bg.run(self._compute, self._draw, self._show_error)

    def _compute(self):
        return spans.correction_cost(spans.span_outcomes(self.project, self.annotator))

    def _draw(self, cost) -> None:
        self.cost = cost
        fresh = correction_cost_figure(cost)
        with self.figure.batch_update():
            self.figure.data = ()
            self.figure.add_traces(list(fresh.data))
        suggested = int(cost["suggested"].sum()) if len(cost) else 0
        accepted = int(cost["accepted"].sum()) if len(cost) else 0
        self.summary.value = (
            f'<div class="hitl-correction-summary" data-suggested="{suggested}" '
            f'data-accepted="{accepted}">{suggested} suggested spans, {accepted} accepted as '
            f'they were, over {cost["model_version"].nunique() if len(cost) else 0} model '
            "version(s)</div>")
        self._live.throttle.drawn()

    def _show_error(self, exc: BaseException) -> None:
        log.error("CorrectionCost redraw failed", exc_info=exc)
        self.summary.value = (f'<div class="hitl-correction-error">Redraw failed: '
                              f"{html.escape(str(exc))}</div>")

    def _set_updating(self, updating: bool) -> None:
        (self.add_class if updating else self.remove_class)("hitl-updating")

    def _on_change(self, kind: str, info: dict) -> None:
        if kind in CHANGES:
            self._live.throttle.ask()

    def close(self) -> None:
        """Stop following the project and close the widget."""
        if "_live" in self.__dict__:  # ipywidgets may call close() on a half-built widget
            self._live.close()
            self.figure.close()
            self.summary.close()
        super().close()
