"""Live plots of a stream: how full each reservoir is against its room, and drift over time.

``hw.StreamView(sampler, monitor)`` draws :func:`~hitl_widgets.plots.reservoir_fill` of a
:class:`~hitl_widgets.core.stream.StreamSampler` and, with a
:class:`~hitl_widgets.core.drift.DriftMonitor`, :func:`~hitl_widgets.plots.drift_over_time`
with the drifted checks marked. It redraws when the sampler adds a batch to the project (in this
kernel, or in another: the sampler's saved state is read again when another kernel wrote) and
after each of the monitor's checks, at most once per ``refresh_s``.

Example
-------
>>> import hitl_widgets as hw                                       # doctest: +SKIP
>>> view = hw.StreamView(sampler, monitor); view                    # doctest: +SKIP
>>> sampler.ingest(stream, batch_size=1_000)   # the bars fill as batches land  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math

import ipywidgets

from ._background import MIN_POLL_S, Follow, Throttle, running_loop
from .core.drift import DriftMonitor
from .core.stream import StreamSampler
from .plots import drift_over_time, reservoir_fill

log = logging.getLogger("hitl_widgets")

CHANGES = ("stream", "external")  # a batch of a sampler's (here or in another kernel)


class StreamView(ipywidgets.VBox):
    """Reservoir fill (and drift, with a monitor), kept up to date.

    Parameters
    ----------
    sampler : the :class:`~hitl_widgets.core.stream.StreamSampler` to watch.
    monitor : optional :class:`~hitl_widgets.core.drift.DriftMonitor` of the same stream.
    refresh_s : at most one redraw per this many seconds.
    """

    def __init__(self, sampler: StreamSampler, monitor: DriftMonitor | None = None, *,
                 refresh_s: float = 0.5) -> None:
        if not isinstance(sampler, StreamSampler):
            raise TypeError(f"StreamView needs a StreamSampler, not {type(sampler).__name__}")
        if monitor is not None and not isinstance(monitor, DriftMonitor):
            raise TypeError(f"monitor must be a DriftMonitor or None, not {type(monitor).__name__}")
        if isinstance(refresh_s, bool) or not isinstance(refresh_s, (int, float)) or not (
                math.isfinite(refresh_s) and refresh_s >= 0):
            raise ValueError(f"refresh_s must be a number of seconds, 0 or more; got {refresh_s!r}")
        from plotly import graph_objects as go

        self.sampler, self.monitor = sampler, monitor
        self.fill = go.FigureWidget(reservoir_fill(sampler.counts()))
        self.drift = None if monitor is None else go.FigureWidget(drift_over_time(monitor.history))
        super().__init__(children=[self.fill] + ([self.drift] if self.drift is not None else []))
        self.add_class("hitl-stream-view")
        loop = running_loop()
        self._throttle = Throttle(self.refresh, refresh_s, loop)
        self._unsubscribe = sampler.ledger.subscribe(self._on_project_change)
        self._unwatch = monitor.subscribe(lambda alert: self._throttle.ask()) if monitor else None
        self._follow = Follow(_ProjectOf(sampler), max(refresh_s, MIN_POLL_S), loop)

    def refresh(self) -> None:
        """Redraw from the sampler (and the monitor) now."""
        counts = self.sampler.counts()
        fresh = reservoir_fill(counts)
        with self.fill.batch_update():
            self.fill.data = ()
            self.fill.add_traces(list(fresh.data))
        if self.drift is not None:
            fresh = drift_over_time(self.monitor.history)
            with self.drift.batch_update():
                self.drift.data = ()
                self.drift.add_traces(list(fresh.data))
        self._throttle.drawn()

    def _on_project_change(self, kind: str, info: dict) -> None:
        if kind not in CHANGES:
            return
        if kind == "external":  # another kernel's batches: the sampler's saved state moved
            try:
                saved = StreamSampler.open(self.sampler.ledger, self.sampler.name,
                                           by=self.sampler.by if callable(self.sampler.by) else None)
            except Exception:  # pragma: no cover - shown in the log, the view keeps what it has
                log.exception("StreamView could not read sampler %r", self.sampler.name)
                return
            if saved.batches != self.sampler.batches:
                self.sampler = saved
        self._throttle.ask()

    def close(self) -> None:
        """Stop following and close the widget."""
        if "_throttle" in self.__dict__:
            self._throttle.close()
            self._follow.stop()
            self._unsubscribe()
            if self._unwatch is not None:
                self._unwatch()
            self.fill.close()
            if self.drift is not None:
                self.drift.close()
        super().close()


class _ProjectOf:
    """What :class:`Follow` needs of a project (``poll`` and ``store``), from a sampler's ledger."""

    def __init__(self, sampler: StreamSampler) -> None:
        self.ledger = sampler.ledger
        self.store = sampler.ledger.store

    def poll(self) -> bool:
        return self.ledger.poll()
