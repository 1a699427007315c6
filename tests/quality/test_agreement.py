"""Agreement statistics against published worked examples and the reference libraries."""

from __future__ import annotations

import itertools

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from hitl_widgets.core.quality import (
    LEVELS,
    UndefinedAgreementWarning,
    bootstrap_ci,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_kappa,
    per_label,
)

nan = np.nan

# Fleiss (1971), Table 1: 30 patients, 6 psychiatrists each, 5 diagnoses (depression,
# personality disorder, schizophrenia, neurosis, other); counts of raters per diagnosis.
FLEISS_1971 = [
    [0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0],
    [2, 0, 4, 0, 0], [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6],
    [1, 0, 0, 5, 0], [1, 1, 0, 4, 0], [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1],
    [0, 0, 5, 0, 1], [3, 0, 0, 1, 2], [5, 1, 0, 0, 0], [0, 2, 0, 4, 0], [1, 0, 2, 0, 3],
    [0, 0, 0, 0, 6], [0, 1, 0, 5, 0], [0, 2, 0, 1, 3], [2, 0, 0, 4, 0], [1, 0, 0, 4, 1],
    [0, 5, 0, 1, 0], [4, 0, 0, 0, 2], [0, 2, 0, 4, 0], [1, 0, 5, 0, 0], [0, 0, 0, 0, 6],
]
# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories.
WIKIPEDIA_FLEISS = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", section C:
# 4 observers (rows) x 12 units, missing values.
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]).T
# Wikipedia, "Krippendorff's alpha", computational example: 3 coders (rows) x 15 units.
WIKIPEDIA_ALPHA = np.array([
    [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
    [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
    [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
]).T


def from_counts(counts) -> np.ndarray:
    """Items x raters from a table of raters per category (category codes 1..k)."""
    return np.array([np.repeat(np.arange(1, len(row) + 1), row) for row in counts])


def to_long(ratings: np.ndarray) -> pd.DataFrame:
    items, raters = np.nonzero(~pd.isna(ratings))
    return pd.DataFrame({"item": items, "annotator": [f"r{r}" for r in raters],
                         "label": ratings[items, raters]})


def random_ratings(rng, n, m, v, missing=0.2):
    truth = rng.integers(0, v, n)
    ratings = np.where(rng.random((n, m)) < 0.6, truth[:, None], rng.integers(0, v, (n, m)))
    ratings = ratings.astype(float)
    ratings[rng.random((n, m)) < missing] = nan
    return ratings


# -- published worked examples -------------------------------------------------------------------
def test_fleiss_1971_diagnoses_give_kappa_0_430():
    assert fleiss_kappa(from_counts(FLEISS_1971)) == pytest.approx(0.430, abs=5e-4)


def test_wikipedia_fleiss_example_gives_kappa_0_210():
    ratings = from_counts(WIKIPEDIA_FLEISS)
    assert ratings.shape == (10, 14)
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=5e-4)


@pytest.mark.parametrize(("level", "expected"), [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)])
def test_krippendorff_2011_example_with_missing_data(level, expected):
    assert krippendorff_alpha(KRIPPENDORFF_2011, level=level) == pytest.approx(expected, abs=5e-4)


def test_wikipedia_krippendorff_example_nominal_0_691():
    assert krippendorff_alpha(WIKIPEDIA_ALPHA) == pytest.approx(0.691, abs=5e-4)
    assert krippendorff_alpha(to_long(WIKIPEDIA_ALPHA)) == pytest.approx(0.691, abs=5e-4)


# -- the reference libraries on random matrices -------------------------------------------------
@pytest.mark.parametrize("seed", range(12))
def test_random_matrices_equal_the_references(seed):
    rng = np.random.default_rng(seed)
    n, m, v = int(rng.integers(5, 300)), int(rng.integers(2, 12)), int(rng.integers(2, 9))
    ratings = random_ratings(rng, n, m, v)
    for level in LEVELS:
        ref = krippendorff.alpha(ratings.T, level_of_measurement=level)
        assert krippendorff_alpha(ratings, level=level) == pytest.approx(ref, abs=1e-9)
        assert krippendorff_alpha(to_long(ratings), level=level) == pytest.approx(ref, abs=1e-9)
    full = random_ratings(rng, n, m, v, missing=0)
    ref = sm_fleiss_kappa(aggregate_raters(full)[0])
    assert fleiss_kappa(full) == pytest.approx(ref, abs=1e-9)
    assert fleiss_kappa(to_long(full)) == pytest.approx(ref, abs=1e-9)
    for weights in (None, "linear", "quadratic"):
        ref = cohen_kappa_score(full[:, 0], full[:, 1], weights=weights)
        assert cohen_kappa(full[:, 0], full[:, 1], weights=weights) == pytest.approx(ref, abs=1e-9)


def test_many_raters_and_many_classes_equal_the_reference():
    rng = np.random.default_rng(7)
    wide = random_ratings(rng, 200, 30, 3, missing=0.6)  # many raters: the count-block path
    many = random_ratings(rng, 200, 4, 50)  # many classes: the pair-of-columns path
    for ratings in (wide, many):
        for level in LEVELS:
            ref = krippendorff.alpha(ratings.T, level_of_measurement=level)
            assert krippendorff_alpha(ratings, level=level) == pytest.approx(ref, abs=1e-9)


def test_string_labels_with_an_order_equal_their_numeric_codes():
    rng = np.random.default_rng(3)
    ratings = random_ratings(rng, 80, 4, 4)
    names = np.array(["none", "low", "mid", "high"], dtype=object)
    named = np.where(np.isnan(ratings), None, names[np.nan_to_num(ratings).astype(int)])
    for level in LEVELS[:3]:
        expected = krippendorff.alpha(ratings.T + 1, level_of_measurement=level)
        got = krippendorff_alpha(named, level=level, order=list(names))
        assert got == pytest.approx(expected, abs=1e-9)


def test_cohen_kappa_with_labels_equals_sklearn_and_refuses_unknown_labels():
    a = ["cat", "dog", "dog", "cat", "bird", "dog"]
    b = ["cat", "dog", "cat", "cat", "dog", "dog"]
    labels = ["bird", "cat", "dog", "fish"]
    assert cohen_kappa(a, b, labels=labels) == pytest.approx(
        cohen_kappa_score(a, b, labels=labels), abs=1e-12)
    with pytest.raises(ValueError, match=r"Labels \['cow'\] are not in the given labels"):
        cohen_kappa(a, b[:-1] + ["cow"], labels=labels)
    with pytest.raises(ValueError, match="weights must be"):
        cohen_kappa(a, b, weights="cubic")


def test_per_label_equals_the_metric_on_binarised_ratings():
    rng = np.random.default_rng(5)
    ratings = random_ratings(rng, 150, 5, 4)
    full = random_ratings(rng, 150, 5, 4, missing=0)
    table = per_label(ratings)
    fleiss = per_label(full, metric="fleiss_kappa")
    for c in range(4):
        binary = np.where(np.isnan(ratings), nan, ratings == c)
        ref = krippendorff.alpha(binary.T, level_of_measurement="nominal")
        assert table.loc[float(c), "value"] == pytest.approx(ref, abs=1e-9)
        assert table.loc[float(c), "n_ratings"] == (ratings == c).sum()
        ref = sm_fleiss_kappa(aggregate_raters((full == c).astype(int))[0])
        assert fleiss.loc[float(c), "value"] == pytest.approx(ref, abs=1e-9)


def test_pairwise_kappa_equals_sklearn_on_each_pairs_shared_items():
    rng = np.random.default_rng(9)
    ratings = random_ratings(rng, 60, 4, 3, missing=0.3)
    table = pairwise_kappa(to_long(ratings)).set_index(["annotator_a", "annotator_b"])
    assert len(table) == 6
    for i, j in itertools.combinations(range(4), 2):
        both = ~np.isnan(ratings[:, i]) & ~np.isnan(ratings[:, j])
        row = table.loc[(f"r{i}", f"r{j}")]
        assert row["n_items"] == both.sum()
        ref = cohen_kappa_score(ratings[both, i], ratings[both, j])
        assert row["kappa"] == pytest.approx(ref, abs=1e-9)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(11)
    ratings = random_ratings(rng, 100, 3, 3)
    ci = bootstrap_ci("krippendorff_alpha", ratings, n=300, rng=1)
    assert ci == bootstrap_ci("krippendorff_alpha", ratings, n=300, rng=1)
    assert ci.low < ci.estimate < ci.high and ci.n == 300 and ci.confidence == 0.95
    assert ci != bootstrap_ci("krippendorff_alpha", ratings, n=300, rng=2)
    wide = bootstrap_ci(krippendorff_alpha, to_long(ratings), n=300, rng=1, level="interval")
    assert wide.estimate == pytest.approx(krippendorff_alpha(ratings, level="interval"))
    full = random_ratings(rng, 100, 3, 3, missing=0)
    assert bootstrap_ci("cohen_kappa", full, n=50).estimate == pytest.approx(
        cohen_kappa_score(full[:, 0], full[:, 1]))
    with pytest.raises(ValueError, match="n must be a whole number"):
        bootstrap_ci("fleiss_kappa", full, n=0)
    with pytest.raises(ValueError, match="Unknown metric 'alpha'"):
        bootstrap_ci("alpha", full)


# -- bad input ---------------------------------------------------------------------------------
def test_items_with_a_single_rating_add_nothing_to_alpha():
    extra = np.vstack([KRIPPENDORFF_2011, [[5, nan, nan, nan], [nan, nan, 1, nan]]])
    assert krippendorff_alpha(extra) == pytest.approx(krippendorff_alpha(KRIPPENDORFF_2011))
    assert krippendorff_alpha(extra) == pytest.approx(
        krippendorff.alpha(extra.T, level_of_measurement="nominal"), abs=1e-12)
    with pytest.raises(ValueError, match="at least one item rated by two or more"):
        krippendorff_alpha([[1, nan], [nan, 2], [3, nan]])


def test_one_category_everywhere_is_undefined_and_said_so():
    same = np.ones((5, 3))
    with pytest.warns(UndefinedAgreementWarning, match="Fleiss' kappa is undefined"):
        assert np.isnan(fleiss_kappa(same))
    with pytest.warns(UndefinedAgreementWarning, match="Krippendorff's alpha is undefined"):
        assert np.isnan(krippendorff_alpha(same))
    with pytest.warns(UndefinedAgreementWarning, match="Cohen's kappa is undefined"):
        assert np.isnan(cohen_kappa(["a"] * 4, ["a"] * 4))


def test_fleiss_refuses_items_with_different_numbers_of_ratings():
    with pytest.raises(ValueError, match="same number of ratings on every item.*krippendorff"):
        fleiss_kappa(KRIPPENDORFF_2011)
    with pytest.raises(ValueError, match="at least two ratings per item"):
        fleiss_kappa([[1], [2]])
    # A row with no rating at all is not an item: it is ignored, not an error.
    ratings = from_counts(WIKIPEDIA_FLEISS).astype(float)
    assert fleiss_kappa(np.vstack([ratings, np.full(14, nan)])) == pytest.approx(
        fleiss_kappa(ratings))


def test_labels_outside_the_order_are_refused():
    with pytest.raises(ValueError, match=r"Labels \['4'\] are not in the given labels/order"):
        krippendorff_alpha([["1", "2"], ["3", "4"]], order=["1", "2", "3"])
    with pytest.raises(ValueError, match="needs numeric labels or an explicit order"):
        krippendorff_alpha([["lo", "hi"], ["hi", "hi"]], level="ordinal")
    with pytest.raises(ValueError, match="Unknown level 'nominl'"):
        krippendorff_alpha([[1, 2], [2, 2]], level="nominl")
    with pytest.raises(ValueError, match="items x raters array"):
        krippendorff_alpha([1, 2, 3])
    with pytest.raises(ValueError, match="missing \\['annotator'\\]"):
        krippendorff_alpha(pd.DataFrame({"item": [1], "label": ["a"]}))


def test_an_annotators_latest_label_of_an_item_counts():
    df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3, 1],
                       "annotator": ["x", "y", "x", "y", "x", "y", "y"],
                       "label": ["a", "b", "b", "b", "a", "a", "a"]})  # y changed item 1 to "a"
    latest = df.drop(index=1)
    assert krippendorff_alpha(df) == krippendorff_alpha(latest) == 1.0
    assert fleiss_kappa(df) == fleiss_kappa(latest) == 1.0
    assert pairwise_kappa(df)["n_items"].tolist() == [3]


def test_docstring_examples_run():
    import doctest

    import hitl_widgets.core.quality._agreement as agreement

    assert doctest.testmod(agreement).failed == 0
