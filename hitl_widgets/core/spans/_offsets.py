"""Offsets as a browser counts them (UTF-16 code units) and as Python does (code points).

JavaScript strings are UTF-16: an emoji outside the Basic Multilingual Plane (😀, 🚒, a skin
tone modifier) is two code units there and one code point in Python. Span tools that mix the
two store offsets that drift by one per emoji before the span (the most reported span bug in
Label Studio, Argilla and doccano). The store takes code points only; a view converts what the
browser measured with :func:`from_utf16`, and the store's offsets back with :func:`to_utf16`.

An offset between the two units of one character (inside a surrogate pair) names no place in
the text and is refused, as is a text holding a lone surrogate (not valid Unicode).

Example
-------
>>> text = "👨🏻‍🚒 firemen drive firetrucks"
>>> from_utf16(text, [22, 32])  # what a browser's selection reports for "firetrucks"
[19, 29]
>>> to_utf16(text, 19)
22
"""

from __future__ import annotations

import bisect
import numbers
import re
from collections.abc import Sequence
from typing import Any, overload

from ..store import SpanError

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class OffsetError(SpanError):
    """An offset that names no place in the text (out of range, or inside a surrogate pair)."""


def utf16_length(text: str) -> int:
    """The text's length in UTF-16 code units (JavaScript's ``text.length``)."""
    return len(text) + len(_astral(text))


@overload
def from_utf16(text: str, offsets: int) -> int: ...
@overload
def from_utf16(text: str, offsets: Sequence[int]) -> list[int]: ...
def from_utf16(text: str, offsets: Any) -> Any:
    """UTF-16 code-unit offsets (a browser's) → code-point offsets (Python's), one or a list.

    Raises :class:`OffsetError` for an offset outside ``0..utf16_length(text)`` or inside a
    surrogate pair (between the two halves of one emoji).
    """
    starts = [cp + k for k, cp in enumerate(_astral(text))]  # each astral char's first unit
    size = len(text) + len(starts)

    def one(unit: Any) -> int:
        unit = _offset(unit, size, "UTF-16 offset")
        before = bisect.bisect_left(starts, unit)  # astral chars starting before this unit
        if before and starts[before - 1] + 1 == unit:
            cp = starts[before - 1] - (before - 1)
            raise OffsetError(f"UTF-16 offset {unit} falls inside the surrogate pair of "
                              f"{text[cp]!r} (code point {cp}); move it to {unit - 1} or "
                              f"{unit + 1}, the character's edges")
        return unit - before

    return _each(offsets, one)


@overload
def to_utf16(text: str, offsets: int) -> int: ...
@overload
def to_utf16(text: str, offsets: Sequence[int]) -> list[int]: ...
def to_utf16(text: str, offsets: Any) -> Any:
    """Code-point offsets (Python's) → UTF-16 code-unit offsets (a browser's), one or a list."""
    astral = _astral(text)

    def one(cp: Any) -> int:
        cp = _offset(cp, len(text), "code-point offset")
        return cp + bisect.bisect_left(astral, cp)

    return _each(offsets, one)


def _astral(text: Any) -> list[int]:
    """Code-point positions of the characters a browser counts twice."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    lone = _SURROGATE.search(text)
    if lone:
        raise OffsetError(f"The text holds a lone surrogate {lone.group()!r} at code point "
                          f"{lone.start()}: it is not valid Unicode (half of an emoji, cut "
                          "apart?). Fix the text before labeling spans in it")
    return [m.start() for m in _ASTRAL.finditer(text)]


def _offset(value: Any, size: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise OffsetError(f"a {what} must be an int, not {type(value).__name__} {value!r:.30}")
    if not 0 <= int(value) <= size:
        raise OffsetError(f"{what} {value} is outside the text (0..{size})")
    return int(value)


def _each(offsets: Any, one) -> Any:
    if isinstance(offsets, numbers.Integral) and not isinstance(offsets, bool):
        return one(offsets)
    if isinstance(offsets, (str, bytes)) or not isinstance(offsets, Sequence):
        raise OffsetError(f"offsets must be an int or a list of ints, not "
                          f"{type(offsets).__name__}")
    return [one(o) for o in offsets]
