r"""CoNLL / IOB2: a token and its tag per line (``token<TAB>tag``), a blank line between
documents, each document opened by ``# item_id = ...`` and ``# annotator = ...`` comments
(``comments=False`` leaves them out).

The format holds tokens, not text, so the tokenization is part of the file; it is named, never
guessed:

- ``"words"`` (default): runs of word characters with their combining marks, and every other
  non-space character alone (``"U.S."`` is four tokens, an emoji sequence one per code point);
- ``"whitespace"``: what lies between whitespace;
- ``"spacy"``: ``spacy.blank("en")``'s rules (whitespace tokens left out);
- or a callable ``text -> [(start, end), ...]`` in code points.

A span whose edges are not token edges is reported as ``misaligned``; the format holds one
layer, so in an overlapping task a span overlapping an earlier (or, at the same start, a
longer) one is reported as ``overlap``. Relations have no place in CoNLL: each is reported.

Example
-------
>>> import os, tempfile
>>> import hitl_widgets as hw
>>> project = hw.Project(os.path.join(tempfile.mkdtemp(), "ner.hitl"), span_labels=["PER"])
>>> _ = project.add_items(["Ada Lovelace wrote."], id=["a"])
>>> _ = project.submit_spans("a", [(0, 12, "PER")], annotator="ana")
>>> to_conll(project, comments=False).data.splitlines()
['Ada\tB-PER', 'Lovelace\tI-PER', 'wrote\tO', '.\tO']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..store import Ledger
from ._common import SpanExport, documents, problem

_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_WORDS = re.compile(rf"[\w{_MARKS}]+|[^\w\s]")
_WHITESPACE = re.compile(r"\S+")
TOKENIZERS = ("words", "whitespace", "spacy")


def to_conll(project: Any, path: str | Path | None = None, *, annotator: str | None = None,
             tokenizer: str | Callable[[str], list[tuple[int, int]]] = "words",
             comments: bool = True) -> SpanExport:
    """Export the current spans as IOB2-tagged tokens; written to ``path`` (UTF-8) when
    given. ``data`` is the text of the file."""
    tokenize = _tokenizer(tokenizer)
    blocks = []
    report = SpanExport("conll", 0, 0, 0, 0, 0)
    for d in documents(Ledger.of(project), annotator):
        tokens = [(a, b) for a, b in tokenize(d.text) if d.text[a:b].strip()]
        starts = {a: k for k, (a, _) in enumerate(tokens)}
        ends = {b: k for k, (_, b) in enumerate(tokens)}
        tags = ["O"] * len(tokens)
        # Longer first at one start: an enclosing span is kept over the ones inside it.
        for s in sorted(d.spans, key=lambda s: (s["start"], -s["end"])):
            first, last = starts.get(s["start"]), ends.get(s["end"])
            if first is None or last is None:
                report.problems.append(problem(d, s, "misaligned"))
            elif any(t != "O" for t in tags[first:last + 1]):
                report.problems.append(problem(d, s, "overlap"))
            else:
                tags[first:last + 1] = [f"B-{s['label']}"] + [f"I-{s['label']}"] * (last - first)
                report.exported += 1
        by_id = {s["span_id"]: s for s in d.spans}
        report.problems += [problem(d, by_id[r["head"]], "relation") for r in d.relations]
        lines = [f"# item_id = {d.item_id}", f"# annotator = {d.annotator}"] if comments else []
        lines += [f"{d.text[a:b]}\t{tag}" for (a, b), tag in zip(tokens, tags, strict=True)]
        blocks.append("\n".join(lines) + "\n")
        report.documents += 1
        report.spans += len(d.spans)
        report.relations += len(d.relations)
    text = "\n".join(blocks)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8", newline="\n")
        report.path = str(path)
    report.data = text
    return report


def _tokenizer(tokenizer: Any) -> Callable[[str], list[tuple[int, int]]]:
    if callable(tokenizer):
        return tokenizer
    if tokenizer == "words":
        return lambda text: [m.span() for m in _WORDS.finditer(text)]
    if tokenizer == "whitespace":
        return lambda text: [m.span() for m in _WHITESPACE.finditer(text)]
    if tokenizer == "spacy":
        from ._spacy import blank_english

        nlp = blank_english()
        return lambda text: [(t.idx, t.idx + len(t.text)) for t in nlp.make_doc(text)]
    raise ValueError(f"Unknown tokenizer {tokenizer!r}; expected one of {list(TOKENIZERS)} or "
                     "a function text -> [(start, end), ...]")
