"""One progress helper for every long operation: a bar, nothing, or the caller's callback.

Every long call (``add_items``, ``apply_lfs``, ``simulate``, ``embed``, ``dawid_skene``,
``PoolScorer.rescore``) takes ``progress=``:

- ``None`` (the default): a bar only when the work is large (each call says from what size),
  so small calls and tests stay quiet;
- ``True``: always a bar; ``False``: never;
- a callable: called as ``progress(done, total)`` instead of drawing a bar.

The bar is ``tqdm.auto``'s: a widget bar in Jupyter, a text bar on stderr elsewhere. An
exception raised inside the work (a ``KeyboardInterrupt`` from "Interrupt kernel", or one raised
by the callback) closes the bar and propagates; each operation undoes what it had started.

>>> seen = []
>>> with progress_bar(3, "demo", lambda done, total: seen.append((done, total))) as bar:
...     for _ in range(3):
...         bar.advance(1)
>>> seen
[(1, 3), (2, 3), (3, 3)]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Progress = bool | Callable[[int, int], Any] | None


def check_progress(progress: Any) -> None:
    """TypeError unless ``progress`` is None, a bool, or a callable ``(done, total)``."""
    if progress is None or isinstance(progress, bool) or callable(progress):
        return
    raise TypeError(f"progress must be None (a bar for large work), True, False or a function "
                    f"called as progress(done, total); got {type(progress).__name__}")


class ProgressBar:
    """What a long operation advances; see :func:`progress_bar`."""

    def __init__(self, total: int, desc: str, progress: Progress, large: int, unit: str):
        check_progress(progress)
        self.total, self.done = int(total), 0
        self._call = progress if callable(progress) and not isinstance(progress, bool) else None
        self._bar = None
        if progress is True or (progress is None and self.total >= large):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, desc=desc, unit=unit)

    def advance(self, n: int) -> None:
        """``n`` more units are done."""
        self.set(self.done + n)

    def set(self, done: int) -> None:
        """``done`` units are done in all."""
        step, self.done = done - self.done, done
        if self._bar is not None:
            self._bar.update(step)
        if self._call is not None:
            self._call(done, self.total)

    def describe(self, desc: str) -> None:
        """Rename the current stage (e.g. from checking to writing)."""
        if self._bar is not None:
            self._bar.set_description(desc, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(total: int, desc: str, progress: Progress = None, *, large: int = 0,
                 unit: str = "it") -> ProgressBar:
    """A bar for ``total`` units of work (see the module's doc for ``progress``); ``large`` is
    the total from which the default (``None``) shows a bar. Use it as a context manager."""
    return ProgressBar(total, desc, progress, large, unit)
