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

from ._base import Field, Intent, Record, nullable, number, text, text_list
from ._queued import ITEM, MS, QUEUE_INTENTS, SEQ, QueuedWidget

_JS = Path(__file__).parent / "js"

# The envelopes labeler.js sends (docs/labeler_protocol.md); the dispatcher checks a message
# against its declaration before any handler runs.
_SUGGESTION = Record({"labels": Field(text_list()),
                      "score": Field(nullable(number()), required=False),
                      "version": Field(nullable(text()), required=False)})
INTENTS = {
    "submit": Intent("_on_submit", {"item_id": ITEM, "labels": Field(text_list(min_items=1)),
                                    "ms_on_item": MS, "client_seq": SEQ,
                                    "suggestion": Field(nullable(_SUGGESTION), required=False)}),
    **QUEUE_INTENTS,
    "shown": Intent("_on_shown", {"item_id": ITEM, "suggestion": Field(nullable(_SUGGESTION))}),
}


class Labeler(QueuedWidget):
    """Label a project's items.

    Parameters
    ----------
    project : the :class:`~hitl_widgets.Project` to label.
    annotator : who is labeling; each annotator sees the items they have not labeled yet.
    queue : what to show next (default: items in the order they were added).
    prefetch : how many upcoming items the browser holds, so keys never wait for the kernel.
    idle_after_s : seconds without input after which the time does not count (default 30;
        a positive number). Changing the attribute later reaches the open views.

    Notes
    -----
    Each submit and skip is stored with ``ms_on_item``: the *active* milliseconds on the item
    from when it was drawn. Time with the page hidden or the window unfocused does not count.
    Input (keys, pointer presses and moves, wheel, scrolling, anywhere on the page) and the item
    being drawn are the activity signals: a gap between two of them counts in full when it is at
    most ``idle_after_s``, and not at all when longer (the annotator was away, and when they
    left cannot be known), as does the time from the last signal to the submit. So a pause of
    a minute to read a long item, with no input at all, counts 0 at the default 30 s: raise
    ``idle_after_s`` for such items.

    Example
    -------
    >>> hw.Labeler(project, annotator="ana", idle_after_s=60)  # doctest: +SKIP
    """

    _esm = _JS / "labeler.js"
    _css = _JS / "labeler.css"

    _intents = INTENTS

    # -- intents from the browser (already checked against INTENTS) -----------------------
    def _on_submit(self, msg: dict) -> None:
        suggestion = msg["suggestion"] or {}
        self._commit(msg, lambda: self.session.submit(
            msg["item_id"], msg["labels"], ms_on_item=msg["ms_on_item"],
            suggestion=suggestion.get("labels"), suggestion_score=suggestion.get("score"),
            suggestion_version=suggestion.get("version")))

    def _on_shown(self, msg: dict) -> None:
        suggestion = msg["suggestion"] or {}
        if suggestion.get("labels"):  # audit only: refused if bad, never acked
            self._commit(msg, lambda: self.session.record_shown(
                msg["item_id"], suggestion["labels"], suggestion.get("score")), ack=False)
