"""The Labeler widget: label items in a notebook cell, by keyboard or mouse.

The browser keeps the next items in memory and draws the next one on the keypress; labels travel
to the kernel as messages and are acknowledged once durable. See docs/labeler_protocol.md.

Example
-------
>>> import hitl_widgets as hw                                  # doctest: +SKIP
>>> project = hw.Project("spam.hitl", labels=["ham", "spam"])  # doctest: +SKIP
>>> project.add_items(["win a prize!", "lunch at 1?"])         # doctest: +SKIP
>>> hw.Labeler(project, annotator="ana")                       # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import traitlets

from ._base import (
    MAX_SAFE_INTEGER,
    Field,
    HitlWidget,
    Intent,
    Record,
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

_JS = Path(__file__).parent / "js"

# The envelopes labeler.js sends (docs/labeler_protocol.md); the dispatcher checks a message
# against its declaration before any handler runs.
_ITEM = Field(text())
_SEQ = Field(integer())
_MS = Field(nullable(number(minimum=0, maximum=MAX_SAFE_INTEGER,
                            what="a number of milliseconds from 0 to 2**53 - 1")), required=False)
_SUGGESTION = Record({"labels": Field(text_list()),
                      "score": Field(nullable(number()), required=False),
                      "version": Field(nullable(text()), required=False)})
INTENTS = {
    "submit": Intent("_on_submit", {"item_id": _ITEM, "labels": Field(text_list(min_items=1)),
                                    "ms_on_item": _MS, "client_seq": _SEQ,
                                    "suggestion": Field(nullable(_SUGGESTION), required=False)}),
    "skip": Intent("_on_skip", {"item_id": _ITEM, "ms_on_item": _MS, "client_seq": _SEQ}),
    # item_id: the item the view expects back; null (no local history) undoes the latest action
    "undo": Intent("_on_undo", {"item_id": Field(nullable(text())), "client_seq": _SEQ}),
    "fetch": Intent("_on_fetch", {"item_ids": Field(text_list(example='["i0", "i1"]'))}),
    "shown": Intent("_on_shown", {"item_id": _ITEM, "suggestion": Field(nullable(_SUGGESTION))}),
}


class Labeler(HitlWidget):
    """Label a project's items.

    Parameters
    ----------
    project : the :class:`~hitl_widgets.Project` to label.
    annotator : who is labeling; each annotator sees the items they have not labeled yet.
    queue : what to show next (default: items in the order they were added).
    prefetch : how many upcoming items the browser holds, so keys never wait for the kernel.
    """

    _esm = _JS / "labeler.js"
    _css = _JS / "labeler.css"

    schema = traitlets.Dict().tag(sync=True)
    annotator = traitlets.Unicode().tag(sync=True)
    window = traitlets.List(traitlets.Unicode()).tag(sync=True)
    progress = traitlets.Dict().tag(sync=True)

    _intents = INTENTS
    _reply_ids = ("client_seq", "item_id")

    def __init__(self, project: Project, *, annotator: str = "default",
                 queue: Queue | None = None, prefetch: int = 8, **kwargs: Any) -> None:
        if not isinstance(project, Project):
            raise TypeError(f"Labeler needs a hitl_widgets.Project, not {type(project).__name__}; "
                            "open one with hw.Project('file.hitl', labels=[...])")
        self.session = LabelingSession(project, annotator, queue=queue, prefetch=prefetch)
        self._unsubscribe = lambda: None
        try:
            super().__init__(schema=project.schema.to_json(), annotator=annotator, **kwargs)
        except Exception:
            self.session.close()
            raise
        self._sent: set[str] = set()  # items whose payloads the views already have
        self._unsubscribe = project.subscribe(self._on_project_change)
        self._refresh()

    @property
    def project(self) -> Project:
        return self.session.project

    # -- intents from the browser (already checked against INTENTS) -----------------------
    def _on_submit(self, msg: dict) -> None:
        suggestion = msg["suggestion"] or {}
        self._commit(msg, lambda: self.session.submit(
            msg["item_id"], msg["labels"], ms_on_item=msg["ms_on_item"],
            suggestion=suggestion.get("labels"), suggestion_score=suggestion.get("score"),
            suggestion_version=suggestion.get("version")))

    def _on_skip(self, msg: dict) -> None:
        self._commit(msg, lambda: self.session.skip(msg["item_id"], ms_on_item=msg["ms_on_item"]))

    def _on_undo(self, msg: dict) -> None:
        def undo() -> int | None:
            undone = self.session.undo(msg["item_id"])
            return None if undone is None else undone["seq"]

        self._commit(msg, undo)

    def _on_fetch(self, msg: dict) -> None:
        self._send_items(msg["item_ids"])

    def _on_shown(self, msg: dict) -> None:
        suggestion = msg["suggestion"] or {}
        if suggestion.get("labels"):  # audit only: refused if bad, never acked
            self._commit(msg, lambda: self.session.record_shown(
                msg["item_id"], suggestion["labels"], suggestion.get("score")), ack=False)

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
                log.exception("Labeler failed on %r", msg["type"])
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
            self.progress = self.session.progress()

    def _send_items(self, ids: list[str]) -> None:
        if not ids:
            return
        payloads, buffers = self.session.payloads(ids)
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
