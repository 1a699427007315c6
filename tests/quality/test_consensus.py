"""Consensus: majority vote and Dawid-Skene, against crowd-kit on simulated crowds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene, MajorityVote

from hitl_widgets.core.quality import DawidSkeneResult, dawid_skene, majority_vote

# crowd-kit's own pandas deprecation warnings are not ours to act on.
pytestmark = pytest.mark.filterwarnings("ignore:::crowdkit")


def crowd(seed: int, n_items: int = 800, n_workers: int = 25, n_classes: int = 3,
          per_item: int = 4, names: list | None = None) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """A simulated crowd: each worker has a known confusion matrix (a diagonal of their accuracy,
    the rest of each row spread at random); returns long labels, the truth and the matrices."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_items)
    confusion = {}
    for w in range(n_workers):
        acc = rng.uniform(0.3, 0.95)
        off = rng.dirichlet(np.ones(n_classes - 1), size=n_classes) * (1 - acc)
        m = np.zeros((n_classes, n_classes))
        for t in range(n_classes):
            m[t] = np.insert(off[t], t, acc)
        confusion[w] = m
    items = np.repeat(np.arange(n_items), per_item)
    workers = np.concatenate([rng.choice(n_workers, per_item, replace=False)
                              for _ in range(n_items)])
    given = np.array([rng.choice(n_classes, p=confusion[w][truth[i]])
                      for i, w in zip(items, workers, strict=True)])
    labels = np.asarray(names, dtype=object)[given] if names else given
    df = pd.DataFrame({"item": items, "annotator": [f"w{w:02d}" for w in workers],
                       "label": labels})
    return df, truth, confusion


def as_crowdkit(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns={"item": "task", "annotator": "worker"})


# -- majority vote -------------------------------------------------------------------------------
def test_majority_vote_reports_share_votes_and_flags_below_the_threshold():
    df = pd.DataFrame({"item": ["b", "b", "b", "a", "a", "a", "c"],
                       "annotator": ["x", "y", "z", "x", "y", "z", "x"],
                       "label": ["spam", "spam", "spam", "ham", "spam", "ham", "ham"]})
    vote = majority_vote(df, threshold=0.75)
    assert vote.index.tolist() == ["a", "b", "c"] and vote.index.name == "item"
    assert vote["label"].tolist() == ["ham", "spam", "ham"]
    assert vote["confidence"].tolist() == pytest.approx([2 / 3, 1.0, 1.0])
    assert vote["n_votes"].tolist() == [3, 3, 1]  # c has a single rating: kept, not flagged
    assert vote["flagged"].tolist() == [True, False, False]
    assert not majority_vote(df)["flagged"].any()  # no threshold: nothing is flagged


def test_majority_vote_ties_go_to_the_smallest_label():
    df = pd.DataFrame({"item": [1, 1, 2, 2, 2, 2], "annotator": list("xyxyzw"),
                       "label": ["spam", "ham", "eggs", "spam", "spam", "eggs"]})
    vote = majority_vote(df)
    assert vote["label"].tolist() == ["ham", "eggs"]
    assert vote["confidence"].tolist() == [0.5, 0.5]


def test_majority_vote_equals_crowdkit_where_there_is_no_tie():
    df, _, _ = crowd(0, per_item=5)
    ours = majority_vote(df)
    ref = MajorityVote().fit(as_crowdkit(df))
    probas = ref.probas_.sort_index()
    untied = (probas.values == probas.values.max(axis=1, keepdims=True)).sum(axis=1) == 1
    assert untied.mean() > 0.5
    assert (ours["label"].values[untied] == ref.labels_.sort_index().values[untied]).all()
    assert ours["confidence"].values == pytest.approx(probas.max(axis=1).values)


def test_majority_vote_refuses_bad_thresholds_and_frames():
    df = pd.DataFrame({"item": [1], "annotator": ["x"], "label": ["a"]})
    with pytest.raises(ValueError, match="threshold must be a share between 0 and 1"):
        majority_vote(df, threshold=75)
    with pytest.raises(ValueError, match=r"needs columns item, annotator, label; missing \['label'\]"):
        majority_vote(df.drop(columns="label"))
    with pytest.raises(TypeError, match="Expected a long DataFrame"):
        majority_vote([("1", "x", "a")])
    assert majority_vote(df.iloc[:0]).empty


# -- Dawid-Skene ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("seed", "n_classes", "names"), [
    (1, 2, None), (2, 3, None), (3, 4, ["neg", "neu", "pos", "mixed"]), (4, 5, None)])
def test_dawid_skene_labels_equal_crowdkit(seed, n_classes, names):
    df, truth, _ = crowd(seed, n_classes=n_classes, names=names)
    ref = DawidSkene(n_iter=100).fit(as_crowdkit(df))
    ours = dawid_skene(df, n_iter=100)
    assert ours.n_iter == len(ref.loss_history_)
    assert ours.loss_history == pytest.approx(ref.loss_history_, abs=1e-9)
    assert ours.labels.index.tolist() == sorted(ref.labels_.index)
    assert (ours.labels.values == ref.labels_.sort_index().values).all()
    probas = ref.probas_.sort_index()[sorted(ref.probas_.columns)]
    assert ours.posteriors.values == pytest.approx(probas.values, abs=1e-8)


def test_dawid_skene_recovers_known_annotator_skill():
    df, truth, confusion = crowd(5, n_items=3000, n_workers=12, n_classes=3, per_item=5)
    result = dawid_skene(df)
    assert isinstance(result, DawidSkeneResult) and result.converged
    assert (result.labels.values == truth).mean() > (majority_vote(df)["label"].values == truth
                                                     ).mean() - 0.005
    true_acc = pd.Series({f"w{w:02d}": np.diag(m).mean() for w, m in confusion.items()})
    assert np.corrcoef(result.skills.sort_index(), true_acc.sort_index())[0, 1] > 0.95
    matrix = result.confusions["w00"]
    assert matrix.index.name == "true" and matrix.columns.name == "given"
    assert matrix.sum(axis=1).values == pytest.approx(np.ones(3))
    assert np.abs(matrix.values - confusion[0]).max() < 0.1
    assert result.posteriors.sum(axis=1).values == pytest.approx(np.ones(3000))
    assert result.priors.sum() == pytest.approx(1.0)


def test_dawid_skene_stops_at_n_iter_and_refuses_bad_settings():
    df, _, _ = crowd(6, n_items=300)
    assert dawid_skene(df, n_iter=2).n_iter == 2 and not dawid_skene(df, n_iter=2).converged
    with pytest.raises(ValueError, match="n_iter must be a whole number"):
        dawid_skene(df, n_iter=0)
    with pytest.raises(ValueError, match="got no labels"):
        dawid_skene(df.iloc[:0])


# -- bad input shared by both ---------------------------------------------------------------------
def test_an_annotators_latest_label_counts_once():
    df = pd.DataFrame({"item": [1, 1, 1, 1], "annotator": ["x", "y", "z", "x"],
                       "label": ["a", "b", "b", "b"]})  # x changed their mind: a -> b
    vote = majority_vote(df)
    assert vote.loc[1, "n_votes"] == 3 and vote.loc[1, "confidence"] == 1.0
    big, _, _ = crowd(7, n_items=400)
    again = pd.concat([big.assign(label=big["label"].sample(frac=1, random_state=0).values),
                       big], ignore_index=True)  # earlier answers first, the current ones last
    assert dawid_skene(again).labels.equals(dawid_skene(big).labels)
    assert majority_vote(again).equals(majority_vote(big))


def test_missing_labels_and_string_items_are_handled():
    df = pd.DataFrame({"item": ["q2", "q2", "q1", "q1", "q1"],
                       "annotator": ["x", "y", "x", "y", "z"],
                       "label": ["a", None, "b", "b", "a"]})
    vote = majority_vote(df)
    assert vote.index.tolist() == ["q1", "q2"] and vote["n_votes"].tolist() == [3, 1]
    assert dawid_skene(df).labels.to_dict() == {"q1": "b", "q2": "a"}


def test_docstring_examples_run():
    import doctest

    import hitl_widgets.core.quality._consensus as consensus

    assert doctest.testmod(consensus).failed == 0
