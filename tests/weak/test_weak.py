"""Weak supervision engine: L, analysis and majority vote equal Snorkel's; cache, isolation, bad input."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from snorkel.labeling import LabelingFunction, LFAnalysis, PandasLFApplier, labeling_function
from snorkel.labeling.model import MajorityLabelVoter

import hitl_widgets.core.weak._apply as weak_apply
from hitl_widgets.core.labeling import LabelingSession
from hitl_widgets.core.weak import (
    LFCache,
    WeakLabelQueue,
    apply_lfs,
    apply_to_project,
    compare_label_models,
    fit_label_model,
    frame_version,
    human_labels,
    keyword_lf,
    lf_rows,
    lf_summary,
    majority_vote,
    regex_lf,
    store_weak_labels,
    threshold_lf,
    vectorized_lf,
)

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning:scipy")  # inside Snorkel

WORDS = ["check", "out", "my", "channel", "song", "love", "please", "subscribe", "http://x.co",
         "great", "Check", "OUT", "Song"]


def comments(n: int, seed: int = 0) -> pd.DataFrame:
    """Generated comments: random words, a numeric column, a non-default index."""
    rng = np.random.default_rng(seed)
    text = [" ".join(rng.choice(WORDS, rng.integers(1, 9))) for _ in range(n)]
    return pd.DataFrame({"text": text, "likes": rng.integers(0, 100, n)},
                        index=[f"c{k}" for k in range(n)])


@labeling_function()
def lf_my(x):
    return 1 if "my" in x.text.lower() else -1


@labeling_function()
def lf_song(x):
    return 0 if "song" in x.text.lower() else -1


@labeling_function()
def lf_check_out(x):
    return 1 if re.search(r"check.*out", x.text, flags=re.I) else -1


@labeling_function()
def lf_liked(x):
    return 0 if x.likes >= 80 else -1


@labeling_function()
def lf_short(x):
    return 0 if len(x.text.split()) < 3 else -1


SNORKEL_LFS = [lf_my, lf_song, lf_check_out, lf_liked, lf_short]
VECTOR_LFS = [
    keyword_lf("lf_my", ["my"], 1),
    keyword_lf("lf_song", ["song"], 0),
    regex_lf("lf_check_out", r"check.*out", 1, flags=re.I),
    threshold_lf("lf_liked", "likes", ">=", 80, 0),
    vectorized_lf("lf_short")(
        lambda df: np.where(df["text"].str.split().str.len() < 3, 0, -1)),
]


def snorkel_L(df, lfs):
    return PandasLFApplier(lfs).apply(df, progress_bar=False)


def assert_summary_equal(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert list(ours.index) == list(theirs.index)
    for column in theirs.columns:
        if column == "Polarity":
            assert [list(p) for p in ours[column]] == [list(p) for p in theirs[column]]
        else:
            np.testing.assert_array_equal(ours[column].to_numpy(), theirs[column].to_numpy(),
                                          err_msg=column)


# -- apply ------------------------------------------------------------------------------------
def test_apply_equals_snorkel_pandas_applier_for_snorkel_lfs():
    df = comments(600)
    L = apply_lfs(df, SNORKEL_LFS)
    np.testing.assert_array_equal(L, snorkel_L(df, SNORKEL_LFS))
    assert L.dtype == np.int64 and L.shape == (600, 5)


def test_vectorised_helpers_equal_the_row_wise_snorkel_lfs():
    df = comments(800, seed=1)
    np.testing.assert_array_equal(apply_lfs(df, VECTOR_LFS), snorkel_L(df, SNORKEL_LFS))


def test_rows_reach_lfs_as_snorkel_builds_them_in_an_all_numeric_frame():
    df = pd.DataFrame({"a": [1, 50, 90], "b": [0.5, 1.5, 2.5]})
    seen = []

    @labeling_function()
    def big(x):
        seen.append(type(x.a))
        return 1 if x.a > 42 else 0

    np.testing.assert_array_equal(apply_lfs(df, [big]), snorkel_L(df, [big]))
    assert len(seen) == 6  # each row once per applier: no double call on the first row


@pytest.mark.parametrize("value", [1.0, -1.0, np.float64(1.0), np.float32(0.0)])
def test_whole_floats_are_refused_naming_lf_and_row_unlike_snorkel(value):
    as_float = LabelingFunction("as_float", lambda x: value)
    with pytest.raises(TypeError, match=r"'as_float' returned the float .* on row 'c0'; return "
                                        r"an int label index or -1"):
        apply_lfs(comments(3), [as_float], cardinality=2)


@pytest.mark.parametrize("value", [True, False, np.True_, np.False_])
def test_bool_outputs_are_refused_naming_lf_and_row(value):
    as_bool = LabelingFunction("as_bool", lambda x: value)
    with pytest.raises(TypeError, match=r"'as_bool' returned the bool .* on row 'c0'; return an "
                                        r"int label index"):
        apply_lfs(comments(3), [as_bool], cardinality=2)


def test_a_bool_among_int_outputs_is_refused_on_its_row():
    # np.asarray([1, True]) would read True as 1: the check is per value.
    df = comments(4)
    mixed = LabelingFunction("mixed", lambda x: True if x.name == "c2" else 1)
    with pytest.raises(TypeError, match=r"'mixed' returned the bool True on row 'c2'"):
        apply_lfs(df, [mixed], cardinality=2)
    floaty = LabelingFunction("floaty", lambda x: 1.0 if x.name == "c3" else 0)
    with pytest.raises(TypeError, match=r"'floaty' returned the float 1.0 on row 'c3'"):
        apply_lfs(df, [floaty], cardinality=2)


def test_vectorised_series_votes_land_on_their_rows_whatever_the_order():
    df = comments(6)
    expected = np.where(df.text.str.contains("my"), 1, 0)

    @vectorized_lf("shuffled")
    def shuffled(frame):
        votes = pd.Series(np.where(frame.text.str.contains("my"), 1, 0), index=frame.index)
        return votes.iloc[[5, 3, 1, 0, 2, 4]]  # same rows, another order

    @vectorized_lf("as_array")
    def as_array(frame):
        return np.where(frame.text.str.contains("my"), 1, 0)  # positional

    assert not (shuffled(df).to_numpy() == expected).all()  # the order really differs
    L = apply_lfs(df, [shuffled, as_array], cardinality=2)
    np.testing.assert_array_equal(L[:, 0], expected)
    np.testing.assert_array_equal(L[:, 1], expected)


@pytest.mark.parametrize("make_index, match", [
    (lambda df: range(len(df)), r"6 of the frame's rows are not in it .*'c0'"),
    (lambda df: [*df.index[:-1], "zz"], r"1 of the frame's rows .*'c5'.*1 of its labels .*'zz'"),
])
def test_vectorised_series_with_other_rows_is_refused_naming_the_lf(make_index, match):
    df = comments(6)

    @vectorized_lf("misindexed")
    def misindexed(frame):
        return pd.Series(np.zeros(len(frame), dtype=int), index=make_index(frame))

    with pytest.raises(ValueError, match=r"LF 'misindexed' returned a Series whose index does "
                                         r"not match the frame's rows: " + match):
        apply_lfs(df, [misindexed], cardinality=2)


def test_vectorised_series_reordered_on_a_repeated_index_is_refused():
    df = pd.DataFrame({"text": ["a", "b", "c"]}, index=["x", "x", "y"])

    @vectorized_lf("reordered")
    def reordered(frame):
        return pd.Series([0, 1, 1], index=frame.index).iloc[[2, 0, 1]]

    with pytest.raises(ValueError, match="'reordered' .*index repeats labels"):
        apply_lfs(df, [reordered], cardinality=2)


def test_label_names_map_to_positions_when_labels_are_given():
    df = pd.DataFrame({"text": ["win", "hello"]})
    named = LabelingFunction("named", lambda x: "spam" if x.text == "win" else -1)
    vec = keyword_lf("kw", ["hello"], "ham", labels=["ham", "spam"])
    L = apply_lfs(df, [named, vec], labels=["ham", "spam"])
    assert L.tolist() == [[1, -1], [-1, 0]]


def test_empty_frame_gives_zero_rows_and_runs_no_lf():
    calls = []
    lf = LabelingFunction("never", lambda x: calls.append(x) or 0)
    L = apply_lfs(comments(0), [lf, VECTOR_LFS[0]])
    assert L.shape == (0, 2) and calls == []


def test_missing_and_non_string_text_abstain_in_keyword_and_regex_lfs():
    df = pd.DataFrame({"text": ["my song", None, np.nan, 42, "MY"]}, dtype=object)
    L = apply_lfs(df, [keyword_lf("kw", ["my"], 1), regex_lf("re", "song|MY", 0)])
    assert L.tolist() == [[1, 0], [-1, -1], [-1, -1], [-1, -1], [1, 0]]


def test_threshold_lf_abstains_on_missing_numbers():
    df = pd.DataFrame({"score": [0.9, np.nan, 0.1]})
    assert apply_lfs(df, [threshold_lf("hi", "score", ">", 0.5, 1)]).tolist() == [[1], [-1], [-1]]


def test_two_processes_and_progress_give_the_same_L(monkeypatch):
    monkeypatch.setattr(weak_apply, "PARALLEL_MIN_ROWS", 100)
    monkeypatch.setattr(weak_apply, "CHUNK_ROWS", 250)
    df = comments(1200, seed=2)
    ticks = []
    L = apply_lfs(df, SNORKEL_LFS + VECTOR_LFS[:0], n_jobs=2,
                  progress=lambda done, total: ticks.append((done, total)))
    np.testing.assert_array_equal(L, snorkel_L(df, SNORKEL_LFS))
    assert ticks[-1] == (1200 * 5, 1200 * 5)
    assert [d for d, _ in ticks] == sorted(d for d, _ in ticks)


# -- error isolation --------------------------------------------------------------------------
def test_an_lf_raising_on_some_rows_keeps_its_other_rows_and_is_reported():
    df = comments(50)
    df.loc["c3", "text"] = None
    df.loc["c7", "text"] = None
    L, report = apply_lfs(df, [lf_my, VECTOR_LFS[1], lf_liked], return_report=True)
    clean = apply_lfs(df.drop(index=["c3", "c7"]), [lf_my, VECTOR_LFS[1], lf_liked])
    kept = [k for k in range(50) if k not in (3, 7)]
    np.testing.assert_array_equal(L[kept], clean)
    assert L[3, 0] == -1 and L[7, 0] == -1
    (error,) = report.errors
    assert error.lf == "lf_my" and error.count == 2 and error.rows == ["c3", "c7"]
    assert "AttributeError" in error.error
    assert report.to_frame()["count"].tolist() == [2]


def test_failures_warn_when_no_report_is_asked_for():
    df = pd.DataFrame({"text": ["a", None]})
    with pytest.warns(RuntimeWarning, match="lf_my.*1 rows"):
        apply_lfs(df, [lf_my])


def test_a_vectorised_lf_raising_abstains_everywhere_and_is_reported():
    @vectorized_lf()
    def broken(df):
        raise KeyError("no such column")

    L, report = apply_lfs(comments(10), [broken, VECTOR_LFS[0]], return_report=True)
    assert (L[:, 0] == -1).all() and (L[:, 1] != -1).any()
    assert report.errors[0].lf == "broken" and report.errors[0].count == 10


def test_keyword_lf_on_a_numeric_column_reports_the_advice():
    _, report = apply_lfs(comments(5), [keyword_lf("kw", ["1"], 1, column="likes")],
                          return_report=True)
    assert "threshold_lf" in report.errors[0].error


# -- bad input --------------------------------------------------------------------------------
def test_duplicate_lf_names_are_refused_naming_them():
    with pytest.raises(ValueError, match=r"\['lf_my'\]"):
        apply_lfs(comments(3), [lf_my, keyword_lf("lf_my", ["x"], 1)])


def test_bad_arguments_are_refused_before_any_lf_runs():
    with pytest.raises(ValueError, match="n_jobs"):
        apply_lfs(comments(3), VECTOR_LFS, n_jobs=0)
    with pytest.raises(TypeError, match="list of names"):
        apply_lfs(comments(3), VECTOR_LFS, labels="spam")
    with pytest.raises(ValueError, match="cardinality=3 but 2 labels"):
        apply_lfs(comments(3), VECTOR_LFS, labels=["ham", "spam"], cardinality=3)
    with pytest.raises(TypeError, match=r"\[lf\]"):
        apply_lfs(comments(3), lf_my)


def test_a_non_lf_is_refused_with_advice():
    with pytest.raises(TypeError, match="labeling_function"):
        apply_lfs(comments(3), [lambda x: 1])


@pytest.mark.parametrize("value, error, match", [
    (None, TypeError, "returned None on row 'c0'.*-1"),
    (0.5, TypeError, "float 0.5"),
    (5, ValueError, r"returned 5 on row 'c0'.*0\.\.1"),
    (-3, ValueError, "returned -3"),
    ("spma", TypeError, "labels="),
    ([1], TypeError, "returned list"),
])
def test_bad_row_wise_outputs_are_refused_naming_lf_and_row(value, error, match):
    bad = LabelingFunction("bad", lambda x: value)
    with pytest.raises(error, match=match):
        apply_lfs(comments(3), [bad], cardinality=2)


def test_unknown_label_name_lists_the_schema():
    bad = LabelingFunction("bad", lambda x: "spma")
    with pytest.raises(ValueError, match=r"'spma'.*\['ham', 'spam'\]"):
        apply_lfs(comments(3), [bad], labels=["ham", "spam"])


@pytest.mark.parametrize("output, error, match", [
    (lambda df: np.ones(len(df)), TypeError, "floats"),
    (lambda df: np.array([None] * len(df)), TypeError, "objects"),
    (lambda df: np.ones(len(df), dtype=bool), TypeError, "mask"),
    (lambda df: np.ones(len(df) - 1, dtype=int), ValueError, r"shape \(2,\)"),
    (lambda df: pd.Series([1, None, 1], dtype="Int64", index=df.index), TypeError, "int array"),
    (lambda df: np.full(len(df), 2), ValueError, "returned 2"),
    (lambda df: None, TypeError, "returned None"),
])
def test_bad_vectorised_outputs_are_refused(output, error, match):
    with pytest.raises(error, match=match):
        apply_lfs(comments(3), [vectorized_lf("bad")(output)], cardinality=2)


def test_good_lfs_stay_cached_when_another_is_refused():
    cache = LFCache()
    bad = LabelingFunction("bad", lambda x: None)
    with pytest.raises(TypeError):
        apply_lfs(comments(5), [VECTOR_LFS[0], bad], cache=cache)
    assert len(cache) == 1


def test_an_lf_changing_its_row_is_named():
    @labeling_function()
    def sneaky(x):
        x["text"] = x["text"].upper()
        return -1

    df = comments(5)
    before = df.copy()
    with pytest.raises(ValueError, match="'sneaky' changed the row"):
        apply_lfs(df, [lf_my, sneaky])
    pd.testing.assert_frame_equal(df, before)


def test_a_vectorised_lf_changing_the_frame_is_named_and_the_frame_is_untouched():
    @vectorized_lf()
    def sneaky(df):
        df["text"] = df["text"].str.upper()
        return np.full(len(df), -1)

    df = comments(5)
    before = df.copy()
    with pytest.raises(ValueError, match="'sneaky' changed the frame"):
        apply_lfs(df, [sneaky])
    pd.testing.assert_frame_equal(df, before)


def test_bad_label_arguments_to_helpers():
    with pytest.raises(TypeError, match="labels="):
        keyword_lf("kw", ["a"], "spam")
    with pytest.raises(ValueError, match="Unknown label 'spma'"):
        keyword_lf("kw", ["a"], "spma", labels=["ham", "spam"])
    with pytest.raises(ValueError, match="keywords"):
        keyword_lf("kw", [], 1)
    with pytest.raises(ValueError, match="invalid pattern"):
        regex_lf("re", "(", 1)
    with pytest.raises(ValueError, match="op must be"):
        threshold_lf("t", "likes", "=>", 3, 1)
    with pytest.raises(TypeError, match="parentheses"):
        vectorized_lf(lambda df: df)


# -- cache ------------------------------------------------------------------------------------
class Calls:
    """A call counter. Not plain data, so counting does not change the LF's fingerprint (a
    list that grows would: captured plain data is part of the cache key)."""

    def __init__(self):
        self.n = 0

    def hit(self):
        self.n += 1


def _exec_lf(source: str, calls: Calls) -> LabelingFunction:
    namespace = {"labeling_function": labeling_function, "calls": calls}
    exec(source, namespace)  # noqa: S102 - a notebook cell re-run, simulated
    return namespace["lf_edit"]


EDIT_V1 = """
@labeling_function()
def lf_edit(x):
    calls.hit()
    return 1 if "love" in x.text else -1
"""
EDIT_V2 = EDIT_V1.replace('"love"', '"great"')


def test_editing_one_lf_re_runs_only_that_one():
    df = comments(200)
    cache = LFCache()
    calls_a, calls_b = Calls(), Calls()
    counted = vectorized_lf("counted")(lambda d: calls_b.hit() or np.full(len(d), -1))
    apply_lfs(df, [_exec_lf(EDIT_V1, calls_a), counted], cache=cache)
    assert (calls_a.n, calls_b.n) == (200, 1)
    _, report = apply_lfs(df, [_exec_lf(EDIT_V1, calls_a), counted], cache=cache,
                          return_report=True)  # the cell run again, unchanged
    assert (calls_a.n, calls_b.n) == (200, 1) and report.cached == ["lf_edit", "counted"]
    L2, report = apply_lfs(df, [_exec_lf(EDIT_V2, calls_a), counted], cache=cache,
                           return_report=True)
    assert (calls_a.n, calls_b.n) == (400, 1) and report.ran == ["lf_edit"]
    snorkel_counted = LabelingFunction("counted", lambda x: -1)
    np.testing.assert_array_equal(L2, snorkel_L(df, [_exec_lf(EDIT_V2, Calls()),
                                                     snorkel_counted]))


def test_a_keyword_list_edited_in_place_invalidates_the_lf():
    keywords = ["my"]
    lf = vectorized_lf("kw")(
        lambda d: np.where(d["text"].str.contains("|".join(keywords)), 1, -1))
    cache = LFCache()
    first = apply_lfs(comments(50), [lf], cache=cache)
    keywords.append("song")
    second = apply_lfs(comments(50), [lf], cache=cache)
    assert cache.hits == 0 and (second != -1).sum() > (first != -1).sum()


def test_the_report_says_what_an_edit_changed():
    cache = LFCache()
    df = pd.DataFrame({"text": ["my song", "my", "song", "hi"]})
    _, report = apply_lfs(df, [keyword_lf("kw", ["my"], 1)], cache=cache, return_report=True)
    assert report.changed == {}
    _, report = apply_lfs(df, [keyword_lf("kw", ["song"], 1)], cache=cache, return_report=True)
    change = report.changed["kw"]
    assert change.rows.tolist() == [1, 2]
    assert change.before.tolist() == [1, -1] and change.after.tolist() == [-1, 1]
    assert "1 newly labeled, 1 no longer labeled" in repr(change)
    _, report = apply_lfs(df, [keyword_lf("kw", ["song"], 1)], cache=cache, return_report=True)
    assert report.changed["kw"].rows.tolist() == [1, 2]  # still the last edit's change


def test_changed_data_or_captured_values_re_run():
    cache = LFCache()
    df = comments(50)
    apply_lfs(df, [keyword_lf("kw", ["my"], 1)], cache=cache)
    apply_lfs(df, [keyword_lf("kw", ["song"], 1)], cache=cache)  # same name, other keywords
    changed = df.copy()
    changed.iloc[0, 0] = "edited"
    L = apply_lfs(changed, [keyword_lf("kw", ["my"], 1)], cache=cache)
    assert cache.misses == 3 and cache.hits == 0
    assert L[0, 0] == -1


def test_a_helper_lf_keeps_its_cache_when_another_column_changes():
    cache = LFCache()
    df = comments(40)
    apply_lfs(df, [VECTOR_LFS[0], lf_liked], cache=cache)
    _, report = apply_lfs(df.assign(likes=df["likes"] + 1), [VECTOR_LFS[0], lf_liked],
                          cache=cache, return_report=True)
    assert report.cached == ["lf_my"] and report.ran == ["lf_liked"]
    _, report = apply_lfs(df.assign(text=df["text"] + " my"), [VECTOR_LFS[0]], cache=cache,
                          return_report=True)
    assert report.ran == ["lf_my"]


def test_frames_with_object_columns_and_other_indexes_are_versioned():
    df = pd.DataFrame({"text": pd.Series(["a", None], dtype=object), "x": [1.5, 2.5]},
                      index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)]))
    assert frame_version(df) == frame_version(df.copy())
    assert frame_version(df) != frame_version(df.assign(x=[1.5, 3.5]))
    assert frame_version(df) != frame_version(df.set_axis([("a", 1), ("b", 3)]))


def test_given_data_version_skips_hashing_and_keys_the_cache():
    cache = LFCache()
    apply_lfs(comments(10), [VECTOR_LFS[0]], cache=cache, data_version=1)
    apply_lfs(comments(10), [VECTOR_LFS[0]], cache=cache, data_version=1)
    apply_lfs(comments(10), [VECTOR_LFS[0]], cache=cache, data_version=2)
    assert (cache.hits, cache.misses) == (1, 2)


def test_cached_failures_are_reported_again():
    cache = LFCache()
    df = pd.DataFrame({"text": ["a", None]})
    for _ in range(2):
        _, report = apply_lfs(df, [lf_my], cache=cache, return_report=True)
        assert report.errors[0].rows == [1]


# -- analysis ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed, k", [(0, 2), (1, 3), (2, 4), (3, 40), (4, 300)])
def test_lf_summary_equals_snorkel_on_random_L(seed, k):
    rng = np.random.default_rng(seed)
    L = rng.integers(-1, k, size=(500, 6))
    L[:, 5] = -1  # an LF that never votes
    Y = rng.integers(0, k, 500)
    assert_summary_equal(lf_summary(L), LFAnalysis(L).lf_summary())
    assert_summary_equal(lf_summary(L, Y=Y), LFAnalysis(L).lf_summary(Y))


def test_lf_summary_equals_snorkel_with_real_lfs():
    df = comments(400, seed=3)
    L = apply_lfs(df, VECTOR_LFS)
    Y = np.random.default_rng(3).integers(0, 2, 400)
    ours = lf_summary(L, VECTOR_LFS, Y)
    assert_summary_equal(ours, LFAnalysis(L, SNORKEL_LFS).lf_summary(Y))
    assert list(ours.columns[-3:]) == ["Emp. Acc. n", "Emp. Acc. low", "Emp. Acc. high"]


def test_accuracy_counts_only_rows_with_a_human_label():
    L = np.array([[1, 0], [1, -1], [0, 0], [1, 1]])
    Y = np.array([1, -1, 1, -1])
    s = lf_summary(L, ["a", "b"], Y)
    assert s["Correct"].tolist() == [1, 0] and s["Incorrect"].tolist() == [1, 2]
    assert s["Emp. Acc."].tolist() == [0.5, 0.0] and s["Emp. Acc. n"].tolist() == [2, 2]
    low, high = s.loc["a", ["Emp. Acc. low", "Emp. Acc. high"]]
    assert 0 < low < 0.5 < high < 1


def test_lf_rows_agree_with_the_summary_counts():
    rng = np.random.default_rng(7)
    L = rng.integers(-1, 3, size=(300, 4))
    Y = np.where(rng.random(300) < 0.5, rng.integers(0, 3, 300), -1)
    s = lf_summary(L, Y=Y)
    for j in range(4):
        assert len(lf_rows(L, j)) / 300 == s["Coverage"][j]
        assert len(lf_rows(L, j, "overlaps")) / 300 == s["Overlaps"][j]
        assert len(lf_rows(L, j, "conflicts")) / 300 == s["Conflicts"][j]
        assert len(lf_rows(L, j, "disagrees", Y)) == s["Incorrect"][j]
    with pytest.raises(ValueError, match="needs Y"):
        lf_rows(L, 0, "disagrees")
    with pytest.raises(ValueError, match="kind must be"):
        lf_rows(L, 0, "conflict")


def test_lf_summary_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="Number of LFs"):
        lf_summary(np.zeros((3, 2), dtype=int), ["a"])
    with pytest.raises(ValueError, match="one label per row"):
        lf_summary(np.zeros((3, 2), dtype=int), Y=np.zeros(2, dtype=int))
    with pytest.raises(TypeError, match="ints"):
        lf_summary(np.zeros((3, 2)))


# -- label models -----------------------------------------------------------------------------
@pytest.mark.parametrize("k, policy", [(2, "abstain"), (2, "random"), (3, "abstain"),
                                       (3, "random")])
def test_majority_vote_equals_snorkel(k, policy):
    L = np.random.default_rng(k).integers(-1, k, size=(2000, 5))
    voter = MajorityLabelVoter(cardinality=k)
    preds, probs = majority_vote(L, k, policy, return_probs=True)
    np.testing.assert_array_equal(preds, voter.predict(L, tie_break_policy=policy))
    np.testing.assert_allclose(probs, voter.predict_proba(L))


def test_majority_vote_refuses_bad_input():
    with pytest.raises(ValueError, match="cardinality"):
        majority_vote(np.array([[0, 2]]), 2)
    with pytest.raises(ValueError, match="tie_break_policy"):
        majority_vote(np.array([[0, 1]]), 2, "coin")


def test_label_model_and_comparison_on_human_labels():
    import torch

    df = comments(600, seed=4)
    L = apply_lfs(df, VECTOR_LFS)
    rng = np.random.default_rng(4)
    Y = np.where(rng.random(600) < 0.3, rng.integers(0, 2, 600), -1)
    threads = torch.get_num_threads()
    model = fit_label_model(L, 2, seed=1, n_epochs=50)
    assert torch.get_num_threads() == threads
    table = compare_label_models(L, Y, 2, label_model=model)
    assert list(table.index) == ["majority vote", "label model"]
    mv = majority_vote(L, 2, "random")
    labeled = Y != -1
    assert table.loc["majority vote", "accuracy"] == (mv[labeled] == Y[labeled]).mean()
    assert (table["n"] == labeled.sum()).all()
    assert 0 <= table.loc["label model", "coverage"] <= 1
    with pytest.raises(ValueError, match="no human labels"):
        compare_label_models(L, np.full(600, -1), 2, label_model=model)


# -- project glue -----------------------------------------------------------------------------
@pytest.fixture
def project(make_project):
    p = make_project(items=0, name="w.hitl")
    df = comments(30, seed=5).reset_index(names="cid")
    p.add_items(df, text="text", id="cid", fields=["likes"])
    return p


def test_apply_to_project_reads_text_and_fields_and_caches(project):
    lfs = [keyword_lf("my", ["my"], "spam", labels=project.schema.labels),
           threshold_lf("liked", "likes", ">=", 80, "ham", labels=project.schema.labels)]
    out = apply_to_project(project, lfs)
    df = comments(30, seed=5)
    np.testing.assert_array_equal(out.L, apply_lfs(df, lfs))
    assert out.item_ids == list(df.index)
    again = apply_to_project(project, lfs)
    assert again.report.cached == ["my", "liked"]
    project.add_items(["my new one"], id=["new"])
    assert apply_to_project(project, lfs).L.shape == (31, 2)


def test_weak_labels_become_suggestions_and_unsure_items_come_first(project):
    out = apply_to_project(project, [keyword_lf("my", ["my"], 1), keyword_lf("song", ["song"], 0)])
    preds, probs = majority_vote(out.L, 2, return_probs=True)
    unsure = store_weak_labels(project, probs, out.item_ids, threshold=0.8, version="lf-v1")
    decided = [i for i, p in zip(out.item_ids, preds, strict=True) if p != -1]
    assert set(unsure) == set(out.item_ids) - set(decided)
    events = project.events()
    suggestions = events[events["kind"] == "suggestion"]
    assert len(suggestions) == len(decided) and set(suggestions["source"]) == {"lf"}
    session = LabelingSession(project, "ana", queue=WeakLabelQueue(unsure), prefetch=2)
    assert session.window() == unsure[:2]
    first_decided = decided[0]
    payloads, _ = session.payloads([first_decided])
    assert payloads[0]["suggestion"]["source"] == "lf"


def test_human_labels_align_with_item_ids(project):
    ids = [project.items()["item_id"][k] for k in (0, 1, 2)]
    project.annotate(ids[0], "spam", annotator="ana")
    project.annotate(ids[2], "ham", annotator="ana")
    assert human_labels(project, ids).tolist() == [1, -1, 0]


def test_store_weak_labels_refuses_wrong_shapes(project):
    with pytest.raises(ValueError, match="shape"):
        store_weak_labels(project, np.ones((2, 3)) / 3, ["a", "b"])
    with pytest.raises(ValueError, match="threshold"):
        store_weak_labels(project, np.ones((1, 2)) / 2, ["a"], threshold=2)


def test_lf_source_survives_a_notebook_rerun_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        apply_lfs(comments(10), VECTOR_LFS, cache=LFCache())


def test_the_project_doors_reach_the_engine(project):
    lfs = [keyword_lf("my", ["my"], "spam", labels=project.schema.labels),
           keyword_lf("song", ["song"], "ham", labels=project.schema.labels)]
    out = project.apply_lfs(lfs)
    np.testing.assert_array_equal(out.L, apply_to_project(project, lfs).L)
    project.annotate(out.item_ids[0], "spam", annotator="ana")
    assert project.human_label_vector(out.item_ids[:2]).tolist() == [1, -1]
    _, probs = majority_vote(out.L, 2, return_probs=True)
    unsure = project.store_weak_labels(probs, out.item_ids, threshold=0.8, version="v1")
    queue = project.weak_label_queue(unsure)
    session = LabelingSession(project, "bob", queue=queue, prefetch=3)
    assert session.window() == unsure[:3]
