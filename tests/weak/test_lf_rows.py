"""Row-wise LFs get light read-only rows that read as Snorkel's Series rows: same values, same L."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snorkel.labeling import PandasLFApplier, labeling_function
from snorkel.preprocess import preprocessor

import hitl_widgets.core.weak._apply as weak_apply
from hitl_widgets.core.weak import apply_lfs

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning:scipy")  # inside Snorkel


def snorkel_L(df, lfs):
    return PandasLFApplier(lfs).apply(df, progress_bar=False)


def sms(n: int = 600) -> pd.DataFrame:
    datasets = pytest.importorskip("hitl_widgets.datasets")
    try:
        return datasets.sms_spam().head(n)
    except ModuleNotFoundError as exc:
        pytest.skip(str(exc))


def observer(seen: list, columns: list):
    """An LF that records how each row reads: types and values by attribute, item and get."""

    @labeling_function(name="observer")
    def look(x):
        record = [repr(x.name), len(x), [str(k) for k in x.keys()], [repr(v) for v in x],
                  repr(x.get("nope", "default")), "nope" in x]
        for c in columns:
            v = x[c]
            record += [type(v).__name__, repr(v), repr(x.get(c)), c in x,
                       repr(getattr(x, c)) if isinstance(c, str) and c.isidentifier() else None]
        record.append(sorted(map(str, x.to_dict())))
        seen.append(record)
        return -1

    return look


def same_reading(df: pd.DataFrame) -> None:
    ours, theirs = [], []
    columns = list(df.columns)
    apply_lfs(df, [observer(ours, columns)])
    snorkel_L(df, [observer(theirs, columns)])
    assert ours == theirs


COLUMN_KINDS = {
    "text": st.lists(st.one_of(st.text(max_size=5), st.none()), min_size=1),
    "int": st.lists(st.integers(-5, 5), min_size=1),
    "float": st.lists(st.one_of(st.floats(-3, 3), st.just(np.nan)), min_size=1),
    "object": st.lists(st.one_of(st.integers(0, 3), st.text(max_size=3), st.none()), min_size=1),
    "Int64": st.lists(st.one_of(st.integers(-3, 3), st.none()), min_size=1),
    "boolean": st.lists(st.one_of(st.booleans(), st.none()), min_size=1),
    "bool": st.lists(st.booleans(), min_size=1),
}


def build(kinds: list[str], columns_data: list[list], labels: list[str]) -> pd.DataFrame:
    n = min(len(c) for c in columns_data)
    data = {}
    for name, kind, values in zip(labels, kinds, columns_data, strict=True):
        values = values[:n]
        if kind == "text":
            data[name] = pd.array(values, dtype="str")
        elif kind == "object":
            data[name] = pd.Series(values, dtype=object)
        elif kind in ("Int64", "boolean"):
            data[name] = pd.array(values, dtype=kind)
        else:
            data[name] = np.array(values)
    return pd.DataFrame(data)


@st.composite
def frames(draw):
    kinds = draw(st.lists(st.sampled_from(sorted(COLUMN_KINDS)), min_size=1, max_size=3))
    labels = draw(st.lists(st.sampled_from(["text", "a", "b", "name", "count", "my col", "x1"]),
                           min_size=len(kinds), max_size=len(kinds), unique=True))
    data = [draw(COLUMN_KINDS[k]) for k in kinds]
    df = build(kinds, data, labels)
    index = draw(st.sampled_from(["range", "str", "int"]))
    if index == "str":
        df.index = [f"r{k}" for k in range(len(df))]
    elif index == "int":
        df.index = np.arange(len(df), dtype=np.int64) * 3 + 7
    return df


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_rows_read_as_snorkels_series_rows_whatever_the_columns(df):
    same_reading(df)


@pytest.mark.parametrize("make", [
    lambda: pd.DataFrame({"text": ["a b", "win cash now", "hi"], "likes": [3, 90, 40]}),
    lambda: pd.DataFrame({"a": [1, 50, 90], "b": [0.5, 1.5, 2.5]}),  # float rows
    lambda: pd.DataFrame({"a": [1, 50, 90], "b": [2, 3, 4]}),  # int64 rows
    lambda: pd.DataFrame({"text": ["x", None, "z"]}),  # str rows, a missing value
    lambda: pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"])}),
    lambda: pd.DataFrame([[1, "x"], [2, "y"], [3, "z"]], columns=["a", "a"]),  # repeated column
    lambda: pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"),
                          "b": pd.array([1.5, None, 3.5], dtype="Float64")}),  # mixed masked
], ids=["object", "float", "int", "str", "datetime", "repeated", "mixed-masked"])
def test_rows_read_as_snorkels_in_each_kind_of_frame(make):
    same_reading(make())


def test_series_methods_on_the_row_behave_as_on_a_series():
    df = pd.DataFrame({"text": ["Win", "hi"], "likes": [3, 90]}, index=["m1", "m2"])
    ours, theirs = [], []

    def probe(sink):
        @labeling_function(name="probe")
        def lf(x):
            sink.append((list(x.index), list(x.values), x.isna().tolist(), x.copy().to_dict(),
                         str(x), x.count(), (x == "hi").tolist(), x.astype(str).tolist(),
                         pickle.loads(pickle.dumps(x)).to_dict(), x.iloc[0], x.name))
            return -1
        return lf

    apply_lfs(df, [probe(ours)])
    snorkel_L(df, [probe(theirs)])
    assert ours == theirs


# -- the same L on real data, with preprocessors -------------------------------------------------
@preprocessor()
def add_lower(x):
    x.lower = x.text.lower()
    return x


@preprocessor(memoize=True)
def add_words(x):
    x.words = x.text.split()
    return x


@labeling_function(pre=[add_lower])
def pre_free(x):
    return 1 if "free" in x.lower else -1


@labeling_function(pre=[add_lower, add_words])
def pre_short(x):
    return 0 if len(x.words) < 4 and "call" not in x.lower else -1


@labeling_function()
def kw_call(x):
    return 1 if "call" in x["text"].lower() else -1


@labeling_function()
def re_money(x):
    return 1 if re.search(r"£\d+|\$\d+|\d{5,}", x.text) else -1


@labeling_function()
def caps(x):
    return 1 if sum(c.isupper() for c in x.get("text", "")) > 10 else -1


@labeling_function()
def by_id(x):
    return 0 if x.name % 7 == 0 and "sms" in x.sms_id else -1


@labeling_function()
def fussy(x):  # raises on some rows: abstains there in both (Snorkel: fault tolerant off)
    if x.text.startswith("Ok"):
        raise ValueError("not this one")
    return -1


REAL_LFS = [pre_free, pre_short, kw_call, re_money, caps, by_id]


def snorkel_tolerant(df, lfs):
    return PandasLFApplier(lfs).apply(df, progress_bar=False, fault_tolerant=True,
                                      return_meta=True)


def test_real_sms_lfs_with_preprocessors_give_snorkels_L():
    # pre_short fails where Snorkel's memoized add_words hands back a copy without `lower` (a
    # duplicate message): Snorkel counts the same faults.
    df = sms(600)
    L, report = apply_lfs(df, REAL_LFS, return_report=True)
    L_snorkel, meta = snorkel_tolerant(df, REAL_LFS)
    np.testing.assert_array_equal(L, L_snorkel)
    assert {e.lf: e.count for e in report.errors} == dict(meta.faults)


def test_real_sms_lfs_on_two_processes_give_snorkels_L(monkeypatch):
    monkeypatch.setattr(weak_apply, "PARALLEL_MIN_ROWS", 100)
    monkeypatch.setattr(weak_apply, "CHUNK_ROWS", 300)
    df = sms(900)
    L, _ = apply_lfs(df, REAL_LFS, n_jobs=2, return_report=True)
    np.testing.assert_array_equal(L, snorkel_tolerant(df, REAL_LFS)[0])


def test_an_lf_raising_on_some_rows_abstains_there_and_names_the_rows():
    df = sms(400)
    L, report = apply_lfs(df, [kw_call, fussy], return_report=True)
    starts = df.index[df.text.str.startswith("Ok")].tolist()
    assert starts and report.errors[0].rows == starts and report.errors[0].lf == "fussy"
    np.testing.assert_array_equal(L[:, 0], snorkel_L(df, [kw_call])[:, 0])
    assert (L[:, 1] == -1).all()


# -- changes are refused by the row ---------------------------------------------------------------
def _set_attr(x):
    x.text = "changed"


def _set_item(x):
    x["text"] = "changed"


def _new_field(x):
    x.extra = 1


def _del_item(x):
    del x["text"]


def _through_loc(x):
    x.loc["text"] = "changed"


def _swallowed(x):
    try:
        x.text = "changed"
    except Exception:
        pass


@pytest.mark.parametrize("change, what", [
    (_set_attr, "set 'text'"), (_set_item, "set 'text'"), (_new_field, "set 'extra'"),
    (_del_item, "deleted 'text'"), (_through_loc, "set 'text'"), (_swallowed, "set 'text'"),
], ids=["attribute", "item", "new-field", "delete", "loc", "error-swallowed"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_an_lf_changing_its_row_is_refused_naming_lf_row_and_field(change, what, n_jobs,
                                                                   monkeypatch):
    monkeypatch.setattr(weak_apply, "PARALLEL_MIN_ROWS", 10)
    monkeypatch.setattr(weak_apply, "CHUNK_ROWS", 10)
    df = pd.DataFrame({"text": [f"message {k}" for k in range(30)], "likes": range(30)},
                      index=[f"m{k}" for k in range(30)])
    before = df.copy()

    @labeling_function(name="meddler")
    def meddler(x):
        if x.likes == 17:
            change(x)
        return -1

    with pytest.raises(ValueError, match=rf"'meddler' changed the row it was given \({what}, "
                                         r"on row 'm17'\).*copy"):
        apply_lfs(df, [kw_call, meddler], n_jobs=n_jobs)
    pd.testing.assert_frame_equal(df, before)


def test_a_preprocessor_may_set_fields_on_its_copy_and_other_lfs_do_not_see_them():
    df = sms(50)
    seen = []

    @labeling_function()
    def after(x):
        seen.append("lower" in x)
        return -1

    apply_lfs(df, [pre_free, after])
    assert seen == [False] * 50
