"""UTF-16 (a browser's) <-> code-point (Python's) offsets: exact on emoji, ZWJ sequences, CRLF
and combining marks; refused inside a surrogate pair and on lone surrogates."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitl_widgets.core.spans import OffsetError, from_utf16, to_utf16, utf16_length

FIRE = "👨🏻‍🚒 firemen drive firetrucks"


def _units(text: str, cp: int) -> int:
    """The reference: how many UTF-16 code units the first ``cp`` code points take."""
    return len(text[:cp].encode("utf-16-le")) // 2


def test_firetrucks_is_code_points_19_to_29():
    start, end = _units(FIRE, 19), _units(FIRE, 29)  # where a browser's selection lands
    assert (start, end) == (22, 32)
    assert from_utf16(FIRE, [start, end]) == [19, 29]
    assert FIRE[19:29] == "firetrucks"
    assert to_utf16(FIRE, [19, 29]) == [22, 32]


def test_an_offset_inside_a_surrogate_pair_is_refused_naming_the_edges():
    with pytest.raises(OffsetError, match="inside the surrogate pair.*move it to 0 or 2"):
        from_utf16(FIRE, 1)
    assert from_utf16(FIRE, [0, 2, 4, 5]) == [0, 1, 2, 3]  # 👨, 🏻, ZWJ (one unit), 🚒


@pytest.mark.parametrize("call, message", [
    (lambda: from_utf16("ab", 3), "outside the text"),
    (lambda: from_utf16("ab", -1), "outside the text"),
    (lambda: to_utf16("ab", 3), "outside the text"),
    (lambda: from_utf16("ab", 1.0), "must be an int"),
    (lambda: from_utf16("ab", True), "must be an int"),
    (lambda: from_utf16("ab", "1"), "int or a list"),
    (lambda: from_utf16("a\ud83d b", 0), "lone surrogate"),
    (lambda: to_utf16("\ude00", 0), "lone surrogate"),
])
def test_bad_offsets_and_texts_are_refused(call, message):
    with pytest.raises(OffsetError, match=message):
        call()


PIECES = ["a", " ", "\r\n", "é", "e\u0301", "😀", "👨🏻‍🚒", "👩‍👩‍👧‍👦", "🏳️‍🌈", "\u200d", "中",
          "\U0001d11e", "ß", "\n"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join), st.data())
def test_conversion_matches_utf16_and_round_trips(text, data):
    cps = list(range(len(text) + 1))
    units = to_utf16(text, cps)
    assert units == [_units(text, cp) for cp in cps]
    assert from_utf16(text, units) == cps
    assert utf16_length(text) == len(text.encode("utf-16-le")) // 2
    inside = [u for u in range(utf16_length(text) + 1) if u not in set(units)]
    if inside:  # every other unit offset is inside a pair, and refused
        with pytest.raises(OffsetError, match="surrogate pair"):
            from_utf16(text, data.draw(st.sampled_from(inside)))
