"""Acquisition scores against hand-computed values, the seeded ranking rule, the one ranking
policy (asking_order), batch diversity, BALD, and the PoolScorer's kept scores and order."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import hitl_widgets.core.active._ranking as active
from hitl_widgets.core.active import (
    STRATEGIES,
    PoolScorer,
    asking_order,
    bald,
    check_strategy,
    diverse_batch,
    entropy,
    least_confidence,
    margin,
    rank,
    rank_reference,
)

PROBA = [[0.7, 0.2, 0.1], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.4, 0.35, 0.25]]
H = [-(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1)), math.log(2), 0.0,
     -(0.4 * math.log(0.4) + 0.35 * math.log(0.35) + 0.25 * math.log(0.25))]


def _both(values):
    return [np.array(values), torch.tensor(values, dtype=torch.float64)]


# -- scores ---------------------------------------------------------------------------------
@pytest.mark.parametrize("proba", _both(PROBA), ids=["numpy", "torch"])
def test_scores_equal_hand_computed_values(proba):
    np.testing.assert_allclose(np.asarray(least_confidence(proba)), [0.3, 0.5, 0.0, 0.6])
    np.testing.assert_allclose(np.asarray(margin(proba)), [0.5, 1.0, 0.0, 0.95])
    np.testing.assert_allclose(np.asarray(entropy(proba)), H)


def test_margin_with_one_class_seen_scores_every_item_alike():
    assert margin(np.array([[1.0], [1.0]])).tolist() == [1.0, 1.0]


def test_scores_refuse_one_dimensional_input():
    with pytest.raises(ValueError, match="2-D"):
        margin(np.array([0.5, 0.5]))


# -- ranking --------------------------------------------------------------------------------
def test_rank_puts_the_highest_scores_first():
    assert rank(np.array([0.1, 0.9, 0.5, 0.7]), 3, np.random.default_rng(0)).tolist() == [1, 3, 2]


def test_rank_breaks_ties_by_the_seeded_hash_key():
    # The documented rule: (score desc, key asc) with key = splitmix64(index ^ salt) and salt one
    # integer drawn from the generator.
    scores = np.zeros(50)
    salt = np.uint64(np.random.default_rng(5).integers(0, 2**63))
    expected = np.argsort(active._tie_keys(np.arange(50), salt), kind="stable")
    assert rank(scores, 50, np.random.default_rng(5)).tolist() == expected.tolist()


def test_rank_is_deterministic_under_a_seed_and_ties_change_with_it():
    scores = np.repeat([0.2, 0.8], 500)
    first = rank(scores, 20, np.random.default_rng(1))
    assert first.tolist() == rank(scores, 20, np.random.default_rng(1)).tolist()
    assert first.tolist() != rank(scores, 20, np.random.default_rng(2)).tolist()
    assert set(first.tolist()) <= set(range(500, 1000))


@pytest.mark.parametrize("seed", range(12))
def test_fast_rank_equals_the_full_sort(seed):
    g = np.random.default_rng(seed)
    size = int(g.choice([3, 900, 40_000, 250_000]))
    scores = g.integers(0, 4, size).astype(float) if seed % 2 else g.random(size)
    exclude = [None, g.random(size) < 0.3, g.choice(size, size // 3, replace=False)][seed % 3]
    n = int(g.integers(1, 120))
    fast = rank(scores, n, np.random.default_rng(seed), exclude=exclude)
    full = rank_reference(scores, n, np.random.default_rng(seed), exclude=exclude)
    assert fast.tolist() == full.tolist()


@pytest.mark.parametrize("ties", ["none", "a block", "mostly"])
def test_ranking_the_whole_pool_equals_the_full_sort(ties):
    g = np.random.default_rng(1)
    scores = {"none": g.random(50_000), "mostly": g.integers(0, 20, 50_000) / 20,
              "a block": np.r_[g.random(40_000), np.full(10_000, 0.5)]}[ties]
    labeled = g.choice(50_000, 5_000, replace=False)
    for exclude in (None, labeled):
        fast = rank(scores, 50_000, np.random.default_rng(3), exclude=exclude)
        full = rank_reference(scores, 50_000, np.random.default_rng(3), exclude=exclude)
        assert fast.tolist() == full.tolist()


def test_rank_of_a_million_scores_equals_the_full_sort():
    scores = np.random.default_rng(0).random(1_000_000).round(4)  # many ties
    labeled = np.arange(0, 1_000_000, 997)
    full = rank_reference(scores, 100, np.random.default_rng(7), exclude=labeled)
    for n in (1, 10, 100):  # one seed, one salt: each shorter ranking is a prefix of the full
        fast = rank(scores, n, np.random.default_rng(7), exclude=labeled)
        assert fast.tolist() == full[:n].tolist()


def test_rank_gives_the_same_order_for_numpy_and_torch():
    scores = np.random.default_rng(3).integers(0, 10, 5000) / 10
    for values in (torch.tensor(scores), torch.tensor(scores, dtype=torch.float32)):
        expected = rank(values.numpy(), 30, np.random.default_rng(9))
        assert rank(values, 30, np.random.default_rng(9)).tolist() == expected.tolist()


def test_rank_on_a_gpu_tensor_uses_topk_and_gives_the_same_order(monkeypatch):
    # No GPU here: route a CPU tensor through the device path (torch.topk) to check it agrees.
    monkeypatch.setattr(active, "_is_device_tensor", lambda v: isinstance(v, torch.Tensor))
    scores = np.random.default_rng(4).integers(0, 10, 5000) / 10
    exclude = np.arange(0, 5000, 3)
    got = rank(torch.tensor(scores), 40, np.random.default_rng(2), exclude=exclude)
    assert got.tolist() == rank(scores, 40, np.random.default_rng(2), exclude=exclude).tolist()


def test_rank_never_picks_excluded_items():
    scores = np.arange(10, dtype=float)
    rng = np.random.default_rng(0)
    assert rank(scores, 3, rng, exclude=[9, 8, -3]).tolist() == [6, 5, 4]
    mask = scores > 4
    assert rank(scores, 3, rng, exclude=mask).tolist() == [4, 3, 2]
    assert rank(scores, 20, rng, exclude=mask).tolist() == [4, 3, 2, 1, 0]
    assert rank(scores, 3, rng, exclude=np.ones(10, bool)).tolist() == []


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"rng": 0}, TypeError, "Generator"),
    ({"scores": np.array([0.1, np.nan])}, ValueError, "NaN"),
    ({"scores": np.zeros((2, 2))}, ValueError, "1-D"),
    ({"exclude": np.zeros(3, bool)}, ValueError, "shape"),
    ({"exclude": [7]}, ValueError, "outside the pool"),
])
def test_rank_refuses_bad_input_with_advice(kwargs, error, match):
    args = {"scores": np.array([0.1, 0.2]), "n": 1, "rng": np.random.default_rng(0),
            **kwargs}
    with pytest.raises(error, match=match):
        rank(args.pop("scores"), args.pop("n"), args.pop("rng"), **args)


# -- BALD -----------------------------------------------------------------------------------
# -- the ranking policy ---------------------------------------------------------------------
def test_asking_order_puts_every_item_once_by_score_with_the_seeded_tie_rule():
    scores = np.random.default_rng(0).integers(0, 5, 2000) / 4  # many ties
    order = asking_order(scores, np.random.default_rng(3))
    assert sorted(order.tolist()) == list(range(2000))
    assert np.all(np.diff(scores[order]) <= 0)
    # One draw from the caller's stream seeds the tie rule's own stream.
    ties = np.random.default_rng(np.random.SeedSequence(
        int(np.random.default_rng(3).integers(2**63))).spawn(3)[0])
    assert order.tolist() == rank(scores, 2000, ties).tolist()
    assert order.tolist() == asking_order(scores, np.random.default_rng(3)).tolist()
    assert order.tolist() != asking_order(scores, np.random.default_rng(4)).tolist()


def test_asking_order_random_is_a_seeded_permutation_whatever_the_scores():
    a = asking_order(np.arange(300.0), np.random.default_rng(1), strategy="random")
    b = asking_order(None, np.random.default_rng(1), strategy="random")  # no scores
    assert sorted(a.tolist()) == list(range(300)) and a.tolist() != list(range(299, -1, -1))
    assert b.size == 0
    again = asking_order(np.zeros(300), np.random.default_rng(1), strategy="random")
    assert a.tolist() == again.tolist()


def test_asking_order_advances_the_callers_stream_by_one_draw_whatever_it_does():
    scores, emb = np.random.default_rng(0).random(500), np.random.default_rng(1).random((500, 3))
    after = []
    for kwargs in ({}, {"strategy": "random"}, {"explore": 0.4},
                   {"strategy": "diverse", "features": emb, "head": 50}):
        rng = np.random.default_rng(9)
        asking_order(scores, rng, **kwargs)
        after.append(rng.integers(2**63))
    assert len(set(after)) == 1


def test_asking_order_diverse_fills_the_head_in_fresh_batches_and_the_first_batch_ignores_head():
    g = np.random.default_rng(0)
    emb = np.repeat(g.normal(0, 10, (30, 2)), 20, axis=0) + g.normal(0, 0.01, (600, 2))
    scores = g.random(600)
    labeled = g.choice(600, 100, replace=False)
    long = asking_order(scores, np.random.default_rng(5), strategy="diverse", features=emb,
                        exclude=labeled, batch_size=10, head=40)
    short = asking_order(scores, np.random.default_rng(5), strategy="diverse", features=emb,
                         exclude=labeled, batch_size=10, head=10)
    assert long[:10].tolist() == short[:10].tolist()
    assert sorted(long.tolist()) == list(range(600))  # labeled items stay in the order
    assert not set(long[:40].tolist()) & set(labeled.tolist())
    first = diverse_batch(emb, scores, 10, np.random.default_rng(np.random.SeedSequence(
        int(np.random.default_rng(5).integers(2**63))).spawn(3)[1]), exclude=labeled)
    assert long[:10].tolist() == first.tolist()


def test_asking_order_explore_gives_about_that_share_of_places_to_random_items():
    scores = np.linspace(0, 1, 10_000)
    by_score = asking_order(scores, np.random.default_rng(0))
    for seed in range(5):
        order = asking_order(scores, np.random.default_rng(seed), explore=0.3)
        assert sorted(order.tolist()) == list(range(10_000))
        # ~30 % of the first 1000 places are random items, most of them from outside the top
        outside = np.mean(~np.isin(order[:1000], by_score[:1000]))
        assert 0.2 < outside < 0.35
    assert asking_order(scores, np.random.default_rng(7), explore=0.3).tolist() == \
        asking_order(scores, np.random.default_rng(7), explore=0.3).tolist()
    assert asking_order(scores, np.random.default_rng(7), explore=1.0).tolist() != \
        by_score.tolist()


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"rng": 0}, TypeError, "Generator"),
    ({"explore": 1.5}, ValueError, "between 0 and 1"),
    ({"strategy": "margn"}, ValueError, r"Unknown strategy 'margn'; expected one of \['random"),
])
def test_asking_order_refuses_bad_input_with_advice(kwargs, error, match):
    args = {"rng": np.random.default_rng(0), **kwargs}
    with pytest.raises(error, match=match):
        asking_order(np.array([0.1, 0.2]), args.pop("rng"), **args)


def test_one_list_of_strategy_names_and_bald_needs_dropout():
    assert STRATEGIES == ("random", "least_confidence", "margin", "entropy", "diverse", "bald")
    assert set(active.SCORERS) < set(STRATEGIES)
    assert [check_strategy(s) for s in STRATEGIES] == list(STRATEGIES)
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ValueError, match="TorchClassifier\\(dropout=0.2\\).*LogisticRegression"):
        check_strategy("bald", LogisticRegression())


def test_bald_equals_the_hand_computed_mutual_information():
    passes = np.array([[[0.9, 0.1]], [[0.5, 0.5]]])
    mean_entropy = (-(0.9 * math.log(0.9) + 0.1 * math.log(0.1)) + math.log(2)) / 2
    expected = -(0.7 * math.log(0.7) + 0.3 * math.log(0.3)) - mean_entropy
    assert bald(passes)[0] == pytest.approx(expected)
    assert float(bald(torch.tensor(passes))[0]) == pytest.approx(expected)
    assert bald(np.repeat(passes[:1], 5, axis=0))[0] == pytest.approx(0.0)


def test_bald_refuses_two_dimensional_input():
    with pytest.raises(ValueError, match="T, n_items, n_classes"):
        bald(np.array(PROBA))


# -- diverse batches ------------------------------------------------------------------------
def _near_pairs(points: np.ndarray, eps: float) -> int:
    d = np.linalg.norm(points[:, None] - points[None], axis=2)
    return int((d[np.triu_indices(len(points), 1)] < eps).sum())


def test_diverse_batch_has_fewer_near_duplicates_than_top_k_on_a_clustered_pool():
    g = np.random.default_rng(0)
    centres = g.uniform(0, 10, (20, 8))
    blob = np.repeat(np.arange(20), 50)
    emb = centres[blob] + g.normal(0, 0.02, (1000, 8))
    scores = np.where(blob == 0, 0.9, 0.5) + g.uniform(0, 0.05, 1000)  # blob 0 most uncertain
    top = rank(scores, 10, np.random.default_rng(1))
    diverse = diverse_batch(emb, scores, 10, np.random.default_rng(1))
    near_top, near_diverse = _near_pairs(emb[top], 0.5), _near_pairs(emb[diverse], 0.5)
    print(f"near-duplicate pairs in a batch of 10: top-k {near_top}, diverse {near_diverse}")
    assert near_diverse < near_top
    assert diverse[0] == top[0]  # starts from the most uncertain item
    assert len(set(diverse.tolist())) == 10


def test_diverse_batch_respects_exclude_and_accepts_sparse_and_torch():
    from scipy import sparse

    g = np.random.default_rng(2)
    emb, scores = g.random((300, 5)), g.random(300)
    exclude = np.arange(0, 300, 2)
    base = diverse_batch(emb, scores, 8, np.random.default_rng(0), exclude=exclude)
    assert all(i % 2 == 1 for i in base.tolist())
    for other in (sparse.csr_matrix(emb), torch.tensor(emb)):
        got = diverse_batch(other, scores, 8, np.random.default_rng(0), exclude=exclude)
        assert got.tolist() == base.tolist()
    assert diverse_batch(emb, scores, 500, np.random.default_rng(0)).size == 300


def test_diverse_batch_refuses_mismatched_rows():
    with pytest.raises(ValueError, match="rows"):
        diverse_batch(np.zeros((3, 2)), np.zeros(4), 1, np.random.default_rng(0))


# -- PoolScorer -----------------------------------------------------------------------------
class CountingModel:
    """predict_proba from a fixed rule, counting calls and rows."""

    classes_ = np.array(["ham", "spam"])

    def __init__(self):
        self.calls = 0

    def predict_proba(self, X):
        self.calls += 1
        p = 1 / (1 + np.exp(-np.asarray(X)[:, 0]))
        return np.column_stack([1 - p, p])


def _pool(n=500, seed=0):
    return np.random.default_rng(seed).normal(0, 2, (n, 3))


def test_pool_scorer_next_uses_kept_scores_without_calling_the_model():
    X, model = _pool(), CountingModel()
    scorer = PoolScorer("margin", seed=0, chunk=64).rescore(model, X)
    calls = model.calls
    assert calls == math.ceil(500 / 64)
    labeled = set()
    for _ in range(20):
        picks = scorer.next(5, exclude=np.array(sorted(labeled), dtype=int))
        assert not labeled & set(picks.tolist())
        labeled |= set(picks.tolist())
    assert model.calls == calls
    expected = asking_order(margin(model.predict_proba(X)), np.random.default_rng(0))
    scorer = PoolScorer("margin", seed=0).rescore(model, X)
    assert scorer.order.tolist() == expected.tolist()
    assert scorer.next(5).tolist() == expected[:5].tolist()
    assert scorer.next(5, exclude=expected[[0, 2]]).tolist() == expected[[1, 3, 4, 5, 6]].tolist()
    mask = np.zeros(500, bool)
    mask[expected[:499]] = True
    assert scorer.next(5, exclude=mask).tolist() == expected[499:].tolist()


def test_pool_scorer_keeps_predictions_and_counts_versions():
    X, model = _pool(), CountingModel()
    scorer = PoolScorer("entropy", seed=1)
    assert scorer.version == 0 and len(scorer) == 0
    scorer.rescore(model, X)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(scorer.scores, entropy(proba))
    np.testing.assert_allclose(scorer.proba_top, proba.max(axis=1))
    assert scorer.pred.tolist() == model.classes_[proba.argmax(axis=1)].tolist()
    assert scorer.rescore(model, X).version == 2


def test_pool_scorer_chunking_does_not_change_scores():
    X, model = _pool(1000), CountingModel()
    small = PoolScorer("least_confidence", chunk=7).rescore(model, X)
    whole = PoolScorer("least_confidence", chunk=10_000).rescore(model, X)
    np.testing.assert_array_equal(small.scores, whole.scores)


def test_pool_scorer_accepts_a_probability_function():
    X, model = _pool(), CountingModel()
    scorer = PoolScorer("margin").rescore(model.predict_proba, X)
    np.testing.assert_allclose(scorer.scores, margin(model.predict_proba(X)))
    assert scorer.pred.tolist() == model.predict_proba(X).argmax(axis=1).tolist()


def test_random_strategy_needs_no_model_and_repeats_under_a_seed():
    X = _pool()
    a = PoolScorer("random", seed=3).rescore(None, X).next(10, exclude=[0, 1])
    b = PoolScorer("random", seed=3).rescore(None, X).next(10, exclude=[0, 1])
    assert a.tolist() == b.tolist() and not {0, 1} & set(a.tolist())
    first_round = PoolScorer("margin", seed=0).rescore(None, X)  # no model yet: seeded order
    assert len(set(first_round.next(10).tolist())) == 10


def test_diverse_strategy_batches_from_the_kept_features():
    X, model = _pool(), CountingModel()
    scorer = PoolScorer("diverse", seed=0, explore=0.2).rescore(model, X)
    picks = scorer.next(10, exclude=np.arange(100))
    assert len(set(picks.tolist())) == 10 and picks.min() >= 100


def test_pool_scorer_scores_a_torch_classifier_in_torch():
    from hitl_widgets.core.active import TorchClassifier

    X = _pool(400).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    clf = TorchClassifier(hidden=8, max_epochs=5, device="cpu").fit(X[:100], y[:100])
    scorer = PoolScorer("margin", chunk=128).rescore(clf, X)
    np.testing.assert_allclose(scorer.scores, margin(clf.predict_proba(X)), atol=1e-6)
    assert set(scorer.pred.tolist()) <= {0, 1}
    mc = PoolScorer("bald", seed=0, mc_passes=4).rescore(clf, X)
    assert (mc.scores >= -1e-9).all() and mc.next(3).size == 3


def test_pool_scorer_refuses_unknown_strategy_and_early_next():
    with pytest.raises(ValueError) as info:
        PoolScorer("uncertainty")
    assert all(name in str(info.value) for name in STRATEGIES)
    with pytest.raises(ValueError, match="rescore"):
        PoolScorer().next(1)
    with pytest.raises(TypeError):
        PoolScorer(strategy="margin", seeed=1)
    with pytest.raises(TypeError, match="not both"):
        PoolScorer(seed=1, rng=np.random.default_rng(1))
    with pytest.raises(TypeError, match="predict_proba"):
        PoolScorer().rescore(object(), _pool())


@pytest.mark.parametrize("k", [1, 2, 3, 5, 20])
@pytest.mark.parametrize("strategy", ["margin", "least_confidence", "entropy"])
def test_pool_scorer_scores_equal_the_pure_functions_exactly(strategy, k):
    g = np.random.default_rng(k)
    proba = g.dirichlet(np.ones(k), 300)
    proba[:40] = np.full(k, 1 / k)  # ties between classes
    for p in (proba, proba.astype(np.float32)):  # float32 features give float32 probabilities
        scorer = PoolScorer(strategy, chunk=64).rescore(lambda rows, p=p: p[rows], np.arange(300))
        np.testing.assert_array_equal(scorer.scores, active.SCORERS[strategy](p))
        np.testing.assert_array_equal(scorer.pred, p.argmax(axis=1))
        np.testing.assert_array_equal(scorer.proba_top, p.max(axis=1))


def test_exclude_may_be_a_set_or_an_empty_list():
    scores = np.arange(5, dtype=float)
    assert rank(scores, 2, np.random.default_rng(0), exclude={4, 3}).tolist() == [2, 1]
    assert rank(scores, 2, np.random.default_rng(0), exclude=[]).tolist() == [4, 3]


def test_bald_strategy_refuses_a_model_without_dropout():
    from sklearn.linear_model import LogisticRegression

    X = _pool()
    model = LogisticRegression().fit(X, X[:, 0] > 0)
    with pytest.raises(TypeError, match="torch model with dropout"):
        PoolScorer("bald").rescore(model, X)
