"""Pre-annotations: spans a model suggests, stored for annotators to accept, edit or delete.

A suggester is anything called as ``suggester(text)`` that returns the spans it suggests:
``(start, end, label)`` or ``(start, end, label, score)`` tuples, or dicts with ``start``,
``end``, ``label`` and optionally ``score``, offsets in code points. Ready-made ones:
:func:`spacy_suggester` (a spaCy pipeline's ``doc.ents`` or ``doc.spans[key]``),
:func:`regex_suggester` and :func:`keyword_suggester`. A suggester may also have a
``batch(texts)`` method (the spaCy one does, through ``nlp.pipe``), used when present.

:func:`suggest_spans` runs a suggester over the items and stores one suggestion per item
through the ledger, in batches, each batch in one transaction.

**Bad output.** Every item's spans are checked against its text and the span schema before
anything is written (offsets in range, known labels, no overlap in a one-layer task, finite
scores). With ``errors="raise"`` (the default) the first batch holding a failing item (the
suggester raised, or returned spans that fail the checks) stops the run: nothing of that batch
is written, the batches before it stay, and the :class:`SuggestError` names every failing item
of the batch and why. With ``errors="skip"`` the failing items get no suggestion, the rest are
written, and the report's ``failed`` names them; rerun those with ``item_ids=``.

Example
-------
>>> suggest = keyword_suggester({"ORG": ["IBM", "Acme Corp"]})
>>> suggest("Ada left IBM for acme corp.")
[(9, 12, 'ORG', None), (17, 26, 'ORG', None)]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._checks import item_id_list
from ..progress import Progress, progress_bar
from ..store import Ledger, SchemaError, SpanError, check_suggestion

SUGGEST_BAR_FROM = 2_000  # items from which suggest_spans shows a bar by default
ERRORS = ("raise", "skip")


class SuggestError(SpanError):
    """A suggester failed on some items, or returned spans that cannot be stored; the batch
    holding them was not written. ``failed`` maps each such item id to the reason."""

    def __init__(self, message: str, failed: dict[str, str]):
        super().__init__(message)
        self.failed = failed


@dataclass(frozen=True)
class SuggestReport:
    """What :func:`suggest_spans` stored: items with a suggestion, spans in them, the
    suggestion events' seqs, and the items that got none (item id → why)."""

    items: int
    spans: int
    seqs: tuple[int, ...]
    failed: dict[str, str] = field(default_factory=dict)


# -- ready-made suggesters ----------------------------------------------------------------------
def regex_suggester(patterns: Mapping[str, Any], *, ignore_case: bool = False,
                    overlapping: bool = True) -> Callable[[str], list[tuple]]:
    """Suggest each match of a label's regular expressions as a span of that label.

    ``patterns``: label → a pattern (str or compiled) or a list of them. Empty matches are
    skipped. With ``overlapping=False``, matches overlapping an earlier (leftmost, then
    longest) one are dropped, for one-layer tasks.

    >>> regex_suggester({"DATE": r"\\d{4}-\\d{2}-\\d{2}"})("due 2024-05-01, paid")
    [(4, 14, 'DATE', None)]
    """
    compiled = _compile(patterns, ignore_case)

    def suggest(text: str) -> list[tuple]:
        found = [(m.start(), m.end(), label, None) for label, regexes in compiled
                 for rx in regexes for m in rx.finditer(text) if m.end() > m.start()]
        return _one_layer(found) if not overlapping else sorted(set(found), key=_order)

    suggest.__name__ = "regex_suggester"
    return suggest


def keyword_suggester(keywords: Mapping[str, Iterable[str]], *, case_sensitive: bool = False,
                      overlapping: bool = False) -> Callable[[str], list[tuple]]:
    """Suggest every whole-word occurrence of a label's keywords (or phrases).

    A keyword matches only between word boundaries ("IBM" not in "IBMX"); case is ignored
    unless ``case_sensitive``. Where keywords overlap, the leftmost and then longest wins
    (``overlapping=True`` keeps them all, for overlapping tasks).

    >>> keyword_suggester({"PER": ["Ada"], "ORG": ["Ada Labs"]})("Ada Labs hired Ada")
    [(0, 8, 'ORG', None), (15, 18, 'PER', None)]
    """
    if not isinstance(keywords, Mapping):
        raise TypeError("keywords must be a dict: label -> list of keywords, e.g. "
                        "{'ORG': ['IBM', 'Acme Corp']}")
    patterns = {}
    for label, words in keywords.items():
        if isinstance(words, str):
            raise TypeError(f"keywords[{label!r}] must be a list of keywords, not the string "
                            f"{words!r}; wrap it: [{words!r}]")
        words = sorted({w for w in words if w}, key=len, reverse=True)
        bad = [w for w in words if not isinstance(w, str) or not w.strip()]
        if bad:
            raise TypeError(f"keywords[{label!r}] holds {bad[:3]!r}; keywords are non-blank strings")
        if not words:
            continue
        # One alternation per label (longest first) finds the leftmost-longest match fast;
        # nested matches of one label need one pattern per keyword.
        alternatives = [[w] for w in words] if overlapping else [words]
        patterns[label] = [r"(?<!\w)(?:" + "|".join(map(re.escape, group)) + r")(?!\w)"
                           for group in alternatives]
    suggest = regex_suggester(patterns, ignore_case=not case_sensitive, overlapping=overlapping)
    suggest.__name__ = "keyword_suggester"
    return suggest


def spacy_suggester(nlp: Any, *, label_map: Mapping[str, str] | None = None,
                    spans_key: str | None = None) -> SpacySuggester:
    """Suggest a spaCy pipeline's entities (``doc.ents``) or the spans of ``doc.spans[key]``.

    Parameters
    ----------
    nlp : a loaded pipeline (``spacy.load(...)``, or ``spacy.blank("en")`` with an
        ``entity_ruler``); called on each text (``nlp.pipe`` for batches).
    label_map : spaCy label → the project's label. Labels it leaves out are not suggested
        (a pipeline knows more labels than most tasks use). Default: labels as they are.
    spans_key : read ``doc.spans[spans_key]`` instead of ``doc.ents``; its scores (a spancat
        component's ``attrs["scores"]``) become the spans' scores.

    spaCy's character offsets are code points, as the store's are.

    >>> import spacy
    >>> nlp = spacy.blank("en")
    >>> _ = nlp.add_pipe("entity_ruler").add_patterns([{"label": "ORG", "pattern": "IBM"}])
    >>> spacy_suggester(nlp)("Ada left IBM")
    [(9, 12, 'ORG', None)]
    """
    return SpacySuggester(nlp, label_map=label_map, spans_key=spans_key)


class SpacySuggester:
    """What :func:`spacy_suggester` returns: callable on a text, with ``batch(texts)``."""

    def __init__(self, nlp: Any, *, label_map: Mapping[str, str] | None = None,
                 spans_key: str | None = None):
        if not callable(nlp) or not hasattr(nlp, "pipe"):
            raise TypeError(f"nlp must be a spaCy pipeline (spacy.load(...) or spacy.blank(...)); "
                            f"got {type(nlp).__name__}")
        if label_map is not None and not isinstance(label_map, Mapping):
            raise TypeError("label_map must be a dict: spaCy label -> project label")
        self.nlp, self.label_map, self.spans_key = nlp, label_map, spans_key

    def __call__(self, text: str) -> list[tuple]:
        return self._spans(self.nlp(text))

    def batch(self, texts: Sequence[str]) -> list[list[tuple]]:
        """The spans of each text, through ``nlp.pipe``."""
        return [self._spans(doc) for doc in self.nlp.pipe(texts)]

    def _spans(self, doc: Any) -> list[tuple]:
        if self.spans_key is None:
            group, scores = doc.ents, None
        else:
            if self.spans_key not in doc.spans:
                raise KeyError(f"the pipeline set no doc.spans[{self.spans_key!r}]; its keys are "
                               f"{sorted(doc.spans)}")
            group = doc.spans[self.spans_key]
            scores = group.attrs.get("scores") if hasattr(group, "attrs") else None
        out = []
        for k, span in enumerate(group):
            label = span.label_
            if self.label_map is not None:
                if label not in self.label_map:
                    continue
                label = self.label_map[label]
            score = None if scores is None else float(scores[k])
            out.append((span.start_char, span.end_char, label, score))
        return out


def _compile(patterns: Mapping[str, Any], ignore_case: bool) -> list[tuple[str, list]]:
    if not isinstance(patterns, Mapping):
        raise TypeError("patterns must be a dict: label -> regex or list of regexes")
    flags = re.IGNORECASE if ignore_case else 0
    out = []
    for label, value in patterns.items():
        values = [value] if isinstance(value, (str, re.Pattern)) else list(value)
        regexes = []
        for rx in values:
            try:
                regexes.append(rx if isinstance(rx, re.Pattern) else re.compile(rx, flags))
            except (re.error, TypeError) as exc:
                raise ValueError(f"pattern {rx!r:.60} for label {label!r} is not a regular "
                                 f"expression: {exc}") from None
        out.append((label, regexes))
    return out


def _order(span: tuple) -> tuple:
    return (span[0], -span[1], span[2])


def _one_layer(found: list[tuple]) -> list[tuple]:
    """Leftmost first, then longest; drop what overlaps a span kept before it."""
    out: list[tuple] = []
    for span in sorted(set(found), key=_order):
        if not out or span[0] >= out[-1][1]:
            out.append(span)
    return out


# -- running one over the items -------------------------------------------------------------
def suggest_spans(project: Any, suggester: Any, item_ids: Sequence[str] | None = None, *,
                  model_version: str, source: str = "model", errors: str = "raise",
                  batch_size: int = 256, progress: Progress = None) -> SuggestReport:
    """Run ``suggester`` over the items (default: every text item) and store one suggestion
    per item (see the module's doc for suggesters and for ``errors``).

    Each batch of ``batch_size`` items is checked whole, then written in one transaction:
    an interrupt keeps the batches written before it. ``progress``: a bar from
    ``SUGGEST_BAR_FROM`` items by default; True, False, or ``progress(done, total)``.
    ``model_version`` names the model; ``source`` is ``"model"`` or ``"lf"``.
    """
    ledger = Ledger.of(project)
    if not callable(suggester) and not hasattr(suggester, "batch"):
        raise TypeError(f"suggester must be callable as suggester(text) -> spans; got "
                        f"{type(suggester).__name__}. For a spaCy pipeline use "
                        "spacy_suggester(nlp)")
    if errors not in ERRORS:
        raise ValueError(f"errors must be one of {list(ERRORS)}; got {errors!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
    ids, texts = _texts(ledger, item_ids)
    if ledger.span_schema is None:
        raise SchemaError(f"{ledger.store.path} declares no span labels; reopen it with "
                          "Project(path, span_labels=['PER', 'ORG'])")
    seqs: list[int] = []
    failed: dict[str, str] = {}
    n_spans = 0
    with progress_bar(len(ids), "suggest_spans", progress, large=SUGGEST_BAR_FROM,
                      unit="item") as bar:
        for start in range(0, len(ids), batch_size):
            batch_ids, batch_texts = ids[start:start + batch_size], texts[start:start + batch_size]
            good, bad = _run_batch(suggester, batch_ids, batch_texts, ledger)
            if bad and errors == "raise":
                raise SuggestError(_failure_message(bad, start, len(seqs)), bad)
            failed.update(bad)
            if good:
                seqs += ledger.suggest_spans(good, model_version=model_version, source=source)
                n_spans += sum(len(spans) for _, spans in good)
            bar.advance(len(batch_ids))
    return SuggestReport(len(seqs), n_spans, tuple(seqs), failed)


def _texts(ledger: Ledger, item_ids: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """The ids and texts to suggest for, checked before any suggester runs."""
    if item_ids is None:
        rows = [r for r in ledger.store.items_table() if r["text"] is not None]
        return [r["item_id"] for r in rows], [r["text"] for r in rows]
    ids = list(dict.fromkeys(item_id_list(item_ids, "item_ids")))
    records = ledger.store.get_items(ids)
    missing = [i for i in ids if i not in records]
    if missing:
        raise KeyError(f"Unknown item ids {missing[:10]!r} ({len(missing)} in all); add them "
                       "first with project.add_items(...)")
    no_text = [i for i in ids if not isinstance(records[i].text, str)]
    if no_text:
        raise SpanError(f"Items {no_text[:10]!r} have no text, so they cannot hold spans")
    return ids, [records[i].text for i in ids]


def _run_batch(suggester: Any, ids: list[str], texts: list[str],
               ledger: Ledger) -> tuple[list[tuple[str, list]], dict[str, str]]:
    """(item, checked spans) for the items that passed, and item → reason for the rest."""
    outputs: list[Any] | None = None
    if hasattr(suggester, "batch"):
        try:
            outputs = list(suggester.batch(texts))
            if len(outputs) != len(texts):
                raise ValueError(f"batch returned {len(outputs)} results for {len(texts)} texts")
        except Exception:  # find the failing items one by one below
            outputs = None
    good, bad = [], {}
    schema = ledger.span_schema
    for k, (item_id, text) in enumerate(zip(ids, texts, strict=True)):
        try:
            spans = outputs[k] if outputs is not None else suggester(text)
        except Exception as exc:
            bad[item_id] = f"the suggester raised {type(exc).__name__}: {exc}"
            continue
        try:
            good.append((item_id, check_suggestion(text, spans, schema, item_id=item_id)))
        except SpanError as exc:
            bad[item_id] = str(exc)
    return good, bad


def _failure_message(bad: dict[str, str], done_items: int, stored: int) -> str:
    lines = [f"  {item_id!r}: {why}" for item_id, why in list(bad.items())[:10]]
    more = f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else ""
    return (f"The suggester failed on {len(bad)} item(s) of the batch starting at item "
            f"{done_items}; that batch was not written ({stored} item(s) of earlier batches "
            "were). Fix the suggester, or pass errors='skip' to store the rest and get the "
            "failures in the report:\n" + "\n".join(lines) + more)
