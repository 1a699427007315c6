"""Dataset versions: a frozen copy of every decided item's final label, named and hashed.

What a version holds, per item with a final label (items with none are not in it):

- ``label``: the final label (a str; a tuple in a multi-label project), and ``decided_by``,
  how it was decided, in this order of precedence:

  - ``gold``: the item has a gold answer (``project.set_gold``); it is the label.
  - ``adjudication``: an adjudicator resolved the item (``project.resolve``); theirs is the label.
  - otherwise the item is finished (it has the labels its overlap asks for, see
    :func:`final_labels`) and ``human``, ``model`` or ``lf`` when one current label decided it
    (the ``source`` that label was written with), ``consensus`` when two or more did (by
    ``method``: ``"majority"`` or ``"dawid_skene"``);

- ``annotators``: who decided it (the adjudicator; the one labeler; under consensus, the
  annotators whose current label is the final one; none for gold), ``decided_at``: when (the
  gold answer or resolution was written; the latest current label of the item otherwise),
  ``confidence`` (consensus only; NaN otherwise);
- the item: ``kind``, ``text``, ``path`` (image bytes stay in the project: an image item is
  exported by id and kind), ``item_hash`` (the store's hash of its content), and its
  ``provenance``, ``meta`` and ``fields`` as the JSON text the store holds (``json.loads`` gives
  the dicts back; text keeps a Parquet or datasets export exact whatever keys each batch had).

The version's **hash** is a sha256 over a canonical serialisation of (item id, item hash,
final labels) sorted by item id: the same items with the same labels give the same hash in any
row order, whenever the version was taken and however the labels were decided. Two snapshots
of one content share their hash (and :meth:`Project.version` by hash returns the older one).

Where a version is kept, and why not a table: a snapshot is written once and read whole, so it
is one meta entry (``version:<name>``, JSON: the log position ``seq`` it was taken at, its
method, hash and rows) beside an index entry (``versions``), both written in one transaction
through the Ledger, which first checks the name is free. No migration is needed (the meta
table exists since v1), and item text is not copied: items never change (the store's triggers
refuse it), so the rows hold item ids and hashes and the frame joins the items when read. On
read the hash is computed again from the rows and the items, so a version edited in the file is
refused, not trusted. About 130 bytes a row: 13 MB for 100,000 decided items.

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> project = Project(os.path.join(tempfile.mkdtemp(), "v.hitl"), labels=["ham", "spam"])
>>> _ = project.add_items(["win cash", "lunch?"], id=["a", "b"])
>>> _ = project.annotate("a", "spam", annotator="ana")
>>> v1 = project.snapshot("v1")
>>> v1.n_items, len(v1.hash)
(1, 64)
>>> project.version("v1")[["item_id", "label", "decided_by", "annotators"]].values.tolist()
[['a', 'spam', 'human', ('ana',)]]
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..store import Ledger
from ._workflow import check_method, final_labels

if TYPE_CHECKING:
    import pandas as pd

INDEX_KEY = "versions"
FORMAT = "hitl_widgets.version/1"
DECIDED_BY = ("gold", "adjudication", "consensus", "human", "model", "lf")
FRAME_COLUMNS = ["version", "item_id", "label", "decided_by", "annotators", "decided_at",
                 "confidence", "kind", "text", "path", "item_hash", "provenance", "meta",
                 "fields"]
_ROW_KEYS = ("item_id", "item_hash", "labels", "decided_by", "annotators", "decided_at",
             "confidence")
_HEX = re.compile(r"[0-9a-f]{8,64}")


class VersionError(ValueError):
    """A version name or hash that cannot be used as asked (the message says what to do)."""


@dataclass(frozen=True)
class Version:
    """A stored dataset version: its name, content hash, consensus method, when it was taken,
    the log position it reflects (events up to ``seq``) and how many items it holds."""

    name: str
    hash: str
    method: str
    created_at: float
    seq: int
    n_items: int


def content_hash(rows: Any) -> str:
    """The sha256 of a version's content: ``(item_id, item_hash, labels)`` triples, in any order.

    >>> a = content_hash([("x", "h1", ["spam"]), ("y", "h2", ["ham"])])
    >>> a == content_hash([("y", "h2", ("ham",)), ("x", "h1", ("spam",))])
    True
    >>> a == content_hash([("x", "h1", ["ham"]), ("y", "h2", ["ham"])])
    False
    """
    canon = sorted([str(i), str(h), sorted(str(x) for x in labels)] for i, h, labels in rows)
    ids = [r[0] for r in canon]
    if len(set(ids)) != len(ids):
        raise ValueError("a version holds each item once; got an item id twice")
    payload = json.dumps({"format": FORMAT, "rows": canon}, ensure_ascii=False,
                         separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# -- taking a snapshot ---------------------------------------------------------------------------
def snapshot(ledger: Any, name: Any, method: str = "majority") -> Version:
    """Freeze the project's final labels as a version called ``name`` (see the module doc).

    A name already taken, an empty one or one that is not a str raises :class:`VersionError`
    (or TypeError) and writes nothing.
    """
    ledger = Ledger.of(ledger)
    name = _check_name(name)
    method = check_method(method)
    with ledger.transaction():  # labels, log position and the name check under one write lock
        index = _index(ledger)
        if name in index:
            raise VersionError(f"A version named {name!r} exists already (hash "
                               f"{index[name]['hash'][:12]}, taken at seq {index[name]['seq']}); "
                               "nothing was written. Choose another name; versions are never "
                               "replaced")
        seq = ledger.store.max_seq()
        rows = decided_rows(ledger, method)
        digest = content_hash((r["item_id"], r["item_hash"], r["labels"]) for r in rows)
        version = Version(name, digest, method, time.time(), seq, len(rows))
        entry = {"name": name, "hash": digest, "method": method, "created_at": version.created_at,
                 "seq": seq, "n_items": len(rows)}
        ledger.set_meta(f"version:{name}", {**entry, "format": FORMAT, "columns": list(_ROW_KEYS),
                                            "rows": [[r[k] for k in _ROW_KEYS] for r in rows]},
                        notify=False)  # the index entry below notifies, once, for both
        ledger.set_meta(INDEX_KEY, [*index.values(), entry], notify="version")
    return version


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"A version name is a str, e.g. project.snapshot('v1'); got "
                        f"{type(name).__name__} {name!r:.40}")
    if not name.strip():
        raise VersionError("A version name must not be empty; give one, e.g. "
                           "project.snapshot('2026-12-02 after review')")
    return name


def decided_rows(ledger: Ledger, method: str = "majority") -> list[dict]:
    """Per decided item, sorted by id: item_id, item_hash, labels (a list), decided_by,
    annotators (a list), decided_at (epoch seconds), confidence (None when not a consensus)."""
    store, multi = ledger.store, ledger.schema.multi_label
    final = final_labels(ledger, method)
    per_item: dict[str, list] = {}
    for r in Ledger.of(ledger).label_index.rows():
        per_item.setdefault(r.item_id, []).append(r)
    # final_labels names a multi-label answer by its labels joined with "|": map it back
    # through the answers actually given, so a label holding "|" cannot be split wrongly.
    answers = {("|".join(r.labels) if multi else r.labels[0]): list(r.labels)
               for rs in per_item.values() for r in rs}
    resolved = store.latest_live("resolution")
    gold = store.latest_live("gold")
    out: dict[str, dict] = {}
    for item_id, label, source, confidence in final[["item_id", "label", "source",
                                                     "confidence"]].itertuples(index=False):
        if source == "resolution":
            e = resolved[item_id]
            out[item_id] = _row(item_id, e["labels"], "adjudication", [e["annotator"]],
                                e["created_at"], None)
            continue
        rs = per_item[item_id]
        labels = answers[label]
        if len(rs) == 1:
            decided_by, who = rs[0].source, [rs[0].annotator]
        else:
            decided_by = "consensus"
            who = sorted(r.annotator for r in rs if list(r.labels) == labels)
        out[item_id] = _row(item_id, labels, decided_by, who, max(r.created_at for r in rs),
                            None if confidence is None else float(confidence))
    for item_id, e in gold.items():
        out[item_id] = _row(item_id, e["labels"], "gold", [], e["created_at"], None)
    hashes = store.item_hashes()
    for item_id, row in out.items():
        row["item_hash"] = hashes[item_id]
    return [out[i] for i in sorted(out)]


def _row(item_id: str, labels: list, decided_by: str, who: list, at: float,
         confidence: float | None) -> dict:
    if confidence is not None and confidence != confidence:
        confidence = None
    return {"item_id": item_id, "item_hash": "", "labels": list(labels), "decided_by": decided_by,
            "annotators": list(who), "decided_at": float(at), "confidence": confidence}


# -- reading versions ----------------------------------------------------------------------------
def _index(ledger: Ledger) -> dict[str, dict]:
    return {e["name"]: e for e in ledger.store.get_meta(INDEX_KEY, [])}


def snapshots(ledger: Any) -> pd.DataFrame:
    """The stored versions, oldest first: name, hash, method, n_items, seq, created_at."""
    import pandas as pd

    df = pd.DataFrame(list(_index(Ledger.of(ledger)).values()),
                      columns=["name", "hash", "method", "n_items", "seq", "created_at"])
    df["created_at"] = pd.to_datetime(df["created_at"].astype(float), unit="s", utc=True)
    return df


def find(ledger: Any, name_or_hash: Any) -> Version:
    """The version called ``name_or_hash``, else the oldest one with that hash (or a unique
    hash prefix of 8+ hex digits). Unknown: :class:`VersionError` naming the known ones."""
    index = _index(Ledger.of(ledger))
    if isinstance(name_or_hash, Version):
        name_or_hash = name_or_hash.name
    if not isinstance(name_or_hash, str):
        raise TypeError(f"A version is named by its name or hash (a str); got {name_or_hash!r:.40}")
    entry = index.get(name_or_hash)
    if entry is None and _HEX.fullmatch(name_or_hash):
        hits = {e["hash"]: e for e in reversed(list(index.values()))
                if e["hash"].startswith(name_or_hash)}  # reversed: the oldest wins
        if len(hits) > 1:
            raise VersionError(f"Hash prefix {name_or_hash!r} matches {len(hits)} versions; "
                               "give more of the hash")
        entry = next(iter(hits.values()), None)
    if entry is None:
        known = [f"{n} ({e['hash'][:12]})" for n, e in index.items()]
        raise VersionError(f"Unknown version {name_or_hash!r}; known versions: "
                           f"{known or 'none yet (take one with project.snapshot(name))'}")
    return Version(entry["name"], entry["hash"], entry["method"], entry["created_at"],
                   entry["seq"], entry["n_items"])


def stored_rows(ledger: Any, name_or_hash: Any) -> tuple[Version, list[dict]]:
    """A version and its rows as stored, after checking them against its hash."""
    ledger = Ledger.of(ledger)
    version = find(ledger, name_or_hash)
    payload = ledger.store.get_meta(f"version:{version.name}")
    if payload is None:
        raise VersionError(f"Version {version.name!r} is listed but its rows are missing from "
                           f"{ledger.store.path}; the file was edited outside hitl_widgets")
    rows = [dict(zip(payload["columns"], r, strict=True)) for r in payload["rows"]]
    hashes = ledger.store.item_hashes()
    if content_hash((r["item_id"], hashes.get(r["item_id"], ""), r["labels"])
                    for r in rows) != version.hash:
        raise VersionError(f"Version {version.name!r} no longer matches its hash "
                           f"{version.hash[:12]}: its rows or items were edited outside "
                           "hitl_widgets; it cannot be trusted")
    return version, rows


def version_frame(ledger: Any, name_or_hash: Any) -> pd.DataFrame:
    """A version as a DataFrame, one row per item sorted by id (columns: ``FRAME_COLUMNS``)."""
    import numpy as np
    import pandas as pd

    ledger = Ledger.of(ledger)
    version, rows = stored_rows(ledger, name_or_hash)
    # One read of every item's columns but the image bytes; fields, meta and provenance come
    # as the JSON text they were stored as.
    items = {r["item_id"]: r for r in ledger.store.items_table()}
    hashes = ledger.store.item_hashes()
    value = ledger.label_value

    def col(values: list) -> pd.Series:
        # Object columns: tuples kept whole, and None stays None (pandas would infer a string
        # column and turn a missing text or path into NaN).
        out = np.empty(len(values), dtype=object)
        for k, v in enumerate(values):
            out[k] = v
        return pd.Series(out, dtype=object)

    recs = [items[r["item_id"]] for r in rows]
    return pd.DataFrame({
        "version": col([version.hash] * len(rows)),
        "item_id": col([r["item_id"] for r in rows]),
        "label": col([value(r["labels"]) for r in rows]),
        "decided_by": col([r["decided_by"] for r in rows]),
        "annotators": col([tuple(r["annotators"]) for r in rows]),
        "decided_at": pd.to_datetime(np.array([r["decided_at"] for r in rows], dtype=float),
                                     unit="s", utc=True),
        "confidence": np.array([np.nan if r["confidence"] is None else r["confidence"]
                                for r in rows], dtype=float),
        "kind": col([i["kind"] for i in recs]),
        "text": col([i["text"] for i in recs]),
        "path": col([i["path"] for i in recs]),
        "item_hash": col([hashes[r["item_id"]] for r in rows]),
        "provenance": col([i["provenance"] for i in recs]),
        "meta": col([i["meta"] for i in recs]),
        "fields": col([i["fields"] for i in recs]),
    }, columns=FRAME_COLUMNS)
