"""The shared base of widgets that show a queue of items: a labeling session's window of next
items (their payloads sent ahead, so the browser draws the next one without a round trip),
acks by ``client_seq`` once a write is durable, and the intents every such view sends (skip,
undo, fetch). The Labeler and the SpanLabeler are this plus what their answers are.
"""

from __future__ import annotations

import math
from typing import Any

import traitlets

from ._base import (
    MAX_SAFE_INTEGER,
    Field,
    HitlWidget,
    Intent,
    describe,
    integer,
    log,
    nullable,
    number,
    text,
    text_list,
)
from .core.labeling import LabelingSession, Queue
from .core.project import Project
from .core.store import StoreError

__all__ = ["IDLE_AFTER_S", "ITEM", "MS", "QUEUE_INTENTS", "SEQ", "QueuedWidget", "check_idle_after"]

IDLE_AFTER_S = 30.0  # a pause longer than this, the annotator is taken to have been away

# Fields of the envelopes a queue's view sends (docs/labeler_protocol.md).
ITEM = Field(text())
SEQ = Field(integer())
MS = Field(nullable(number(minimum=0, maximum=MAX_SAFE_INTEGER,
                           what="a number of milliseconds from 0 to 2**53 - 1")), required=False)
QUEUE_INTENTS = {
    "skip": Intent("_on_skip", {"item_id": ITEM, "ms_on_item": MS, "client_seq": SEQ}),
    # item_id: the item the view expects back; null (no local history) undoes the latest action
    "undo": Intent("_on_undo", {"item_id": Field(nullable(text())), "client_seq": SEQ}),
    "fetch": Intent("_on_fetch", {"item_ids": Field(text_list(example='["i0", "i1"]'))}),
}


def check_idle_after(value: Any) -> float:
    """``idle_after_s`` as a float, or a ValueError saying what it must be.

    >>> check_idle_after(5)
    5.0
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0):
        raise ValueError(f"idle_after_s must be a positive finite number of seconds (e.g. 30); "
                         f"got {describe(value)}")
    return float(value)


class QueuedWidget(HitlWidget):
    """A widget over one annotator's :class:`LabelingSession`. Subclasses name their view
    (``_esm``), their intents (``QUEUE_INTENTS`` plus their own ``submit``), the task the view
    needs (``_schema_of``) and, if they add to it, each item's payload (``_payloads``)."""

    schema = traitlets.Dict().tag(sync=True)
    annotator = traitlets.Unicode().tag(sync=True)
    window = traitlets.List(traitlets.Unicode()).tag(sync=True)
    progress = traitlets.Dict().tag(sync=True)
    # Seconds without input after which the view's clock stops counting (js activeClock).
    idle_after_s = traitlets.Float(IDLE_AFTER_S).tag(sync=True)

    _reply_ids = ("client_seq", "item_id")

    def __init__(self, project: Project, *, annotator: str = "default",
                 queue: Queue | None = None, prefetch: int = 8,
                 idle_after_s: float = IDLE_AFTER_S, **kwargs: Any) -> None:
        if not isinstance(project, Project):
            raise TypeError(f"{type(self).__name__} needs a hitl_widgets.Project, not "
                            f"{type(project).__name__}; "
                            "open one with hw.Project('file.hitl', labels=[...])")
        idle_after_s = check_idle_after(idle_after_s)  # before the session: a refusal opens nothing
        self.session = LabelingSession(project, annotator, queue=queue, prefetch=prefetch)
        self._unsubscribe = lambda: None
        try:
            super().__init__(schema=self._schema_of(project), annotator=annotator,
                             idle_after_s=idle_after_s, **kwargs)
        except Exception:
            self.session.close()
            raise
        self._sent: set[str] = set()  # items whose payloads the views already have
        self._unsubscribe = project.subscribe(self._on_project_change)
        self._refresh()

    @traitlets.validate("idle_after_s")
    def _valid_idle_after(self, proposal: dict) -> float:
        return check_idle_after(proposal["value"])

    def _schema_of(self, project: Project) -> dict:
        """What the view needs to know of the task (a subclass labels something else)."""
        return project.schema.to_json()

    def _payloads(self, ids: list[str]) -> tuple[list[dict], list[bytes]]:
        """The payloads the view draws these items from."""
        return self.session.payloads(ids)

    @property
    def project(self) -> Project:
        return self.session.project

    # -- intents every queue view sends (already checked) --------------------------------
    def _on_skip(self, msg: dict) -> None:
        self._commit(msg, lambda: self.session.skip(msg["item_id"], ms_on_item=msg["ms_on_item"]))

    def _on_undo(self, msg: dict) -> None:
        def undo() -> int | None:
            undone = self.session.undo(msg["item_id"])
            return None if undone is None else undone["seq"]

        self._commit(msg, undo)

    def _on_fetch(self, msg: dict) -> None:
        self._send_items(msg["item_ids"])

    # -- plumbing ---------------------------------------------------------------------------
    def _commit(self, msg: dict, action, *, ack: bool = True) -> None:
        """Run a write; ack it once durable, or reject it saying why.

        Exactly one reply per intent, so the view's count of unsaved intents always falls.
        """
        try:
            event_id = action()
        except Exception as exc:
            if isinstance(exc, (ValueError, KeyError, StoreError)):  # refused: nothing written
                text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            else:  # a bug: logged with its traceback, and the view still hears back
                log.exception("%s failed on %r", type(self).__name__, msg["type"])
                text = f"{msg['type']} failed: {exc}"
            self._reject(msg, str(text))
        else:
            if ack:
                self.send({"type": "ack", "client_seq": msg["client_seq"],
                           "item_id": msg["item_id"], "event_id": event_id})
                if self.error:
                    self.error = ""
        if ack:  # an audit record changes no window
            self._refresh()

    def _refresh(self) -> None:
        ids = self.session.window()
        self._send_items([i for i in ids if i not in self._sent])
        with self.hold_sync():  # one state message for both, so views never see half of it
            self.window = ids
            self.progress = _for_annotators(self.session.progress())

    def _send_items(self, ids: list[str]) -> None:
        if not ids:
            return
        payloads, buffers = self._payloads(ids)
        self.send({"type": "items", "items": payloads}, buffers=buffers)
        self._sent.update(p["item_id"] for p in payloads)

    def _on_project_change(self, kind: str, info: dict) -> None:
        if self.session.acting:  # our own write: _commit refreshes once, after the ack
            return
        if kind == "suggestion":  # views must redraw these items with the new suggestion
            self._sent.difference_update(info.get("item_ids", ()))
        self._refresh()

    def close(self) -> None:
        # ipywidgets calls close() from __del__ too, possibly on a half-built widget.
        if "session" in self.__dict__:
            self._unsubscribe()
            self.session.close()
        super().close()


def _for_annotators(progress: dict) -> dict:
    """The session's progress as an annotator's browser may see it: whether the budget is
    reached, not the project's money (the browser can read every synced trait)."""
    if "budget" in progress:
        progress = {**progress, "budget": {"reached": bool(progress["budget"]["reached"])}}
    return progress
