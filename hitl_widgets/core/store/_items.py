"""Turn what users hold (DataFrames, lists of text, images, paths) into checked item records.

Every problem in a batch is collected and reported at once, and nothing is stored unless the
whole batch is good, so a bad row never leaves half a batch behind.

Example
-------
>>> records = build_records(["good film", "bad film"])
>>> [r.kind for r in records]
['text', 'text']
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import item_id as _item_id
from ._media import MediaError, array_to_png, check_image_bytes, check_image_file, relative_below
from ._store import ItemRecord

CHECK_CHUNK = 10_000  # rows checked between two progress steps


class ItemError(ValueError):
    """Some items of a batch cannot be added; the message lists which and why."""


@dataclass(frozen=True)
class _Spec:
    kind: str  # text | image | path | record
    values: list
    ids: list | None
    fields: list[dict]
    meta: list[dict]

    def __post_init__(self):
        # Every row must have its id, fields and meta: a length mismatch would pair rows wrongly.
        n = len(self.values)
        lengths = {"ids": None if self.ids is None else len(self.ids),
                   "fields": len(self.fields), "meta": len(self.meta)}
        wrong = {k: v for k, v in lengths.items() if v is not None and v != n}
        if wrong:
            raise ItemError(f"{n} items but {wrong}; every item needs one of each")


def build_records(
    data: Any = None,
    *,
    text: Any = None,
    image: Any = None,
    path: Any = None,
    id: Any = None,  # noqa: A002 - mirrors the public add_items(id=...) keyword
    fields: Sequence[str] | None = None,
    meta: Sequence[str] | None = None,
    provenance: dict | None = None,
    image_root: Path | None = None,
    value_range: tuple[float, float] | None = None,
    step: Callable[[int], None] | None = None,
) -> list[ItemRecord]:
    """Check a batch and return its records; raise ItemError listing every bad row.

    ``step(done)`` is called every ``CHECK_CHUNK`` rows checked (for a progress bar)."""
    spec = _spec(data, text=text, image=image, path=path, id=id, fields=fields, meta=meta)
    provenance = _json_dict(provenance or {}, "provenance")
    problems: list[str] = []
    records: list[ItemRecord] = []
    ids = [None] * len(spec.values) if spec.ids is None else spec.ids
    rows = zip(spec.values, ids, spec.fields, spec.meta, strict=True)
    for row, (value, given, fields_, meta_) in enumerate(rows):
        try:
            rec = _record(spec.kind, value, fields_, image_root, value_range)
            digest = _content_hash(rec)
            item_id = "h" + digest[:16] if spec.ids is None else _given_id(given)
            records.append(ItemRecord(**rec, item_id=item_id, meta=meta_,
                                      provenance=provenance, content_hash=digest))
        except (ItemError, MediaError) as exc:
            problems.append(f"row {row}: {exc}")
        if step is not None and (row + 1) % CHECK_CHUNK == 0:
            step(row + 1)
    if step is not None:
        step(len(spec.values))
    problems += _duplicate_problems(records)
    if problems:
        shown = "\n  ".join(problems[:10])
        more = f"\n  … and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise ItemError(
            f"{len(problems)} of {len(spec.values)} items cannot be added; nothing was added:"
            f"\n  {shown}{more}"
        )
    return _dedupe(records)


# -- reading the user's input --------------------------------------------------------------
def _spec(data, *, text, image, path, id, fields, meta) -> _Spec:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return _frame_spec(data, text=text, image=image, path=path, id=id, fields=fields, meta=meta)
    if fields is not None or meta is not None:
        raise ItemError("fields= and meta= name DataFrame columns; pass a DataFrame to use them")
    given = {k: v for k, v in (("text", text), ("image", image), ("path", path)) if v is not None}
    if data is not None and given:
        raise ItemError(f"Pass the items either positionally or as {list(given)}=, not both")
    if data is None and len(given) != 1:
        raise ItemError("Pass items: add_items(df, text='col'), add_items(texts), "
                        "add_items(image=arrays) or add_items(path=files)")
    if data is not None:
        kind, values = _guess_kind(data)
    else:
        (kind, values), = given.items()
        values = _as_list(values, kind)
    ids = None if id is None else _as_list(id, "id")
    if ids is not None and len(ids) != len(values):
        raise ItemError(f"id= has {len(ids)} values for {len(values)} items")
    return _Spec(kind, values, ids, [{}] * len(values), [{}] * len(values))


def _frame_spec(df, *, text, image, path, id, fields, meta) -> _Spec:
    chosen = {k: v for k, v in (("text", text), ("image", image), ("path", path)) if v is not None}
    if len(chosen) > 1:
        raise ItemError(f"Choose one content column, not {list(chosen.values())}")
    fields, meta = _column_list(fields, "fields"), _column_list(meta, "meta")
    for what, column in [*chosen.items(), *([("id", id)] if id is not None else [])]:
        _check_column_name(column, what)
    named = [*chosen.values(), *([id] if id is not None else []), *(fields or []), *(meta or [])]
    missing = [c for c in named if c not in df.columns]
    if missing:
        raise ItemError(f"Columns {missing} are not in the DataFrame; it has {list(df.columns)}")
    if chosen:
        shown = list(fields or [])
    else:  # a table row is the item: show every column but the id and meta ones
        shown = list(fields) if fields else [c for c in df.columns if c != id and c not in (meta or [])]
    _refuse_repeated_columns(df, [*named, *shown])
    if chosen:
        (kind, column), = chosen.items()
        values = list(df[column])
    else:
        kind, values = "record", [None] * len(df)
    return _Spec(
        kind, values,
        None if id is None else list(df[id]),
        [_json_dict(r, "fields") for r in df[shown].to_dict("records")] if shown else [{}] * len(df),
        [_json_dict(r, "meta") for r in df[list(meta)].to_dict("records")] if meta else [{}] * len(df),
    )


def _check_column_name(column, what: str) -> None:
    import pandas as pd

    if pd.api.types.is_list_like(column) and not isinstance(column, tuple):
        raise ItemError(f"with a DataFrame, {what}= names one of its columns, e.g. {what}='col'; "
                        f"got a {type(column).__name__}. To give the values as a list, add them "
                        "to the frame as a column first")


def _column_list(names, what: str) -> list | None:
    if names is None:
        return None
    if isinstance(names, (str, bytes)):
        raise ItemError(f"{what}= takes a list of column names, not the string {names!r}; "
                        f"wrap it: {what}=[{names!r}]")
    names = list(names)
    twice = sorted({str(c) for c in names if names.count(c) > 1})
    if twice:
        raise ItemError(f"{what}= names {twice} more than once; name each column once")
    return names


def _refuse_repeated_columns(df, used: list) -> None:
    # df[c] of a repeated column is a DataFrame, whose iteration yields column names, not values.
    for column in dict.fromkeys(used):
        count = int((df.columns == column).sum())
        if count > 1:
            raise ItemError(
                f"column {column!r} appears {count} times in the DataFrame; rename the copies "
                "(e.g. df.columns = [...]) or drop them (df.loc[:, ~df.columns.duplicated()]) "
                "before adding")


def _guess_kind(data) -> tuple[str, list]:
    if isinstance(data, (str, bytes, Path)):
        raise ItemError("Pass a list of items, e.g. add_items([text]), not a single one")
    if isinstance(data, np.ndarray) and data.ndim in (3, 4) and data.dtype != object:
        return "image", list(data)
    values = _as_list(data, "items")
    kinds = {_kind_of(v) for v in values if _kind_of(v) is not None}
    if len(kinds) > 1:
        raise ItemError(f"Items mix {sorted(kinds)}; add each kind in its own call")
    return (kinds.pop() if kinds else "text"), values


def _kind_of(value) -> str | None:
    if isinstance(value, str):
        return "text"
    if isinstance(value, (bytes, bytearray, memoryview)) or isinstance(value, np.ndarray):
        return "image"
    if isinstance(value, Path):
        return "path"
    return None


def _as_list(values, what: str) -> list:
    import pandas as pd

    if isinstance(values, (str, bytes)):
        raise ItemError(f"{what} must be a list, not a single {type(values).__name__}")
    if isinstance(values, Mapping):
        raise ItemError(f"{what} must be a list, not a {type(values).__name__} (its keys would be "
                        "read as the items); pass a list of texts, or a DataFrame, or the ids "
                        "with id=: add_items(list(d.values()), id=list(d.keys()))")
    if isinstance(values, pd.DataFrame):
        raise ItemError(f"{what} must be a list or a column, not a DataFrame; pass the frame "
                        "first and name the column: add_items(df, text='col')")
    try:
        return list(values)
    except TypeError:
        raise ItemError(f"{what} must be a list or array, not {type(values).__name__}") from None


# -- one item ----------------------------------------------------------------------------------
def _record(kind, value, fields, image_root, value_range) -> dict:
    if kind == "text":
        return {"kind": "text", "text": _text(value), "fields": fields}
    if kind == "image":
        data = _image_bytes(value, value_range)
        return {"kind": "image", "image": data, "mime": check_image_bytes(data), "fields": fields}
    if kind == "path":
        if image_root is None:
            raise ItemError("image paths need an allowed folder: Project(..., image_root='images/')")
        if not isinstance(value, (str, Path)):
            raise ItemError(f"an image path must be a str or Path, not {type(value).__name__}")
        relative = relative_below(image_root, value)
        check_image_file(image_root, relative)
        return {"kind": "image_path", "path": relative, "fields": fields}
    return {"kind": "record", "fields": fields}


def _text(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ItemError(f"text bytes are not UTF-8 ({exc.reason} at byte {exc.start}); "
                            "decode them first, e.g. b.decode('latin-1')") from None
    if value is None or (isinstance(value, float) and math.isnan(value)) or _is_na(value):
        raise ItemError("text is missing (None/NaN); drop these rows or fill them")
    if not isinstance(value, str):
        raise ItemError(f"text must be str, not {type(value).__name__} ({value!r:.40}); "
                        "convert with .astype(str) if that is meant")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ItemError("text holds unpaired surrogates (undecodable bytes); "
                        "decode the source with the right encoding") from None
    return value


def _image_bytes(value, value_range) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, np.ndarray):
        return array_to_png(value, value_range)
    raise ItemError(f"an image must be bytes or a numpy array, not {type(value).__name__}")


def _is_na(value) -> bool:
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


# -- ids and duplicates ---------------------------------------------------------------------------
def _given_id(given) -> str:
    # The same reading as annotate, set_gold and the queues use, so an id means one item.
    try:
        return _item_id(given)
    except (TypeError, ValueError) as exc:
        raise ItemError(f"{exc} (or omit id= to use content ids)") from None


def _content_hash(rec: dict) -> str:
    h = hashlib.sha256(rec["kind"].encode())
    for part in (rec.get("text"), rec.get("path")):
        if part is not None:
            h.update(b"\x00" + part.encode("utf-8"))
    if rec.get("image") is not None:
        h.update(b"\x01" + rec["image"])
    h.update(b"\x02" + json.dumps(rec.get("fields", {}), sort_keys=True).encode())
    return h.hexdigest()


def _duplicate_problems(records: list[ItemRecord]) -> list[str]:
    first: dict[str, str] = {}
    problems = []
    for rec in records:
        if first.setdefault(rec.item_id, rec.content_hash) != rec.content_hash:
            problems.append(f"id {rec.item_id!r} is given twice with different content")
    return problems


def _dedupe(records: list[ItemRecord]) -> list[ItemRecord]:
    seen: set[str] = set()
    return [r for r in records if not (r.item_id in seen or seen.add(r.item_id))]


# -- JSON-safe values ---------------------------------------------------------------------------------
def _json_dict(mapping: dict, what: str) -> dict:
    if not isinstance(mapping, dict):
        raise ItemError(f"{what} must be a dict, not {type(mapping).__name__}")
    return {str(k): _json_value(v) for k, v in mapping.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if _is_na(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)

