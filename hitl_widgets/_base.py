"""The shared widget base: strict keyword arguments, an ``error`` trait, one intent dispatcher."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

log = logging.getLogger("hitl_widgets")


class HitlWidget(anywidget.AnyWidget):
    """Base of every hitl_widgets widget.

    Subclasses map intent types to handlers in ``_intents``; a handler's exception is logged
    and shown in the view through the ``error`` trait, never swallowed.
    """

    error = traitlets.Unicode("").tag(sync=True)
    _intents: dict[str, str] = {}

    def __init__(self, **kwargs: Any) -> None:
        unknown = sorted(k for k in kwargs if not self.has_trait(k))
        if unknown:  # a misspelt option must not be silently ignored
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) {unknown}")
        super().__init__(**kwargs)
        self.on_msg(self._dispatch)

    def _dispatch(self, _widget: Any, content: Any, buffers: list) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        handler: Callable | None = getattr(self, self._intents.get(kind, ""), None)
        if handler is None:
            self._fail(f"Unknown message {content!r:.200}")
            return
        try:
            handler(content)
        except Exception as exc:  # shown to the user; logged with the traceback for developers
            log.exception("%s failed on %r", type(self).__name__, kind)
            self._fail(f"{kind} failed: {exc}")

    def _fail(self, message: str) -> None:
        log.warning(message)
        self.error = message
