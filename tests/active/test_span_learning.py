"""Active learning for spans: the ActiveLearning loop ranks span items by a real span model's
uncertainty (a scikit-learn token classifier over hashed features, trained on the stored
spans' BIO tags), serves the most uncertain first, retrains on its background thread, and
stores the landed model's spans as suggestions; bad scorer or model output fails the retrain
and keeps the previous ranking."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from hitl_widgets.core.active import (
    SpanActiveLearning,
    TokenTagger,
    bio_tags,
    entropy_mean,
    least_confident_token,
    min_span_score,
)
from hitl_widgets.core.project import Project

NAMES = ["Ada", "Bob", "Cy", "Dee", "Eve", "Fay", "Gus", "Hal"]
PLACES = ["Rome", "Oslo", "Lima", "Kyiv"]


def _corpus():
    rng = np.random.default_rng(0)
    texts, gold = [], []
    for k in range(40):
        who, where = rng.choice(NAMES), rng.choice(PLACES)
        form = k % 4
        if form == 0:
            text = f"{who} flew to {where} today"
            spans = [(0, len(who), "PER"), (len(who) + 8, len(who) + 8 + len(where), "LOC")]
        elif form == 1:
            text = f"yesterday {who} met friends"
            spans = [(10, 10 + len(who), "PER")]
        elif form == 2:
            text = f"the weather in {where} was mild number {k}"
            spans = [(15, 15 + len(where), "LOC")]
        else:
            text = f"nothing happened at all, item {k}"
            spans = []
        texts.append(text)
        gold.append(spans)
    return texts, gold


@pytest.fixture
def project(tmp_path):
    p = Project(tmp_path / "al.hitl", span_labels=["PER", "LOC"])
    texts, _ = _corpus()
    p.add_items(texts, id=[f"t{k}" for k in range(len(texts))])
    yield p
    p.close()


class GatedTagger(TokenTagger):
    """A TokenTagger whose fit waits for the test to open a gate: proof that the queue keeps
    serving while the model trains (no timing involved)."""

    gate = threading.Event()
    fitting = threading.Event()

    def fit(self, texts, spans):
        GatedTagger.fitting.set()
        assert GatedTagger.gate.wait(30), "the test never opened the gate"
        return super().fit(texts, spans)


def test_queue_serves_the_most_uncertain_items_first_and_retrains_in_the_background(project):
    texts, gold = _corpus()
    GatedTagger.gate.clear()
    GatedTagger.fitting.clear()
    al = SpanActiveLearning(project, model=GatedTagger(), retrain_every=6, suggest_top=5)
    landed = []
    al.subscribe(lambda kind, info: landed.append((kind, threading.current_thread().name)))
    first = [f"t{k}" for k in range(6)]
    try:
        for item in first:
            k = int(item[1:])
            project.submit_spans(item, gold[k], annotator="ana")
        assert GatedTagger.fitting.wait(30)
        # The fit is blocked on its own thread; the queue still answers (its seeded random
        # order, before any model).
        assert al.status()["fitting"] and al.status()["model_version"] is None
        before = al.next_ids(project, "ana", set(), 5)
        assert len(before) == 5 and not set(before) & set(first)
        GatedTagger.gate.set()
        al.wait()
        assert al.status()["model_version"] == "m1" and al.status()["error"] is None
        assert ("model", "hitl-retrain") in landed  # landed by the retrain thread (no loop)

        # The same model fitted here ranks the pool the same way: the queue serves the open
        # items of highest least-confident-token uncertainty first.
        reference = TokenTagger().fit([texts[int(i[1:])] for i in first],
                                      [gold[int(i[1:])] for i in first])
        scores = least_confident_token(reference.predict_spans_proba(texts))
        open_items = [k for k in range(len(texts)) if f"t{k}" not in first]
        served = al.next_ids(project, "ana", set(), 8)
        served_scores = [scores[int(i[1:])] for i in served]
        assert served_scores == pytest.approx(sorted(scores[open_items], reverse=True)[:8])
        assert all(a >= b - 1e-12 for a, b in zip(served_scores, served_scores[1:],
                                                   strict=False))
        assert max(scores[open_items]) > min(scores[open_items])  # the ranking says something

        # The landed model's spans are suggestions for the next items, version m1.
        suggested = project.span_suggestions(served[:5])
        assert set(suggested) == set(served[:5])
        assert {s["model_version"] for s in suggested.values()} == {"m1"}

        # Labeling the served items retrains again (m2), without blocking the caller.
        for item in served[:6]:
            project.submit_spans(item, gold[int(item[1:])], annotator="ana")
        al.wait()
        assert al.status()["model_version"] == "m2"
        assert not set(al.next_ids(project, "ana", set(), 30)) & set(first + served[:6])
        assert al.status()["n_human_labels"] == 12
        dist = al.label_distribution().set_index("label")["human"].to_dict()
        assert dist == {"PER": sum(len([s for s in gold[int(i[1:])] if s[2] == "PER"])
                                   for i in first + served[:6]),
                        "LOC": sum(len([s for s in gold[int(i[1:])] if s[2] == "LOC"])
                                   for i in first + served[:6])}
    finally:
        GatedTagger.gate.set()
        al.close()


def test_undoing_a_submission_opens_the_item_again(project):
    texts, gold = _corpus()
    al = SpanActiveLearning(project, retrain_every=100)
    try:
        project.submit_spans("t0", gold[0], annotator="ana")
        assert "t0" not in al.next_ids(project, "ana", set(), 40)
        project.undo_spans("t0", annotator="ana")
        al.reset("ana")
        assert "t0" in al.next_ids(project, "ana", set(), 40)
    finally:
        al.close()


def test_a_scorer_ranks_without_a_model(project):
    texts, _ = _corpus()
    al = SpanActiveLearning(project, uncertainty=lambda batch: [len(t) for t in batch])
    try:
        al.wait()
        served = al.next_ids(project, "ana", set(), 3)
        assert [len(texts[int(i[1:])]) for i in served] == sorted(map(len, texts))[::-1][:3]
        assert al.status()["model_version"] == "m1"
    finally:
        al.close()


@pytest.mark.parametrize("scorer, match", [
    (lambda batch: [float("nan")] * len(batch), "NaN or infinite"),
    (lambda batch: [1.0, 2.0], "shape"),
    (lambda batch: ["high"] * len(batch), "non-numeric"),
])
def test_bad_scores_fail_the_retrain_and_keep_the_order(project, scorer, match):
    al = SpanActiveLearning(project, uncertainty=scorer)
    try:
        al.wait()
        status = al.status()
        assert status["model_version"] is None and match in status["error"]
        assert len(al.next_ids(project, "ana", set(), 5)) == 5  # the seeded order still serves
    finally:
        al.close()


def test_spans_a_model_predicts_badly_are_never_suggested(project):
    class Wild(TokenTagger):
        def predict_spans(self, texts):
            return [[(0, 10_000, "PER", 0.5)] for _ in texts]

    _, gold = _corpus()
    al = SpanActiveLearning(project, model=Wild(), retrain_every=2)
    try:
        project.submit_spans("t0", gold[0], annotator="ana")
        project.submit_spans("t1", gold[1], annotator="ana")
        al.wait()
        assert "predict_spans of Wild" in al.status()["error"]
        assert "offsets must lie" in al.status()["error"]
        assert project.span_suggestions([f"t{k}" for k in range(40)]) == {}
    finally:
        al.close()


def test_min_span_score_and_entropy_reductions_rank(project):
    _, gold = _corpus()
    for reduction in ("min_span_score", "entropy_mean"):
        al = SpanActiveLearning(project, uncertainty=reduction, retrain_every=1000)
        try:
            if not project.spans().shape[0]:
                for k in range(4):
                    project.submit_spans(f"t{k}", gold[k], annotator="ana")
            al.retrain(wait=True)
            assert al.status()["model_version"] == "m1", al.status()["error"]
        finally:
            al.close()


def test_bad_arguments(project, tmp_path):
    with pytest.raises(ValueError, match="Unknown uncertainty"):
        SpanActiveLearning(project, uncertainty="least_confidence")
    with pytest.raises(TypeError, match="not both"):
        SpanActiveLearning(project, model=TokenTagger(), uncertainty=lambda t: [0] * len(t))
    with pytest.raises(TypeError, match="has no fit or predict_spans"):
        SpanActiveLearning(project, model=object(), uncertainty="min_span_score")
    with pytest.raises(TypeError, match="instance"):
        SpanActiveLearning(project, model=TokenTagger)
    with pytest.raises(ValueError, match="strategy"):
        SpanActiveLearning(project, strategy="margin")
    plain = Project(tmp_path / "plain.hitl", labels=["a", "b"])
    plain.add_items(["x"], id=["x"])
    with pytest.raises(ValueError, match="span task"):
        SpanActiveLearning(plain)
    plain.close()


def test_reductions_are_pure_and_checked():
    proba = [np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([[1.0, 0.0]])]
    assert least_confident_token(proba).tolist() == [0.5, 0.0]
    assert entropy_mean(proba) == pytest.approx([np.log(2) / 2 + 0.325082973391448 / 2, 0.0])
    assert min_span_score([[{"start": 0, "end": 1, "label": "A", "score": 0.25}]]).tolist() == [
        0.75]
    from hitl_widgets.core.active import ModelOutputError

    with pytest.raises(ModelOutputError, match="sum to 1"):
        least_confident_token([np.array([[0.5, 0.2]])])
    with pytest.raises(ModelOutputError, match="probability in"):
        min_span_score([[(0, 1, "A", float("nan"))]])
    assert bio_tags("Ada Lovelace, Bob", [(0, 12, "PER"), (14, 17, "PER")]) == [
        "B-PER", "I-PER", "O", "B-PER"]
