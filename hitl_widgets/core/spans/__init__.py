"""Span tasks beyond the store: offsets as a browser counts them, and export and import.

- :func:`from_utf16`, :func:`to_utf16`, :func:`utf16_length`: convert a browser's UTF-16
  offsets to the code points the store keeps, and back (:class:`OffsetError` inside a
  surrogate pair or on a lone surrogate).
- :func:`to_docbin` / :func:`from_docbin` (spaCy), :func:`to_jsonl` / :func:`from_jsonl`
  (Prodigy-style), :func:`to_conll` / :func:`from_conll` (IOB2): an export returns a :class:`SpanExport` with its
  counts and every span it could not carry (:class:`Problem`, by item and span id); an import
  writes in one transaction and returns a :class:`SpanImport`.
- :func:`tokenize`, :func:`tokenizer_from`: token offsets (whitespace, a regex, spaCy or a
  callable) where a span view's caret stops and its selections snap.
- pre-annotations: suggesters (any ``text -> spans`` callable, :func:`spacy_suggester`,
  :func:`regex_suggester`, :func:`keyword_suggester`) run by :func:`suggest_spans`, which
  stores one suggestion per item (:class:`SuggestReport`, :class:`SuggestError`);
  :func:`span_outcomes` says what became of each suggested span (accepted, edited, deleted,
  added) and :func:`correction_cost` what correcting them cost.

Spans themselves are written and read through the project (``project.submit_spans``,
``project.spans()``), whose ledger is the one writer.

Example
-------
>>> from_utf16("😀 hi", 3), to_utf16("😀 hi", 2)
(2, 3)
"""

from ._common import Problem, SpanExport, SpanImport
from ._conll import ConllError, ConllProblem, from_conll, to_conll
from ._jsonl import from_jsonl, to_jsonl
from ._offsets import OffsetError, from_utf16, to_utf16, utf16_length
from ._outcomes import OUTCOMES, correction_cost, span_outcomes
from ._spacy import from_docbin, to_docbin
from ._suggest import (
    SpacySuggester,
    SuggestError,
    SuggestReport,
    keyword_suggester,
    regex_suggester,
    spacy_suggester,
    suggest_spans,
)
from ._tokens import check_tokens, tokenize, tokenizer_from

__all__ = ["ConllError", "ConllProblem", "OUTCOMES", "OffsetError", "Problem", "SpacySuggester",
           "SpanExport", "SpanImport", "SuggestError", "SuggestReport", "check_tokens",
           "correction_cost", "from_conll", "from_docbin", "from_jsonl", "from_utf16",
           "keyword_suggester", "regex_suggester", "spacy_suggester", "span_outcomes",
           "suggest_spans", "to_conll", "to_docbin", "to_jsonl", "to_utf16", "tokenize",
           "tokenizer_from", "utf16_length"]

ConllError.__module__ = __name__
OffsetError.__module__ = __name__
SuggestError.__module__ = __name__
