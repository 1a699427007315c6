"""The shared widget base: strict keyword arguments, an ``error`` trait, one intent dispatcher.

Every message a view sends is an intent: a JSON object whose ``type`` names it. Each widget
declares, per type, the fields it takes and what each must be (:class:`Intent`). The dispatcher
checks a message against that declaration *before* any handler runs, so a malformed message
reaches no handler and writes nothing; it is answered with one ``reject`` that names the field
and says what was wrong (docs/labeler_protocol.md, "Malformed messages").
"""

from __future__ import annotations

import dataclasses
import logging
import math
import reprlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import anywidget
import traitlets

from ._json import json_safe

log = logging.getLogger("hitl_widgets")

MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer a browser's number holds exactly
MAX_ERROR_CHARS = 1000  # an error names a huge value, it does not echo all of it

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 60
_repr.maxlist = _repr.maxdict = 4
_repr.maxlevel = 3


class Malformed(ValueError):
    """A message does not match its intent's declaration; ``field`` names where (None: all of it)."""

    def __init__(self, field: str | None, message: str):
        self.field = field
        super().__init__(message)

    @classmethod
    def must(cls, field: str, what: str, value: Any) -> Malformed:
        return cls(field, f"'{field}' must be {what}; got {describe(value)}")


def describe(value: Any) -> str:
    """A short, safe description of a value for an error: ``[1, 2] (list)``."""
    try:
        shown = _repr.repr(value)
    except ValueError:  # an int past Python's digit limit
        shown = "…"
    return f"{shown} ({type(value).__name__})"


# -- field checks ---------------------------------------------------------------------------------
class Check:
    """A field's rule: ``what`` it must be, and a test; calling it returns the value or raises."""

    def __init__(self, what: str, ok: Callable[[Any], bool]):
        self.what = what
        self.ok = ok

    def __call__(self, value: Any, name: str) -> Any:
        if not self.ok(value):
            raise Malformed.must(name, self.what, value)
        return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:  # a lone surrogate can be neither stored nor sent back
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def text() -> Check:
    """A non-empty string."""
    return Check("a non-empty string", lambda v: _is_text(v) and v != "")


def text_list(*, min_items: int = 0, example: str = '["spam"]') -> Check:
    """A list of non-empty strings (at least ``min_items`` of them)."""
    what = "a non-empty list" if min_items else "a list"
    return Check(f"{what} of non-empty strings, e.g. {example}",
                 lambda v: isinstance(v, list) and len(v) >= min_items
                 and all(_is_text(x) and x != "" for x in v))


def integer(*, minimum: int = -MAX_SAFE_INTEGER) -> Check:
    """An integer (not a bool) from ``minimum`` to 2**53 - 1."""
    low = "-(2**53 - 1)" if minimum == -MAX_SAFE_INTEGER else str(minimum)
    return Check(f"an integer from {low} to 2**53 - 1",
                 lambda v: isinstance(v, int) and not isinstance(v, bool)
                 and minimum <= v <= MAX_SAFE_INTEGER)


def number(*, minimum: float = -math.inf, maximum: float = math.inf, what: str = "") -> Check:
    """A finite number (not a bool) from ``minimum`` to ``maximum``; ``what`` describes it."""
    if not what:
        what = "a finite number" + ("" if minimum == -math.inf else f" from {minimum:g}") + (
            "" if maximum == math.inf else f" to {maximum:g}")
    return Check(what, lambda v: _is_number(v) and math.isfinite(v) and minimum <= v <= maximum)


class Record(Check):
    """An object with these fields, named ``parent.child`` in errors; other keys are ignored."""

    def __init__(self, fields: Mapping[str, Field]):
        super().__init__(f"an object with {sorted(fields)}", lambda v: isinstance(v, dict))
        self.fields = fields

    def __call__(self, value: Any, name: str) -> dict:
        return _clean(super().__call__(value, name), self.fields, prefix=f"{name}.")


class nullable(Check):  # noqa: N801 (reads as a function in a declaration)
    """``null`` or what ``inner`` accepts (an object's own fields still name themselves)."""

    def __init__(self, inner: Check):
        super().__init__(f"null or {inner.what}", lambda v: v is None or inner.ok(v))
        self.inner = inner

    def __call__(self, value: Any, name: str) -> Any:
        return None if value is None else self.inner(super().__call__(value, name), name)


@dataclasses.dataclass(frozen=True)
class Field:
    """One field of an intent: its check, and whether the message must carry it."""

    check: Check
    required: bool = True


@dataclasses.dataclass(frozen=True)
class Intent:
    """What one intent type takes: the handler's name and the fields it reads.

    A message's fields outside ``fields`` are ignored (never read, never written), so a newer
    view can add a field without an older kernel refusing its labels. A missing optional field
    reaches the handler as ``None``.
    """

    handler: str
    fields: Mapping[str, Field] = dataclasses.field(default_factory=dict)


def _clean(message: Mapping, fields: Mapping[str, Field], prefix: str = "") -> dict:
    out = {}
    for name, spec in fields.items():
        if name not in message:
            if spec.required:
                raise Malformed(prefix + name, f"'{prefix + name}' is missing")
            out[name] = None
            continue
        out[name] = spec.check(message[name], prefix + name)
    return out


class HitlWidget(anywidget.AnyWidget):
    """Base of every hitl_widgets widget.

    Subclasses declare their intents in ``_intents`` (type -> :class:`Intent`) and, in
    ``_reply_ids``, the fields a view uses to match a reply to what it sent. A malformed message
    is answered with a ``reject`` naming the field (nothing runs, nothing is written). A
    handler's exception is logged and shown in the view through the ``error`` trait, never
    swallowed.
    """

    error = traitlets.Unicode("").tag(sync=True)
    _intents: ClassVar[dict[str, Intent]] = {}
    _reply_ids: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **kwargs: Any) -> None:
        unknown = sorted(k for k in kwargs if not self.has_trait(k))
        if unknown:  # a misspelt option must not be silently ignored
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s) {unknown}")
        super().__init__(**kwargs)
        self.on_msg(self._dispatch)

    def send(self, content: Any, buffers: list | None = None) -> None:
        """Send a message to the views; a NaN or infinity in it goes as null (see ``json_safe``),
        since Jupyter cannot serialise one and would send it as the string "nan"."""
        super().send(json_safe(content), buffers)

    def _dispatch(self, _widget: Any, content: Any, buffers: list) -> None:
        try:
            kind, args = self._parse(content)
        except Malformed as exc:
            self._reject(content, f"Malformed message: {exc}. Nothing was done.", field=exc.field,
                         malformed=True)
            return
        try:
            getattr(self, self._intents[kind].handler)(args)
        except Exception as exc:  # shown to the user; logged with the traceback for developers
            log.exception("%s failed on %r", type(self).__name__, kind)
            self._fail(f"{kind} failed: {exc}")

    def _parse(self, content: Any) -> tuple[str, dict]:
        """The intent type and its declared fields, checked; raises Malformed naming the field."""
        if not isinstance(content, dict):
            raise Malformed(None, 'A message must be an object like {"type": "submit", ...}; '
                                  f"got {describe(content)}")
        kind = content.get("type")
        if not self._known(kind):
            known = sorted(self._intents)
            if "type" not in content:
                raise Malformed("type", f"'type' is missing; expected one of {known}")
            raise Malformed("type", f"Unknown message type: 'type' is {describe(kind)}; "
                                    f"expected one of {known}")
        return kind, {"type": kind, **_clean(content, self._intents[kind].fields)}

    def _known(self, kind: Any) -> bool:
        return isinstance(kind, str) and kind in self._intents

    def _reject(self, content: Any, error: str, *, field: str | None = None,
                malformed: bool = False) -> None:
        """Refuse a message: one ``reject`` reply carrying the message's correlation ids.

        ``field`` names the malformed field (None: the whole message, or a well-formed intent
        the engine refused).
        """
        error = error[:MAX_ERROR_CHARS]
        kind = content.get("type") if isinstance(content, dict) else None
        reply: dict[str, Any] = {"type": "reject",
                                 "intent": kind if self._known(kind) else None,
                                 "field": field, "error": error}
        for key in self._reply_ids:
            reply[key] = _echo(content.get(key)) if isinstance(content, dict) else None
        self.send(reply)
        # A malformed message is a bug in whatever sent it; a refused label is the annotator's.
        log.log(logging.WARNING if malformed else logging.INFO, error)
        self.error = error

    def _fail(self, message: str) -> None:
        message = message[:MAX_ERROR_CHARS]
        log.warning(message)
        self.error = message


def _echo(value: Any) -> str | int | float | None:
    """A correlation id as sent, if it can travel back as JSON; else None.

    It is echoed even when it is malformed itself, so the view that sent it can still match.
    """
    if _is_text(value) and len(value) <= 200:
        return value
    if _is_number(value) and math.isfinite(value):
        return value
    return None
