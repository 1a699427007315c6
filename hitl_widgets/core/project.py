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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._checks import item_id as check_item_id
from ._checks import item_id_list
from .items import build_records
from .schema import LabelSchema, SchemaError
from .store import SOURCES, Store

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
    multi_label, keys, guidelines : see :class:`~hitl_widgets.core.schema.LabelSchema`.
    image_root : the only folder image paths may be read from.
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
    ):
        self.path = Path(path)
        # Checked before the file is touched: a bad argument writes nothing.
        if labels is None and not read_only and not _exists(self.path):
            raise SchemaError(f"{self.path} is a new project: give its labels, e.g. "
                              "Project(path, labels=['ham', 'spam'])")
        if labels is not None:
            LabelSchema.build(labels, multi_label=bool(multi_label), keys=keys, guidelines=guidelines)
        root = None if image_root is None else _check_root(image_root)
        self.store = Store(self.path, read_only=read_only)
        self._listeners: list[Callable[[str, dict], None]] = []
        try:
            self.schema, self.image_root = self._open(labels, multi_label, keys, guidelines, root)
        except BaseException:
            self.store.close()
            raise

    # -- opening --------------------------------------------------------------------------
    def _open(self, labels, multi_label, keys, guidelines, root) -> tuple[LabelSchema, Path | None]:
        """Read the stored schema and image root, and write what changes, in one transaction.

        Deciding and writing under one write lock is what keeps two kernels creating the same
        file with different labels from both succeeding. Nothing is locked when nothing changes.
        """
        schema, changes = self._resolve_schema(labels, multi_label, keys, guidelines)
        stored_root, root_changes = self._resolve_root(root)
        if not (changes or root_changes) or self.store.read_only:
            return schema, stored_root
        with self.store.transaction():  # decide again: another kernel may have written meanwhile
            schema, changes = self._resolve_schema(labels, multi_label, keys, guidelines)
            stored_root, root_changes = self._resolve_root(root)
            for key, value in {**changes, **root_changes}.items():
                self.store.set_meta(key, value)
        return schema, stored_root

    def _resolve_schema(self, labels, multi_label, keys, guidelines) -> tuple[LabelSchema, dict]:
        """The schema to use, and the meta entries to write for it (none when unchanged)."""
        stored = self.store.get_meta("schema")
        if stored is None:
            if self.store.read_only:
                raise SchemaError(f"{self.path} holds no label schema yet, and it was opened "
                                  "read-only, so none can be written")
            if labels is None:
                raise SchemaError(f"{self.path} is a new project: give its labels, e.g. "
                                  "Project(path, labels=['ham', 'spam'])")
            schema = LabelSchema.build(labels, multi_label=bool(multi_label), keys=keys,
                                       guidelines=guidelines)
            return schema, {"schema": schema.to_json()}
        schema = LabelSchema.from_json(stored)
        if labels is not None and list(labels) != list(schema.labels):
            raise SchemaError(f"{self.path} has labels {list(schema.labels)}, not {list(labels)}; "
                              "omit labels= to reopen it as it is")
        if multi_label is not None and bool(multi_label) != schema.multi_label:
            raise SchemaError(f"{self.path} was created with multi_label={schema.multi_label}")
        if keys or guidelines:  # presentation only: safe to change on reopen
            schema = LabelSchema.build(schema.labels, multi_label=schema.multi_label,
                                       keys=keys or schema.keys,
                                       guidelines=guidelines or stored.get("guidelines"))
            if schema.to_json() != stored:
                return schema, {"schema": schema.to_json()}
        return schema, {}

    def _resolve_root(self, root: Path | None) -> tuple[Path | None, dict]:
        """The image root to use, and the meta entry to write for it (none when unchanged)."""
        stored = self.store.get_meta("image_root")
        if root is None:
            return (Path(stored) if stored else None), {}
        return root, ({} if str(root) == stored else {"image_root": str(root)})

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
    ) -> AddResult:
        """Add items; re-adding the same ones is a no-op. All or nothing per call.

        ``add_items(df, text="CONTENT", id="COMMENT_ID")``, ``add_items(["a text", ...])``,
        ``add_items(image=digits.images)``, ``add_items(path=["cats/1.jpg"])`` (below
        ``image_root``), or ``add_items(df)`` to label table rows. ``fields`` are columns shown
        beside the content, ``meta`` columns kept but not shown, ``provenance`` a dict kept with
        every item of the batch.
        """
        records = build_records(
            data, text=text, image=image, path=path, id=id, fields=fields, meta=meta,
            provenance=provenance, image_root=self.image_root, value_range=value_range,
        )
        added, existing = self.store.add_items(records)
        if added:
            self._emit("items", {"added": added})
        return AddResult(added, existing)

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
        item_id = check_item_id(item_id)
        labels = self.schema.validate(label)
        shown = None if suggestion is None else self.schema.validate(suggestion)
        _check_annotator(annotator)
        _check_source(source)
        seq = self.store.append(
            "annotation", item_id, annotator=annotator, labels=labels, source=source,
            score=score, suggestion=shown, suggestion_score=suggestion_score,
            ms_on_item=ms_on_item, extra=extra,
        )
        self._emit("annotation", {"item_id": item_id, "annotator": annotator, "seq": seq})
        return seq

    def skip(self, item_id: str, *, annotator: str, ms_on_item: int | None = None) -> int:
        """Record that the annotator passed on an item; it comes back after the others."""
        item_id = check_item_id(item_id)
        _check_annotator(annotator)
        seq = self.store.append("skip", item_id, annotator=annotator, ms_on_item=ms_on_item)
        self._emit("skip", {"item_id": item_id, "annotator": annotator, "seq": seq})
        return seq

    def undo(self, *, annotator: str, item_id: str | None = None) -> dict | None:
        """Retract the annotator's latest label or skip; return what was retracted, or None."""
        _check_annotator(annotator)
        item_id = None if item_id is None else check_item_id(item_id)
        undone = self.store.retract_last(annotator, item_id)
        if undone is not None:
            self._emit("retraction", {"item_id": undone["item_id"], "annotator": annotator})
        return undone

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
        item_ids = item_id_list(item_ids, "item_ids")
        if isinstance(labels, (str, bytes)):
            raise TypeError(f"labels: expected one label per item, got the string {labels!r}; "
                            f"wrap it: [{labels!r}]")
        if len(labels) != len(item_ids) or (scores is not None and len(scores) != len(item_ids)):
            raise ValueError("item_ids, labels and scores must have the same length")
        _check_source(source)
        extra = None if version is None else {"version": str(version)}
        events = [
            dict(kind="suggestion", item_id=i, labels=self.schema.validate(lab), source=source,
                 score=None if scores is None else scores[k], extra=extra)
            for k, (i, lab) in enumerate(zip(item_ids, labels, strict=True))
        ]
        seqs = self.store.append_many(events)
        self._emit("suggestion", {"item_ids": list(item_ids)})
        return seqs

    def record_shown(self, item_id: str, *, annotator: str, suggestion, score=None) -> int:
        """Audit that a suggestion was on screen for an annotator."""
        _check_annotator(annotator)
        return self.store.append("shown", check_item_id(item_id), annotator=annotator,
                                 suggestion=self.schema.validate(suggestion),
                                 suggestion_score=score)

    # -- reading --------------------------------------------------------------------------
    def labels(self, annotator: str | None = None):
        """Current labels as a DataFrame: item_id, label, annotator, labeled_at, source.

        ``label`` is a string, or a tuple of strings in a multi-label project.
        """
        import pandas as pd

        rows = self.store.current_labels(annotator)
        return pd.DataFrame(
            {
                "item_id": [r["item_id"] for r in rows],
                "label": [self._label_value(r["labels"]) for r in rows],
                "annotator": [r["annotator"] for r in rows],
                "labeled_at": pd.to_datetime([r["created_at"] for r in rows], unit="s", utc=True),
                "source": [r["source"] for r in rows],
            }
        )

    def events(self):
        """The whole audit log as a DataFrame, oldest first."""
        import pandas as pd

        df = pd.DataFrame(self.store.events(), columns=[
            "seq", "kind", "item_id", "annotator", "labels", "source", "score", "suggestion",
            "suggestion_score", "ms_on_item", "target", "extra", "created_at"])
        df["created_at"] = pd.to_datetime(df["created_at"], unit="s", utc=True)
        return df

    def _label_value(self, labels: list[str]):
        return tuple(labels) if self.schema.multi_label else labels[0]

    # -- quality --------------------------------------------------------------------------
    # Doors onto core/routing.py (who labels what) and core/quality.py (gold, flags, alerts).
    def set_overlap(self, k: int, item_ids: Sequence[str] | None = None) -> None:
        """How many annotators label each item: ``set_overlap(3)`` for the project,
        ``set_overlap(5, item_ids=[...])`` for some items. Read by :class:`OverlapQueue`."""
        from . import routing

        routing.set_overlap(self, k, item_ids)

    def coverage(self):
        """Per item: annotators needed, annotators so far, gold, over its k (a DataFrame)."""
        from . import routing

        return routing.coverage(self)

    def queue_depth(self) -> dict[str, int]:
        """What is left: items and labels still needed, open requests, items to adjudicate."""
        from . import routing

        return routing.queue_depth(self)

    def set_gold(self, item_ids, labels=None) -> list[int]:
        """Mark items with known answers: ``set_gold(["i1", "i2"], ["spam", "ham"])`` or
        ``set_gold({"i1": "spam"})``. Labels outside the schema are refused, naming the item;
        nothing is written unless all are valid. Gold never reaches an annotator's browser."""
        from . import quality

        return quality.set_gold(self, item_ids, labels)

    def remove_gold(self, item_ids: Sequence[str]) -> int:
        """Take items out of the gold set; returns how many were in it."""
        from . import quality

        return quality.remove_gold(self, item_ids)

    def gold(self):
        """The gold set as a DataFrame: item_id, label, set_at."""
        from . import quality

        return quality.gold(self)

    def gold_accuracy(self, threshold: float = 0.85, min_count: int = 5):
        """Per annotator: accuracy on gold items, the count it rests on, and whether they are
        flagged for retraining (accuracy below ``threshold`` on ``min_count`` or more items)."""
        from . import quality

        return quality.gold_accuracy(self, threshold, min_count)

    def flagged(self, threshold: float = 0.85, min_count: int = 5):
        """Annotators flagged for retraining, with the reason."""
        from . import quality

        return quality.flagged(self, threshold, min_count)

    def overlap_queue(self, *, gold_rate: float = 0.05, lease_s: float = 600.0, seed: int = 0):
        """A blind queue serving each item to k annotators with gold mixed in:
        ``hw.Labeler(project, annotator="ana", queue=project.overlap_queue())``."""
        from .routing import OverlapQueue

        return OverlapQueue(gold_rate=gold_rate, lease_s=lease_s, seed=seed)

    def flag_disagreements(self, threshold: float = 0.75, method: str = "majority") -> list[str]:
        """Flag finished items whose consensus confidence is below ``threshold``."""
        from . import quality

        return quality.flag_disagreements(self, threshold, method)

    def flags(self):
        """Items flagged for adjudication, with reasons and whether they are resolved."""
        from . import quality

        return quality.flags(self)

    def adjudication_queue(self, *, threshold: float = 0.75, method: str = "majority",
                           lease_s: float = 600.0):
        """The flagged items, for a senior annotator who sees the others' labels there:
        ``hw.Labeler(project, annotator="sam", queue=project.adjudication_queue())``."""
        from .routing import AdjudicationQueue

        return AdjudicationQueue(threshold=threshold, method=method, lease_s=lease_s)

    def resolve(self, item_id: str, label: str | Iterable[str], *, annotator: str,
                ms_on_item: int | None = None) -> int:
        """An adjudicator's label: it settles the item. Returns the event id once durable."""
        from . import quality

        _check_annotator(annotator)
        return quality.resolve(self, check_item_id(item_id), label, annotator=annotator, ms_on_item=ms_on_item)

    def resolutions(self):
        """Adjudicators' labels in force: item_id, label, annotator, resolved_at."""
        from . import quality

        return quality.resolutions(self)

    def final_labels(self, method: str = "majority"):
        """One label per finished item: the adjudicator's where there is one, else the
        consensus (``method``: ``"majority"`` or ``"dawid_skene"``), with its confidence."""
        from . import quality

        return quality.final_labels(self, method)

    def spot_check(self, rate: float = 0.05, seed: int = 0) -> list[str]:
        """Send ``rate`` of the finished items (per label) back for one more annotator."""
        from . import quality

        return quality.spot_check(self, rate, seed)

    def check_agreement(self, window: int = 50, threshold: float = 0.7,
                        min_items: int = 10, by: str | None = None) -> list[dict]:
        """Queue items for relabeling where a label's (or, with ``by``, a meta slice's) recent
        agreement fell below ``threshold``; the reasons are kept (see :meth:`quality_alerts`)."""
        from . import quality

        return quality.check_agreement(self, window, threshold, min_items, by)

    def quality_alerts(self):
        """Relabel alerts with their reasons, as a DataFrame."""
        from . import quality

        return quality.quality_alerts(self)

    # -- weak supervision -----------------------------------------------------------------
    # Doors onto core/weak.py (labeling functions, their analysis, label models).
    def apply_lfs(self, lfs, column: str = "text", **kwargs):
        """Apply labeling functions to the items: ``(L, item_ids, report)``. Cached, so
        re-applying after editing one LF re-runs only that one."""
        from . import weak

        return weak.apply_to_project(self, lfs, column, **kwargs)

    def human_label_vector(self, item_ids):
        """Y for these items: each human label's position in the schema, -1 where none yet."""
        from . import weak

        return weak.human_labels(self, item_ids)

    def store_weak_labels(self, probs, item_ids, threshold: float = 0.8, *, version=None):
        """Store label-model probabilities as ``source="lf"`` suggestions; return the items a
        human should label (below ``threshold``), least confident first."""
        from . import weak

        return weak.store_weak_labels(self, probs, item_ids, threshold, version=version)

    def weak_label_queue(self, item_ids):
        """A queue serving these items first, each with its weak label as the suggestion:
        ``hw.Labeler(project, annotator="ana", queue=project.weak_label_queue(unsure))``."""
        from .weak import WeakLabelQueue

        return WeakLabelQueue(item_ids)

    # -- listeners and lifetime -----------------------------------------------------------
    def subscribe(self, callback: Callable[[str, dict], None]) -> Callable[[], None]:
        """Call ``callback(kind, info)`` after each change; returns the unsubscribe function."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _emit(self, kind: str, info: dict) -> None:
        # A listener's failure must not turn a saved label into an exception for the caller.
        for callback in list(self._listeners):
            try:
                callback(kind, info)
            except Exception:
                log.exception("project listener %r failed on %s", callback, kind)

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


def _check_annotator(annotator: Any) -> None:
    if not isinstance(annotator, str) or not annotator.strip():
        raise ValueError(f"annotator must be a non-empty name, e.g. annotator='ana'; got {annotator!r}")


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"Unknown source {source!r}; expected one of {list(SOURCES)}")
