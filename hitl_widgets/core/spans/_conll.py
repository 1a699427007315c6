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

:func:`from_conll` reads such a file back: each document's tokens are found, in order, in its
item's text (only whitespace may lie between them), so the spans get the item's own code-point
offsets whatever the tokenization was. A token that is not where the text says, a tag that is
not ``O``/``B-X``/``I-X`` or a label outside the schema is reported by document and item,
never dropped silently (see :class:`ConllProblem`).

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store import Ledger, SpanError
from ._common import SpanExport, SpanImport, documents, problem, write_documents

_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_WORDS = re.compile(rf"[\w{_MARKS}]+|[^\w\s]")
_WHITESPACE = re.compile(r"\S+")
TOKENIZERS = ("words", "whitespace", "spacy")
_META = re.compile(r"#\s*(item_id|annotator)\s*=\s?(.*)$")
_TAG = re.compile(r"O|[BI]-\S+")
ERRORS = ("raise", "skip")


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


@dataclass(frozen=True)
class ConllProblem:
    """Why a CoNLL document could not be imported: ``misaligned`` (a token is not where the
    item's text has it, or is not a token of the stated tokenizer), ``tag`` (not ``O``,
    ``B-X`` or ``I-X``), ``label`` (not in the project's span labels), ``annotator`` (none
    named) or ``empty`` (no tokens, and no item in the project). ``document`` counts
    from 0 in the file, ``line`` from 1."""

    document: int
    item_id: str | None
    annotator: str | None
    line: int
    reason: str
    detail: str


class ConllError(SpanError):
    """A CoNLL import found documents it cannot place; nothing was written. ``problems``
    lists every one (:class:`ConllProblem`)."""

    def __init__(self, message: str, problems: list[ConllProblem]):
        super().__init__(message)
        self.problems = problems


@dataclass
class _Doc:
    position: int
    line: int  # where it starts in the file
    item_id: str | None = None
    annotator: str | None = None
    tokens: list[tuple[str, str, int]] = field(default_factory=list)  # token, tag, line


def from_conll(project: Any, source: str | Path | Iterable[str], *,
               annotator: str | None = None,
               tokenizer: str | Callable[[str], list[tuple[int, int]]] | None = None,
               errors: str = "raise") -> SpanImport:
    r"""Import IOB-tagged tokens (as :func:`to_conll` writes them) in one transaction.

    ``source``: a path, the text itself (a ``str`` holding a line break, as
    ``to_conll(...).data``), or an iterable of lines. A line is ``token<TAB>tag`` (or, without
    a tab, whitespace-separated columns: the first is the token, the last the tag, as in
    CoNLL-2003); blank lines end documents; ``# item_id = ...`` and ``# annotator = ...``
    name a document's item and annotator (``annotator`` names it otherwise); other comment
    lines and ``-DOCSTART-`` lines are passed over. ``I-X`` after ``O`` or another label opens
    a span, as in IOB1.

    A document's tokens are found in order in its item's text, skipping only whitespace, so
    spans get the item's own offsets (emoji, CRLF and all). A document whose item is not in
    the project adds it, with its tokens joined by single spaces as its text (and an id
    derived from that text when it names none). With ``tokenizer`` (as in :func:`to_conll`),
    each token must also be one that tokenizer finds in the text.

    ``errors="raise"`` (default): any problem raises :class:`ConllError` listing them all,
    and nothing is written. ``errors="skip"``: documents with problems are left out (their
    positions in ``skipped``, the reasons in ``problems``) and the rest written.

    >>> import os, tempfile
    >>> import hitl_widgets as hw
    >>> project = hw.Project(os.path.join(tempfile.mkdtemp(), "ner.hitl"), span_labels=["PER"])
    >>> _ = project.add_items(["Ada  Lovelace wrote."], id=["a"])
    >>> lines = ["# item_id = a", "Ada\tB-PER", "Lovelace\tI-PER", "wrote\tO", ".\tO"]
    >>> from_conll(project, lines, annotator="ana").spans
    1
    >>> project.spans()[["start", "end", "text"]].values.tolist()
    [[0, 13, 'Ada  Lovelace']]
    """
    if errors not in ERRORS:
        raise ValueError(f"errors must be one of {list(ERRORS)}; got {errors!r}")
    ledger = Ledger.of(project)
    if ledger.span_schema is None:
        raise SpanError(f"{ledger.store.path} declares no span labels; open it with "
                        "Project(path, span_labels=[...]) first")
    labels = set(ledger.span_schema.labels)
    tokenize = None if tokenizer is None else _tokenizer(tokenizer)
    docs = _read(source)
    known = ledger.store.get_items([d.item_id for d in docs if d.item_id is not None])
    records, problems, skipped = [], [], []
    for doc in docs:
        who = doc.annotator if doc.annotator is not None else annotator
        item = known.get(doc.item_id) if doc.item_id is not None else None
        text = item.text if item is not None else " ".join(t for t, _, _ in doc.tokens)
        spans, bad = _place(doc, who, text, labels, tokenize)
        if who is None:
            bad.append(ConllProblem(doc.position, doc.item_id, None, doc.line, "annotator",
                                    "names no annotator: add '# annotator = ...' or pass "
                                    "annotator='...'"))
        if not text:
            bad.append(ConllProblem(doc.position, doc.item_id, who, doc.line, "empty",
                                    "has no tokens and its item is not in the project"))
        if bad:
            problems += bad
            skipped.append(doc.position)
        else:
            records.append((doc.item_id, who, text, spans, []))
    if problems and errors == "raise":
        raise ConllError(_message(problems), problems)
    report = write_documents(ledger, records)
    report.skipped, report.problems = skipped, problems
    return report


def _read(source: Any) -> list[_Doc]:
    """The documents of a CoNLL source, each with its metadata and (token, tag, line)s."""
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source):
        with open(source, encoding="utf-8", newline="") as fh:
            lines = fh.read().split("\n")
    elif isinstance(source, str):
        lines = source.split("\n")
    else:
        lines = list(source)
    docs: list[_Doc] = []
    current: _Doc | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.startswith("-DOCSTART-"):
            current = None
            continue
        meta = _META.match(line) if "\t" not in line else None
        if meta is not None:
            key = meta.group(1)
            if current is None or current.tokens or getattr(current, key) is not None:
                current = _Doc(len(docs), line=number)
                docs.append(current)
            setattr(current, key, meta.group(2))
            continue
        if "\t" in line:
            token, tag = line.split("\t", 1)[0], line.rsplit("\t", 1)[-1].strip()
        else:
            fields = line.split()
            if line.startswith("#") and (len(fields) < 2 or not _TAG.fullmatch(fields[-1])):
                continue  # a comment, not a '#' token
            token, tag = fields[0], fields[-1] if len(fields) > 1 else ""
        if current is None:
            current = _Doc(len(docs), line=number)
            docs.append(current)
        current.tokens.append((token, tag, number))
    return docs


def _place(doc: _Doc, who: str | None, text: str, labels: set[str],
           tokenize: Callable | None) -> tuple[list[dict], list[ConllProblem]]:
    """The document's spans as dicts with the text's offsets, and the problems found."""
    bad: list[ConllProblem] = []

    def report(line: int, reason: str, detail: str) -> None:
        bad.append(ConllProblem(doc.position, doc.item_id, who, line, reason, detail))

    edges = None if tokenize is None else set(tokenize(text))
    spans: list[dict] = []
    open_span: dict | None = None
    cursor = 0
    for token, tag, line in doc.tokens:
        start = cursor
        while start < len(text) and text[start].isspace():
            start += 1
        if not text.startswith(token, start):
            report(line, "misaligned", f"token {token!r} is not at offset {start} of the item's "
                   f"text, which has {text[start:start + len(token) + 8]!r} there; the spans "
                   "from this token on cannot be placed")
            break
        end = cursor = start + len(token)
        if edges is not None and (start, end) not in edges:
            report(line, "misaligned", f"token {token!r} at {start}-{end} is not a token of "
                   "the tokenizer given")
        if not _TAG.fullmatch(tag):
            report(line, "tag", f"tag {tag!r} of token {token!r} is not O, B-<label> or "
                   "I-<label>")
            open_span = None
            continue
        if tag == "O":
            open_span = None
            continue
        prefix, label = tag[0], tag[2:]
        if label not in labels:
            report(line, "label", f"label {label!r} is not one of the project's span labels "
                   f"{sorted(labels)}")
        if prefix == "I" and open_span is not None and open_span["label"] == label:
            open_span["end"] = end
        else:
            open_span = {"start": start, "end": end, "label": label}
            spans.append(open_span)
    return spans, bad


def _message(problems: list[ConllProblem]) -> str:
    shown = "; ".join(f"document {p.document} (item {p.item_id!r}, line {p.line}): {p.detail}"
                      for p in problems[:5])
    more = f"; and {len(problems) - 5} more (see .problems)" if len(problems) > 5 else ""
    return (f"{len(problems)} problem(s) in {len({p.document for p in problems})} CoNLL "
            f"document(s): {shown}{more}; nothing was imported (errors='skip' imports the "
            "other documents)")
