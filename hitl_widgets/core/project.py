"""A labeling project: a label schema and a durable store behind one public object.

Example
-------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "demo.hitl")
>>> project = Project(path, labels=["ham", "spam"])
>>> project.add_items(["win a prize", "see you at 5"], id=["a", "b"])
AddResult(added=2, existing=0)
>>> _ = project.annotate("a", "spam", annotator="ana")
>>> project.labels()[["item_id", "label"]].values.tolist()
[['a', 'spam']]

A span task (named entities), with offsets in code points:

>>> ner = Project(os.path.join(tempfile.mkdtemp(), "ner.hitl"), span_labels=["PER", "ORG"])
>>> _ = ner.add_items(["Ada works at IBM"], id=["d1"])
>>> _ = ner.submit_spans("d1", [(0, 3, "PER"), (13, 16, "ORG")], annotator="ana")
>>> ner.spans()[["start", "end", "label", "text"]].values.tolist()
[[0, 3, 'PER', 'Ada'], [13, 16, 'ORG', 'IBM']]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .progress import Progress, progress_bar
from .store import (
    LabelSchema,
    Ledger,
    SchemaError,
    SpanSchema,
    Store,
    Submitted,
    build_records,
    relations_frame,
    span_suggestions,
    spans_frame,
    submissions_frame,
)

ADD_BAR_FROM = 50_000  # items from which add_items shows a bar by default (a few seconds)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddResult:
    """How many items a call to ``add_items`` added, and how many were already there."""

    added: int
    existing: int


class Project:
    """Open or create a project file.

    Parameters
    ----------
    path : the project file, e.g. ``"spam.hitl"``; created when absent, reopened otherwise.
    labels : the label names. Required for a new project; when reopening, omit it or pass the
        same labels (a different list is refused rather than silently changing the schema).
    multi_label, keys, guidelines : see :class:`~hitl_widgets.core.store.LabelSchema`.
    image_root : the only folder image paths may be read from.
    span_labels, relation_labels, overlapping, span_keys : a span task (see
        :class:`~hitl_widgets.core.store.SpanSchema`): its span labels, its relation labels,
        whether spans may overlap (default: one layer), and keys for the span labels. With
        ``span_labels``, ``labels`` may be omitted (a project that labels spans only). A
        project may be given a span task when reopened; once it has one, the labels, relation
        labels and layering stay.
    read_only : open an existing project for reading only (``labels()``, ``events()``,
        ``items()``); writes raise :class:`~hitl_widgets.core.store.StoreError`. A project on a
        read-only disk or folder opens this way by itself.
    """

    def __init__(
        self,
        path: str | Path,
        labels: Sequence[str] | None = None,
        *,
        multi_label: bool | None = None,
        keys: Mapping[str, str] | None = None,
        guidelines: Mapping[str, Any] | None = None,
        image_root: str | Path | None = None,
        read_only: bool = False,
        span_labels: Sequence[str] | None = None,
        relation_labels: Sequence[str] | None = None,
        overlapping: bool | None = None,
        span_keys: Mapping[str, str] | None = None,
    ):
        self.path = Path(path)
        # Checked before the file is touched: a bad argument writes nothing.
        if labels is None and span_labels is None and not read_only and not _exists(self.path):
            raise SchemaError(f"{self.path} is a new project: give its labels, e.g. "
                              "Project(path, labels=['ham', 'spam']) or, to label spans, "
                              "Project(path, span_labels=['PER', 'ORG'])")
        if labels is not None:
            LabelSchema.build(labels, multi_label=bool(multi_label), keys=keys, guidelines=guidelines)
        if span_labels is not None:
            SpanSchema.build(span_labels, relation_labels=relation_labels or (),
                             overlapping=False if overlapping is None else overlapping, keys=span_keys)
        root = None if image_root is None else _check_root(image_root)
        self.ledger = Ledger.open(self.path, labels, multi_label=multi_label, keys=keys,
                                  guidelines=guidelines, image_root=root, read_only=read_only,
                                  span_labels=span_labels, relation_labels=relation_labels,
                                  overlapping=overlapping, span_keys=span_keys)
        self._labels_frames: dict[str | None, _LabelsFrame] = {}  # labels()'s, per annotator=

    @property
    def store(self) -> Store:
        """The SQLite store (reading; writes go through :attr:`ledger`)."""
        return self.ledger.store

    @property
    def schema(self) -> LabelSchema:
        """The label schema."""
        return self.ledger.schema

    @property
    def span_schema(self) -> SpanSchema | None:
        """The span task's schema, or None when the project labels no spans."""
        return self.ledger.span_schema

    @property
    def image_root(self) -> Path | None:
        """The only folder image paths are read from, or None."""
        return self.ledger.image_root

    # -- items ----------------------------------------------------------------------------
    def add_items(
        self,
        data: Any = None,
        *,
        text: Any = None,
        image: Any = None,
        path: Any = None,
        id: Any = None,  # noqa: A002 - the natural name for users
        fields: Sequence[str] | None = None,
        meta: Sequence[str] | None = None,
        provenance: dict | None = None,
        value_range: tuple[float, float] | None = None,
        progress: Progress = None,
    ) -> AddResult:
        """Add items; re-adding the same ones is a no-op. All or nothing per call.

        ``add_items(df, text="CONTENT", id="COMMENT_ID")``, ``add_items(["a text", ...])``,
        ``add_items(image=digits.images)``, ``add_items(path=["cats/1.jpg"])`` (below
        ``image_root``), or ``add_items(df)`` to label table rows. ``fields`` are columns shown
        beside the content, ``meta`` columns kept but not shown, ``provenance`` a dict kept with
        every item of the batch.

        ``progress``: a bar from ``ADD_BAR_FROM`` items by default; True, False, or a function
        ``progress(done, total)`` (see :mod:`~hitl_widgets.core.progress`), where ``total`` is
        twice the item count: each item counts once checked and once written. However large,
        the batch is one transaction: an interrupt ("Interrupt kernel") adds nothing.
        """
        n = _length(data if data is not None else next(
            (v for v in (text, image, path) if v is not None), None))
        with progress_bar(2 * n, "add_items: checking", progress, large=2 * ADD_BAR_FROM,
                          unit="row") as bar:
            records = build_records(
                data, text=text, image=image, path=path, id=id, fields=fields, meta=meta,
                provenance=provenance, image_root=self.image_root, value_range=value_range,
                step=bar.set,
            )
            bar.describe("add_items: writing")
            added = self.ledger.add_items(records, notify="items",
                                          step=lambda done: bar.set(n + done))
            bar.set(2 * n)
        return AddResult(*added)

    def items(self):
        """A DataFrame of the items (without image bytes)."""
        import pandas as pd

        rows = [dict(r) for r in self.store.items_table()]
        return pd.DataFrame(rows, columns=["seq", "item_id", "kind", "text", "path", "mime",
                                           "fields", "meta", "provenance", "added_at"])

    def __len__(self) -> int:
        return self.store.item_count()

    # -- labeling -------------------------------------------------------------------------
    def annotate(
        self,
        item_id: str,
        label: str | Iterable[str],
        *,
        annotator: str,
        source: str = "human",
        ms_on_item: int | None = None,
        suggestion: str | Iterable[str] | None = None,
        suggestion_score: float | None = None,
        score: float | None = None,
        extra: dict | None = None,
    ) -> int:
        """Record a label; returns the event id once it is durable on disk."""
        return self.ledger.annotate(item_id, label, annotator=annotator, source=source,
                                    ms_on_item=ms_on_item, suggestion=suggestion,
                                    suggestion_score=suggestion_score, score=score, extra=extra)

    def skip(self, item_id: str, *, annotator: str, ms_on_item: int | None = None) -> int:
        """Record that the annotator passed on an item; it comes back after the others."""
        return self.ledger.skip(item_id, annotator=annotator, ms_on_item=ms_on_item)

    def undo(self, *, annotator: str, item_id: str | None = None) -> dict | None:
        """Retract the annotator's latest label or skip; return what was retracted, or None."""
        return self.ledger.undo(annotator=annotator, item_id=item_id)

    def suggest(
        self,
        item_ids: Sequence[str],
        labels: Sequence[str | Sequence[str]],
        scores: Sequence[float] | None = None,
        *,
        source: str = "model",
        version: str | None = None,
    ) -> list[int]:
        """Store model (or LF) suggestions; the Labeler shows the newest one per item."""
        return self.ledger.suggest(item_ids, labels, scores, source=source, version=version)

    def record_shown(self, item_id: str, *, annotator: str, suggestion, score=None) -> int:
        """Audit that a suggestion was on screen for an annotator."""
        return self.ledger.record_shown(item_id, annotator=annotator, suggestion=suggestion,
                                        score=score)

    # -- spans ----------------------------------------------------------------------------
    def submit_spans(
        self,
        item_id: str,
        spans: Sequence[Any],
        *,
        annotator: str,
        relations: Sequence[Any] = (),
        source: str = "human",
        ms_on_item: int | None = None,
        extra: dict | None = None,
    ) -> Submitted:
        """Record an annotator's spans on an item: their answer for it (an empty list is the
        answer "nothing to mark"), replacing their earlier spans there; undo brings those back.

        ``spans``: ``(start, end, label)`` tuples or dicts with ``start``, ``end``, ``label``
        and optionally ``text`` (checked against the item's), ``id``, ``score``, ``source``,
        ``extra``, ``suggestion_id`` (the suggested span it stands for, from
        :meth:`span_suggestions`; it must be one of the item's latest suggestion, once). Offsets are Python code points, end exclusive (a browser's UTF-16 offsets:
        :func:`hitl_widgets.core.spans.from_utf16`). ``relations``: ``(head, child, label)``
        or dicts, naming spans by their ``id`` (their position in ``spans`` when none given).
        Everything is checked before anything is written (:class:`SpanError` says what and
        what to do); then one transaction. Returns the ids written (:class:`Submitted`).
        """
        return self.ledger.submit_spans(item_id, spans, annotator=annotator, relations=relations,
                                        source=source, ms_on_item=ms_on_item, extra=extra)

    def relate(self, head: int, child: int, label: str, *, annotator: str) -> int:
        """Add a relation between two current spans (``span_id``s) of one item; its id."""
        return self.ledger.relate(head, child, label, annotator=annotator)

    def retract_span(self, span_id: int, *, annotator: str) -> dict:
        """Delete one of the annotator's current spans; the relations naming it are deleted
        with it, in the same transaction. Returns what was deleted."""
        return self.ledger.retract_span(span_id, annotator=annotator)

    def retract_relation(self, relation_id: int, *, annotator: str) -> dict:
        """Delete one of the annotator's current relations (its spans stay)."""
        return self.ledger.retract_relation(relation_id, annotator=annotator)

    def undo_spans(self, item_id: str, *, annotator: str) -> dict | None:
        """Undo the annotator's latest submission of spans on this item; the one before it
        (if any) is current again. Returns the undone submission, or None."""
        return self.ledger.undo_spans(item_id, annotator=annotator)

    def spans(self, annotator: str | None = None):
        """The current spans as a DataFrame: item_id, annotator, start, end, label, span_id,
        text, source, score, submission, created_at (``text[start:end]`` of the item's text)."""
        return spans_frame(self.store, annotator)

    def relations(self, annotator: str | None = None):
        """The current relations: item_id, annotator, head, child (span_ids), label,
        relation_id, submission, created_at."""
        return relations_frame(self.store, annotator)

    def span_submissions(self, annotator: str | None = None):
        """The current submission per (item, annotator), with its span and relation counts
        (``n_spans == 0``: the annotator found nothing to mark)."""
        return submissions_frame(self.store, annotator)

    # Doors onto core/spans (pre-annotations and what became of them).
    def suggest_spans(self, suggester: Any, item_ids: Sequence[str] | None = None, *,
                      model_version: str, source: str = "model", errors: str = "raise",
                      batch_size: int = 256, progress: Progress = None):
        """Store a model's spans for the items (default: every text item), one suggestion per
        item, for annotators to accept, edit or delete.

        ``suggester``: a function ``text -> [(start, end, label[, score]), ...]`` (or dicts),
        or a ready-made one from :mod:`hitl_widgets.core.spans` (``spacy_suggester(nlp)``,
        ``regex_suggester``, ``keyword_suggester``). Checked per batch of ``batch_size``
        items, each written in one transaction; ``errors="raise"`` stops at the first batch
        with a failing item (nothing of it written), ``"skip"`` stores the rest and reports
        the failures. Returns a :class:`~hitl_widgets.core.spans.SuggestReport`.
        """
        return _spans_capability().suggest_spans(
            self.ledger, suggester, item_ids, model_version=model_version, source=source,
            errors=errors, batch_size=batch_size, progress=progress)

    def span_suggestions(self, item_ids: Sequence[str]) -> dict[str, dict]:
        """The latest span suggestion per item (items without one are left out): ``{item_id:
        {"model_version", "suggestion_seq", "source", "spans": [{start, end, label, text,
        score, suggestion_id}]}}``. Submit a suggested span with its ``suggestion_id`` to
        record that it was accepted or edited."""
        return span_suggestions(self.store, item_ids)

    def span_outcomes(self, annotator: str | None = None):
        """What became of every suggested span (accepted, edited, deleted) and which spans
        were added by hand, one row per region (see :mod:`hitl_widgets.core.spans`)."""
        return _spans_capability().span_outcomes(self.ledger, annotator)

    # -- reading --------------------------------------------------------------------------
    def labels(self, annotator: str | None = None):
        """Current labels as a DataFrame: item_id, label, annotator, labeled_at, source.

        ``label`` is a string, or a tuple of strings in a multi-label project.
        """
        frame = self._labels_frames.get(annotator)
        if frame is None:
            frame = self._labels_frames[annotator] = _LabelsFrame(self.ledger.label_index, annotator,
                                                     self.schema.multi_label)
        return frame.get()

    def events(self):
        """The whole audit log as a DataFrame, oldest first."""
        import pandas as pd

        df = pd.DataFrame(self.store.events(), columns=[
            "seq", "kind", "item_id", "annotator", "labels", "source", "score", "suggestion",
            "suggestion_score", "ms_on_item", "target", "extra", "created_at"])
        df["created_at"] = pd.to_datetime(df["created_at"], unit="s", utc=True)
        return df

    # -- quality --------------------------------------------------------------------------
    # Doors onto core/quality (who labels what; gold, flags, adjudication, alerts).
    def set_overlap(self, k: int, item_ids: Sequence[str] | None = None) -> None:
        """How many annotators label each item: ``set_overlap(3)`` for the project,
        ``set_overlap(5, item_ids=[...])`` for some items. Read by :class:`OverlapQueue`."""
        _quality().set_overlap(self.ledger, k, item_ids)

    def set_lease(self, minutes: float) -> None:
        """How long an item served to an annotator stays theirs before it goes back to the pool
        (10 minutes until set), for every leasing queue that sets no ``lease_s`` of its own:
        ``project.set_lease(5)``. An annotator who goes idle or never comes back holds nothing
        longer than this."""
        _quality().set_lease(self.ledger, minutes)

    def coverage(self):
        """Per item: annotators needed, annotators so far, gold, over its k (a DataFrame)."""
        return _quality().coverage(self.ledger)

    def queue_depth(self) -> dict[str, int]:
        """What is left: items and labels still needed, open requests, items to adjudicate."""
        return _quality().queue_depth(self.ledger)

    def set_gold(self, item_ids, labels=None) -> list[int]:
        """Mark items with known answers: ``set_gold(["i1", "i2"], ["spam", "ham"])`` or
        ``set_gold({"i1": "spam"})``. Labels outside the schema are refused, naming the item;
        nothing is written unless all are valid. Gold never reaches an annotator's browser."""
        return _quality().set_gold(self.ledger, item_ids, labels)

    def remove_gold(self, item_ids: Sequence[str]) -> int:
        """Take items out of the gold set; returns how many were in it."""
        return _quality().remove_gold(self.ledger, item_ids)

    def gold(self):
        """The gold set as a DataFrame: item_id, label, set_at."""
        return _quality().gold(self.ledger)

    def gold_accuracy(self, threshold: float = 0.85, min_count: int = 5):
        """Per annotator: accuracy on gold items, the count it rests on, and whether they are
        flagged for retraining (accuracy below ``threshold`` on ``min_count`` or more items)."""
        return _quality().gold_accuracy(self.ledger, threshold, min_count)

    def flagged(self, threshold: float = 0.85, min_count: int = 5):
        """Annotators flagged for retraining, with the reason."""
        return _quality().flagged(self.ledger, threshold, min_count)

    def overlap_queue(self, *, gold_rate: float = 0.05, lease_s: float | None = None, seed: int = 0):
        """A blind queue serving each item to k annotators with gold mixed in:
        ``hw.Labeler(project, annotator="ana", queue=project.overlap_queue())``."""
        return _quality().OverlapQueue(gold_rate=gold_rate, lease_s=lease_s, seed=seed)

    def skill_profiles(self, task_type=None, **kw):
        """Per annotator and task type, a Beta posterior of their accuracy from gold answers and
        agreement with consensus (a DataFrame; see :func:`hitl_widgets.core.quality.skill_profiles`).
        ``task_type``: None (one type), a field name of the items, or a function of an item's
        record dict. Nothing is written; cached until labels or gold change."""
        return _quality().skill_profiles(self.ledger, task_type, **kw)

    def router_queue(self, task_type=None, **kw):
        """A blind queue serving each annotator the task types the router prefers for them
        (skills, load, exploration), k annotators per item, gold mixed in, with an optional
        ``cap`` and ``variety``: ``hw.Labeler(project, annotator="ana",
        queue=project.router_queue("source"))``. See :class:`~hitl_widgets.core.quality.RouterQueue`."""
        return _quality().RouterQueue(task_type, **kw)

    def flag_disagreements(self, threshold: float = 0.75, method: str = "majority") -> list[str]:
        """Flag finished items whose consensus confidence is below ``threshold``."""
        return _quality().flag_disagreements(self.ledger, threshold, method)

    def flags(self):
        """Items flagged for adjudication, with reasons and whether they are resolved."""
        return _quality().flags(self.ledger)

    def adjudication_queue(self, *, threshold: float = 0.75, method: str = "majority",
                           lease_s: float | None = None):
        """The flagged items, for a senior annotator who sees the others' labels there:
        ``hw.Labeler(project, annotator="sam", queue=project.adjudication_queue())``."""
        return _quality().AdjudicationQueue(threshold=threshold, method=method, lease_s=lease_s)

    def resolve(self, item_id: str, label: str | Iterable[str], *, annotator: str,
                ms_on_item: int | None = None) -> int:
        """An adjudicator's label: it settles the item. Returns the event id once durable."""
        return _quality().resolve(self.ledger, item_id, label, annotator=annotator,
                               ms_on_item=ms_on_item)

    def resolutions(self):
        """Adjudicators' labels in force: item_id, label, annotator, resolved_at."""
        return _quality().resolutions(self.ledger)

    def final_labels(self, method: str = "majority"):
        """One label per finished item: the adjudicator's where there is one, else the
        consensus (``method``: ``"majority"`` or ``"dawid_skene"``), with its confidence."""
        return _quality().final_labels(self.ledger, method)

    def span_adjudication_queue(self, *, share: float = 0.5, lease_s: float | None = None):
        """The span items consensus flags, for an adjudicator who sees every annotator's spans:
        ``hw.SpanLabeler(project, annotator="sam", queue=project.span_adjudication_queue())``."""
        return _quality().SpanAdjudicationQueue(share=share, lease_s=lease_s)

    def resolve_spans(self, item_id: str, spans: Sequence[Any], *, annotator: str,
                      relations: Sequence[Any] = (), ms_on_item: int | None = None):
        """An adjudicator's spans on an item: they settle it (see :meth:`final_spans`)."""
        return _quality().resolve_spans(self.ledger, item_id, spans, annotator=annotator,
                                        relations=relations, ms_on_item=ms_on_item)

    def final_spans(self, share: float = 0.5):
        """The settled spans per item, beside :meth:`final_labels`: the adjudicator's where the
        item was resolved, else the consensus spans (``settled_by`` says which)."""
        return _quality().final_spans(self.ledger, share)

    def spot_check(self, rate: float = 0.05, seed: int = 0) -> list[str]:
        """Send ``rate`` of the finished items (per label) back for one more annotator."""
        return _quality().spot_check(self.ledger, rate, seed)

    def check_agreement(self, window: int = 50, threshold: float = 0.7,
                        min_items: int = 10, by: str | None = None) -> list[dict]:
        """Queue items for relabeling where a label's (or, with ``by``, a meta slice's) recent
        agreement fell below ``threshold``; the reasons are kept (see :meth:`quality_alerts`)."""
        return _quality().check_agreement(self.ledger, window, threshold, min_items, by)

    def quality_alerts(self):
        """Relabel alerts with their reasons, as a DataFrame."""
        return _quality().quality_alerts(self.ledger)

    # -- cost ---------------------------------------------------------------------------
    # Rates, tiers and the budget are the ledger's writes; the analysis is core/quality's.
    def set_rate(self, who: str, hourly: float, *, tier: bool = False) -> dict:
        """An hourly rate for an annotator, a tier (``tier=True``) or everyone else
        (``who="*"``), from the next event on: ``project.set_rate("*", 18.0)``."""
        return self.ledger.set_rate(who, hourly, tier=tier)

    def set_tier(self, annotator: str, tier: str | None) -> dict:
        """Put an annotator in a tier whose rate applies to them (None: no tier)."""
        return self.ledger.set_tier(annotator, tier)

    def set_budget(self, amount: float | None) -> None:
        """Cap what labeling may cost (None: no cap); sessions hand out no new items once
        the money spent reaches it, in every kernel."""
        self.ledger.set_budget(amount)

    def budget(self) -> dict | None:
        """``{"spent", "limit", "reached"}`` now, or None when no budget is set."""
        return self.ledger.costs.budget_state()

    def cost_report(self, method: str = "majority"):
        """One row per paid event, priced, with whether it was accepted (a DataFrame;
        ``.to_csv(path)`` is the spreadsheet)."""
        return _quality().cost_report(self.ledger, method)

    def cost_summary(self, method: str = "majority"):
        """Per annotator: labels, cost, cost per label and per accepted label, labels/hour."""
        return _quality().cost_summary(_quality().cost_report(self.ledger, method))

    def project_cost(self, curve, target: float, *, cost_per_label: float | None = None,
                     n_boot: int = 200, seed: int = 0):
        """Labels and money to reach ``target`` accuracy from a learning curve, with an
        interval; ``cost_per_label`` defaults to this project's so far."""
        q = _quality()
        cpl = q.mean_cost_per_label(self.ledger) if cost_per_label is None else cost_per_label
        return q.project_cost(curve, target, cpl, n_boot=n_boot, seed=seed)

    def cost_per_point(self, curve, *, cost_per_label: float | None = None,
                       n_boot: int = 200, seed: int = 0):
        """What the next point of accuracy costs, from a learning curve, with an interval."""
        q = _quality()
        cpl = q.mean_cost_per_label(self.ledger) if cost_per_label is None else cost_per_label
        return q.cost_per_point(curve, cpl, n_boot=n_boot, seed=seed)

    # -- versions -------------------------------------------------------------------------
    # Doors onto core/quality's dataset versions (frozen final labels, their diff, the audit).
    def snapshot(self, name: str, *, method: str = "majority"):
        """Freeze every decided item's final label (and how it was decided: gold,
        adjudication, consensus, human, model or lf) as a version called ``name``, identified
        by a content hash; returns its :class:`~hitl_widgets.core.quality.Version`. A name is
        used once: reusing one raises and writes nothing."""
        return _quality().snapshot(self.ledger, name, method)

    def snapshots(self):
        """The stored versions, oldest first: name, hash, method, n_items, seq, created_at."""
        return _quality().snapshots(self.ledger)

    def version(self, name_or_hash: str):
        """A version's rows as a DataFrame: item, final label, how and by whom it was decided,
        when, and the item's provenance (see :mod:`hitl_widgets.core.quality._versions`)."""
        return _quality().version_frame(self.ledger, name_or_hash)

    def diff(self, a: str, b: str):
        """Items added, removed and relabeled from version ``a`` to ``b``, with the label
        events between them (who, when, why): a :class:`~hitl_widgets.core.quality.VersionDiff`."""
        return _quality().diff(self.ledger, a, b)

    def audit(self, item_id: str):
        """Who changed this item's label, from what, when, and what the screen showed them."""
        return _quality().audit(self.ledger, item_id)

    def export_parquet(self, version: str, path: str | Path) -> Path:
        """Write a version to a Parquet file (the hash in a column and the file metadata)."""
        return _quality().export_parquet(self.ledger, version, path)

    def to_dataset(self, version: str):
        """A version as a Hugging Face ``datasets.Dataset`` with a ``ClassLabel`` label."""
        return _quality().to_dataset(self.ledger, version)

    # -- weak supervision -----------------------------------------------------------------
    # Doors onto core/weak (labeling functions, their analysis, label models).
    def apply_lfs(self, lfs, column: str = "text", **kwargs):
        """Apply labeling functions to the items: ``(L, item_ids, report)``. Cached, so
        re-applying after editing one LF re-runs only that one."""
        return _weak().apply_to_project(self.ledger, lfs, column, **kwargs)

    def human_label_vector(self, item_ids):
        """Y for these items: each human label's position in the schema, -1 where none yet."""
        return _weak().human_labels(self.ledger, item_ids)

    def store_weak_labels(self, probs, item_ids, threshold: float = 0.8, *, version=None):
        """Store label-model probabilities as ``source="lf"`` suggestions; return the items a
        human should label (below ``threshold``), least confident first."""
        return _weak().store_weak_labels(self.ledger, probs, item_ids, threshold, version=version)

    def weak_label_queue(self, item_ids):
        """A queue serving these items first, each with its weak label as the suggestion:
        ``hw.Labeler(project, annotator="ana", queue=project.weak_label_queue(unsure))``."""
        return _weak().WeakLabelQueue(item_ids)

    # -- listeners and lifetime -----------------------------------------------------------
    def subscribe(self, callback: Callable[[str, dict], None]) -> Callable[[], None]:
        """Call ``callback(kind, info)`` after each change; returns the unsubscribe function."""
        return self.ledger.subscribe(callback)

    def poll(self) -> bool:
        """Hear what other kernels wrote since the last poll: listeners get one ``external``
        notice (``{"from_seq", "to_seq"}``) when they added events or items. The
        Dashboard and the LFStudio call it on a timer; call it yourself in a script that
        follows a project.

        >>> import hitl_widgets as hw, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "p.hitl")
        >>> lead, annotator = hw.Project(path, labels=["ham", "spam"]), hw.Project(path)
        >>> _ = annotator.add_items(["hello"], id=["a"])
        >>> heard = []
        >>> _ = lead.subscribe(lambda kind, info: heard.append(kind))
        >>> _ = annotator.annotate("a", "ham", annotator="ana")
        >>> lead.poll(), heard
        (True, ['external'])
        >>> lead.close(); annotator.close()
        """
        return self.ledger.poll()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Project({str(self.path)!r}, labels={list(self.schema.labels)}, "
                f"items={len(self)})")


def _exists(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _check_root(image_root: str | Path) -> Path:
    root = Path(image_root).expanduser().resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"image_root {root} is not a folder; give an existing folder "
                                 "that holds the images")
    return root


# The capabilities behind the doors import pandas, scikit-learn or snorkel: imported when a door
# is first used, so opening a project and labeling stay light.
def _quality():
    from . import quality

    return quality


def _weak():
    from . import weak

    return weak


def _spans_capability():
    from . import spans

    return spans


def _length(values: Any) -> int:
    """How many items ``add_items`` was given (0 when it cannot tell; build_records checks)."""
    try:
        return len(values)
    except TypeError:
        return 0


class _LabelsFrame:
    """``Project.labels()``'s DataFrame, kept between calls and patched with the items whose
    labels changed since (read from the ledger's :class:`LabelIndex`): a call after one more
    label costs a few array operations, not a DataFrame of every label (2.9 s at 150k labels
    when each call recomputed from the whole log)."""

    COLUMNS = ["item_id", "label", "annotator", "labeled_at", "source"]
    REBUILD_SHARE = 0.2  # past this share of changed rows, building anew is cheaper than patching

    def __init__(self, index, annotator: str | None, multi_label: bool):
        self.index, self.annotator, self.multi = index, annotator, multi_label
        self.version = -1
        self.frame = None  # with a "seq" column, in seq order

    def get(self):
        index = self.index
        index.sync()
        if self.frame is None:
            self.version, self.frame = index.version, self._build(index.rows(self.annotator))
        elif index.version != self.version:
            changed = index.changed_since(self.version)
            self.version = index.version
            if len(changed) > self.REBUILD_SHARE * max(len(self.frame), 1):
                self.frame = self._build(index.rows(self.annotator))
            elif changed:
                self.frame = self._patch(changed)
        return self.frame.drop(columns="seq").reset_index(drop=True)

    def _patch(self, changed: set[str]):
        import pandas as pd

        rows = sorted(r for item in changed for who, r in self.index.item(item).items()
                      if self.annotator is None or who == self.annotator)
        kept = self.frame[~self.frame["item_id"].isin(list(changed))]
        if not rows:  # those items lost their last labels (an undo): nothing to add
            # (and no empty frame concatenated, whose object columns would turn the kept
            # string columns into object ones)
            return kept.reset_index(drop=True)
        return pd.concat([kept, self._build(rows)], ignore_index=True).sort_values(
            "seq", kind="stable", ignore_index=True)

    def _build(self, rows):
        import numpy as np
        import pandas as pd

        if not rows:
            return pd.DataFrame({"seq": pd.array([], dtype="int64"), "item_id": [], "label": [],
                                 "annotator": [], "labeled_at": pd.to_datetime([], utc=True),
                                 "source": []}, columns=["seq", *self.COLUMNS])
        # Object arrays, so pandas does not inspect every value to infer a type; the times as
        # one float array (a list of a million floats took a quarter of the build).
        return pd.DataFrame({
            "seq": np.fromiter((r.seq for r in rows), dtype=np.int64, count=len(rows)),
            "item_id": _objects([r.item_id for r in rows]),
            "label": _objects([r.labels if self.multi else r.labels[0] for r in rows]),
            "annotator": _objects([r.annotator for r in rows]),
            "labeled_at": pd.to_datetime(np.fromiter((r.created_at for r in rows), dtype=np.float64,
                                                     count=len(rows)), unit="s", utc=True),
            "source": _objects([r.source for r in rows]),
        }, columns=["seq", *self.COLUMNS])


def _objects(values) -> Any:
    """A 1-d object array of ``values`` (tuples stay whole: a multi-label row's labels)."""
    import numpy as np

    out = np.empty(len(values), dtype=object)
    if values and isinstance(values[0], tuple):
        for k, value in enumerate(values):  # a slice assignment would unpack the tuples
            out[k] = value
    else:
        out[:] = values
    return out
