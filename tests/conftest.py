"""Fixtures shared by more than one test module."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from hitl_widgets.core.project import Project

BLOB_LABELS = ["a", "b", "c"]


@pytest.fixture
def pool(tmp_path):
    """A project of 300 items in three well-separated blobs labeled ``a``, ``b``, ``c``:
    ``(project, features, true labels, item ids)``, for the active-learning tests."""
    X, y = make_blobs(n_samples=300, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=1.2,
                      random_state=0)
    truth = np.array(BLOB_LABELS)[y]
    project = Project(tmp_path / "al.hitl", labels=BLOB_LABELS)
    ids = [f"i{k:03d}" for k in range(len(X))]
    project.add_items([f"point {k}" for k in range(len(X))], id=ids)
    yield project, X, truth, ids
    project.close()
