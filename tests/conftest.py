"""Fixtures shared by every test folder (tests/store, labeling, quality, weak, active, widgets).

Every project a test opens comes from :func:`make_project`, which closes it after the test; a
module that needs another shape overrides ``project`` with a thin fixture on top of it.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from hitl_widgets.core.project import Project

BLOB_LABELS = ["a", "b", "c"]


@pytest.fixture
def make_project(tmp_path):
    """Build real project files in this test's folder, closed after the test.

    ``make_project()`` is ``ham``/``spam`` with 8 texts, ids ``"0"``..``"7"``;
    ``make_project(labels=[...], items=40, ids=[...], image_root=True, name="q.hitl")`` varies
    it (``items`` a count or a list of texts; ``image_root=True`` makes an ``images`` folder).
    """
    opened: list[Project] = []

    def make(labels=("ham", "spam"), items=8, *, ids=None, name="p.hitl", image_root=False,
             **kwargs) -> Project:
        if image_root is True:
            image_root = tmp_path / "images"
            image_root.mkdir(exist_ok=True)
        project = Project(tmp_path / name, labels=list(labels),
                          image_root=image_root or None, **kwargs)
        opened.append(project)
        texts = [f"text {k}" for k in range(items)] if isinstance(items, int) else list(items)
        if texts:
            project.add_items(texts, id=ids if ids is not None else [str(k) for k in range(len(texts))])
        return project

    yield make
    for project in opened:
        project.close()


@pytest.fixture
def project(make_project):
    """The shared default: a ``ham``/``spam`` project of 8 texts, ids ``"0"``..``"7"``.
    Test modules that need another shape override it through :func:`make_project`."""
    return make_project()


@pytest.fixture
def pool(make_project):
    """A project of 300 items in three well-separated blobs labeled ``a``, ``b``, ``c``:
    ``(project, features, true labels, item ids)``, for the active-learning tests."""
    X, y = make_blobs(n_samples=300, centers=[[0, 0], [6, 0], [0, 6]], cluster_std=1.2,
                      random_state=0)
    truth = np.array(BLOB_LABELS)[y]
    ids = [f"i{k:03d}" for k in range(len(X))]
    project = make_project(BLOB_LABELS, [f"point {k}" for k in range(len(X))], ids=ids,
                           name="al.hitl")
    return project, X, truth, ids
