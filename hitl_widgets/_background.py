"""A widget's heavy work off the kernel's thread, landed on the kernel's loop: one mechanism.

In a notebook the kernel's thread runs an asyncio loop, and a widget's traits and comm belong to
it. A job asked of :class:`Background` there is computed in a worker thread (a big project's
first read takes seconds; the kernel stays free meanwhile) and its result handed to the loop with
``call_soon_threadsafe``, where ``land`` (or ``fail``, with the exception) runs. The widget is told
it is updating while a job runs; a job asked for meanwhile is run once more after it lands (the
running one may have missed the change), once per ``key`` however often it was asked. Outside a
loop (scripts, tests) a job is computed and landed at once in the caller's thread.

Example
-------
>>> got = []
>>> bg = Background("example", on_updating=got.append)
>>> bg.run(lambda: 6 * 7, got.append, got.append)    # no running loop: at once, in this thread
>>> got, bg.updating
([42], False)
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("hitl_widgets")

Job = tuple[Callable[[], Any], Callable[[Any], None], Callable[[Exception], None]]


class Background:
    """Runs jobs ``compute -> land | fail`` for one widget; see the module's docstring.

    ``on_updating(True)`` is called (in the asking thread) when a job starts with none running,
    ``on_updating(False)`` on the loop when the last one has landed.
    """

    def __init__(self, name: str, on_updating: Callable[[bool], None]) -> None:
        self.name = name
        self.loop = running_loop()
        self._on_updating = on_updating
        self._lock = threading.Lock()
        self._busy = False  # a worker thread is computing
        self._closed = False
        self._pending: dict[str, Job] = {}  # asked for while busy: run after the running one lands

    @property
    def threaded(self) -> bool:
        """True when jobs run in a worker thread (a running, open loop was found)."""
        return self.loop is not None and not self.loop.is_closed()

    @property
    def updating(self) -> bool:
        """True while a job is being computed in a worker thread."""
        return self._busy

    def run(self, compute: Callable[[], Any], land: Callable[[Any], None],
            fail: Callable[[Exception], None], *, key: str = "") -> None:
        """Compute, then land the result or fail with the exception. Without a loop: now, in this
        thread, and the exception (after ``fail``) raised to the caller."""
        if not self.threaded:
            try:
                land(compute())
            except Exception as exc:
                fail(exc)
                raise
            return
        with self._lock:
            if self._closed:
                return
            if self._busy:
                self._pending[key] = (compute, land, fail)
                return
            self._busy = True
        self._on_updating(True)
        self._start((compute, land, fail))

    def close(self) -> None:
        """Land nothing more (a running job finishes in its thread; its result is dropped)."""
        with self._lock:
            self._closed = True
            self._pending.clear()

    def _start(self, job: Job) -> None:
        threading.Thread(target=self._work, args=(job,), name=self.name, daemon=True).start()

    def _work(self, job: Job) -> None:
        result, error = None, None
        try:
            result = job[0]()
        except Exception as exc:  # failed on the loop, in the widget
            error = exc
        try:
            self.loop.call_soon_threadsafe(self._land, job, result, error)
        except RuntimeError:  # the loop closed meanwhile: nobody is left to show it to
            with self._lock:
                self._busy = False

    def _land(self, job: Job, result: Any, error: Exception | None) -> None:
        with self._lock:
            if self._closed:
                self._busy = False
                return
            following = self._pending.pop(next(iter(self._pending)), None) if self._pending else None
            self._busy = following is not None
        if following is None:
            self._on_updating(False)
        try:
            if error is not None:
                job[2](error)
            else:
                job[1](result)
        except Exception as exc:  # landing failed: shown like a failed computation
            job[2](exc)
        if following is not None:
            self._start(following)


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop running in this thread (a notebook's kernel), or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Follow:
    """Polls a project for other kernels' writes every ``every_s`` seconds on the kernel's loop,
    until :meth:`stop`: what they wrote reaches the project's listeners as an ``external``
    notice (:meth:`hitl_widgets.Project.poll`), on the loop like the widget's own changes.

    A view that only heard its own kernel would never move while annotators label elsewhere.
    Each tick is one ``PRAGMA data_version`` when nothing changed. Without a running loop
    (scripts, tests) it does nothing: call ``project.poll()`` there.
    """

    def __init__(self, project: Any, every_s: float, loop: asyncio.AbstractEventLoop | None):
        self.project, self.every_s, self.loop = project, float(every_s), loop
        self._handle: asyncio.TimerHandle | None = None
        self._stopped = False
        if loop is not None and not loop.is_closed():
            self._handle = loop.call_later(self.every_s, self._tick)

    def _tick(self) -> None:
        if self._stopped or self.project.store.closed:
            return
        try:
            self.project.poll()
        except Exception:  # a failed poll (a file gone away) must not stop the next ones
            log.exception("polling %s for other kernels' writes failed", self.project)
        if not self._stopped:
            self._handle = self.loop.call_later(self.every_s, self._tick)

    def stop(self) -> None:
        """No more polls (from the loop's thread, or any: a pending tick then does nothing)."""
        self._stopped = True
        if self._handle is not None:
            self._handle.cancel()


class Throttle:
    """Runs ``redraw`` at most once per ``every_s`` seconds however often :meth:`ask` is called:
    the views' rule for changes that arrive faster than a redraw is worth. In a notebook the
    redraw is put on the kernel's loop (asking may happen in any thread: a project's listeners
    run in the thread that wrote); a change asked for while one is scheduled rides with it, and
    one asked for during a redraw schedules the next. Without a loop, :meth:`ask` redraws at once.

    The owner calls :meth:`drawn` when a redraw has landed, which starts the next wait.
    """

    def __init__(self, redraw: Callable[[], None], every_s: float,
                 loop: asyncio.AbstractEventLoop | None) -> None:
        self._redraw, self.every_s, self.loop = redraw, float(every_s), loop
        self._lock = threading.Lock()
        self._scheduled = self._closed = False
        self._last = 0.0

    def ask(self) -> None:
        """A change happened: redraw soon (or now, without a loop)."""
        with self._lock:
            if self._closed or self._scheduled:
                return  # a redraw is already on its way; it will read this change too
            self._scheduled = True
        loop = self.loop
        if loop is not None and not loop.is_closed():
            delay = max(0.0, self.every_s - (time.monotonic() - self._last))
            try:
                loop.call_soon_threadsafe(loop.call_later, delay, self._run)
                return
            except RuntimeError:  # the loop closed meanwhile
                pass
        self._run()

    def drawn(self) -> None:
        """A redraw landed: the next one waits ``every_s`` from now."""
        self._last = time.monotonic()

    def close(self) -> None:
        """No more redraws (one already scheduled does nothing)."""
        with self._lock:
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def _run(self) -> None:
        with self._lock:
            self._scheduled = False  # first: a change arriving during the redraw asks again
            if self._closed:
                return
        self._redraw()


MIN_POLL_S = 0.1  # the shortest wait between two looks for other kernels' writes


class LiveView:
    """What a live view of a project holds, in one piece: its heavy work in a worker
    (:class:`Background`), redraws at most one per ``refresh_s`` (:class:`Throttle`), other
    kernels' writes looked for (:class:`Follow`), the project's notices heard (``on_change``);
    one :meth:`close` for all of it. The Dashboard and the CorrectionCost plot are two.

    ``refresh`` redraws (it shows and logs its own failures); ``on_gone`` runs instead when the
    project was closed under the view.
    """

    def __init__(self, name: str, project: Any, *, refresh: Callable[[], None],
                 on_change: Callable[[str, dict], None], on_updating: Callable[[bool], None],
                 on_gone: Callable[[], None], refresh_s: float) -> None:
        self.project, self._refresh, self._on_gone = project, refresh, on_gone
        self.bg = Background(name, on_updating)
        self.throttle = Throttle(self.redraw, refresh_s, self.bg.loop)
        self._unsubscribe = project.subscribe(on_change)
        self._follow = Follow(project, max(refresh_s, MIN_POLL_S), self.bg.loop)

    def redraw(self) -> None:
        """What the throttle runs: the view's refresh, unless the project is gone."""
        if self.project.store.closed:  # closed under us: nothing left to show
            self._on_gone()
            return
        try:
            self._refresh()
        except Exception:  # the view's refresh showed it and logged it
            pass

    def close(self) -> None:
        self.throttle.close()
        self.bg.close()
        self._follow.stop()
        self._unsubscribe()
