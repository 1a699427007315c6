"""Token offsets for a span view: where a keyboard caret stops and a selection snaps.

A tokenizer here is one of: ``"whitespace"`` (runs of non-space characters), a regular
expression (a ``str`` or compiled pattern whose matches are the tokens), ``"spacy"`` (a blank
English spaCy tokenizer, when spaCy is installed: no model download), a spaCy ``Language``
object, or a callable ``text -> [(start, end), ...]``. Offsets are Python code points, end
exclusive, sorted, non-overlapping and non-empty; a tokenizer that returns anything else is
refused with what to fix.

Example
-------
>>> tokenize("Ada  met\\nIBM.", "whitespace")
[(0, 3), (5, 8), (9, 13)]
>>> tokenize("Ada met IBM.", r"\\w+|[^\\w\\s]")
[(0, 3), (4, 7), (8, 11), (11, 12)]
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

WHITESPACE = re.compile(r"\S+")


def tokenizer_from(spec: Any) -> Callable[[str], list[tuple[int, int]]]:
    """A function ``text -> token offsets`` from a tokenizer spec (see the module docstring)."""
    if spec == "whitespace":
        return lambda text: _matches(WHITESPACE, text)
    if spec == "spacy":
        try:
            import spacy
        except ImportError:
            raise ValueError("tokenizer='spacy' needs spaCy: pip install spacy (no model is "
                             "downloaded; a blank English tokenizer is used)") from None
        spec = spacy.blank("en")
    if hasattr(spec, "tokenizer") and callable(getattr(spec, "tokenizer", None)):
        nlp = spec
        return lambda text: [(t.idx, t.idx + len(t.text)) for t in nlp.tokenizer(text)
                             if not t.is_space]
    if isinstance(spec, (str, re.Pattern)):
        try:
            pattern = re.compile(spec)
        except re.error as exc:
            raise ValueError(f"tokenizer {spec!r} is not a valid regular expression ({exc}); "
                             "use 'whitespace', 'spacy', a regex or a callable") from None
        return lambda text: _matches(pattern, text)
    if callable(spec):
        return spec
    raise TypeError(f"tokenizer must be 'whitespace', 'spacy', a regex, a spaCy Language or a "
                    f"callable text -> [(start, end)]; got {type(spec).__name__}")


def tokenize(text: str, spec: Any = "whitespace") -> list[tuple[int, int]]:
    """Token offsets (code points) of ``text``, checked."""
    return check_tokens(text, tokenizer_from(spec)(text))


def check_tokens(text: str, tokens: Any) -> list[tuple[int, int]]:
    """The tokens as sorted (start, end) int pairs inside the text, or ValueError saying which."""
    out: list[tuple[int, int]] = []
    last = 0
    for k, tok in enumerate(tokens):
        try:
            start, end = (int(tok[0]), int(tok[1]))
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"token {k} must be a (start, end) pair of ints; got {tok!r:.40}") \
                from None
        if not last <= start < end <= len(text):
            raise ValueError(f"token {k} ({start}, {end}) must be non-empty, inside the text "
                             f"(0..{len(text)}) and after the token before it (ends at {last})")
        out.append((start, end))
        last = end
    return out


def _matches(pattern: re.Pattern, text: str) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text) if m.end() > m.start()]
