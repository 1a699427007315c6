"""Skill profiles: how likely each annotator is to be right, per task type, as a Beta posterior.

:func:`skill_posteriors` is pure (a DataFrame of answers in, a DataFrame of posteriors out);
:func:`skill_profiles` reads a project's current human labels and gold answers and calls it. A
profile is a derived view of the log, never stored: it is recomputed when the labels or the gold
set change (and cached until then).

The evidence behind an annotator's Beta(alpha, beta) on a task type, on top of the prior:

- **gold**: each gold item they answered adds 1 to alpha (right) or to beta (wrong);
- **consensus**: each non-gold item they answered that at least one other annotator answered
  adds ``p`` to alpha and ``1 - p`` to beta, where ``p`` is the probability that the consensus
  is their label. Under ``"majority"`` the consensus leaves the annotator out (nobody agrees
  with themselves): ``p`` is 1 when their label is the others' unique majority, 1/m when it
  ties with m - 1 other labels for the most votes, else 0. Under ``"dawid_skene"``, ``p`` is
  the posterior probability that their label is the true one, from Dawid & Skene's EM with a
  confusion matrix per annotator and task type: each answer weighs by its annotator's
  estimated reliability, so no one confirms themselves, and the mean of ``p`` is the model's
  expected accuracy. (Leaving the annotator out of the posterior too understates a strong
  annotator by the crowd's own error: a simulated 0.95 annotator among four came out at 0.82,
  0.95 with the full posterior.) The majority evidence carries the same understatement -- with
  small crowds it measures agreement -- so ``"auto"`` uses Dawid-Skene once ``DS_MIN_ITEMS``
  non-gold items have 3 answers or more, and majority below that.

Example
-------
>>> import pandas as pd
>>> answers = pd.DataFrame({"item_id": [f"g{k}" for k in range(10)], "annotator": "ana",
...                         "label": ["a"] * 8 + ["b"] * 2, "task_type": "all"})
>>> gold = {f"g{k}": "a" for k in range(10)}
>>> row = skill_posteriors(answers, gold).iloc[0]
>>> float(row.alpha), float(row.beta), float(row["mean"])
(9.0, 3.0, 0.75)
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..store import Ledger

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("auto", "gold", "majority", "dawid_skene")
DS_MIN_ITEMS = 20  # non-gold items with 3+ answers from which "auto" fits Dawid-Skene
COLUMNS = ["annotator", "task_type", "alpha", "beta", "mean", "low", "high", "n_gold",
           "n_consensus"]
ALL = "all"  # the one task type when none is given
# Events after which a profile may change: labels, their undoing, the gold set.
PROFILE_KINDS = ("annotation", "retraction", "gold")
_EPS = 1e-10


# -- the pure part ------------------------------------------------------------------------------
def skill_posteriors(answers: pd.DataFrame, gold: Mapping[Any, Any] | None = None, *,
                     prior: tuple[float, float] = (1.0, 1.0), level: float = 0.95,
                     method: str = "auto") -> pd.DataFrame:
    """Per (annotator, task type): a Beta posterior of the share of their answers that are right.

    Parameters
    ----------
    answers : DataFrame with columns ``item_id``, ``annotator``, ``label`` and ``task_type``
        (optional: all ``"all"`` without it). One answer per (item, annotator) counts, the last
        row; rows with a missing label are ignored. A multi-label answer (a tuple or list) is one
        category, its labels joined with ``"|"``.
    gold : item id -> the right label, or None. Gold items give gold evidence only.
    prior : (a, b) of the Beta prior, both positive (default uniform).
    level : the probability inside the equal-tailed interval ``[low, high]``, in (0, 1).
    method : ``"auto"``, ``"gold"`` (gold evidence only), ``"majority"`` or ``"dawid_skene"``;
        see the module docstring.

    Returns
    -------
    DataFrame with columns ``annotator, task_type, alpha, beta, mean, low, high, n_gold,
    n_consensus`` sorted by annotator and task type; ``attrs["method"]`` says which consensus
    was used. ``low``/``high`` are ``scipy.stats.beta``'s quantiles.

    >>> import pandas as pd
    >>> answers = pd.DataFrame({"item_id": ["x", "x", "x"], "annotator": ["a", "b", "c"],
    ...                         "label": ["spam", "spam", "ham"]})
    >>> skill_posteriors(answers)[["annotator", "alpha", "beta"]].values.tolist()
    [['a', 1.5, 1.5], ['b', 1.5, 1.5], ['c', 1.0, 2.0]]
    """
    import pandas as pd
    from scipy import stats

    a0, b0 = _check_prior(prior)
    level = _check_level(level)
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; expected one of {list(METHODS)}")
    df = _answers_frame(answers)
    gold_map = _gold_map(gold)
    is_gold = df["item_id"].map(lambda i: i in gold_map).to_numpy(bool) if len(df) else \
        np.zeros(0, bool)
    right = np.zeros(len(df))
    if is_gold.any():
        truth = df["item_id"][is_gold].map(gold_map)
        right[is_gold] = (df["label"][is_gold].to_numpy(object) == truth.to_numpy(object))
    soft, has_consensus, used = _consensus_evidence(df, is_gold, method)
    df = df.assign(
        _alpha=np.where(is_gold, right, 0.0) + np.where(has_consensus, soft, 0.0),
        _beta=np.where(is_gold, 1.0 - right, 0.0) + np.where(has_consensus, 1.0 - soft, 0.0),
        _gold=is_gold.astype(np.int64), _consensus=has_consensus.astype(np.int64))
    grouped = df.groupby(["annotator", "task_type"], sort=False, dropna=False)[
        ["_alpha", "_beta", "_gold", "_consensus"]].sum().reset_index()
    alpha = a0 + grouped["_alpha"].to_numpy(float)
    beta = b0 + grouped["_beta"].to_numpy(float)
    tail = (1.0 - level) / 2
    out = pd.DataFrame({
        "annotator": grouped["annotator"].to_numpy(object),
        "task_type": grouped["task_type"].to_numpy(object),
        "alpha": alpha, "beta": beta, "mean": alpha / (alpha + beta),
        "low": stats.beta.ppf(tail, alpha, beta), "high": stats.beta.ppf(1 - tail, alpha, beta),
        "n_gold": grouped["_gold"].to_numpy(np.int64),
        "n_consensus": grouped["_consensus"].to_numpy(np.int64),
    }, columns=COLUMNS)
    out = _sorted(out)
    out.attrs["method"] = used
    return out


def _check_prior(prior: Any) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in prior)
    except (TypeError, ValueError):
        raise TypeError(f"prior must be two positive numbers (a, b), e.g. (1.0, 1.0); got "
                        f"{prior!r}") from None
    if not (math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0):
        raise ValueError(f"prior must be two positive finite numbers (a, b); got {prior!r}")
    return a, b


def _check_level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be a probability strictly between 0 and 1, e.g. 0.95; "
                         f"got {level!r}")
    return float(level)


def category(label: Any) -> Any:
    """An answer as one hashable category: a multi-label answer's labels joined with "|"."""
    if isinstance(label, (tuple, list)):
        return label[0] if len(label) == 1 else "|".join(map(str, label))
    return label


def _answers_frame(answers: Any) -> pd.DataFrame:
    import pandas as pd

    if not isinstance(answers, pd.DataFrame):
        raise TypeError(f"answers must be a DataFrame with columns item_id, annotator, label, "
                        f"task_type; got {type(answers).__name__}")
    missing = {"item_id", "annotator", "label"} - set(answers.columns)
    if missing:
        raise ValueError(f"answers needs columns item_id, annotator, label (and task_type); "
                         f"missing {sorted(missing)}")
    df = answers[["item_id", "annotator", "label"]].copy()
    df["task_type"] = answers["task_type"] if "task_type" in answers.columns else ALL
    present = [isinstance(v, (tuple, list)) or not pd.isna(v) for v in df["label"]]
    df = df[np.array(present, dtype=bool)]
    df["label"] = df["label"].map(category)
    # One answer per (item, annotator): the last row, as the consensus functions count.
    return df.drop_duplicates(["item_id", "annotator"], keep="last").reset_index(drop=True)


def _gold_map(gold: Any) -> dict:
    if gold is None:
        return {}
    if not hasattr(gold, "items"):
        raise TypeError(f"gold must be a mapping item_id -> label (a dict or a Series), or None; "
                        f"got {type(gold).__name__}")
    return {k: category(v) for k, v in gold.items()}


def _consensus_evidence(df: pd.DataFrame, is_gold: np.ndarray,
                        method: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Per answer: P(the others' consensus is this label), whether it counts, the method used."""
    soft = np.zeros(len(df))
    if method == "gold" or not len(df):
        return soft, np.zeros(len(df), bool), method if method != "auto" else "majority"
    regular = df[~is_gold]
    if not len(regular):
        return soft, np.zeros(len(df), bool), "majority" if method == "auto" else method
    item, items = _codes(regular["item_id"])
    label, classes = _codes(regular["label"])
    n_answers = np.bincount(item, minlength=len(items))
    counts = np.bincount(item * len(classes) + label,
                         minlength=len(items) * len(classes)).reshape(len(items), len(classes))
    if method == "auto":
        method = "dawid_skene" if int((n_answers >= 3).sum()) >= DS_MIN_ITEMS else "majority"
    has = n_answers[item] >= 2
    if method == "majority":
        p = _majority_loo(counts, item, label)
    else:
        p = _dawid_skene_p(regular, item, label)
    soft[~is_gold] = np.where(has, p, 0.0)
    has_consensus = np.zeros(len(df), bool)
    has_consensus[~is_gold] = has
    return soft, has_consensus, method


def _codes(values: pd.Series) -> tuple[np.ndarray, Any]:
    import pandas as pd

    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # mixed types cannot be sorted: the order of first appearance
        codes, uniques = pd.factorize(values)
    return codes.astype(np.int64), uniques


def _majority_loo(counts: np.ndarray, item: np.ndarray, label: np.ndarray) -> np.ndarray:
    """P(a majority vote of the others, ties broken at random, gives this row's label)."""
    others = counts[item].astype(float)
    rows = np.arange(len(item))
    others[rows, label] -= 1
    top = others.max(axis=1)
    ties = (others == top[:, None]).sum(axis=1)
    mine = others[rows, label]
    return np.where((mine == top) & (top > 0), 1.0 / ties, 0.0)


def _dawid_skene_p(regular: pd.DataFrame, item: np.ndarray, label: np.ndarray) -> np.ndarray:
    """P(true label = this row's label), from Dawid-Skene's posteriors with confusion matrices
    per annotator and task type: the EM's own expected correctness of each answer."""
    import pandas as pd

    from ._consensus import dawid_skene

    who, _ = _codes(pd.Series(list(zip(regular["annotator"], regular["task_type"], strict=True)),
                              dtype=object).map(repr))
    # Integer codes throughout, so the fit's items and classes are looked up by position.
    fit = dawid_skene(pd.DataFrame({"item": item, "annotator": who, "label": label}))
    rows = fit.posteriors.index.get_indexer(item)
    cols = fit.posteriors.columns.get_indexer(label)
    return fit.posteriors.to_numpy(float)[rows, cols]


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    try:
        return df.sort_values(["annotator", "task_type"], kind="stable", ignore_index=True)
    except TypeError:  # task types of mixed kinds: by their text
        return df.sort_values(["annotator", "task_type"], kind="stable", ignore_index=True,
                              key=lambda s: s.map(str))


# -- task types of items -------------------------------------------------------------------------
def check_task_type(task_type: Any) -> Any:
    """None, a field name (str) or a callable; anything else is refused."""
    if task_type is None or isinstance(task_type, str) or callable(task_type):
        return task_type
    raise TypeError(f"task_type must be None (one type), the name of a field of the items, or a "
                    f"function of an item's record dict; got {type(task_type).__name__} "
                    f"{task_type!r:.60}")


def item_record(record: Any) -> dict:
    """What a task-type function is given: the item's stored record, without image bytes."""
    return {"item_id": record.item_id, "kind": record.kind, "text": record.text,
            "path": record.path, "mime": record.mime, "fields": dict(record.fields),
            "meta": dict(record.meta), "provenance": dict(record.provenance)}


def task_types(store: Any, item_ids: list[str], task_type: Any) -> dict[str, Hashable]:
    """item id -> its task type under ``task_type`` (None: ``"all"``; a field name; a function
    of the item's record dict). Errors name the item and say what to do."""
    task_type = check_task_type(task_type)
    if task_type is None:
        return dict.fromkeys(item_ids, ALL)
    records = store.get_items(item_ids)
    out: dict[str, Hashable] = {}
    for item_id in item_ids:
        record = records[item_id]
        if isinstance(task_type, str):
            if task_type not in record.fields:
                raise KeyError(f"task_type {task_type!r} is not a field of item {item_id!r}; its "
                               f"fields are {sorted(record.fields)}. Name a field every item has, "
                               "or pass a function of the item's record")
            value = record.fields[task_type]
        else:
            try:
                value = task_type(item_record(record))
            except Exception as exc:
                raise ValueError(f"task_type function {_name(task_type)} raised "
                                 f"{type(exc).__name__} on item {item_id!r}: {exc}") from exc
        out[item_id] = _check_type_value(value, item_id)
    return out


def _check_type_value(value: Any, item_id: str) -> Hashable:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ValueError(f"task_type gave no type (None/NaN) for item {item_id!r}; give every "
                         "item a type, e.g. 'other' for the rest")
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"task_type gave the unhashable {type(value).__name__} {value!r:.60} for "
                        f"item {item_id!r}; return a str, a number or a tuple") from None
    return value


def _name(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


# -- a project's profiles ---------------------------------------------------------------------
# Per ledger: (task_type, options) -> (version of the log, profiles). Weak keys: a closed
# project's cache goes with it.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def project_answers(ledger: Any, task_type: Any = None) -> tuple[pd.DataFrame, dict]:
    """A project's current human answers (with their task types) and gold answers."""

    ledger = Ledger.of(ledger)
    rows = human_rows(ledger)
    types = task_types(ledger.store, list(dict.fromkeys(r.item_id for r in rows)), task_type)
    return answers_frame(rows, types.__getitem__), gold_answers(ledger)


def human_rows(ledger: Ledger) -> list:
    """The current human labels (the ledger's kept ``LabelRow``s), oldest first."""
    return [r for r in ledger.label_index.rows() if r.source in (None, "human")]


def gold_answers(ledger: Ledger) -> dict:
    """item id -> its gold answer, as one category (as consensus counts a multi-label answer)."""
    return {i: category(labels) for i, labels in ledger.label_index.gold().items()}


def answers_frame(rows: list, type_of: Callable[[str], Hashable]) -> pd.DataFrame:
    """``skill_posteriors``' input from label rows: item_id, annotator, label, task_type."""
    import pandas as pd

    return pd.DataFrame({
        "item_id": pd.Series([r.item_id for r in rows], dtype=object),
        "annotator": pd.Series([r.annotator for r in rows], dtype=object),
        "label": pd.Series([category(r.labels) for r in rows], dtype=object),
        "task_type": pd.Series([type_of(r.item_id) for r in rows], dtype=object),
    })


def skill_profiles(project: Any, task_type: Any = None, **kw: Any) -> pd.DataFrame:
    """The project's skill profiles: :func:`skill_posteriors` of its current human labels and
    gold answers, per annotator and task type.

    Parameters
    ----------
    project : a :class:`~hitl_widgets.Project` (or its ledger).
    task_type : None (one type, ``"all"``), the name of a field of the items (``fields``), or a
        function taking an item's record dict (``item_id, kind, text, path, mime, fields, meta,
        provenance``) and returning a hashable type. A missing field, a function that raises (the
        error names the item and chains the cause), or a None/unhashable type is refused.
    **kw : ``prior``, ``level``, ``method``, as :func:`skill_posteriors` takes them.

    A derived view: nothing is written. The result is cached until a label, an undo or a gold
    answer is written (here or in another kernel), so repeated calls cost a lookup.

    >>> import tempfile, os
    >>> from hitl_widgets.core.project import Project
    >>> project = Project(os.path.join(tempfile.mkdtemp(), "s.hitl"), labels=["a", "b"])
    >>> _ = project.add_items(["x", "y"], id=["1", "2"])
    >>> _ = project.set_gold({"1": "a"})
    >>> _ = project.annotate("1", "a", annotator="ana")
    >>> skill_profiles(project)[["annotator", "alpha", "beta", "n_gold"]].values.tolist()
    [['ana', 2.0, 1.0, 1]]
    """
    task_type = check_task_type(task_type)
    unknown = set(kw) - {"prior", "level", "method"}
    if unknown:
        raise TypeError(f"skill_profiles got unexpected keyword argument(s) {sorted(unknown)}; "
                        "it takes task_type, prior, level and method")
    ledger = Ledger.of(project)
    version = (ledger.store.max_seq(PROFILE_KINDS), ledger.store.item_count())
    try:
        key: Any = (task_type, tuple(sorted((k, _frozen(v)) for k, v in kw.items())))
        hash(key)
    except TypeError:
        key = None  # an unhashable option: not cached
    cache = _CACHE.setdefault(ledger, {}) if key is not None else {}
    hit = cache.get(key)
    if hit is not None and hit[0] == version:
        return hit[1].copy()
    answers, gold = project_answers(ledger, task_type)
    profiles = skill_posteriors(answers, gold, **kw)
    if key is not None:
        cache[key] = (version, profiles)
    return profiles.copy()


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
