"""Exports of a dataset version: pandas, Parquet (pyarrow) and a Hugging Face ``datasets.Dataset``.

All three carry the same rows and columns as :func:`version_frame` (``version`` is the content
hash on every row, beside the per-label provenance: ``decided_by``, ``annotators``,
``decided_at``, ``confidence``, and the item's ``provenance``):

- Parquet: the frame through pyarrow, with the hash, name, method and label names also in the
  file's metadata (``hitl_widgets.version``, ...). The file is written under a temporary name in
  the target folder and renamed over the target, so a failed write leaves no file, half or whole.
- datasets: ``label`` is a ``ClassLabel`` over the schema's labels (``Sequence(ClassLabel)`` in
  a multi-label project), and ``info.description`` names the version and its hash. Building it
  from pandas needs no network.

Image bytes are not exported (an image item's row has its id, kind and path); they stay in the
project file.

Example
-------
>>> import tempfile, os
>>> from hitl_widgets.core.project import Project
>>> folder = tempfile.mkdtemp()
>>> project = Project(os.path.join(folder, "x.hitl"), labels=["ham", "spam"])
>>> _ = project.add_items(["win cash"], id=["a"])
>>> _ = project.annotate("a", "spam", annotator="ana")
>>> _ = project.snapshot("v1")
>>> path = project.export_parquet("v1", os.path.join(folder, "v1.parquet"))
>>> import pandas as pd
>>> pd.read_parquet(path)[["item_id", "label", "decided_by"]].values.tolist()
[['a', 'spam', 'human']]
>>> project.to_dataset("v1").features["label"].names
['ham', 'spam']
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..store import Ledger
from ._versions import find, version_frame

if TYPE_CHECKING:
    import datasets

META_PREFIX = "hitl_widgets."


class ExportError(OSError):
    """An export could not be written where asked (the message says where and what to do)."""


def _arrow_table(ledger: Ledger, name_or_hash: Any):
    import pyarrow as pa

    version = find(ledger, name_or_hash)
    df = version_frame(ledger, version.name)
    multi = ledger.schema.multi_label
    text = pa.string()
    schema = pa.schema([
        ("version", text), ("item_id", text),
        ("label", pa.list_(text) if multi else text), ("decided_by", text),
        ("annotators", pa.list_(text)), ("decided_at", pa.timestamp("ns", tz="UTC")),
        ("confidence", pa.float64()), ("kind", text), ("text", text), ("path", text),
        ("item_hash", text), ("provenance", text), ("meta", text), ("fields", text),
    ])
    if multi:
        df["label"] = [list(v) for v in df["label"]]
    df["annotators"] = [list(v) for v in df["annotators"]]
    table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    meta = {"version": version.hash, "version_name": version.name, "method": version.method,
            "labels": ",".join(ledger.schema.labels), "multi_label": str(multi).lower()}
    return version, table.replace_schema_metadata({
        **(table.schema.metadata or {}),
        **{(META_PREFIX + k).encode(): str(v).encode() for k, v in meta.items()}})


def export_parquet(ledger: Any, name_or_hash: Any, path: str | os.PathLike) -> Path:
    """Write a version to a Parquet file; returns its path. The hash is in every row's
    ``version`` column and in the file metadata (``b"hitl_widgets.version"``)."""
    import pyarrow.parquet as pq

    ledger = Ledger.of(ledger)
    version, table = _arrow_table(ledger, name_or_hash)  # unknown versions fail before any file
    target = Path(path).expanduser()
    folder = target.parent
    if not folder.is_dir():
        raise ExportError(f"Cannot write {target}: the folder {folder} does not exist; create it "
                          "or choose another path")
    if target.is_dir():
        raise ExportError(f"Cannot write {target}: it is a folder; give a file path, e.g. "
                          f"{target / (version.name + '.parquet')}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ExportError(f"Cannot write {target}: {exc.strerror or exc} in {folder}; choose a "
                          "folder you can write to") from None
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise ExportError(f"Cannot write {target}: {exc.strerror or exc}; nothing was written "
                          "there") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return target


def to_dataset(ledger: Any, name_or_hash: Any) -> datasets.Dataset:
    """A version as a Hugging Face ``datasets.Dataset`` with a ``ClassLabel`` label (a
    ``Sequence(ClassLabel)`` in a multi-label project); the hash is in ``info.description``
    and in the ``version`` column."""
    import datasets as hf

    ledger = Ledger.of(ledger)
    version, table = _arrow_table(ledger, name_or_hash)
    labels = list(ledger.schema.labels)
    index = {lab: k for k, lab in enumerate(labels)}
    df = table.to_pandas()
    classes = hf.ClassLabel(names=labels)
    if ledger.schema.multi_label:
        df["label"] = [[index[x] for x in v] for v in df["label"]]
        label_feature = hf.Sequence(classes)
    else:
        df["label"] = [index[v] for v in df["label"]]
        label_feature = classes
    text = hf.Value("string")
    features = hf.Features({
        "version": text, "item_id": text, "label": label_feature, "decided_by": text,
        "annotators": hf.Sequence(text), "decided_at": hf.Value("timestamp[ns, tz=UTC]"),
        "confidence": hf.Value("float64"), "kind": text, "text": text, "path": text,
        "item_hash": text, "provenance": text, "meta": text, "fields": text,
    })
    info = hf.DatasetInfo(description=f"hitl_widgets version {version.name!r} "
                                      f"(sha256 {version.hash}), method={version.method}",
                          features=features)
    return hf.Dataset.from_pandas(df, features=features, info=info, preserve_index=False)
