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

from ._base import HitlWidget
from .core.project import Project
from .core.session import LabelingSession, Queue
from .core.store import StoreError

_JS = Path(__file__).parent / "js"


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

    _intents = {"submit": "_on_submit", "skip": "_on_skip", "undo": "_on_undo",
                "fetch": "_on_fetch", "shown": "_on_shown"}

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

    # -- intents from the browser ---------------------------------------------------------
    def _on_submit(self, msg: dict) -> None:
        suggestion = msg.get("suggestion") or {}
        self._commit(msg, lambda: self.session.submit(
            msg["item_id"], msg.get("labels") or [], ms_on_item=msg.get("ms_on_item"),
            suggestion=suggestion.get("labels"), suggestion_score=suggestion.get("score"),
            suggestion_version=suggestion.get("version")))

    def _on_skip(self, msg: dict) -> None:
        self._commit(msg, lambda: self.session.skip(msg["item_id"],
                                                    ms_on_item=msg.get("ms_on_item")))

    def _on_undo(self, msg: dict) -> None:
        def undo() -> int | None:
            undone = self.session.undo(msg.get("item_id"))
            return None if undone is None else undone["seq"]

        self._commit(msg, undo)

    def _on_fetch(self, msg: dict) -> None:
        ids = [str(i) for i in msg.get("item_ids") or []]
        self._send_items(ids)

    def _on_shown(self, msg: dict) -> None:
        suggestion = msg.get("suggestion") or {}
        if suggestion.get("labels"):
            self.session.record_shown(msg["item_id"], suggestion["labels"], suggestion.get("score"))

    # -- plumbing ---------------------------------------------------------------------------
    def _commit(self, msg: dict, action) -> None:
        """Run a write; ack it once durable, or reject it saying why (nothing written)."""
        reply = {"client_seq": msg.get("client_seq"), "item_id": msg.get("item_id")}
        try:
            event_id = action()
        except (ValueError, KeyError, StoreError) as exc:
            text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            self.send({"type": "reject", **reply, "error": text})
            self.error = text
        else:
            self.send({"type": "ack", **reply, "event_id": event_id})
            if self.error:
                self.error = ""
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
